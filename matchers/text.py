"""Text normalisation: case and accent folding, tokens, stop words, acronyms and stems."""

from __future__ import annotations

import re
import unicodedata

from .stemmer import stem

_WORD = re.compile(r"[a-z0-9]+")
_CASED_WORD = re.compile(r"[A-Za-z0-9]+")
# 2 to 5 capitals, perhaps with a plural "s" ("MOTs"): an acronym, matched as written.
_ACRONYM = re.compile(r"[A-Z]{2,5}s?")
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

# Words that say how a contract is bought or delivered rather than what it is about:
# generic whatever the statistics say (see Matcher._generic), since the CPV labels
# rarely use them and a small store of notices may not show how common they are.
# fmt: off
TRANSACTION_WORDS = frozenset([
    "contract", "delivery", "equipment", "framework", "procurement", "provision", "purchase",
    "service", "supply", "support",
])
# fmt: on

# How a function word between two content words binds them. A preposition relates
# them ("care at home" is not a "care home"); the locative ones say the same thing, so
# they stand for each other ("care in the home"). Any other function word binds
# nothing ("painting and decorating" = "decorating and painting").
FREE = 1
# fmt: off
_PREPOSITIONS = ("about", "above", "after", "at", "by", "for", "from", "into", "of", "on",
                 "over", "per", "through", "to", "under", "until", "upon", "via", "with",
                 "without")
# fmt: on
_SAME = {"in": "at", "within": "at"}
RELATIONS: dict[str, int] = {w: i + 2 for i, w in enumerate(_PREPOSITIONS)}
for _w, _as in _SAME.items():
    RELATIONS[_w] = RELATIONS[_as]
RELATION_NAMES = {v: k for k, v in RELATIONS.items() if k not in _SAME}


def relation(word: str) -> int:
    """0 for a content word, FREE for one that binds nothing, else its relation class."""
    if word not in STOPWORDS:
        return 0
    return RELATIONS.get(word, FREE)


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


def fold_accents(text: str) -> str:
    """Strip accents and apostrophes, keeping case ("Café BUILDER'S" -> "Cafe BUILDERS")."""
    for a in _APOSTROPHES:
        if a in text:
            text = text.replace(a, "")
    if not text.isascii():
        text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return text


def is_acronym(word: str) -> bool:
    """Is a word as written an acronym: 2 to 5 capitals, perhaps with a plural "s"?"""
    return _ACRONYM.fullmatch(word) is not None


def acronym_stem(word: str) -> str:
    """The acronym's capitals ("MOTs" -> "MOT"): its stem, never equal to a folded word's."""
    return word[:-1] if word.endswith("s") else word


def is_acronym_stem(stem: str) -> bool:
    """Folded stems are lower case; only an acronym's is in capitals."""
    return stem[:1].isupper()


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


def keyword_words(text: str) -> list[tuple[str, int]]:
    """A keyword's words in order as (word, relation): a content word (relation 0) is
    folded, or an acronym as written; a function word keeps its relation class.

    A keyword written all in capitals is shouted, not a row of acronyms ("DEEP CLEAN"),
    unless it is a single word ("CCTV").
    """
    raw = _CASED_WORD.findall(fold_accents(text).replace("&", " and "))
    shouted = len(raw) > 1 and text.isupper()
    out = []
    for w in raw:
        low = w.lower()
        if not shouted and is_acronym(w):
            out.append((acronym_stem(w), 0))
        else:
            out.append((low, relation(low)))
    return out
