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

from .cpv import divisions_mask
from .keywords import ACRONYM, GENERIC, Phrase, Reading
from .labels import code_numbers

# Shares are sums of floats: leave a margin so rounding never hides a candidate.
_MARGIN = 1e-9
# Which stems a field holds, hashed into this many bits: a cheap test that a reading
# has a second word there before its words are looked up one by one.
MASK_WORDS = 4
MASK_BITS = 64 * MASK_WORDS
# Which of a phrase's words a token stands for, as bits: the first 62 words are told apart.
WORD_BITS = 62


class KeywordIndex:
    """Readings of the live phrases as flat arrays, and stem -> readings it opens."""

    def __init__(
        self, phrases: Sequence[Phrase], live: Iterable[int], n_stems: int, needs: Sequence[float]
    ):
        self.n_stems = n_stems
        self.n_phrases = len(phrases)
        self.phrases = phrases
        # Per phrase: does it reach CPV codes through the labels, and in which divisions?
        self.coded = np.array([bool(p.codes) for p in phrases], bool)
        self.divisions = np.array([divisions_mask(p.codes) for p in phrases], np.int64)
        # (phrase, code) pairs, as one sorted key each, where the code's label holds one
        # of the phrase's distinguishing words (see `names`).
        self._code_count = len(code_numbers()) + 1
        named = [pid * self._code_count + p.named for pid, p in enumerate(phrases) if len(p.named)]
        self._named = np.concatenate(named) if named else np.zeros(0, np.int64)
        # One opening index per coverage a field kind needs (see `coverage_needs`).
        levels = sorted(set(needs))
        # Per field kind, a hair under its need (rounding never drops a reading).
        self.needs = np.array(needs, np.float64) - _MARGIN
        self.kind_level = np.array([levels.index(n) for n in needs], np.int64)
        rd_phrase: list[int] = []
        rd_len: list[int] = []
        rd_every: list[bool] = []
        rd_telling: list[bool] = []
        tokens: list[tuple[int, float, float, int, int, int, bool]] = []
        opens: list[tuple[int, int, int, bool, int]] = []
        for pid in sorted(live):
            lengths, every, telling, toks, phrase_opens = _entry(phrases[pid], tuple(levels))
            first = len(rd_phrase)
            rd_phrase += [pid] * len(lengths)
            rd_len += lengths
            rd_every += [every] * len(lengths)
            rd_telling += telling
            tokens += toks
            opens += [
                (lv, sid, first + r, alone, others) for lv, sid, r, alone, others in phrase_opens
            ]
        tk_stem, tk_share, tk_weight, tk_kind, tk_link, tk_words, tk_verb = (
            (list(col) for col in zip(*tokens, strict=True))
            if tokens
            else ([], [], [], [], [], [], [])
        )
        self.rd_phrase = np.array(rd_phrase, np.int64)
        self.rd_len = np.array(rd_len, np.int64)
        self.rd_start = np.concatenate(([0], np.cumsum(self.rd_len)[:-1])).astype(np.int64)
        # Every token needed (words bound by a relation, or only generic words); and
        # whether the reading has a distinguishing (not generic) token at all.
        self.rd_every = np.array(rd_every, bool)
        # Bit i: the phrase has a word i.
        self.rd_words = (
            np.int64(1)
            << np.array([min(len(phrases[p].words), WORD_BITS) for p in rd_phrase], np.int64)
        ) - 1
        self.rd_telling = np.array(rd_telling, bool)
        self.tk_stem = np.array(tk_stem, np.int64)
        self.tk_share = np.array(tk_share, np.float64)
        self.tk_weight = np.array(tk_weight, np.float64)
        self.tk_acronym = (np.array(tk_kind, np.int64) & ACRONYM) != 0
        self.tk_telling = (np.array(tk_kind, np.int64) & GENERIC) == 0
        self.tk_link = np.array(tk_link, np.int64)
        self.tk_words = np.array(tk_words, np.int64)  # bit i: stands for the phrase's word i
        self.tk_verb = np.array(tk_verb, bool)
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

    def names(self, phrase: np.ndarray, code: np.ndarray) -> np.ndarray:
        """Per pair: does the label of the code (a labels.code_numbers number, -1 for a
        code the 2008 list lacks) hold one of the phrase's distinguishing words?"""
        if not len(self._named):
            return np.zeros(len(phrase), bool)
        keys = phrase.astype(np.int64) * self._code_count + code
        at = np.minimum(np.searchsorted(self._named, keys), len(self._named) - 1)
        return (code >= 0) & (self._named[at] == keys)


def main_codes(code_sets: Sequence[tuple[tuple[str, int], ...]]) -> np.ndarray:
    """Per set of a notice's (code, lot) pairs, its first code (the buyer's main one) as
    a labels.code_numbers number; -1 where there is none or the 2008 list lacks it."""
    numbers = code_numbers()
    return np.array([numbers.get(s[0][0], -1) if s else -1 for s in code_sets], np.int64)


def _entry(
    phrase: Phrase, levels: tuple[float, ...]
) -> tuple[list[int], bool, list[bool], list[tuple], list[tuple[int, int, int, bool, int]]]:
    """A phrase's part of the index, worked out once (its readings never change):
    reading lengths, whether it needs every word, which readings have a telling
    token, the tokens, and the openings (level, stem, reading, alone, others)."""
    cached = phrase.entry
    if cached is not None and cached[0] == levels:
        return cached[1]  # type: ignore[no-any-return]
    every = phrase.every
    lengths, telling, tokens, opens = [], [], [], []
    for r, (reading, variant) in enumerate(zip(phrase.readings, phrase.variants, strict=True)):
        lengths.append(len(reading))
        telling.append(any(not t[3] & GENERIC for t in reading))
        for (sid, share, weight, kind, link), (_, idx) in zip(reading, variant, strict=True):
            # A head ending in -ing can take its object after it ("cleaning windows").
            verb = phrase.words[idx[-1]].endswith("ing")
            bits = sum(1 << i for i in idx if i < WORD_BITS)
            tokens.append((sid, share, weight, kind, link, bits, verb))
        for level, need in enumerate(levels):
            for sid in _opening(reading, need, every):
                # Alone, the opening stem may fall short: then some other word of the
                # reading must be there too (see `others`).
                alone = sum(t[1] for t in reading if t[0] == sid) >= need - _MARGIN
                alone &= _one_is_enough(reading, sid, every)
                others = 0
                for t in reading:
                    if t[0] != sid:
                        others |= 1 << (t[0] % MASK_BITS)
                opens.append((level, sid, r, alone, others))
    entry = (lengths, every, telling, tokens, opens)
    phrase.entry = (levels, entry)
    return entry


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


def _one_is_enough(reading: Reading, sid: int, every: bool) -> bool:
    """Can this stem alone meet the reading's other needs (its acronyms, every word)?"""
    if every:
        return all(t[0] == sid for t in reading)
    return all(t[0] == sid for t in reading if t[3] & ACRONYM)


def _opening(reading: Reading, min_coverage: float, every: bool) -> list[int]:
    """Stems of the tokens that open a reading: enough that a match always holds one.

    A match holds every acronym (so the rarest opens), or every word (the rarest
    opens), or else enough of the phrase: the heaviest tokens open it until the rest
    fall short. A generic word never matches alone, so where one of those would
    open the reading, every distinguishing token opens it instead.
    """
    if math.isinf(min_coverage):
        return []
    by_weight = sorted(range(len(reading)), key=lambda i: (-reading[i][1], i))
    acronyms = [i for i in by_weight if reading[i][3] & ACRONYM]
    if acronyms:
        return [reading[acronyms[0]][0]]
    if every:
        return [reading[by_weight[0]][0]]
    rest = sum(reading[i][1] for i in by_weight)
    out: list[int] = []
    for i in by_weight:
        if rest < min_coverage - _MARGIN:
            break
        out.append(i)
        rest -= reading[i][1]
    if any(reading[i][3] & GENERIC for i in out):
        telling = [i for i in by_weight if not reading[i][3] & GENERIC]
        out = [i for i in out if not reading[i][3] & GENERIC]
        out += [i for i in telling if i not in out]
    return list(dict.fromkeys(reading[i][0] for i in out))
