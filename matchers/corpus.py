"""How rare each word is: the CPV labels as a prior, and optionally stored notices.

Scores must not depend on which notices one process happened to see, so the
Matcher never learns rarity from the notices it matches. It takes a CorpusStats
instead: document frequencies counted once over the stored notices, kept as JSON
and passed to every Matcher, so a harvest job, a CLI command and a full re-match
score a notice the same way. Without one, the CPV labels alone say how common a
word is ("services" is in a quarter of them, "befriending" in none).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from itertools import repeat
from typing import Any

import numpy as np

from .arrays import distinct
from .errors import MatcherError
from .labels import label_index
from .stemmer import VERSION as STEMMER
from .text import STOPWORDS, fold, stem_word
from .types import Notice
from .vocab import TABLE

FORMAT = "matchers.corpus/1"
# The label prior weighs as much as this many notices: it decides for a small
# corpus, and a large one outvotes it.
PRIOR_DOCS = 50.0


class CorpusError(MatcherError):
    """Raised by `CorpusStats.from_json` for data that is not a saved CorpusStats."""


@dataclass(frozen=True, slots=True)
class CorpusStats:
    """Notice count and, per word stem, how many notices hold it (each notice id once)."""

    docs: int = 0
    df: Mapping[str, int] = field(default_factory=dict, hash=False)
    # The stemmer version whose stems `df` counts (1: saved before versions were noted).
    stemmer: int = STEMMER

    @property
    def current(self) -> bool:
        """Counted under this stemmer's stems. Stale statistics still weigh most words
        right, so they serve until counted again (the broker does that by itself)."""
        return self.stemmer == STEMMER

    @classmethod
    def from_notices(cls, notices: Iterable[Notice]) -> CorpusStats:
        """Count the words of the notices' titles, descriptions and lots (each id once).

        A stem's frequency is that of its commonest word form: "cleaning" is common
        even if "cleaners" is rare, and the rarer forms don't add up to more.
        """
        seen: set[str | int] = set()
        words = _Words()
        per_word = np.zeros(0, np.int64)
        docs = 0
        batch: list[str] = []
        for n in notices:
            if n.id in seen:
                continue
            seen.add(n.id)
            docs += 1
            batch.append(_text(n))
            if len(batch) == 2048:
                per_word = _count(batch, words, per_word)
                batch = []
        per_word = _count(batch, words, per_word)
        df: dict[str, int] = {}
        for word, k in zip(words.words, per_word.tolist(), strict=True):
            stem = stem_word(word) if word.isalpha() else word
            if k > df.get(stem, 0):
                df[stem] = k
        return cls(docs, df)

    def idf(self, stem: str) -> float:
        """IDF of a stem over the notices counted, smoothed towards its CPV-label rate."""
        labels = label_index()
        prior = (len(labels.postings.get(stem, ())) + 1) / (labels.size + 1)
        df = self.df.get(stem, 0) + prior * PRIOR_DOCS
        return max(0.05, math.log((self.docs + PRIOR_DOCS + 1.0) / (df + 0.5)))

    def to_json(self) -> dict[str, Any]:
        """A JSON-able dict; `from_json` reads it back."""
        return {
            "format": FORMAT,
            "stemmer": self.stemmer,
            "docs": self.docs,
            "df": dict(sorted(self.df.items())),
        }

    @classmethod
    def from_json(cls, data: Any) -> CorpusStats:
        """Statistics saved with `to_json`; raises CorpusError for anything else."""
        if not isinstance(data, Mapping) or data.get("format") != FORMAT:
            raise CorpusError(f"not corpus statistics (expected format {FORMAT!r})")
        docs, df, stemmer = data.get("docs"), data.get("df"), data.get("stemmer", 1)
        if isinstance(stemmer, bool) or not isinstance(stemmer, int):
            raise CorpusError(f"bad stemmer version {stemmer!r}")
        if (
            isinstance(docs, bool)
            or not isinstance(docs, int)
            or docs < 0
            or not isinstance(df, Mapping)
        ):
            raise CorpusError("corpus statistics need a notice count and a 'df' table")
        for k, v in df.items():
            if (
                not isinstance(k, str)
                or isinstance(v, bool)
                or not isinstance(v, int)
                or not 0 < v <= docs
            ):
                raise CorpusError(f"bad document frequency for {k!r}: {v!r}")
        return cls(docs, dict(df), stemmer)


def _text(n: Notice) -> str:
    parts = [n.title, n.description]
    for lot in n.lots:
        parts += [lot.title, lot.description]
    text = "\n".join(parts)
    return text if text.isascii() else fold(text)


class _Words:
    """Folded word (ASCII bytes) -> id, with -1 for stop words and -2 for the separator."""

    def __init__(self) -> None:
        self.ids: dict[bytes, int] = {w.encode("ascii"): -1 for w in STOPWORDS}
        self.ids[b"\x01"] = -2
        self.words: list[str] = []

    def lookup(self, tokens: list[bytes]) -> np.ndarray:
        """Ids of the tokens, learning new words."""
        ids = np.fromiter(map(self.ids.get, tokens, repeat(-3)), np.int64, len(tokens))
        for i in np.flatnonzero(ids == -3).tolist():
            wid = self.ids.get(tokens[i])
            if wid is None:
                wid = self.ids[tokens[i]] = len(self.words)
                self.words.append(tokens[i].decode("ascii"))
            ids[i] = wid
        return ids


def _count(texts: list[str], words: _Words, per_word: np.ndarray) -> np.ndarray:
    """`per_word` plus, for each word, the texts holding it."""
    if not texts:
        return per_word
    joined = " \x01 ".join(t.replace("\x01", " ") for t in texts)
    ids = words.lookup(joined.encode("ascii").translate(TABLE, b"'`").split())
    doc = np.cumsum(ids == -2)
    keep = ids >= 0
    n = np.int64(len(words.words) + 1)
    pairs = distinct(doc[keep] * n + ids[keep])
    found = np.bincount(pairs % n, minlength=len(words.words))
    found[: len(per_word)] += per_word
    return found
