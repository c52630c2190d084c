"""How well a notice fits a member beyond its subject: place, size, reserved status, feedback."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import datetime

from .config import MatchConfig
from .regions import inside, region_label
from .types import Reason

INSIDE, BROADER, OUTSIDE, UNKNOWN = "inside", "broader", "outside", "unknown"
# Signs that a buyer asks for a certificate or registration a small member may lack.
ACCREDITATION = re.compile(
    r"accredit|certifi|\biso ?\d{4,5}|\bchas\b|constructionline|safecontractor|\bcqc\b|\bsia\b",
    re.I,
)


@dataclass(frozen=True, slots=True)
class Areas:
    """A member's areas as NUTS codes, with the names the member gave them."""

    codes: frozenset[str]
    names: dict[str, str]  # NUTS code -> what the member wrote


def money(amount: float) -> str:
    """£1.2m, £450k, £900."""
    if amount >= 1e6:
        return f"£{amount / 1e6:.3g}m"
    if amount >= 1e3:
        return f"£{amount / 1e3:.3g}k"
    return f"£{amount:,.0f}"


def _named(code: str) -> str:
    label = region_label(code)
    return f"{code} ({label})" if label != code else code


def place_fit(
    regions: frozenset[str], areas: Areas | None, config: MatchConfig
) -> tuple[str, float, Reason | None]:
    """(state, factor, reason): inside an area, broader than one, outside all, or unknown."""
    if not regions or areas is None:
        return UNKNOWN, 1.0, None
    ordered = sorted(regions)
    for r in ordered:
        for a in sorted(areas.codes):
            if inside(r, a):
                return INSIDE, 1.0, Reason("region", f"region {_named(r)} is one the member serves")
    for r in ordered:
        for a in sorted(areas.codes):
            if inside(a, r):
                return (
                    BROADER,
                    config.region_broader_factor,
                    Reason(
                        "region",
                        f"region {_named(r)} takes in the member's area {areas.names.get(a, a)} "
                        "but is wider, so only part of it may apply",
                    ),
                )
    shown = ", ".join(_named(r) for r in ordered[:3])
    return (
        OUTSIDE,
        config.region_outside_factor,
        Reason("region", f"region {shown} is outside the member's areas"),
    )


def value_fit(
    value: float | None,
    low: float | None,
    high: float | None,
    config: MatchConfig,
    lot: str | None = None,
) -> tuple[float, Reason | None]:
    """(factor, reason) for a contract value (or a lot's, named) against the member's range."""
    if value is None or (low is None and high is None):
        return 1.0, None
    what = f"value {money(value)}" if lot is None else f"{lot}, value {money(value)},"
    if high is not None and value > high:
        decades = math.log10(value / high)
        factor = max(config.value_floor, 1.0 - config.value_penalty_per_decade * (0.3 + decades))
        return factor, Reason("value", f"{what} is above the member's maximum {money(high)}")
    if low is not None and value < low:
        decades = math.log10(low / max(value, 1.0))
        factor = max(config.value_floor, 1.0 - config.value_penalty_per_decade * (0.3 + decades))
        return factor, Reason("value", f"{what} is below the member's minimum {money(low)}")
    span = " to ".join(money(v) for v in (low, high) if v is not None)
    return 1.0, Reason("value", f"{what} is within the member's range ({span})")


def reserved_fit(
    reserved: bool, supported: bool, config: MatchConfig
) -> tuple[float, Reason | None]:
    """Reserved contracts rank higher for supported businesses."""
    if reserved and supported:
        return config.reserved_boost, Reason(
            "reserved", "reserved for supported businesses, and the member is one"
        )
    return 1.0, None


def _weight(count: int, config: MatchConfig) -> float:
    """0 for no answers, rising to 1 once a reason has been given `feedback_saturation` times."""
    return min(max(count, 0), config.feedback_saturation) / config.feedback_saturation


def _days(start: str | None, end: str | None) -> int | None:
    try:
        a = datetime.fromisoformat(str(start).replace("Z", "+00:00"))
        b = datetime.fromisoformat(str(end).replace("Z", "+00:00"))
    except ValueError:
        return None
    if (a.tzinfo is None) != (b.tzinfo is None):
        a, b = a.replace(tzinfo=None), b.replace(tzinfo=None)
    return (b - a).days


# Most texts hold none of these words, and a text holding one of the first four asks.
_ACCREDITATION_WORDS = ("accredit", "certifi", "constructionline", "safecontractor")
_ACCREDITATION_REST = re.compile(r"\biso ?\d{4,5}|\bchas\b|\bcqc\b|\bsia\b")


def asks_accreditation(text: str) -> bool:
    """Does the text ask for accreditation or certification? (ACCREDITATION, quickly)"""
    low = text.lower()
    if any(w in low for w in _ACCREDITATION_WORDS):
        return True
    return ("iso" in low or "chas" in low or "cqc" in low or "sia" in low) and bool(
        _ACCREDITATION_REST.search(low)
    )


def tender_days(published: str | None, deadline: str | None) -> int | None:
    """Days from publication to deadline, when both are known."""
    if not (published and deadline):
        return None
    return _days(published, deadline)


class NoticeFacts:
    """Facts about a notice that only feedback needs, worked out once and only if asked."""

    def __init__(self, text: str, published: str | None, deadline: str | None):
        self._text = text
        self._published = published
        self._deadline = deadline
        self._accreditation: bool | None = None

    @property
    def accreditation(self) -> bool:
        """Does the notice ask for accreditation or certification?"""
        if self._accreditation is None:
            self._accreditation = asks_accreditation(self._text)
        return self._accreditation

    @property
    def tender_days(self) -> int | None:
        """Days from publication to deadline, when both are known."""
        return tender_days(self._published, self._deadline)


def feedback_fit(
    feedback: dict[str, int],
    value: float | None,
    place_state: str,
    facts: NoticeFacts,
    max_value: float | None,
    declined_value: float | None,
    config: MatchConfig,
) -> tuple[float, list[Reason]]:
    """Repeated "not for us" reasons tilt this member's ranking; each tilt is a reason."""
    factor, reasons = 1.0, []
    big = feedback.get("too_big", 0)
    ceilings = [v for v in (max_value, declined_value) if v]
    if big and value is not None and ceilings:
        ceiling = min(ceilings)
        if value >= 0.8 * ceiling:
            factor *= 1.0 - config.too_big_penalty * _weight(big, config)
            reasons.append(
                Reason(
                    "feedback",
                    (
                        f"the member has said 'too big' {big} time(s); value {money(value)} "
                        f"is near or above the {money(ceiling)} they can take on"
                    ),
                )
            )
    far = feedback.get("too_far", 0)
    # Outside counts in full, a wider region half, an unknown place only slightly.
    if far:
        share = {OUTSIDE: 1.0, BROADER: 0.5, UNKNOWN: 0.25}.get(place_state, 0.0)
        if share:
            factor *= 1.0 - config.too_far_penalty * share * _weight(far, config)
            where = {
                OUTSIDE: "outside their areas",
                BROADER: "wider than their areas",
                UNKNOWN: "in an unknown place",
            }[place_state]
            reasons.append(
                Reason(
                    "feedback",
                    (f"the member has said 'too far' {far} time(s); this notice is {where}"),
                )
            )
    slow = feedback.get("timescale", 0)
    days = facts.tender_days if slow else None
    if slow and days is not None and days < config.timescale_short_days:
        factor *= 1.0 - config.timescale_penalty * _weight(slow, config)
        reasons.append(
            Reason(
                "feedback",
                (
                    f"the member has said the timescale was too short {slow} time(s); "
                    f"this one allows {days} days"
                ),
            )
        )
    accred = feedback.get("no_accreditation", 0)
    if accred and facts.accreditation:
        factor *= 1.0 - config.accreditation_penalty * _weight(accred, config)
        reasons.append(
            Reason(
                "feedback",
                (
                    f"the member has lacked an accreditation {accred} time(s); "
                    "this notice mentions accreditation or certification"
                ),
            )
        )
    return factor, reasons
