"""Notice words as ids, and which keyword stems each word can stand for.

Notices are read in bulk: the texts of a batch are split in one pass, and every
token becomes an id as written ("IT", "It", "it" are three tokens of one word). A
token is looked at once, the first time it is seen: its folded word, and whether
it is an acronym (2 to 5 capitals: "IT" is, "It" is not). A folded word is looked
at once too: its stem, how it binds the words around it if it is a function word,
and which keyword stems it may stand for (the same stem, or a keyword word it
looks like a typo of). What a token stands for depends only on the token and the
keywords, never on which notices came first.

In a field written all in capitals ("PROVISION OF CARE AT HOME") case says nothing:
its function words are read as function words, and its other short words as both
words and acronyms.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import repeat

import numpy as np

from .arrays import Growing
from .fuzzy import WordBuckets
from .text import (
    STOPWORDS,
    acronym_stem,
    fold_accents,
    is_acronym,
    is_acronym_stem,
    relation,
    stem_word,
)

SEP = "\x01"  # between two texts of a batch; never part of a word
# Bytes to keep (letters as written) or blank out, in one pass over a batch.
_KEEP = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789\x01"
CASED = bytes(c if c in _KEEP else 32 for c in range(256))
# The same, folding letters to lower case (corpus statistics count folded words).
TABLE = bytes(c + 32 if 65 <= c <= 90 else c if c in _KEEP else 32 for c in range(256))
_SHOUTED_STOP = re.compile(
    r"\b(?:" + "|".join(sorted((w.upper() for w in STOPWORDS), key=len, reverse=True)) + r")\b"
)


def _unshout(text: str) -> str:
    """A field all in capitals, with its function words in lower case."""
    return _SHOUTED_STOP.sub(lambda m: m.group(0).lower(), text)


@dataclass(frozen=True, slots=True)
class WordArrays:
    """What the finder reads, as arrays: by folded word id, then by token id."""

    hit: np.ndarray  # word stands for some keyword stem
    exp_start: np.ndarray  # its expansions: rows exp_start .. + exp_count of exp_stem/exp_sim
    exp_count: np.ndarray
    exp_stem: np.ndarray
    exp_sim: np.ndarray
    relation: np.ndarray  # 0 content word, FREE, or the relation a function word makes
    fold: np.ndarray  # token -> its folded word
    acronym: np.ndarray  # token -> the keyword acronym stem it is, or -1
    content: np.ndarray  # token is a content word (an acronym always is)


class Vocabulary:
    """Every notice token and word seen, and the keyword stems each stands for."""

    def __init__(
        self, lexicon: frozenset[str], min_length: int, two_edits_length: int, similarity: float
    ):
        self._similarity = similarity
        self._ids: dict[bytes, int] = {}  # folded word (ASCII bytes) -> id
        self.words: list[str] = []
        self._relation = Growing(np.int16)
        # Tokens as written -> id, their folded word, acronym stem id and content flag.
        self._tokens: dict[bytes, int] = {}
        self.tokens: list[str] = []
        self._fold: list[int] = []
        self._acro: list[int] = []
        self._content: list[bool] = []
        self._token_arrays = (Growing(np.int64), Growing(np.int64), Growing(np.bool_))
        self._tokens_compiled = 0
        self._tokens_stale = False
        self._acronym_forms: dict[str, list[int]] = {}  # acronym stem -> token ids
        # Keyword side: stems (with dense ids) and the words that may be misspelt.
        self.stem_ids: dict[str, int] = {}
        self.stems: list[str] = []
        self._acronym_flags = np.zeros(0, bool)
        self._kw_word_stem: dict[str, str] = {}
        self._kw_words = WordBuckets(lexicon, min_length, two_edits_length)
        # Notice side, to re-expand known words when a keyword word arrives.
        self._forms: dict[str, list[int]] = {}
        self._notice_words = WordBuckets(lexicon, min_length, two_edits_length)
        # Expansions: word id -> {stem id: similarity}, and their compiled arrays.
        self._exp: dict[int, dict[int, float]] = {}
        self._hit = Growing(np.bool_)
        self._exp_start = Growing(np.int64)
        self._exp_count = Growing(np.int32)
        self._exp_stem = Growing(np.int32)
        self._exp_sim = Growing(np.float64)
        self._compiled = 0  # words whose expansions are in the arrays
        self._stale = False  # an already compiled word gained an expansion
        self._pending: list[int] = []  # words not yet findable by stem or spelling
        # What forked workers learnt, not taken yet (see merge).
        self._deferred: list[tuple[list[str], dict[int, dict[int, float]], list[str]]] = []
        # Reasons may be written on another thread while a batch is scored: learning a
        # word is several steps, so it happens under a lock.
        self.lock = threading.RLock()
        self._token(SEP.encode("ascii"))

    # Keyword side ---------------------------------------------------------------

    def stem_id(self, stem: str) -> int:
        """Dense id of a keyword stem (an acronym's in capitals), registered on first use."""
        with self.lock:
            if self._deferred:
                self._settle()
            return self._stem_id(stem)

    def _stem_id(self, stem: str) -> int:
        sid = self.stem_ids.get(stem)
        if sid is None:
            self._register_pending()
            sid = self.stem_ids[stem] = len(self.stems)
            self.stems.append(stem)
            if is_acronym_stem(stem):
                for tid in self._acronym_forms.get(stem, ()):
                    self._acro[tid] = sid
                    self._tokens_stale |= tid < self._tokens_compiled
            else:
                for wid in self._forms.get(stem, ()):
                    self._expand(wid, sid, 1.0)
        return sid

    def acronym_stems(self) -> np.ndarray:
        """Per keyword stem id: is it an acronym's?"""
        with self.lock:
            if self._deferred:
                self._settle()
            if len(self._acronym_flags) != len(self.stems):
                self._acronym_flags = np.array([is_acronym_stem(s) for s in self.stems], bool)
            return self._acronym_flags

    def add_keyword_words(self, words: Iterable[tuple[str, str]], fuzzy: bool = True) -> None:
        """Register (folded word, stem) pairs of keywords; known notice words are re-expanded.

        Compounds made by joining two keyword words match exactly only: a typo
        allowance on "greenspac" would let it stand for "greenshaw". Acronyms are
        registered as stems, and never misspelt.
        """
        with self.lock:
            if self._deferred:
                self._settle()
            self._add_keyword_words(words, fuzzy)

    def _add_keyword_words(self, words: Iterable[tuple[str, str]], fuzzy: bool) -> None:
        fresh = [(w, s) for w, s in words if self._kw_word_stem.get(w) != s]
        for w, s in fresh:
            self._kw_word_stem[w] = s
            self._stem_id(s)
        fresh = [(w, s) for w, s in fresh if not is_acronym_stem(s)]
        if not fuzzy:
            return
        self._register_pending()
        self._kw_words.add(w for w, _ in fresh)
        for w, s in fresh:
            sid = self.stem_ids[s]
            for form, dist in self._notice_words.near(w):
                self._expand(self._ids[form.encode("ascii")], sid, self._similarity**dist)

    def _expand(self, wid: int, sid: int, sim: float) -> None:
        entry = self._exp.setdefault(wid, {})
        if sim > entry.get(sid, 0.0):
            entry[sid] = sim
            if wid < self._compiled:
                self._stale = True

    # Notice side ------------------------------------------------------------------

    def _learn(self, key: bytes) -> int:
        """First sighting of a folded word: its id, and the keyword stems it may stand for."""
        wid = len(self.words)
        self._ids[key] = wid
        word = key.decode("ascii")
        self.words.append(word)
        if word not in STOPWORDS and word != SEP:
            alpha = word.isalpha()
            # Numbers and codes are their own stem, and nobody misspells them.
            s = stem_word(word) if alpha else word
            sid = self.stem_ids.get(s)
            if sid is not None:
                self._expand(wid, sid, 1.0)
            if alpha:
                for kw_word, dist in self._kw_words.near(word):
                    self._expand(
                        wid, self.stem_ids[self._kw_word_stem[kw_word]], self._similarity**dist
                    )
            # Findable by stem and spelling only once a keyword needs that.
            self._pending.append(wid)
        return wid

    def _token(self, key: bytes) -> int:
        """First sighting of a token as written: its folded word, and whether it is an acronym."""
        low = key.lower()
        wid = self._ids.get(low)
        if wid is None:
            wid = self._learn(low)
        tid = len(self.tokens)
        self._tokens[key] = tid
        token = key.decode("ascii")
        self.tokens.append(token)
        self._fold.append(wid)
        acro = -1
        content = wid != 0 and relation(self.words[wid]) == 0
        if is_acronym(token):
            stem = acronym_stem(token)
            self._acronym_forms.setdefault(stem, []).append(tid)
            acro = self.stem_ids.get(stem, -1)
            content = True
        self._acro.append(acro)
        self._content.append(content)
        return tid

    def tokenise(self, texts: Sequence[str]) -> np.ndarray:
        """Token ids of the texts in order, with id 0 (the separator) between two texts.

        Tokens are runs of ASCII letters and digits once accents are stripped:
        "Grass-cutting" gives "Grass", "cutting"; apostrophes join ("builder's").
        """
        parts = [t if t.isascii() else fold_accents(t) for t in texts]
        # A field all in capitals ("CARE AT HOME"): its function words are function words.
        parts = [_unshout(t) if t.isupper() else t for t in parts]
        joined = " \x01 ".join(parts)
        if joined.count(SEP) != len(parts) - 1:
            # A stray control character would split a text in two.
            joined = " \x01 ".join(p.replace(SEP, " ") for p in parts)
        tokens = joined.encode("ascii").translate(CASED, b"'`").split()
        with self.lock:
            if self._deferred:
                self._settle()
            ids = np.fromiter(map(self._tokens.get, tokens, repeat(-1)), np.int64, len(tokens))
            new = np.flatnonzero(ids < 0)
            if len(new):
                known = self._tokens
                for i in new.tolist():
                    token = tokens[i]
                    tid = known.get(token)
                    ids[i] = self._token(token) if tid is None else tid
            return ids

    # Compiled arrays -------------------------------------------------------------------

    def arrays(self) -> WordArrays:
        """The words' and tokens' arrays (valid until the vocabulary next grows)."""
        with self.lock:
            if self._deferred:
                self._settle()
            return self._arrays()

    def _arrays(self) -> WordArrays:
        if self._stale:
            self._stale = False
            self._compiled = 0
            for g in (
                self._relation,
                self._hit,
                self._exp_start,
                self._exp_count,
                self._exp_stem,
                self._exp_sim,
            ):
                g.__init__(g.view.dtype)
        n = len(self.words)
        if self._compiled < n:
            new = range(self._compiled, n)
            exp = self._exp
            counts = [len(exp.get(w, ())) for w in new]
            self._relation.extend([relation(w) for w in self.words[self._compiled :]])
            self._hit.extend([c > 0 for c in counts])
            start = len(self._exp_stem)
            self._exp_start.extend(start + np.cumsum([0, *counts[:-1]]))
            self._exp_count.extend(counts)
            stems: list[int] = []
            sims: list[float] = []
            for w in new:
                entry = exp.get(w)
                if entry:
                    for sid in sorted(entry):
                        stems.append(sid)
                        sims.append(entry[sid])
            self._exp_stem.extend(stems)
            self._exp_sim.extend(sims)
            self._compiled = n
        fold, acro, content = self._token_arrays
        if self._tokens_stale:
            self._tokens_stale = False
            self._tokens_compiled = 0
            for g in self._token_arrays:
                g.__init__(g.view.dtype)
        t = self._tokens_compiled
        if t < len(self.tokens):
            fold.extend(self._fold[t:])
            acro.extend(self._acro[t:])
            content.extend(self._content[t:])
            self._tokens_compiled = len(self.tokens)
        return WordArrays(
            self._hit.view,
            self._exp_start.view,
            self._exp_count.view,
            self._exp_stem.view,
            self._exp_sim.view,
            self._relation.view,
            fold.view,
            acro.view,
            content.view,
        )

    def export(
        self, start: int, first_token: int
    ) -> tuple[list[str], dict[int, dict[int, float]], list[str]]:
        """Words and tokens learnt from these ids on, with the words' expansions (for a parent)."""
        exp = {wid - start: e for wid, e in self._exp.items() if wid >= start}
        return self.words[start:], exp, self.tokens[first_token:]

    def merge(
        self, words: list[str], expansions: dict[int, dict[int, float]], tokens: list[str]
    ) -> None:
        """Take words and tokens a forked worker learnt (same keywords, same expansions).

        Taken when the vocabulary is next used, not now: a batch's result does not
        wait for it, and a process that is done never pays for it.
        """
        with self.lock:
            self._deferred.append((words, expansions, tokens))

    def _settle(self) -> None:
        """Take what forked workers handed back (see merge)."""
        deferred, self._deferred = self._deferred, []
        for words, expansions, tokens in deferred:
            self._merge(words, expansions)
            for t in tokens:
                key = t.encode("ascii")
                if key not in self._tokens:
                    self._token(key)

    def _merge(self, words: list[str], expansions: dict[int, dict[int, float]]) -> None:
        ids = self._ids
        for i, w in enumerate(words):
            key = w.encode("ascii")
            if key in ids:
                continue
            wid = len(self.words)
            ids[key] = wid
            self.words.append(w)
            e = expansions.get(i)
            if e:
                self._exp[wid] = dict(e)
            self._pending.append(wid)

    def _register_pending(self) -> None:
        """Make learnt and merged words findable by stem and spelling before keywords change."""
        for wid in self._pending:
            word = self.words[wid]
            if word not in STOPWORDS and word != SEP:
                alpha = word.isalpha()
                self._forms.setdefault(stem_word(word) if alpha else word, []).append(wid)
                if alpha:
                    self._notice_words.add((word,))
        self._pending = []
