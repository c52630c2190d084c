"""Scoring a batch: evidence per (notice, member), then fit factors, all as arrays.

For each notice and member with any evidence:

- keyword evidence is the member's best phrase, plus a little for each further
  one (`extra_keyword_weight`, capped at `extra_keyword_cap`); when the notice has
  CPV codes and none backs the member up, it counts `unbacked_keyword_factor`, or
  `contradicted_keyword_factor` where the best phrase reaches CPV codes of its own
  (the codes then say the notice is about something else);
- relevance combines it with the best CPV evidence: 1 - (1 - kw) * (1 - cpv), where
  codes that meet only two or more steps above the member's count beside a keyword,
  never alone (evidence.ALONE_MAX_UP);
- the score is relevance times the fit factors (place, size, reserved, feedback),
  in 0..100; an exclusion found strongly enough vetoes the pair.

Notices go through in chunks; per chunk, evidence is gathered in dense
(notice x member) scratch arrays that are reset where they were written. With a
threshold, members that cannot reach it are never gathered (see bounds), and CPV
evidence too weak to reach it alone only counts where a keyword is found too.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .arrays import INDEX, first_max, group_starts, owners, ragged
from .bounds import can_prune, code_alone, group_for, lowering_only, open_to
from .config import MatchConfig
from .cpv import divisions_mask
from .evidence import CodeIndex
from .facts import Keys, NoticeFacts, facts_of
from .finder import Fields, Found
from .fit import asks_accreditation, tender_days
from .index import KeywordIndex, main_codes
from .members import BROADER, OUTSIDE, UNKNOWN, Roster
from .types import Notice

# Strengths are summed as integers on this grid, so the order never changes a score.
SCALE = float(1 << 40)


@dataclass(slots=True)
class Scored:
    """Pairs of one batch: notice position, member slot and score, by notice then rank."""

    notice: np.ndarray
    slot: np.ndarray
    score: np.ndarray
    vetoed: np.ndarray  # only ever set when scoring without a threshold


def concat(parts: Sequence[Scored]) -> Scored:
    """One Scored from several, in order."""
    if not parts:
        z = np.zeros(0, np.int64)
        return Scored(z, z, np.zeros(0, np.int16), np.zeros(0, bool))
    return Scored(
        *(
            np.concatenate([getattr(p, f) for p in parts])
            for f in ("notice", "slot", "score", "vetoed")
        )
    )


class Scratch:
    """Dense (notices x members) accumulators for one chunk, kept zeroed between uses."""

    def __init__(self, rows: int, members: int):
        self.shape = (rows, members)
        cells = rows * members
        self.best = np.zeros(cells, np.int64)
        self.total = np.zeros(cells, np.int64)
        self.coded = np.zeros(cells, np.int64)  # the best of the phrases reaching codes
        self.code = np.zeros(cells, np.float64)
        self.code_alone = np.zeros(cells, np.float64)  # what may make a match by itself
        self.touched = np.zeros(cells, bool)
        self.veto = np.zeros(cells, bool)


def chunk_size(members: int) -> int:
    """Notices per chunk: about two million (notice, member) cells of scratch."""
    return int(min(2048, max(32, 2_000_000 // max(members, 1))))


def score_chunk(
    notices: Sequence[Notice],
    found: Found,
    fields: Fields,
    roster: Roster,
    derived: CodeIndex,
    index: KeywordIndex,
    keys: Keys,
    config: MatchConfig,
    limit: float | None,
    wanted: np.ndarray | None,
    scratch: Scratch,
) -> Scored:
    """Score a chunk of notices (their text evidence is `found`) against the roster."""
    c = config
    m_count = roster.size
    facts = facts_of(notices, keys)
    n = len(notices)
    mm = np.int64(m_count)
    states = np.stack([roster.places(r) for r in facts.regions]) if facts.regions else None
    # Who can reach the threshold at all, with full relevance, given place and the
    # reserved boost; per (region set, reserved). Others are never gathered.
    row_of = 2 * facts.region_set + facts.reserved
    if states is None or (wanted is None and not can_prune(c, limit)):
        group = None
    elif wanted is None:
        group = np.array(
            [group_for(roster, r, res, limit, c) for r in facts.regions for res in (False, True)],
            INDEX,
        )[row_of]
    else:
        group = roster.groups(open_to(states, roster, c, limit, wanted))[row_of]

    # Keyword evidence: phrase -> the members using it (those open to the notice).
    local = found.notice
    if group is None:
        start, count, items = roster.users
        key = found.phrase
    else:
        start, count, items = roster.group_users()
        key = group[local] * np.int64(roster.n_phrases) + found.phrase
    n_users = count[key]
    k_cell = np.repeat(local * mm, n_users) + items[ragged(start[key], n_users)]
    k_q = np.repeat(np.rint(found.strength * SCALE).astype(np.int64), n_users)
    np.maximum.at(scratch.best, k_cell, k_q)
    np.add.at(scratch.total, k_cell, k_q)
    # A notice coded only by a whole division ("45000000 Construction work") doesn't
    # contradict a phrase whose codes lie inside it: the buyer just said little.
    broad = np.array(
        [divisions_mask((code for code, _lot in codes), broad_only=True) for codes in facts.sets],
        np.int64,
    )
    far = (index.divisions[found.phrase] & broad[facts.code_set[local]]) == 0
    # Nor does a main code whose label says what the phrase is about: "Printed matter"
    # is what "print services" make.
    far &= ~index.names(found.phrase, main_codes(facts.sets)[facts.code_set[local]])
    k_coded = np.repeat(index.coded[found.phrase] & far, n_users)
    np.maximum.at(scratch.coded, k_cell[k_coded], k_q[k_coded])
    scratch.touched[k_cell] = True

    # CPV evidence, worked out once per distinct set of codes (and group of members).
    if group is None:
        pair_of = facts.code_set
        per_set = [roster.code_evidence(codes, derived) for codes in facts.sets]
    else:
        pair = facts.code_set * np.int64(1 << 32) + group
        pairs: dict[int, int] = {}
        pair_of = np.array([pairs.setdefault(x, len(pairs)) for x in pair.tolist()], INDEX)
        per_set = [
            roster.group_code_evidence(
                facts.sets[x >> 32], facts.set_keys[x >> 32], x & 0xFFFFFFFF, derived
            )
            for x in pairs
        ]
    set_len = np.array([len(s) for s, _, _ in per_set], INDEX)
    set_start = np.concatenate(([0], np.cumsum(set_len)[:-1])).astype(INDEX)
    set_slots = np.concatenate([s for s, _, _ in per_set]).astype(INDEX)
    set_str = np.concatenate([v for _, v, _ in per_set])
    set_alone = np.concatenate([a for _, _, a in per_set])
    n_codes = set_len[pair_of]
    rows = ragged(set_start[pair_of], n_codes)
    c_cell = np.repeat(np.arange(n, dtype=INDEX) * mm, n_codes) + set_slots[rows]
    c_alone = set_alone[rows]
    scratch.code[c_cell] = set_str[rows]
    scratch.code_alone[c_cell] = c_alone
    if group is None:
        scratch.touched[c_cell[c_alone > 0.0]] = True
    else:
        # CPV evidence too weak to reach the threshold alone only counts with keywords.
        scratch.touched[c_cell[c_alone >= max(code_alone(c, limit), 1e-12)]] = True

    # Exclusions found strongly enough veto their members.
    x_cell = np.zeros(0, INDEX)
    if roster.has_excludes:
        xs, xc, xi = roster.excluders
        strong = found.strength >= c.exclude_min_evidence
        ph = found.phrase[strong]
        n_x = xc[ph]
        x_cell = np.repeat(local[strong], n_x) * mm + xi[ragged(xs[ph], n_x)]
        scratch.veto[x_cell] = True

    cells = np.flatnonzero(scratch.touched[: n * m_count])
    best = scratch.best[cells]
    total = scratch.total[cells]
    best_coded = scratch.coded[cells]
    # Codes that meet only far up the tree count beside a keyword, never alone.
    code = np.where(best > 0, scratch.code[cells], scratch.code_alone[cells])
    veto = scratch.veto[cells]
    scratch.best[cells] = 0
    scratch.total[cells] = 0
    scratch.coded[cells] = 0
    scratch.code[c_cell] = 0.0
    scratch.code_alone[c_cell] = 0.0
    scratch.touched[cells] = False
    scratch.veto[x_cell] = False

    ni = cells // mm
    ms = cells % mm
    extra = c.extra_keyword_weight * ((total - best) / SCALE)
    t = np.minimum(1.0, best / SCALE + np.minimum(c.extra_keyword_cap, extra))
    kw = c.keyword_weight * t
    # The buyer's own codes say what the contract is about; text alone that they don't
    # back up is often an aside ("...including landscaping").
    codes_known = np.array([len(s) > 0 for s in facts.sets], bool)
    unbacked = codes_known[facts.code_set[ni]] & (code == 0.0)
    against = (best_coded == best) & (best > 0)
    kw = np.where(
        unbacked,
        kw * np.where(against, c.contradicted_keyword_factor, c.unbacked_keyword_factor),
        kw,
    )
    relevance = 1.0 - (1.0 - kw) * (1.0 - c.cpv_weight * code)
    keep = relevance > 0.0
    if limit is not None:
        keep &= ~veto
    ni, ms, veto, relevance = ni[keep], ms[keep], veto[keep], relevance[keep]

    # Place.
    states = (
        states.ravel()[facts.region_set[ni] * mm + ms]
        if states is not None
        else np.zeros(0, np.int8)
    )
    place = np.ones(len(ni))
    place[states == BROADER] = c.region_broader_factor
    place[states == OUTSIDE] = c.region_outside_factor
    boost = np.where(facts.reserved[ni] & roster.supported[ms], c.reserved_boost, 1.0)
    if limit is not None and lowering_only(c):
        # Size, feedback and exclusions only ever lower a score: drop what is already too
        # low with full marks for them (rounding is monotonic, so this never drops a match).
        keep = _points(relevance * (place * boost)) >= limit
        ni, ms, veto, relevance, place, boost, states = (
            a[keep] for a in (ni, ms, veto, relevance, place, boost, states)
        )

    # Size: that of the lot where the best keyword is, else of the lot that fits the
    # member best, else of the notice.
    value = facts.value[ni]
    low, high, has_range = roster.min_value[ms], roster.max_value[ms], roster.has_range[ms]
    if facts.lot_values.any():
        value = _lot_values(value, facts, found, fields, roster, ni, ms, mm, c)
    factor = place * _value_factor(value, low, high, has_range, c)
    factor *= boost
    fb = roster.has_feedback[ms]
    if fb.any():
        factor[fb] *= _feedback(notices, ni[fb], ms[fb], value[fb], states[fb], roster, c)
    score = np.clip(_points(relevance * factor), 0, 100).astype(np.int16)
    if limit is not None:
        keep = (score >= limit) & ~veto
        ni, ms, score, veto = ni[keep], ms[keep], score[keep], veto[keep]
    else:
        score[veto] = 0
    order = np.lexsort((roster.rank[ms], -score, ni))
    return Scored(ni[order], ms[order], score[order], veto[order])


def _points(x: np.ndarray) -> np.ndarray:
    """0..1 -> 0..100, halves rounded up; the hair added keeps x.5 from depending on
    the last bit of a float sum."""
    return np.floor(100.0 * x + (0.5 + 1e-9))


def _value_factor(
    value: np.ndarray, low: np.ndarray, high: np.ndarray, has_range: np.ndarray, c: MatchConfig
) -> np.ndarray:
    """The size factor: lost per tenfold a value lies outside the member's range."""
    out = np.ones(len(value))
    at = np.flatnonzero(has_range & ~np.isnan(value))
    if len(at) == 0:
        return out
    v, lo, hi = value[at], low[at], high[at]
    above = v > hi
    below = ~above & (v < lo)
    decades = np.zeros(len(at))
    decades[above] = np.log10(v[above] / hi[above])
    decades[below] = np.log10(lo[below] / np.maximum(v[below], 1.0))
    outside = above | below
    out[at[outside]] = np.maximum(
        c.value_floor, 1.0 - c.value_penalty_per_decade * (0.3 + decades[outside])
    )
    return out


def _lot_values(
    value: np.ndarray,
    facts: NoticeFacts,
    found: Found,
    fields: Fields,
    roster: Roster,
    ni: np.ndarray,
    ms: np.ndarray,
    mm: np.int64,
    c: MatchConfig,
) -> np.ndarray:
    """The value that decides size, for pairs whose notice has lots with values.

    A member bids for a lot, not the whole: where its best keyword is in a lot, that
    lot's value counts (the notice's, if the lot's is unknown); otherwise the lot
    whose value fits the member best (the first of equals), so a bakery fits a
    framework of nine regional lots. explain.size_used makes the same choice.
    """
    pairs = np.flatnonzero(facts.lot_values[ni])
    if len(pairs) == 0:
        return value
    value = value.copy()
    settled = np.zeros(len(ni), bool)
    local = found.notice
    rows = np.flatnonzero(facts.lot_values[local])
    if len(rows):
        start, count, items = roster.users
        ph = found.phrase[rows]
        n_users = count[ph]
        cell = np.repeat(local[rows], n_users) * mm + items[ragged(start[ph], n_users)]
        q = np.repeat(np.rint(found.strength[rows] * SCALE), n_users)
        field = np.repeat(found.field[rows], n_users)
        phrase = np.repeat(ph, n_users)
        # Best strength, then the earliest field, then the first phrase.
        order = np.lexsort((phrase, field, -q, cell))
        cell, field = cell[order], field[order]
        first = np.ones(len(cell), bool)
        first[1:] = cell[1:] != cell[:-1]
        cell, lot = cell[first], fields.lot[field[first]]
        if len(cell):
            target = ni[pairs] * mm + ms[pairs]
            at = np.minimum(np.searchsorted(cell, target), len(cell) - 1)
            use = np.flatnonzero((cell[at] == target) & (lot[at] > 0))
            pick = pairs[use]
            lot_value = facts.lot_value[facts.lot_start[ni[pick]] + lot[at[use]] - 1]
            known = ~np.isnan(lot_value)
            value[pick[known]] = lot_value[known]
            settled[pick] = True
    rest = pairs[~settled[pairs]]
    if len(rest):
        n_lots = facts.lot_count[ni[rest]]
        lot_rows = ragged(facts.lot_start[ni[rest]], n_lots)
        who = owners(n_lots)
        lots = facts.lot_value[lot_rows]
        p = rest[who]
        m = ms[p]
        fit = _value_factor(lots, roster.min_value[m], roster.max_value[m], roster.has_range[m], c)
        fit[np.isnan(lots)] = -1.0
        _, best = first_max(fit, group_starts(who))
        value[rest] = lots[best]
    return value


def _feedback(
    notices: Sequence[Notice],
    ni: np.ndarray,
    ms: np.ndarray,
    value: np.ndarray,
    states: np.ndarray,
    roster: Roster,
    c: MatchConfig,
) -> np.ndarray:
    """The factor repeated "not for us" answers apply (see fit.feedback_fit for reasons)."""
    sat = c.feedback_saturation

    def weight(counts: np.ndarray) -> np.ndarray:
        return np.minimum(np.maximum(counts, 0), sat) / sat

    f = np.ones(len(ni))
    big = roster.too_big[ms]
    ceiling = roster.ceiling[ms]
    at = np.flatnonzero((big > 0) & ~np.isnan(value) & ~np.isnan(ceiling))
    at = at[value[at] >= 0.8 * ceiling[at]]
    f[at] *= 1.0 - c.too_big_penalty * weight(big[at])
    far = roster.too_far[ms]
    share = np.zeros(len(ni))
    share[states == OUTSIDE] = 1.0
    share[states == BROADER] = 0.5
    share[states == UNKNOWN] = 0.25
    at = np.flatnonzero((far > 0) & (share > 0.0))
    f[at] *= 1.0 - c.too_far_penalty * share[at] * weight(far[at])
    slow = roster.timescale[ms]
    at = np.flatnonzero(slow > 0)
    if len(at):
        days = {
            i: tender_days(notices[i].published, notices[i].deadline) for i in set(ni[at].tolist())
        }
        short = np.array(
            [(d := days[i]) is not None and d < c.timescale_short_days for i in ni[at].tolist()],
            bool,
        )
        at = at[short]
        f[at] *= 1.0 - c.timescale_penalty * weight(slow[at])
    accred = roster.accreditation[ms]
    at = np.flatnonzero(accred > 0)
    if len(at):
        asks = {
            i: asks_accreditation(f"{notices[i].title}\n{notices[i].description}")
            for i in set(ni[at].tolist())
        }
        at = at[np.array([asks[i] for i in ni[at].tolist()], bool)]
        f[at] *= 1.0 - c.accreditation_penalty * weight(accred[at])
    return f
