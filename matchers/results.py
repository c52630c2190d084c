"""A batch's matches as columns: cheap to make, count, iterate, store and stream."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import overload

import numpy as np

from .explain import Block, Explained
from .snapshot import Snapshot
from .types import LazyReasons, Match, Notice, Reason

Row = tuple[str, str | int, int]
Record = tuple[str, str | int, int, tuple[Reason, ...]]
# Notices whose pairs are explained together when a reason is first read.
BLOCK = 256
# A string as JSON, exactly as json.dumps(..., ensure_ascii=False) writes it.
_string = json.encoder.encode_basestring  # type: ignore[attr-defined]


@dataclass(frozen=True, slots=True)
class Columns:
    """The rows of a run of notices (`covers`, matched or not) as plain lists: row i is
    (profiles[i], notices[i], scores[i]), its reasons reason_sets[reasons[i]]. Rows share
    a handful of reason sets, so a writer converts each set once rather than each row's."""

    covers: list[str | int]
    profiles: list[str]
    notices: list[str | int]
    scores: list[int]
    reasons: list[int]
    reason_sets: list[tuple[Reason, ...]]


class MatchRows(Sequence[Row]):
    """(profile_id, notice_id, score) rows of one batch, by notice then score.

    The columns are numpy arrays (`notice_index` into the batch, `profile_index`
    into `profile_ids`, `score`). `records()` streams the rows with their reasons,
    written a block of notices at a time and then let go; `match(i)` or `matches()`
    give Match objects whose reasons are written on first read (a block at a time,
    exactly as `Matcher.explain` writes them).
    """

    def __init__(
        self,
        notices: Sequence[Notice],
        notice_index: np.ndarray,
        profile_index: np.ndarray,
        score: np.ndarray,
        snapshot: Snapshot | None,
    ):
        self.notices = notices
        self.notice_index = notice_index
        self.profile_index = profile_index
        self.score = score
        self._snapshot = snapshot
        self.profile_ids: list[str] = snapshot.roster.ids if snapshot else []
        self._blocks: dict[int, tuple[Block, int]] = {}
        self._encoded: dict[Reason, str] = {}  # a reason as JSON

    def __len__(self) -> int:
        return len(self.score)

    @overload
    def __getitem__(self, i: int) -> Row: ...
    @overload
    def __getitem__(self, i: slice) -> list[Row]: ...
    def __getitem__(self, i: int | slice) -> Row | list[Row]:
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        n = self.notices[int(self.notice_index[i])]
        return (self.profile_ids[int(self.profile_index[i])], n.id, int(self.score[i]))

    def __iter__(self) -> Iterator[Row]:
        ids = self.profile_ids
        notices = self.notices
        for n, p, s in zip(
            self.notice_index.tolist(),
            self.profile_index.tolist(),
            self.score.tolist(),
            strict=True,
        ):
            yield ids[p], notices[n].id, s

    def match(self, i: int) -> Match:
        """Row i as a Match, its reasons written on first read."""
        n = int(self.notice_index[i])
        block, first = self._block(n // BLOCK)
        return Match(
            self.profile_ids[int(self.profile_index[i])],
            self.notices[n].id,
            int(self.score[i]),
            LazyReasons(block.reasons, i - first),
        )

    def matches(self) -> list[Match]:
        """Every row as a Match, in order."""
        ids = self.profile_ids
        notices = self.notices
        out = []
        for b, lo, hi in self._ranges():
            block, _ = self._block(b)
            for j, (n, slot, s) in enumerate(
                zip(
                    self.notice_index[lo:hi].tolist(),
                    self.profile_index[lo:hi].tolist(),
                    self.score[lo:hi].tolist(),
                    strict=True,
                )
            ):
                out.append(Match(ids[slot], notices[n].id, s, LazyReasons(block.reasons, j)))
        return out

    def records(self) -> Iterator[Record]:
        """(profile_id, notice_id, score, reasons) for every row, in order.

        Reasons are written for a block of notices at a time and not kept: however
        big the batch, only one block's sentences are held.
        """
        ids = self.profile_ids
        notices = self.notices
        for lo, hi, explained in self.explained():
            combos = explained.combos
            for n, slot, s, k in zip(
                self.notice_index[lo:hi].tolist(),
                self.profile_index[lo:hi].tolist(),
                self.score[lo:hi].tolist(),
                explained.combo.tolist(),
                strict=True,
            ):
                yield ids[slot], notices[n].id, s, combos[k]

    def columns(self) -> Iterator[Columns]:
        """Every row with its reasons, a block of notices at a time; every notice of the
        batch is in one block's `covers`, matched or not.

        Like `records()`, only one block's sentences are held; unlike it, nothing is
        made per row but the list entries.
        """
        found = {b: (lo, hi) for b, lo, hi in self._ranges()}
        for b in range(-(-len(self.notices) // BLOCK)):
            covered = self.notices[b * BLOCK : (b + 1) * BLOCK]
            if b not in found:
                yield Columns([n.id for n in covered], [], [], [], [], [])
                continue
            lo, hi = found[b]
            cached = self._blocks.get(b)
            explained = (cached[0] if cached else self._make(b, lo, hi)).all()
            yield self._columns(lo, hi, b * BLOCK, covered, explained)

    def whole(self, explained: Explained) -> Columns:
        """The whole batch as one Columns, given every row's reasons."""
        return self._columns(0, len(self), 0, self.notices, explained)

    def _columns(
        self, lo: int, hi: int, first: int, covered: Sequence[Notice], explained: Explained
    ) -> Columns:
        """Rows lo..hi, whose notices are `covered` (batch positions from `first`)."""
        ids = self.profile_ids
        covers = [n.id for n in covered]
        return Columns(
            covers,
            [ids[p] for p in self.profile_index[lo:hi].tolist()],
            [covers[n - first] for n in self.notice_index[lo:hi].tolist()],
            self.score[lo:hi].tolist(),
            explained.combo.tolist(),
            explained.combos,
        )

    def jsonl(self, explained: Explained | None = None) -> Iterator[str]:
        """The rows as JSON lines, a block of notices per string:
        {"profile", "notice", "score", "reasons": [{"kind", "text"}]}.

        The same text json.dumps(..., ensure_ascii=False) writes, made from pieces
        encoded once: a profile id per batch, a reason once, a set of reasons per
        block. `explained`: every row's reasons, if the caller has them already.
        """
        profiles = [json.dumps(p, ensure_ascii=False) for p in self.profile_ids]
        if explained is not None:
            if len(self):
                yield self._jsonl(profiles, 0, len(self), explained)
            return
        for lo, hi, block in self.explained():
            yield self._jsonl(profiles, lo, hi, block)

    def _jsonl(self, profiles: list[str], lo: int, hi: int, explained: Explained) -> str:
        """Rows lo..hi (one block) as JSON lines."""
        encoded = self._encoded
        if len(encoded) > 100_000:
            encoded.clear()
        reasons = []
        for combo in explained.combos:
            parts = []
            for r in combo:
                piece = encoded.get(r)
                if piece is None:
                    piece = encoded[r] = f'{{"kind": {_string(r.kind)}, "text": {_string(r.text)}}}'
                parts.append(piece)
            reasons.append("[" + ", ".join(parts) + "]")
        first = int(self.notice_index[lo])
        last = int(self.notice_index[hi - 1])
        notices = [json.dumps(x.id, ensure_ascii=False) for x in self.notices[first : last + 1]]
        return "".join(
            [
                f'{{"profile": {profiles[p]}, "notice": {notices[n - first]}, '
                f'"score": {s}, "reasons": {reasons[k]}}}\n'
                for n, p, s, k in zip(
                    self.notice_index[lo:hi].tolist(),
                    self.profile_index[lo:hi].tolist(),
                    self.score[lo:hi].tolist(),
                    explained.combo.tolist(),
                    strict=True,
                )
            ]
        )

    def explained(self) -> Iterator[tuple[int, int, Explained]]:
        """(first row, end row, their reasons) block by block; blocks are not kept."""
        for b, lo, hi in self._ranges():
            cached = self._blocks.get(b)
            yield lo, hi, (cached[0] if cached else self._make(b, lo, hi)).all()

    def _ranges(self) -> Iterator[tuple[int, int, int]]:
        """(block, first row, end row) of each block holding rows."""
        if len(self.score) == 0:
            return
        last = int(self.notice_index[-1]) // BLOCK
        bounds = np.searchsorted(self.notice_index, np.arange(last + 2) * BLOCK)
        for b in range(last + 1):
            lo, hi = int(bounds[b]), int(bounds[b + 1])
            if hi > lo:
                yield b, lo, hi

    def _make(self, b: int, lo: int, hi: int) -> Block:
        assert self._snapshot is not None
        return Block(
            self._snapshot,
            self.notices[b * BLOCK : (b + 1) * BLOCK],
            self.notice_index[lo:hi] - b * BLOCK,
            self.profile_index[lo:hi],
        )

    def _block(self, b: int) -> tuple[Block, int]:
        """Block b and the row its pairs start at, kept for Match objects to read."""
        found = self._blocks.get(b)
        if found is None:
            lo, hi = np.searchsorted(self.notice_index, [b * BLOCK, (b + 1) * BLOCK])
            found = self._blocks[b] = (self._make(b, int(lo), int(hi)), int(lo))
        return found
