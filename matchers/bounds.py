"""Who can reach a threshold at all: members ruled out before any evidence is gathered.

A score is relevance (at most `top_relevance`) times place, reserved, size and
feedback factors. With a threshold, and size and feedback only ever lowering a
score (as they do unless misconfigured), a member whose place and reserved status
alone keep it under the threshold cannot match: it is left out of the notice's
group, and never costs a row. The bounds are exact: rounding is monotonic, and a
hair of margin is kept.
"""

from __future__ import annotations

import numpy as np

from .config import MatchConfig
from .members import BROADER, OUTSIDE, Roster


def lowering_only(c: MatchConfig) -> bool:
    """Do size and feedback only ever lower a score (as they do unless misconfigured)?"""
    return (
        c.value_floor <= 1.0
        and c.value_penalty_per_decade >= 0.0
        and min(c.too_big_penalty, c.too_far_penalty, c.timescale_penalty, c.accreditation_penalty)
        >= 0.0
    )


def top_relevance(c: MatchConfig) -> float:
    """The highest relevance the weights allow (1 with the defaults)."""
    kw = c.keyword_weight * max(1.0, c.unbacked_keyword_factor, c.contradicted_keyword_factor)
    cpv = c.cpv_weight
    return max(1e-9, kw, cpv, 1.0 - (1.0 - kw) * (1.0 - cpv))


def can_prune(c: MatchConfig, limit: float | None) -> bool:
    """Is there a threshold, and do size and feedback only lower scores?"""
    return limit is not None and limit > 0 and lowering_only(c)


def code_alone(c: MatchConfig, limit: float | None) -> float:
    """The CPV strength a pair with no keyword evidence needs to reach `limit` at all."""
    if not can_prune(c, limit) or c.cpv_weight <= 0.0:
        return 0.0
    best = c.cpv_weight * max(
        1.0, c.reserved_boost, c.region_broader_factor, c.region_outside_factor
    )
    return (limit - 0.5) / 100.0 / best - 1e-9


def open_rows(
    states: np.ndarray, roster: Roster, c: MatchConfig, limit: float | None, reserved: bool
) -> np.ndarray:
    """Rows of place states -> can each member reach `limit` there at all?"""
    place = np.ones(states.shape)
    place[states == BROADER] = c.region_broader_factor
    place[states == OUTSIDE] = c.region_outside_factor
    if reserved:
        place = place * np.where(roster.supported, c.reserved_boost, 1.0)
    if not can_prune(c, limit):
        return np.ones(states.shape, bool)
    # Size and feedback factors are at most 1; a score >= limit needs 100 * x >= limit - 0.5
    # (see _points).
    return place >= (limit - 0.5) / 100.0 / top_relevance(c) - 1e-9


def open_to(
    states: np.ndarray, roster: Roster, c: MatchConfig, limit: float | None, wanted: np.ndarray
) -> np.ndarray:
    """(2 * region set + reserved, member) -> can the member reach `limit` there at all?"""
    table = np.empty((2 * len(states), roster.size), bool)
    table[0::2] = open_rows(states, roster, c, limit, False)
    table[1::2] = open_rows(states, roster, c, limit, True)
    return table & wanted


def group_for(
    roster: Roster, regions: frozenset[str], reserved: bool, limit: float | None, c: MatchConfig
) -> int:
    """The roster group of members open to notices in these regions (cached)."""
    key = (regions, reserved, limit)
    group = roster.group_cache.get(key)
    if group is None:
        mask = open_rows(roster.places(regions)[None], roster, c, limit, reserved)
        group = roster.groups(mask)[0]
        roster.group_cache[key] = group
    return group
