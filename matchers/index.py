"""The inverted index from keyword stems to the phrase readings they can open.

A phrase is read several ways (as written, with two words joined, with a compound
split); each reading is a list of tokens carrying a share of the phrase by IDF. A
reading can only reach the coverage a match needs if one of its heaviest tokens is
there, so only those tokens open it: a notice looks up its own stems and gets the
few readings worth checking.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import numpy as np

from .keywords import Phrase

# Shares are sums of floats: leave a margin so rounding never hides a candidate.
_MARGIN = 1e-9
# Which stems a field holds, hashed into this many bits: a cheap test that a reading
# has a second word there before its words are looked up one by one.
MASK_WORDS = 4
MASK_BITS = 64 * MASK_WORDS


class KeywordIndex:
    """Readings of the live phrases as flat arrays, and stem -> readings it opens."""

    def __init__(
        self, phrases: Sequence[Phrase], live: Iterable[int], n_stems: int, needs: Sequence[float]
    ):
        self.n_stems = n_stems
        self.n_phrases = len(phrases)
        rd_phrase: list[int] = []
        rd_len: list[int] = []
        tk_stem: list[int] = []
        tk_share: list[float] = []
        tk_weight: list[float] = []
        # One opening index per coverage a field kind needs (see `coverage_needs`).
        levels = sorted(set(needs))
        # Per field kind, a hair under its need (rounding never drops a reading).
        self.needs = np.array(needs, np.float64) - _MARGIN
        self.kind_level = np.array([levels.index(n) for n in needs], np.int64)
        opens: list[tuple[int, int, int, bool, int]] = []
        for pid in sorted(live):
            for reading in phrases[pid].readings:
                r = len(rd_phrase)
                rd_phrase.append(pid)
                rd_len.append(len(reading))
                for sid, share, weight in reading:
                    tk_stem.append(sid)
                    tk_share.append(share)
                    tk_weight.append(weight)
                for level, need in enumerate(levels):
                    for sid in _opening(reading, need):
                        # Alone, the opening stem may fall short: then some other word
                        # of the reading must be there too (see `others`).
                        alone = sum(x for t, x, _ in reading if t == sid)
                        others = 0
                        for t, _, _ in reading:
                            if t != sid:
                                others |= 1 << (t % MASK_BITS)
                        opens.append((level, sid, r, alone >= need - _MARGIN, others))
        self.rd_phrase = np.array(rd_phrase, np.int64)
        self.rd_len = np.array(rd_len, np.int64)
        self.rd_start = np.concatenate(([0], np.cumsum(self.rd_len)[:-1])).astype(np.int64)
        self.tk_stem = np.array(tk_stem, np.int64)
        self.tk_share = np.array(tk_share, np.float64)
        self.tk_weight = np.array(tk_weight, np.float64)
        self.n_readings = len(rd_phrase)
        opens = sorted(set(opens))
        keys = np.array([o[0] * n_stems + o[1] for o in opens], np.int64)
        self.open_read = np.array([o[2] for o in opens], np.int64)
        self.open_alone = np.array([o[3] for o in opens], bool)
        # One array per 64-bit word of the mask.
        self.open_others = [
            np.array([(o[4] >> (64 * w)) & 0xFFFFFFFFFFFFFFFF for o in opens], np.uint64)
            for w in range(MASK_WORDS)
        ]
        # Indexed by level * n_stems + stem.
        self.open_count = np.bincount(keys, minlength=len(levels) * n_stems).astype(np.int64)
        self.open_start = np.concatenate(([0], np.cumsum(self.open_count)[:-1])).astype(np.int64)


def coverage_needs(
    min_coverage: float, min_evidence: float, weights: Sequence[float]
) -> list[float]:
    """Per field kind, the coverage a phrase needs there to count at all.

    Strength is at most coverage squared times the field's weight, so a field
    weighing less asks for more of the phrase: less can open a reading there.
    """
    needs = []
    for w in weights:
        if min_evidence <= 0.0:
            needs.append(min_coverage)
        elif w <= 0.0:
            needs.append(math.inf)
        else:
            needs.append(max(min_coverage, math.sqrt(min_evidence / w)))
    return needs


def _opening(reading: Sequence[tuple[int, float, float]], min_coverage: float) -> list[int]:
    """Stems of the tokens that open a reading: the heaviest, until the rest fall short."""
    order = sorted(range(len(reading)), key=lambda i: -reading[i][1])
    rest = sum(reading[i][1] for i in order)
    out: list[int] = []
    if math.isinf(min_coverage):
        return out
    for i in order:
        if rest < min_coverage - _MARGIN:
            break
        out.append(reading[i][0])
        rest -= reading[i][1]
    return out
