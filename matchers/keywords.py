"""Keyword phrases compiled for matching: stems, how the words bind, compounds and CPV codes.

What a keyword means, beyond its words:

- an acronym (2 to 5 capitals, "IT", "PPE") is matched whole and as written, and is
  never a function word;
- a generic word ("services", "support", "equipment") alone never makes a match:
  the keyword's distinguishing words must be there;
- a function word between two words binds them ("care at home" is not a "care
  home"): such a keyword needs every word, in that relation (see finder).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

from .cpv import kinds, significant
from .labels import ACRONYM, GENERIC, codes_for_phrase, label_index, lexicon, naming
from .text import FREE, is_acronym_stem, keyword_words, stem_word

# One token of one reading of a phrase: its stem, and which of the phrase's words
# it stands for (two for a compound: "grasscutting" stands for "grass cutting").
Token = tuple[str, tuple[int, ...]]
# A reading weighted by IDF, per token: (keyword stem id, share of the phrase, weight,
# kind bits ACRONYM and GENERIC, how it binds to the next token: COMPOUND, FREE, a
# relation, or LAST).
Reading = tuple[tuple[int, float, float, int, int], ...]
COMPOUND, LAST = 0, -1


@dataclass(slots=True)
class Phrase:
    """A distinct keyword (or exclusion) across all profiles, by its stems and bindings."""

    id: int
    text: str
    words: tuple[str, ...]  # content words as shown: folded, or an acronym as written
    stems: tuple[str, ...]
    # Between word i and i + 1: COMPOUND (nothing), FREE ("and") or a relation ("at").
    links: tuple[int, ...]
    variants: tuple[tuple[Token, ...], ...]
    # Per word: is it too common to make a match alone (see Matcher._generic)?
    generic: tuple[bool, ...] = ()
    # CPV codes whose labels say what the phrase says -> strength 0..1.
    codes: dict[str, float] = field(default_factory=dict)
    # For a phrase with codes: the codes whose labels hold one of its distinguishing
    # words, as labels.code_numbers (see KeywordIndex.names).
    named: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    readings: tuple[Reading, ...] = ()
    entry: object = None  # its part of a KeywordIndex, once worked out (see index._entry)

    @property
    def acronyms(self) -> tuple[bool, ...]:
        """Per word: is it an acronym?"""
        return tuple(is_acronym_stem(s) for s in self.stems)

    @property
    def related(self) -> bool:
        """Does a function word bind two of its words (so every word is needed)?"""
        return any(link > FREE for link in self.links)

    @property
    def every(self) -> bool:
        """Does a match need every word: words bound by a relation, or only generic words?"""
        return self.related or (bool(self.generic) and all(self.generic))


@lru_cache(maxsize=65536)
def _parse(text: str) -> tuple[tuple[str, ...], tuple[int, ...]]:
    """Content words and the links between them (function words at either end drop)."""
    words: list[str] = []
    links: list[int] = []
    pending = COMPOUND
    for w, rel in keyword_words(text):
        if rel == 0:
            if words:
                links.append(pending)
            words.append(w)
            pending = COMPOUND
        elif rel > FREE and words:
            # A relation outweighs a free word beside it ("care in the home").
            pending = rel
        elif words and pending == COMPOUND:
            pending = FREE
    return tuple(words), tuple(links)


def phrase_key(text: str) -> tuple[object, ...]:
    """A keyword's identity: stems and bindings ("Grounds-maintenance" = "grounds maintenance")."""
    words, links = _parse(text)
    key: list[object] = []
    for i, w in enumerate(words):
        if i and links[i - 1] != COMPOUND:
            key.append(links[i - 1])
        key.append(w if is_acronym_stem(w) else stem_word(w))
    return tuple(key)


def _split(word: str, known: frozenset[str]) -> tuple[str, str] | None:
    """'grasscutting' -> ('grass', 'cutting') when both halves are known words."""
    if len(word) < 7 or word in known or is_acronym_stem(word):
        return None
    for i in range(len(word) - 3, 2, -1):
        if word[:i] in known and word[i:] in known:
            return word[:i], word[i:]
    return None


def compile_phrase(pid: int, text: str) -> Phrase | None:
    """Compile one keyword; None when it has no content words."""
    words, links = _parse(text)
    if not words:
        return None
    stems = tuple(w if is_acronym_stem(w) else stem_word(w) for w in words)
    base: tuple[Token, ...] = tuple((s, (i,)) for i, s in enumerate(stems))
    variants = [base]
    # "grass cutting" also reads as "grasscutting" in a notice, and the reverse; words
    # a function word binds ("care at home") never run together, nor do acronyms.
    acronym = [is_acronym_stem(w) for w in words]
    for i in range(len(words) - 1):
        if links[i] == COMPOUND and not (acronym[i] or acronym[i + 1]):
            joined = stem_word(words[i] + words[i + 1])
            variants.append((*base[:i], (joined, (i, i + 1)), *base[i + 2 :]))
    known = lexicon()
    for i, w in enumerate(words):
        halves = _split(w, known)
        if halves:
            a, b = (stem_word(h) for h in halves)
            variants.append((*base[:i], (a, (i,)), (b, (i,)), *base[i + 1 :]))
    return Phrase(pid, text.strip(), words, stems, links, tuple(dict.fromkeys(variants)))


def token_link(variant: tuple[Token, ...], links: tuple[int, ...], t: int) -> int:
    """How token t binds to token t + 1: the link after its last word (halves: COMPOUND)."""
    if t + 1 >= len(variant):
        return LAST
    last, first = variant[t][1][-1], variant[t + 1][1][0]
    return COMPOUND if first == last else links[last]


def token_kind(idx: tuple[int, ...], acronym: tuple[bool, ...], generic: tuple[bool, ...]) -> int:
    """ACRONYM if the token stands for an acronym; GENERIC if only for generic words."""
    if len(idx) == 1:
        i = idx[0]
        return (ACRONYM if acronym[i] else 0) | (GENERIC if generic and generic[i] else 0)
    kind = ACRONYM if any(acronym[i] for i in idx) else 0
    if generic and all(generic[i] for i in idx):
        kind |= GENERIC
    return kind


def expand_to_cpv(
    phrase: Phrase,
    typo_stems: dict[str, set[str]],
    min_strength: float,
    supplies_factor: float,
    min_digits: int,
) -> None:
    """Fill `phrase.codes` from the CPV labels, letting a misspelt word stand for its fix.

    The labels obey the phrase's rules: its acronyms and a distinguishing word must be
    in the label (every word, for a phrase whose words a function word binds). Members
    describe what they do, so a label for goods ("Catering equipment") is a weaker
    reading of "catering" than the service, and counts `supplies_factor` less. A code
    broader than `min_digits` significant digits (a division: "IT services:
    consulting, software development, Internet and support") says too little.
    """
    index = label_index()
    weights = [index.weight(s) for s in phrase.stems]
    total = sum(weights) or 1.0
    acronym = phrase.acronyms
    alternatives = []
    for variant in phrase.variants:
        shares = token_shares(variant, weights)
        alternatives.append(
            [
                (
                    {s} | typo_stems.get(s, set()),
                    share / total,
                    token_kind(idx, acronym, phrase.generic),
                )
                for (s, idx), share in zip(variant, shares, strict=True)
            ]
        )
    found = codes_for_phrase(alternatives, min_strength, phrase.every)
    kind = kinds()
    scaled = {
        c: v * (supplies_factor if kind.get(c) == "supplies" else 1.0) for c, v in found.items()
    }
    phrase.codes = {
        c: v for c, v in scaled.items() if v >= min_strength and len(significant(c)) >= min_digits
    }
    if phrase.codes:
        generic = phrase.generic or (False,) * len(phrase.stems)
        phrase.named = naming(s for s, g in zip(phrase.stems, generic, strict=True) if not g)


def token_shares(variant: tuple[Token, ...], weights: list[float]) -> list[float]:
    """Each token's weight in one reading: a compound carries both words, a half of a split one."""
    uses: dict[int, int] = {}
    for _, idx in variant:
        for i in idx:
            uses[i] = uses.get(i, 0) + 1
    return [sum(weights[i] / uses[i] for i in idx) for _, idx in variant]


def weigh(
    phrase: Phrase,
    idf: Callable[[str], float],
    stem_id: Callable[[str], int],
    generic: Callable[[str], bool],
) -> None:
    """Fill `phrase.generic` and `phrase.readings`: each token's share by IDF, kind and link."""
    phrase.generic = tuple(generic(s) for s in phrase.stems)
    acronym = phrase.acronyms
    weights = [idf(s) for s in phrase.stems]
    total = sum(weights) or 1.0
    readings = []
    for variant in phrase.variants:
        shares = token_shares(variant, weights)
        readings.append(
            tuple(
                (
                    stem_id(s),
                    w / total,
                    w,
                    token_kind(idx, acronym, phrase.generic),
                    token_link(variant, phrase.links, t),
                )
                for t, ((s, idx), w) in enumerate(zip(variant, shares, strict=True))
            )
        )
    phrase.readings = tuple(readings)
