"""A light English stemmer: Porter's (1980) inflectional steps, "-tion" and agent nouns."""

from __future__ import annotations

# Raised whenever a word's stem changes: word statistics counted under the stems of
# another version are stale (CorpusStats.current).
VERSION = 2
_VOWELS = frozenset("aeiou")


def _is_consonant(word: str, i: int) -> bool:
    """True when word[i] is a consonant in Porter's sense ("y" after a consonant is a vowel)."""
    ch = word[i]
    if ch in _VOWELS:
        return False
    if ch == "y":
        return i == 0 or not _is_consonant(word, i - 1)
    return True


def _measure(stem: str) -> int:
    """Porter's m: the number of vowel-consonant sequences in the stem."""
    m, i, n = 0, 0, len(stem)
    while i < n and _is_consonant(stem, i):
        i += 1
    while i < n:
        while i < n and not _is_consonant(stem, i):
            i += 1
        if i >= n:
            break
        while i < n and _is_consonant(stem, i):
            i += 1
        m += 1
    return m


def _has_vowel(stem: str) -> bool:
    return any(not _is_consonant(stem, i) for i in range(len(stem)))


def _double_consonant(word: str) -> bool:
    return len(word) >= 2 and word[-1] == word[-2] and _is_consonant(word, len(word) - 1)


def _cvc(word: str) -> bool:
    """Ends consonant-vowel-consonant, the last not w, x or y (e.g. "hop")."""
    n = len(word)
    return (
        n >= 3
        and _is_consonant(word, n - 3)
        and not _is_consonant(word, n - 2)
        and _is_consonant(word, n - 1)
        and word[-1] not in "wxy"
    )


def _step1(w: str) -> str:
    if w.endswith("sses") or w.endswith("ies"):
        w = w[:-2]
    elif w.endswith("s") and not w.endswith(("ss", "us", "is")):
        # Unlike Porter, keep "minibus" and "basis" whole (as Porter2 does).
        w = w[:-1]
    if w.endswith("eed"):
        if _measure(w[:-3]) > 0:
            w = w[:-1]
    else:
        for suffix in ("ed", "ing"):
            if w.endswith(suffix) and _has_vowel(w[: -len(suffix)]):
                w = w[: -len(suffix)]
                if w.endswith(("at", "bl", "iz")):
                    w += "e"
                elif _double_consonant(w) and w[-1] not in "lsz":
                    w = w[:-1]
                elif _measure(w) == 1 and _cvc(w):
                    w += "e"
                break
    if w.endswith("y") and _has_vowel(w[:-1]):
        w = w[:-1] + "i"
    return w


def _step5(w: str) -> str:
    if w.endswith("e"):
        stem = w[:-1]
        m = _measure(stem)
        if m > 1 or (m == 1 and not _cvc(stem)):
            w = stem
    if w.endswith("ll") and _measure(w) > 1:
        w = w[:-1]
    return w


def light(word: str) -> str:
    """Porter's inflectional steps, "-tion" and final "e" only.

    Full Porter also strips derivational suffixes, which conflates words a member
    keeps apart ("employability", "employment" and "employer" all become "employ").
    """
    if len(word) <= 2:
        return word
    w = _step1(word)
    if w.endswith("ion") and w[-4:-3] in ("s", "t") and _measure(w[:-3]) > 1:
        w = w[:-3]
    # The adjective of an "-ure" noun is its subject ("horticultural" services are
    # horticulture), as in Porter's step 4; "rural" (m = 1) stays whole.
    if w.endswith("ural") and _measure(w[:-2]) > 1:
        w = w[:-2]
    return _step5(w)


def stem(word: str) -> str:
    """Stem a lower-case token; digits and short words are left alone."""
    if len(word) <= 3 or not word.isalpha():
        return word
    s = light(word)
    # Porter keeps short agent nouns ("cleaner", "printer"); folding them onto the
    # activity ("clean", "print") is what a member means, and a five-letter floor
    # keeps "water", "order" and "joiner" intact.
    if s.endswith("er") and len(s) >= 7:
        s = s[:-2]
    return s
