"""A batch's matches as columns: cheap to make, count, iterate and store."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import overload

import numpy as np

from .explain import Block, Snapshot
from .types import LazyReasons, Match, Notice

Row = tuple[str, str | int, int]
# Notices whose text is found again together when a reason is first read.
BLOCK = 256


class MatchRows(Sequence[Row]):
    """(profile_id, notice_id, score) rows of one batch, by notice then score.

    The columns are numpy arrays (`notice_index` into the batch, `profile_index`
    into `profile_ids`, `score`); `match(i)` or `matches()` give Match objects whose
    reasons are written on first read, exactly as `Matcher.explain` writes them.
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
        self._blocks: dict[int, Block] = {}

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
        slot = int(self.profile_index[i])
        return Match(
            self.profile_ids[slot],
            self.notices[n].id,
            int(self.score[i]),
            LazyReasons(self._block(n).reasons, n % BLOCK, slot),
        )

    def matches(self) -> list[Match]:
        """Every row as a Match, in order."""
        ids = self.profile_ids
        notices = self.notices
        out = []
        for n, slot, s in zip(
            self.notice_index.tolist(),
            self.profile_index.tolist(),
            self.score.tolist(),
            strict=True,
        ):
            out.append(
                Match(
                    ids[slot],
                    notices[n].id,
                    s,
                    LazyReasons(self._block(n).reasons, n % BLOCK, slot),
                )
            )
        return out

    def _block(self, n: int) -> Block:
        b = n // BLOCK
        block = self._blocks.get(b)
        if block is None:
            assert self._snapshot is not None
            block = self._blocks[b] = Block(
                self._snapshot, self.notices[b * BLOCK : (b + 1) * BLOCK]
            )
        return block
