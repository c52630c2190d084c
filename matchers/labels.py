"""Keywords reach CPV codes through the official labels, weighted by label IDF."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache

import numpy as np

from .cpv import labels
from .text import FREE, content_words, is_acronym, keyword_words, stem_word

ACRONYM, GENERIC = 1, 2  # token kinds, as keywords.py hands them over
# A word in this share of the labels names a kind of thing, not the thing ("services",
# "work", "equipment", "systems"); MatchConfig.generic_label_share says the same.
GENERIC_LABEL_SHARE = 0.02


@dataclass(frozen=True, slots=True)
class LabelIndex:
    """The CPV labels as stems: which codes hold a stem, and how rare each stem is."""

    stems: dict[str, tuple[str, ...]]
    postings: dict[str, frozenset[str]]
    idf: dict[str, float]
    words: frozenset[str]
    size: int
    label_sets: dict[str, frozenset[str]]
    totals: dict[str, float]  # summed IDF of each label's stems
    heads: dict[str, frozenset[str]]  # what each label is about (see _heads)

    def weight(self, stem: str) -> float:
        """IDF of a stem over the labels; a stem no label uses counts as rarest."""
        return self.idf.get(stem, math.log(self.size + 1))

    def share(self, stem: str) -> float:
        """The share of labels holding a stem ("servic": a fifth of them)."""
        return len(self.postings.get(stem, ())) / self.size


def _label_stems(label: str) -> tuple[str, ...]:
    """A label's stems; an acronym in it ("UHT milk") also stands as written."""
    stems = [stem_word(w) for w in content_words(label)]
    stems += [w for w, rel in keyword_words(label) if rel == 0 and is_acronym(w)]
    return tuple(dict.fromkeys(stems))


def _heads(label: str, generic: set[str]) -> frozenset[str]:
    """The stems a label is about: the last telling word of each of its coordinated
    parts, before any preposition.

    "Repair and maintenance services of catering equipment" is about repair (and
    maintenance, too generic to say so), not catering; "Print shop software
    development services" is about development; "Printing and distribution services"
    about printing and distribution.
    """
    parts: list[list[str]] = [[]]
    for w, rel in keyword_words(label):
        if rel > FREE:
            break
        if rel == FREE:
            if parts[-1]:
                parts.append([])
            continue
        stem = w if is_acronym(w) else stem_word(w)
        if stem not in generic:
            parts[-1].append(stem)
    return frozenset(p[-1] for p in parts if p)


@cache
def label_index() -> LabelIndex:
    """Build the label index once, on first use."""
    stems: dict[str, tuple[str, ...]] = {}
    postings: dict[str, set[str]] = defaultdict(set)
    words: set[str] = set()
    for code, label in labels().items():
        words.update(content_words(label))
        st = _label_stems(label)
        stems[code] = st
        for s in st:
            postings[s].add(code)
    n = len(stems)
    # "services" is in a quarter of the labels, "cleaning" in a handful: IDF says which
    # words of a label carry its meaning.
    idf = {s: math.log((n + 1) / (len(codes) + 0.5)) for s, codes in postings.items()}
    totals = {code: sum(idf[s] for s in st) for code, st in stems.items()}
    generic = {s for s, codes in postings.items() if len(codes) >= GENERIC_LABEL_SHARE * n}
    heads = {code: _heads(label, generic) for code, label in labels().items()}
    return LabelIndex(
        stems,
        {s: frozenset(c) for s, c in postings.items()},
        idf,
        frozenset(words),
        n,
        {code: frozenset(st) for code, st in stems.items()},
        totals,
        heads,
    )


@cache
def code_numbers() -> dict[str, int]:
    """Every CPV code -> a small number (codes in order), for array lookups."""
    return {code: i for i, code in enumerate(sorted(labels()))}


def naming(stems: Iterable[str]) -> np.ndarray:
    """The numbers (see code_numbers) of the codes whose labels hold one of `stems`, sorted."""
    postings = label_index().postings
    numbers = code_numbers()
    found = {numbers[code] for s in stems for code in postings.get(s, ())}
    return np.array(sorted(found), np.int64)


def lexicon() -> frozenset[str]:
    """Correctly spelled domain words: every word of every CPV label."""
    return label_index().words


def codes_for_phrase(
    alternatives: list[list[tuple[set[str], float, int]]], min_strength: float, every: bool
) -> dict[str, float]:
    """CPV codes whose label says what a phrase says, with a 0..1 strength.

    Each alternative is one reading of the phrase: a list of (stems that may stand
    for the word, its share of the phrase, its kind: ACRONYM, GENERIC). Strength is
    the share of the phrase found in the label squared, times the square root of the
    share of the label (by IDF) that the phrase explains, so "cleaning" fits
    "Cleaning services" far better than "Sewage, refuse, cleaning and environmental
    services". As in text, a label must hold the phrase's acronyms and one of its
    distinguishing words; `every` word, for a phrase whose words are bound. And the
    phrase must name what the label is about, not only what it is for: "catering"
    does not reach "Repair and maintenance services of catering equipment".
    """
    index = label_index()
    idf = index.idf
    found: dict[str, float] = {}
    # Less than half the phrase in the label is a different subject, and the strength
    # can't reach min_strength below sqrt(min_strength) coverage either.
    need = max(0.5, math.sqrt(max(min_strength, 0.0)))
    for tokens in alternatives:
        candidates: set[str] = set()
        # Only labels holding one of the heaviest tokens can be covered enough.
        rest = sum(share for _, share, _ in tokens)
        for options, share, _ in sorted(tokens, key=lambda t: -t[1]):
            if rest < need - 1e-9:
                break
            rest -= share
            for s in options:
                candidates |= index.postings.get(s, frozenset())
        distinguishing = any(not kind & GENERIC for _, _, kind in tokens)
        # In code order: ties between labels go the same way in every process.
        for code in sorted(candidates):
            label_set = index.label_sets[code]
            covered = 0.0
            explained: set[str] = set()
            missing = telling = False
            for options, share, kind in tokens:
                hit = options & label_set
                if hit:
                    covered += share
                    explained |= hit
                    telling |= not kind & GENERIC
                elif kind & ACRONYM or every:
                    missing = True
            if covered < 0.5 or missing or (distinguishing and not telling):
                continue
            heads = index.heads[code]
            if heads and heads.isdisjoint(explained):
                continue
            # Summed in a fixed order: the same floats in every process.
            label_share = sum(idf[s] for s in sorted(explained)) / index.totals[code]
            strength = covered * covered * math.sqrt(label_share)
            if strength >= min_strength and strength > found.get(code, 0.0):
                found[code] = strength
    return found
