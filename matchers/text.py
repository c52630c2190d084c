"""Text normalisation: case and accent folding, tokens, stop words and stems."""

from __future__ import annotations

import re
import unicodedata

from .stemmer import stem

_WORD = re.compile(r"[a-z0-9]+")
# Apostrophes join ("builder's" -> "builders") rather than split a word in two.
_APOSTROPHES = ("'", "\u2019", "\u2018", "`")

# Function words only: anything topical is left to IDF weighting, never listed here.
# fmt: off
STOPWORDS = frozenset([
    "a", "about", "above", "after", "all", "also", "an", "and", "any", "are", "as", "at", "be",
    "been", "being", "both", "but", "by", "can", "could", "do", "does", "each", "either", "etc",
    "for", "from", "had", "has", "have", "he", "her", "his", "how", "i", "if", "in", "into",
    "is", "it", "its", "may", "more", "most", "must", "no", "nor", "not", "of", "on", "only",
    "or", "other", "our", "out", "over", "per", "please", "shall", "she", "should", "so",
    "some", "such", "than", "that", "the", "their", "them", "then", "there", "these", "they",
    "this", "those", "through", "to", "under", "until", "up", "upon", "us", "via", "was", "we",
    "were", "what", "when", "where", "whether", "which", "while", "who", "whom", "whose",
    "will", "with", "within", "without", "would", "you", "your",
])
# fmt: on


def fold(text: str) -> str:
    """Lower-case, strip accents and drop apostrophes."""
    text = text.lower()
    for a in _APOSTROPHES:
        if a in text:
            text = text.replace(a, "")
    if not text.isascii():
        text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return text


def words(text: str) -> list[str]:
    """Folded alphanumeric words, stop words included ("Grass-cutting" -> grass, cutting)."""
    return _WORD.findall(fold(text))


def content_words(text: str) -> list[str]:
    """Folded words without stop words, in order."""
    return [w for w in _WORD.findall(fold(text)) if w not in STOPWORDS]


_STEMS: dict[str, str] = {}


def stem_word(word: str) -> str:
    """Stem a folded word, memoised (vocabularies are small, texts are not)."""
    s = _STEMS.get(word)
    if s is None:
        s = _STEMS[word] = stem(word)
    return s


def terms(text: str) -> list[str]:
    """Stems of the content words of `text`, in order."""
    return [stem_word(w) for w in content_words(text)]
