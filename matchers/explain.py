"""Reasons for a scored pair, written from the same evidence that scored it.

Reasons are only written when someone reads them: a large batch yields millions
of matches and few are shown. The notices' text evidence is found again (with the
words behind each hit) for a block of notices at a time, on the first read.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from .config import MatchConfig
from .evidence import CodeHit, CodeIndex, TextHit
from .facts import Keys
from .finder import KINDS, fields_of, find
from .fit import NoticeFacts, feedback_fit, place_fit, reserved_fit, value_fit
from .index import KeywordIndex
from .keywords import Phrase
from .members import Member, Roster
from .reasons import against_reason, code_reason, keyword_reason, lot_name
from .regions import notice_regions
from .scoring import SCALE
from .types import Notice, Reason
from .vocab import Vocabulary


@dataclass(frozen=True, slots=True)
class Snapshot:
    """Everything scoring read: reasons written later use the same."""

    config: MatchConfig
    roster: Roster
    index: KeywordIndex
    phrases: list[Phrase]  # append-only: later phrases are never read through this index
    derived: CodeIndex
    vocab: Vocabulary  # grows, but what a word stands for never changes
    place_reasons: dict = field(default_factory=dict)  # (regions, slot) -> place_fit(...)
    code_hits: dict = field(default_factory=dict)  # CPV codes -> (by phrase, by member code)


def text_hits(snapshot: Snapshot, notices: Sequence[Notice]) -> list[dict[int, TextHit]]:
    """Per notice: phrase id -> its best hit, with the words found."""
    fields = fields_of(notices, snapshot.config)
    found = find(fields, snapshot.vocab, snapshot.index, snapshot.config, detail=True)
    out: list[dict[int, TextHit]] = [{} for _ in notices]
    first = np.searchsorted(fields.notice, np.arange(len(notices)))
    words = found.words or []
    missing = found.missing or []
    # Ranked as scoring ranks them: by strength on the integer grid, then field.
    grid = np.rint(found.strength * SCALE).astype(np.int64).tolist()
    for n, k, s, q, f, w, x in zip(
        found.notice.tolist(),
        found.phrase.tolist(),
        found.strength.tolist(),
        grid,
        found.field.tolist(),
        words,
        missing,
        strict=True,
    ):
        out[n][k] = TextHit(
            s, KINDS[fields.kind[f]], int(fields.lot[f]), w, f - int(first[n]), q, x
        )
    return out


class NoticeEvidence:
    """One notice's evidence for writing reasons: text hits, CPV hits, regions."""

    __slots__ = (
        "codes",
        "derived",
        "explicit",
        "facts",
        "hits",
        "main_code",
        "notice",
        "regions",
        "sizes",
        "written",
    )

    def __init__(self, snapshot: Snapshot, notice: Notice, hits: dict[int, TextHit]):
        keys = Keys()
        codes = keys.code_sets[keys.codes(notice)]
        self.notice = notice
        self.hits = hits
        self.main_code = codes[0][0] if codes else None
        found = snapshot.code_hits.get(codes)
        if found is None:
            if len(snapshot.code_hits) > 10_000:
                snapshot.code_hits.clear()
            found = snapshot.code_hits[codes] = (
                snapshot.derived.lookup(list(codes)) if codes else {},
                snapshot.roster.explicit.lookup(list(codes)) if codes else {},
            )
        self.derived, self.explicit = found
        self.regions = notice_regions(notice.regions, notice.place)
        self.facts = NoticeFacts(
            f"{notice.title}\n{notice.description}", notice.published, notice.deadline
        )
        # Sentences shared by the notice's matches: per phrase, per CPV hit.
        self.written: dict[int, Reason] = {}
        self.codes: dict[tuple[CodeHit, str | None], Reason] = {}
        self.sizes: dict[tuple[float | None, int, float | None, float | None], Reason | None] = {}

    def keyword(self, text: str, k: int) -> Reason:
        """The keyword reason for phrase k."""
        r = self.written.get(k)
        if r is None:
            r = self.written[k] = Reason(
                "keyword", keyword_reason(text, self.hits[k], self.notice.lots)
            )
        return r

    def against(self, keyword: str) -> Reason:
        """The notice's main CPV code does not fit this keyword."""
        return Reason("cpv", against_reason(self.main_code or "", keyword))

    def code(self, hit: CodeHit, label: str | None) -> Reason:
        """The CPV reason for a hit (through a keyword, or the member's own code)."""
        r = self.codes.get((hit, label))
        if r is None:
            r = self.codes[(hit, label)] = Reason("cpv", code_reason(hit, label))
        return r


def contradicted(snapshot: Snapshot, m: Member, hits: dict[int, TextHit]) -> int | None:
    """The member's best phrase, if it reaches CPV codes of its own (scoring then counts
    it `contradicted_keyword_factor`, as none of the notice's codes is near them)."""
    found = [k for k in m.keywords if k in hits]
    top = max(hits[k].grid for k in found)
    best = sorted((hits[k].field, k) for k in found if hits[k].grid == top)
    coded = [k for _, k in best if snapshot.phrases[k].codes]
    return coded[0] if coded else None


class Block:
    """A run of notices of one batch whose text evidence is found again on first read."""

    __slots__ = ("_evidence", "_hits", "notices", "snapshot")

    def __init__(self, snapshot: Snapshot, notices: Sequence[Notice]):
        self.snapshot = snapshot
        self.notices = notices
        self._evidence: list[NoticeEvidence | None] | None = None

    def reasons(self, i: int, slot: int) -> tuple[Reason, ...]:
        """The reasons of notice `i` of the block for the member in `slot`."""
        if self._evidence is None:
            hits = text_hits(self.snapshot, self.notices)
            self._hits = hits
            self._evidence = [None] * len(self.notices)
        ev = self._evidence[i]
        if ev is None:
            ev = self._evidence[i] = NoticeEvidence(self.snapshot, self.notices[i], self._hits[i])
        return reasons(self.snapshot, ev, slot)


def best_keyword(member: Member, hits: dict[int, TextHit]) -> int | None:
    """The member's strongest phrase in the notice (earliest field, then first phrase)."""
    found = [(-hits[k].grid, hits[k].field, k) for k in member.keywords if k in hits]
    return min(found)[2] if found else None


def size_used(
    notice: Notice, member: Member, hits: dict[int, TextHit], config: MatchConfig
) -> tuple[float | None, int]:
    """(value, lot number or 0) that decides size, as scoring chooses it (_lot_values):
    the lot holding the member's best keyword, else the lot that fits best, else the
    notice."""
    valued = [i for i, lot in enumerate(notice.lots, 1) if lot.value is not None]
    if not valued:
        return notice.value, 0
    k = best_keyword(member, hits)
    if k is not None and hits[k].lot:
        lot_value = notice.lots[hits[k].lot - 1].value
        return (notice.value, 0) if lot_value is None else (lot_value, hits[k].lot)
    p = member.profile
    best = max(
        valued,
        key=lambda i: (
            value_fit(notice.lots[i - 1].value, p.min_value, p.max_value, config)[0],
            -i,
        ),
    )
    return notice.lots[best - 1].value, best


def veto(snapshot: Snapshot, notice: Notice, hits: dict[int, TextHit], slot: int) -> Reason | None:
    """The exclusion that vetoes the pair, if one is found strongly enough."""
    m = snapshot.roster.members[slot]
    for k in m.excludes:
        x = hits.get(k)
        if x is not None and x.strength >= snapshot.config.exclude_min_evidence:
            return Reason(
                "exclude", "excluded: " + keyword_reason(snapshot.phrases[k].text, x, notice.lots)
            )
    return None


def code_hit(
    snapshot: Snapshot, ev: NoticeEvidence, m: Member
) -> tuple[CodeHit | None, str | None]:
    """The member's best CPV evidence and the keyword behind it (None: its own codes)."""
    best: tuple[CodeHit | None, str | None] = (None, None)
    top = 0.0
    for k in m.keywords:
        hit = ev.derived.get(k)
        if hit is not None and hit.strength > top:
            top, best = hit.strength, (hit, snapshot.phrases[k].text)
    for code in m.cpv:
        hit = ev.explicit.get(code)
        if hit is not None and hit.strength > top:
            top, best = hit.strength, (hit, None)
    return best


def reasons(snapshot: Snapshot, ev: NoticeEvidence, slot: int) -> tuple[Reason, ...]:
    """Keyword and CPV evidence first, then place, size, reserved status and feedback."""
    c = snapshot.config
    m = snapshot.roster.members[slot]
    notice, hits = ev.notice, ev.hits
    phrases = snapshot.phrases
    found = sorted(
        ((hits[k].strength, phrases[k].text, k) for k in m.keywords if k in hits),
        key=lambda h: (-h[0], h[1]),
    )
    out = [ev.keyword(text, k) for strength, text, k in found[:3] if strength >= 0.05]
    hit, label = code_hit(snapshot, ev, m)
    if hit is not None:
        out.append(ev.code(hit, label))
    elif ev.main_code is not None and found:
        against = contradicted(snapshot, m, hits)
        if against is not None:
            out.append(ev.against(phrases[against].text))
    places = snapshot.place_reasons
    key = (ev.regions, slot)
    fit = places.get(key)
    if fit is None:
        if len(places) > 100_000:
            places.clear()
        fit = places[key] = place_fit(ev.regions, m.areas, c)
    state, _, place = fit
    value, lot = size_used(notice, m, hits, c)
    p = m.profile
    size = ev.sizes.get((value, lot, p.min_value, p.max_value), 0)
    if size == 0:
        size = ev.sizes[(value, lot, p.min_value, p.max_value)] = value_fit(
            value, p.min_value, p.max_value, c, lot_name(notice.lots, lot) if lot else None
        )[1]
    extra = (place, size, reserved_fit(notice.reserved, p.supported_business, c)[1])
    out += [r for r in extra if r is not None]
    if m.feedback:
        out += feedback_fit(m.feedback, value, state, ev.facts, p.max_value, p.declined_value, c)[1]
    return tuple(out)
