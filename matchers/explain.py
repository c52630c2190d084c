"""Reasons for scored pairs, written from the same evidence that scored them.

Reasons are written only when read, and then for a block of notices at once: a big
batch yields millions of matches. The block's text evidence is found again, with the
words behind each hit, and every pair asked for is explained from shared arrays:
each pair's reasons are ids, one column per kind (its keywords, CPV evidence, place,
size, reserved status), and pairs with the same ids share one tuple. A keyword's
sentence is written once per notice; CPV, place and size sentences once per
snapshot. `Matcher.explain` goes through the same code for one pair.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .arrays import INDEX, group_starts, ragged
from .config import MatchConfig
from .cpv import divisions_mask
from .evidence import CodeHit, TextHit
from .facts import Keys
from .finder import KINDS, Fields, Found, fields_of, find
from .fit import (
    BROADER,
    INSIDE,
    OUTSIDE,
    UNKNOWN,
    NoticeFacts,
    feedback_fit,
    place_fit,
    reserved_fit,
    value_fit,
)
from .index import main_codes
from .members import Member
from .reasons import against_reason, code_reason, keyword_reason, lot_name
from .scoring import SCALE
from .snapshot import Snapshot
from .types import Notice, Reason

# Keyword reasons shown per pair, and the weakest worth showing.
SHOWN = 3
FAINT = 0.05
# Columns of a pair's reason ids, in the order they are shown.
_CODE, _PLACE, _SIZE, _RESERVED = SHOWN, SHOWN + 1, SHOWN + 2, SHOWN + 3
_COLUMNS = SHOWN + 4
LOCAL = 1 << 40  # ids from here on are a block's keyword sentences (LOCAL + found row)
_STATES = (UNKNOWN, INSIDE, BROADER, OUTSIDE)


class Evidence:
    """A block's text evidence, found again with the words behind each hit."""

    def __init__(
        self,
        snapshot: Snapshot,
        notices: Sequence[Notice],
        fields: Fields | None = None,
        found: Found | None = None,
    ):
        """`fields` and `found` (with detail), if the caller found them already."""
        self.snapshot = snapshot
        self.notices = notices
        self.fields = fields or fields_of(notices, snapshot.config)
        self.found = found or find(
            self.fields, snapshot.vocab, snapshot.index, snapshot.config, True
        )
        self.first = np.searchsorted(self.fields.notice, np.arange(len(notices))).tolist()
        self._hits: dict[int, TextHit] = {}
        self._rows: tuple[list, ...] | None = None
        self._keywords: dict[int, Reason] = {}
        self._facts: dict[int, NoticeFacts] = {}

    def hit(self, row: int) -> TextHit:
        """Found row `row` as a TextHit, the keyword's missing words named."""
        h = self._hits.get(row)
        if h is None:
            if self._rows is None:
                found = self.found
                assert found.missing is not None
                self._rows = tuple(
                    x.tolist()
                    for x in (
                        found.notice,
                        found.phrase,
                        found.strength,
                        found.field,
                        found.missing,
                        self.fields.kind,
                        self.fields.lot,
                    )
                )
            notice, phrase, strength, field, missing, kind, lot = self._rows
            f = field[row]
            words = self.snapshot.phrases[phrase[row]].words
            mask = missing[row]
            h = self._hits[row] = TextHit(
                strength[row],
                KINDS[kind[f]],
                lot[f],
                self.found.words(row, self.snapshot.vocab),
                f - self.first[notice[row]],
                round(strength[row] * SCALE),
                tuple(w for i, w in enumerate(words) if mask >> i & 1) if mask else (),
            )
        return h

    def keyword(self, row: int) -> Reason:
        """The keyword reason of found row `row` (written once)."""
        r = self._keywords.get(row)
        if r is None:
            notice = self.notices[int(self.found.notice[row])]
            text = self.snapshot.phrases[int(self.found.phrase[row])].text
            r = self._keywords[row] = Reason(
                "keyword", keyword_reason(text, self.hit(row), notice.lots)
            )
        return r

    def rows_of(self, n: int) -> range:
        """The found rows of the block's notice n."""
        lo, hi = np.searchsorted(self.found.notice, [n, n + 1])
        return range(int(lo), int(hi))

    def facts(self, n: int) -> NoticeFacts:
        """What feedback asks of the block's notice n."""
        f = self._facts.get(n)
        if f is None:
            x = self.notices[n]
            f = self._facts[n] = NoticeFacts(f"{x.title}\n{x.description}", x.published, x.deadline)
        return f


@dataclass(slots=True)
class Explained:
    """Reasons of a block's pairs: pair i's are combos[combo[i]]."""

    combo: np.ndarray
    combos: list[tuple[Reason, ...]]

    def __getitem__(self, i: int) -> tuple[Reason, ...]:
        return self.combos[self.combo[i]]


def explain_pairs(
    snapshot: Snapshot,
    notices: Sequence[Notice],
    notice_at: np.ndarray,
    slots: np.ndarray,
    evidence: Evidence | None = None,
) -> Explained:
    """Reasons for pairs (notices[notice_at[i]], member in slots[i]), all at once.

    Keyword and CPV evidence first, then place, size, reserved status and feedback.
    """
    ev = evidence or Evidence(snapshot, notices)
    # The snapshot's shared sentences are handed out ids one thread at a time.
    with snapshot.sentences.lock:
        return _explain(snapshot, notices, notice_at, slots, ev)


def _explain(
    snapshot: Snapshot,
    notices: Sequence[Notice],
    notice_at: np.ndarray,
    slots: np.ndarray,
    ev: Evidence,
) -> Explained:
    """explain_pairs, holding the sentences' lock."""
    c = snapshot.config
    roster = snapshot.roster
    found = ev.found
    sentences = snapshot.sentences
    sentences.trim()
    n_pairs = len(slots)
    notice_at = notice_at.astype(INDEX)
    slots = slots.astype(INDEX)
    mm = np.int64(max(roster.size, 1))
    key = notice_at * mm + slots
    by_key = np.argsort(key, kind="stable")
    sorted_key = key[by_key]

    # Keyword rows of each pair: found rows fanned out to the members using the phrase.
    start, count, items = roster.users
    rows = np.flatnonzero(found.phrase < len(count))
    n_users = count[found.phrase[rows]]
    fr_row = np.repeat(rows, n_users)
    fr_slot = items[ragged(start[found.phrase[rows]], n_users)]
    fr_key = found.notice[fr_row] * mm + fr_slot
    at = np.minimum(np.searchsorted(sorted_key, fr_key), max(n_pairs - 1, 0))
    mine = (sorted_key[at] == fr_key) if n_pairs else np.zeros(len(fr_key), bool)
    fr_row, fr_pair = fr_row[mine], by_key[at[mine]]
    ph = found.phrase[fr_row]
    strength = found.strength[fr_row]
    grid = np.rint(strength * SCALE).astype(INDEX)
    fld = found.field[fr_row]
    cols = np.full((n_pairs, _COLUMNS), -1, INDEX)

    # The strongest keywords first (then by text), three at most.
    order = np.lexsort((snapshot.text_rank[ph], -strength, fr_pair))
    runs = group_starts(fr_pair[order])
    rank = np.arange(len(order)) - np.repeat(runs, np.diff(np.append(runs, len(order))))
    shown = (rank < SHOWN) & (strength[order] >= FAINT)
    cols[fr_pair[order][shown], rank[shown]] = LOCAL + fr_row[order][shown]

    # The best keyword (as scoring ranks it: grid, earliest field, first phrase), and the
    # first phrase reaching CPV codes of its own among those as strong.
    order = np.lexsort((ph, fld, -grid, fr_pair))
    o_pair = fr_pair[order]
    heads = group_starts(o_pair)
    best_row = np.full(n_pairs, -1, INDEX)
    best_grid = np.zeros(n_pairs, INDEX)
    best_row[o_pair[heads]] = fr_row[order[heads]]
    best_grid[o_pair[heads]] = grid[order[heads]]
    # As scoring reads it: a whole division named by the notice contradicts no phrase
    # whose codes lie inside it.
    pair_divisions = np.array(
        [
            divisions_mask((*x.cpv, *(code for lot in x.lots for code in lot.cpv)), broad_only=True)
            for x in notices
        ],
        np.int64,
    )[notice_at]
    far = (snapshot.index.divisions[ph[order]] & pair_divisions[o_pair]) == 0
    keys = Keys()
    set_of = np.array([keys.codes(x) for x in notices], INDEX)[notice_at]
    main = main_codes(keys.code_sets)[set_of]
    far &= ~snapshot.index.names(ph[order], main[o_pair])
    coded = snapshot.index.coded[ph[order]] & far & (grid[order] == best_grid[o_pair])
    hits = np.flatnonzero(coded)
    firsts = hits[group_starts(o_pair[hits])]
    against_row = np.full(n_pairs, -1, INDEX)
    against_row[o_pair[firsts]] = fr_row[order[firsts]]

    # CPV evidence: each set of notice codes gives every member's reason id at once; as
    # scoring reads it, codes meeting far up the tree only beside a keyword.
    with_keyword = best_grid > 0
    for k in np.unique(set_of).tolist():
        codes = keys.code_sets[k]
        if codes:
            for alone in (False, True):
                at = np.flatnonzero((set_of == k) & (with_keyword != alone))
                if not len(at):
                    continue
                members, ids = _code_ids(snapshot, codes, alone)
                where = np.minimum(np.searchsorted(members, slots[at]), max(len(members) - 1, 0))
                if len(members):
                    cols[at, _CODE] = np.where(members[where] == slots[at], ids[where], -1)
    # Where no code fits, the notice's codes may contradict the best keyword.
    for i in np.flatnonzero((cols[:, _CODE] < 0) & (against_row >= 0)).tolist():
        codes = keys.code_sets[int(set_of[i])]
        if codes:
            cols[i, _CODE] = _against(snapshot, codes[0][0], int(found.phrase[against_row[i]]))
    reserved = np.array([x.reserved for x in notices], bool)[notice_at]
    boosted = np.flatnonzero(reserved & roster.supported[slots])
    if len(boosted):
        cols[boosted, _RESERVED] = sentences.id("reserved", lambda: reserved_fit(True, True, c)[1])

    # Place and size depend on the member: written once per (regions, member) and per
    # (value, size range), and gathered for the pairs as arrays.
    areas = ~roster.no_area[slots]
    state = np.zeros(n_pairs, np.int8)  # index into _STATES
    if areas.any():
        keys = Keys()
        region_of = np.array([keys.places(x) for x in notices], INDEX)[notice_at]
        for k in np.unique(region_of[areas]).tolist():
            where = keys.region_sets[k]
            if not where:
                continue
            at = np.flatnonzero(areas & (region_of == k))
            ids, states = _places(snapshot, where, slots[at])
            cols[at, _PLACE] = ids
            state[at] = states
    ranged = roster.has_range[slots]
    if ranged.any():
        lotted = np.array([bool(x.lots) for x in notices], bool)[notice_at]
        at = np.flatnonzero(ranged & ~lotted)
        r_count = np.int64(max(roster.range_id.max(initial=0) + 1, 1))
        key = notice_at[at] * r_count + roster.range_id[slots[at]]
        _, first, which = np.unique(key, return_index=True, return_inverse=True)
        ids = [
            _size(snapshot, notices[n].value, notices[n], 0, roster.members[slot])
            for n, slot in zip(
                notice_at[at[first]].tolist(), slots[at[first]].tolist(), strict=True
            )
        ]
        cols[at, _SIZE] = np.array(ids, INDEX)[which.reshape(-1)] if ids else -1
        for i in np.flatnonzero(ranged & lotted).tolist():
            n, slot = int(notice_at[i]), int(slots[i])
            m = roster.members[slot]
            value, lot = _size_used(notices[n], m, int(best_row[i]), ev, c)
            cols[i, _SIZE] = _size(snapshot, value, notices[n], lot, m)
    feedback: dict[int, list[Reason]] = {}
    for i in np.flatnonzero(roster.has_feedback[slots]).tolist():
        n, slot = int(notice_at[i]), int(slots[i])
        m, notice, p = roster.members[slot], notices[n], roster.members[slot].profile
        value, _ = _size_used(notice, m, int(best_row[i]), ev, c)
        feedback[i] = feedback_fit(
            m.feedback, value, _STATES[state[i]], ev.facts(n), p.max_value, p.declined_value, c
        )[1]

    # Pairs with the same reason ids share one tuple; feedback makes a pair its own.
    if n_pairs == 0:
        return Explained(np.zeros(0, INDEX), [])
    order = np.lexsort(cols.T[::-1])
    ranked = cols[order]
    new = np.ones(n_pairs, bool)
    new[1:] = (ranked[1:] != ranked[:-1]).any(axis=1)
    combo = np.empty(n_pairs, INDEX)
    combo[order] = np.cumsum(new) - 1
    distinct = ranked[new]
    used = np.unique(distinct[distinct >= 0]).tolist()
    known = sentences.items
    said = {x: ev.keyword(x - LOCAL) if x >= LOCAL else known[x] for x in used}
    combos = [tuple([said[x] for x in row if x >= 0]) for row in distinct.tolist()]
    for i, extra in feedback.items():
        if extra:
            combos.append(combos[combo[i]] + tuple(extra))
            combo[i] = len(combos) - 1
    return Explained(combo, combos)


def _size_used(
    notice: Notice, member: Member, best_row: int, ev: Evidence, config: MatchConfig
) -> tuple[float | None, int]:
    """(value, lot number or 0) that decides size, as scoring chooses it (_lot_values):
    the lot holding the member's best keyword, else the lot that fits best, else the
    notice."""
    if not notice.lots:
        return notice.value, 0
    valued = [i for i, lot in enumerate(notice.lots, 1) if lot.value is not None]
    if not valued:
        return notice.value, 0
    lot = int(ev.fields.lot[ev.found.field[best_row]]) if best_row >= 0 else 0
    if lot:
        value = notice.lots[lot - 1].value
        return (notice.value, 0) if value is None else (value, lot)
    p = member.profile

    def fit(i: int) -> tuple[float, int]:
        return value_fit(notice.lots[i - 1].value, p.min_value, p.max_value, config)[0], -i

    best = max(valued, key=fit)
    return notice.lots[best - 1].value, best


def _against(snapshot: Snapshot, code: str, k: int) -> int:
    """The id of: the notice's main code does not fit phrase k."""
    text = snapshot.phrases[k].text
    return snapshot.sentences.id(
        ("against", code, k), lambda: Reason("cpv", against_reason(code, text))
    )


def _places(
    snapshot: Snapshot, regions: frozenset[str], slots: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(reason ids, place states) of these members for a notice's regions; each member's
    is worked out once per set of regions and kept."""
    sentences = snapshot.sentences
    found = sentences.places.get(regions)
    if found is None:
        found = sentences.places[regions] = (
            np.full(snapshot.roster.size, -2, INDEX),
            np.zeros(snapshot.roster.size, np.int8),
        )
    ids, states = found
    for slot in np.unique(slots[ids[slots] == -2]).tolist():
        m = snapshot.roster.members[slot]
        state, _, reason = place_fit(regions, m.areas, snapshot.config)
        ids[slot] = sentences.id(("place", regions, slot), lambda r=reason: r)  # type: ignore[misc]
        states[slot] = _STATES.index(state)
    return ids[slots], states[slots]


def _size(snapshot: Snapshot, value: float | None, notice: Notice, lot: int, m: Member) -> int:
    """The id of the size reason for a value (of a lot, named) against a member's range."""
    p = m.profile
    name = lot_name(notice.lots, lot) if lot else None
    return snapshot.sentences.id(
        ("value", value, name, p.min_value, p.max_value),
        lambda: value_fit(value, p.min_value, p.max_value, snapshot.config, name)[1],
    )


def _code_ids(
    snapshot: Snapshot, codes: tuple[tuple[str, int], ...], alone: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """(member slots, reason ids), by slot: each member's CPV reason for a set of notice
    codes, its best evidence, through one of its keywords (the first of equals) or one
    of its own codes (members without any are left out); with `alone`, among the
    evidence that may make a match by itself (evidence.ALONE_MAX_UP)."""
    sentences = snapshot.sentences
    found = sentences.codes.get((codes, alone))
    if found is None:
        # Both readings from one walk of the tree: a notice's pairs mostly need both.
        derived = snapshot.derived.lookup(list(codes))
        explicit = snapshot.roster.explicit.lookup(list(codes))
        every = sentences.codes[(codes, False)] = _reason_ids(snapshot, derived[0], explicit[0])
        same = derived[1] is derived[0] and explicit[1] is explicit[0]
        sentences.codes[(codes, True)] = (
            every if same else _reason_ids(snapshot, derived[1], explicit[1])
        )
        found = sentences.codes[(codes, alone)]
    return found


def _reason_ids(
    snapshot: Snapshot, derived: dict[object, CodeHit], explicit: dict[object, CodeHit]
) -> tuple[np.ndarray, np.ndarray]:
    """_code_ids() from the hits of the keywords' codes and of the members' own."""
    sentences = snapshot.sentences
    roster = snapshot.roster
    start, count, items = roster.users
    pids = np.array([p for p in derived if p < len(count)], INDEX)
    n_users = count[pids]
    rows = ragged(start[pids], n_users)
    slot = [items[rows]]
    strength = [np.repeat([derived[p].strength for p in pids.tolist()], n_users)]
    place = [roster.keyword_place[rows]]
    source = [np.repeat(np.arange(len(pids), dtype=INDEX), n_users)]
    hits: list[tuple[CodeHit, str | None]] = [
        (derived[p], snapshot.phrases[p].text) for p in pids.tolist()
    ]
    for target, hit in explicit.items():
        owners = roster.code_owners[target]
        slot.append(owners)
        strength.append(np.full(len(owners), hit.strength))
        place.append(
            np.array(
                [len(roster.members[s].keywords) + roster.members[s].cpv.index(target)
                 for s in owners.tolist()],
                INDEX,
            )
        )  # fmt: skip
        source.append(np.full(len(owners), len(hits), INDEX))
        hits.append((hit, None))
    all_slot = np.concatenate(slot).astype(INDEX)
    all_strength = np.concatenate(strength).astype(np.float64)
    all_place = np.concatenate(place).astype(INDEX)
    all_source = np.concatenate(source).astype(INDEX)
    order = np.lexsort((all_place, -all_strength, all_slot))
    firsts = order[group_starts(all_slot[order])]
    ids = [
        sentences.id(("code", *hits[s]), lambda s=s: Reason("cpv", code_reason(*hits[s])))
        for s in range(len(hits))
    ]
    return (all_slot[firsts], np.array(ids, INDEX)[all_source[firsts]] if ids else all_slot[:0])


def veto(snapshot: Snapshot, ev: Evidence, n: int, slot: int) -> Reason | None:
    """The exclusion that vetoes a pair, if one is found strongly enough."""
    m = snapshot.roster.members[slot]
    rows = {int(ev.found.phrase[r]): r for r in ev.rows_of(n)}
    for k in m.excludes:
        r = rows.get(k)
        if r is not None and ev.found.strength[r] >= snapshot.config.exclude_min_evidence:
            text = keyword_reason(snapshot.phrases[k].text, ev.hit(r), ev.notices[n].lots)
            return Reason("exclude", "excluded: " + text)
    return None


class Block:
    """Pairs of a run of notices of one batch, explained together on first read."""

    __slots__ = ("_explained", "notice_at", "notices", "slots", "snapshot")

    def __init__(
        self,
        snapshot: Snapshot,
        notices: Sequence[Notice],
        notice_at: np.ndarray,
        slots: np.ndarray,
    ):
        self.snapshot = snapshot
        self.notices = notices
        self.notice_at = notice_at
        self.slots = slots
        self._explained: Explained | None = None

    def all(self) -> Explained:
        """Every pair's reasons."""
        if self._explained is None:
            self._explained = explain_pairs(self.snapshot, self.notices, self.notice_at, self.slots)
        return self._explained

    def reasons(self, i: int) -> tuple[Reason, ...]:
        """The reasons of pair i of the block."""
        return self.all()[i]
