"""Keyword phrases compiled for matching: stems, compound forms and their CPV codes."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from .cpv import kinds
from .labels import codes_for_phrase, label_index, lexicon
from .text import content_words, stem_word

# One token of one reading of a phrase: its stem, and which of the phrase's words
# it stands for (two for a compound: "grasscutting" stands for "grass cutting").
Token = tuple[str, tuple[int, ...]]
# A reading weighted by IDF: per token (keyword stem id, share of the phrase, weight).
Reading = tuple[tuple[int, float, float], ...]


@dataclass(slots=True)
class Phrase:
    """A distinct keyword (or exclusion) across all profiles, by its stems."""

    id: int
    text: str
    words: tuple[str, ...]
    stems: tuple[str, ...]
    variants: tuple[tuple[Token, ...], ...]
    # CPV codes whose labels say what the phrase says -> strength 0..1.
    codes: dict[str, float] = field(default_factory=dict)
    readings: tuple[Reading, ...] = ()


def phrase_key(text: str) -> tuple[str, ...]:
    """A keyword's identity: its stems in order ("Grounds-maintenance" = "grounds maintenance")."""
    return tuple(stem_word(w) for w in content_words(text))


def _split(word: str, known: frozenset[str]) -> tuple[str, str] | None:
    """'grasscutting' -> ('grass', 'cutting') when both halves are known words."""
    if len(word) < 7 or word in known:
        return None
    for i in range(len(word) - 3, 2, -1):
        if word[:i] in known and word[i:] in known:
            return word[:i], word[i:]
    return None


def compile_phrase(pid: int, text: str) -> Phrase | None:
    """Compile one keyword; None when it has no content words."""
    words = tuple(content_words(text))
    if not words:
        return None
    stems = tuple(stem_word(w) for w in words)
    base: tuple[Token, ...] = tuple((s, (i,)) for i, s in enumerate(stems))
    variants = [base]
    # "grass cutting" also reads as "grasscutting" in a notice, and the reverse.
    for i in range(len(words) - 1):
        joined = stem_word(words[i] + words[i + 1])
        variants.append((*base[:i], (joined, (i, i + 1)), *base[i + 2 :]))
    known = lexicon()
    for i, w in enumerate(words):
        halves = _split(w, known)
        if halves:
            a, b = (stem_word(h) for h in halves)
            variants.append((*base[:i], (a, (i,)), (b, (i,)), *base[i + 1 :]))
    return Phrase(pid, text.strip(), words, stems, tuple(dict.fromkeys(variants)))


def expand_to_cpv(
    phrase: Phrase, typo_stems: dict[str, set[str]], min_strength: float, supplies_factor: float
) -> None:
    """Fill `phrase.codes` from the CPV labels, letting a misspelt word stand for its fix.

    Members describe what they do, so a label for goods ("Catering equipment") is a
    weaker reading of "catering" than the service, and counts `supplies_factor` less.
    """
    index = label_index()
    weights = [index.weight(s) for s in phrase.stems]
    total = sum(weights) or 1.0
    alternatives = []
    for variant in phrase.variants:
        shares = token_shares(variant, weights)
        alternatives.append(
            [
                ({s} | typo_stems.get(s, set()), share / total)
                for (s, _), share in zip(variant, shares, strict=True)
            ]
        )
    found = codes_for_phrase(alternatives, min_strength)
    kind = kinds()
    scaled = {
        c: v * (supplies_factor if kind.get(c) == "supplies" else 1.0) for c, v in found.items()
    }
    phrase.codes = {c: v for c, v in scaled.items() if v >= min_strength}


def token_shares(variant: tuple[Token, ...], weights: list[float]) -> list[float]:
    """Each token's weight in one reading: a compound carries both words, a half of a split one."""
    uses: dict[int, int] = {}
    for _, idx in variant:
        for i in idx:
            uses[i] = uses.get(i, 0) + 1
    return [sum(weights[i] / uses[i] for i in idx) for _, idx in variant]


def weigh(phrase: Phrase, idf: Callable[[str], float], stem_id: Callable[[str], int]) -> None:
    """Fill `phrase.readings`: each token's share of the phrase by IDF, and its weight."""
    weights = [idf(s) for s in phrase.stems]
    total = sum(weights) or 1.0
    readings = []
    for variant in phrase.variants:
        shares = token_shares(variant, weights)
        readings.append(
            tuple((stem_id(s), w / total, w) for (s, _), w in zip(variant, shares, strict=True))
        )
    phrase.readings = tuple(readings)
