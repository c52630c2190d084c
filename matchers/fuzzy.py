"""Typo-tolerant word matching with RapidFuzz, bucketed so each word meets few rivals."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from rapidfuzz import process
from rapidfuzz.distance import Levenshtein


def allowed_edits(length: int, min_length: int, two_edits_length: int) -> int:
    """Edits tolerated between words this long: none for short words ("arts" vs "parts")."""
    if length < min_length:
        return 0
    return 2 if length >= two_edits_length else 1


class WordBuckets:
    """Words bucketed by first letter and length, searched with Levenshtein distance.

    Two words that are both in the lexicon are different words however close
    ("printing" and "painting"), so only a word missing from it can be a typo. The
    first letter must agree, as it does in nearly every real typo, which also keeps
    each search to a few hundred candidates.
    """

    def __init__(self, lexicon: frozenset[str], min_length: int, two_edits_length: int):
        self._lexicon = lexicon
        self._min = min_length
        self._two = two_edits_length
        self._buckets: dict[tuple[str, int], list[str]] = defaultdict(list)
        self._seen: set[str] = set()

    def add(self, words: Iterable[str]) -> None:
        """Make words findable; digits and words too short to misspell are skipped."""
        for w in words:
            if w not in self._seen and w.isalpha() and len(w) >= self._min - 2:
                self._seen.add(w)
                self._buckets[(w[0], len(w))].append(w)

    def near(self, word: str) -> list[tuple[str, int]]:
        """Stored words that `word` may be a misspelling of (or vice versa), with edits."""
        n = len(word)
        if n < self._min - 2 or not word.isalpha():
            return []
        choices: list[str] = []
        # Two edits at most, so lengths more than two apart can never match.
        for length in range(max(n - 2, self._min - 2), n + 3):
            choices.extend(self._buckets.get((word[0], length), ()))
        if not choices:
            return []
        known = word in self._lexicon
        found = []
        for choice, dist, _ in process.extract(
            word,
            choices,
            scorer=Levenshtein.distance,
            processor=None,
            score_cutoff=2,
            limit=None,
        ):
            if dist == 0 or (known and choice in self._lexicon):
                continue
            if dist <= allowed_edits(min(n, len(choice)), self._min, self._two):
                found.append((choice, int(dist)))
        return found
