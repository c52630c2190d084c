"""Recognising one opportunity published by several sources.

Keys first (a Find a Tender release naming its PCS original, "(SC Ref:NNNNNN)"),
then, for Contracts Finder and Find a Tender, which share no identifier, the
normalised title, buyer and deadline day compared with rapidfuzz.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from rapidfuzz import fuzz, utils

LONDON = ZoneInfo("Europe/London")

# Sources that republish each other's notices without a shared id.
FUZZY_PARTNERS: dict[str, frozenset[str]] = {
    "contracts_finder": frozenset({"find_a_tender"}),
    "find_a_tender": frozenset({"contracts_finder"}),
}


@dataclass(frozen=True)
class Thresholds:
    """Minimum rapidfuzz scores (0-100) for two notices to count as one."""

    title: float = 90.0
    buyer: float = 85.0


def deadline_day(deadline: datetime | None) -> date | None:
    """The calendar day of a deadline in UK time, the unit duplicates are compared on."""
    return deadline.astimezone(LONDON).date() if deadline else None


def same_opportunity(
    title_a: str,
    buyer_a: str | None,
    title_b: str,
    buyer_b: str | None,
    thresholds: Thresholds,
) -> bool:
    """Whether two notices with the same deadline day describe one opportunity."""
    if not buyer_a or not buyer_b:
        return False
    # token_sort_ratio forgives word order and case; default_process drops punctuation.
    title_score = fuzz.token_sort_ratio(
        title_a, title_b, processor=utils.default_process, score_cutoff=thresholds.title
    )
    if not title_score:
        return False
    buyer_score = fuzz.token_set_ratio(
        buyer_a, buyer_b, processor=utils.default_process, score_cutoff=thresholds.buyer
    )
    return bool(buyer_score)


def partners_of(source: str) -> Iterable[str]:
    """The sources whose notices may be fuzzy duplicates of `source`'s."""
    return FUZZY_PARTNERS.get(source, frozenset())
