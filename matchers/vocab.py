"""Notice words as ids, and which keyword stems each word can stand for.

Notices are read in bulk: the texts of a batch are folded and split in one pass,
and every word becomes an id. A word is looked at once, the first time it is seen:
its stem, whether it is a stop word, and which keyword stems it may stand for (the
same stem, or a keyword word it looks like a typo of). What a word stands for
depends only on the word and the keywords, never on which notices came first.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from itertools import repeat

import numpy as np

from .arrays import Growing
from .fuzzy import WordBuckets
from .text import STOPWORDS, fold, stem_word

SEP = "\x01"  # between two texts of a batch; never part of a word
# Bytes to keep (letters folded to lower case) or blank out, in one pass over a batch.
_KEEP = b"abcdefghijklmnopqrstuvwxyz0123456789\x01"
TABLE = bytes(c + 32 if 65 <= c <= 90 else c if c in _KEEP else 32 for c in range(256))


class Vocabulary:
    """Every notice word seen (ids, stop flags) and the keyword stems it stands for."""

    def __init__(
        self, lexicon: frozenset[str], min_length: int, two_edits_length: int, similarity: float
    ):
        self._similarity = similarity
        self._ids: dict[bytes, int] = {}  # word (ASCII bytes) -> id
        self.words: list[str] = []
        self._stop = Growing(np.bool_)
        # Keyword side: stems (with dense ids) and the words that may be misspelt.
        self.stem_ids: dict[str, int] = {}
        self.stems: list[str] = []
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
        # Reasons may be written on another thread while a batch is scored: learning a
        # word is several steps, so it happens under a lock.
        self.lock = threading.RLock()
        self._learn(SEP.encode("ascii"))

    # Keyword side ---------------------------------------------------------------

    def stem_id(self, stem: str) -> int:
        """Dense id of a keyword stem, registered on first use."""
        with self.lock:
            return self._stem_id(stem)

    def _stem_id(self, stem: str) -> int:
        sid = self.stem_ids.get(stem)
        if sid is None:
            self._register_pending()
            sid = self.stem_ids[stem] = len(self.stems)
            self.stems.append(stem)
            for wid in self._forms.get(stem, ()):
                self._expand(wid, sid, 1.0)
        return sid

    def add_keyword_words(self, words: Iterable[tuple[str, str]], fuzzy: bool = True) -> None:
        """Register (folded word, stem) pairs of keywords; known notice words are re-expanded.

        Compounds made by joining two keyword words match exactly only: a typo
        allowance on "greenspac" would let it stand for "greenshaw".
        """
        with self.lock:
            self._add_keyword_words(words, fuzzy)

    def _add_keyword_words(self, words: Iterable[tuple[str, str]], fuzzy: bool) -> None:
        fresh = [(w, s) for w, s in words if self._kw_word_stem.get(w) != s]
        for w, s in fresh:
            self._kw_word_stem[w] = s
            self._stem_id(s)
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
        """First sighting of a word: its id, and the keyword stems it may stand for."""
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

    def tokenise(self, texts: Sequence[str]) -> np.ndarray:
        """Word ids of the texts in order, with id 0 (the separator) between two texts.

        Words are runs of ASCII letters and digits after fold(): "Grass-cutting"
        gives "grass", "cutting"; apostrophes join ("builder's" -> "builders").
        """
        parts = [t if t.isascii() else fold(t) for t in texts]
        joined = " \x01 ".join(parts)
        if joined.count(SEP) != len(parts) - 1:
            # A stray control character would split a text in two.
            joined = " \x01 ".join(p.replace(SEP, " ") for p in parts)
        tokens = joined.encode("ascii").translate(TABLE, b"'`").split()
        with self.lock:
            ids = np.fromiter(map(self._ids.get, tokens, repeat(-1)), np.int32, len(tokens))
            new = np.flatnonzero(ids < 0)
            if len(new):
                known = self._ids
                for i in new.tolist():
                    word = tokens[i]
                    wid = known.get(word)
                    ids[i] = self._learn(word) if wid is None else wid
            return ids

    # Compiled arrays -------------------------------------------------------------------

    def arrays(
        self,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(stop, hit, exp_start, exp_count, exp_stem, exp_sim), indexed by word id.

        `hit` marks content words standing for some keyword stem; a word's expansions
        are rows exp_start .. exp_start + exp_count of exp_stem / exp_sim.
        """
        with self.lock:
            return self._arrays()

    def _arrays(
        self,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        if self._stale:
            self._stale = False
            self._compiled = 0
            for g in (
                self._stop,
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
            self._stop.extend([w in STOPWORDS or w == SEP for w in self.words[self._compiled :]])
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
        return (
            self._stop.view,
            self._hit.view,
            self._exp_start.view,
            self._exp_count.view,
            self._exp_stem.view,
            self._exp_sim.view,
        )

    def export(self, start: int) -> tuple[list[str], dict[int, dict[int, float]]]:
        """Words learnt from id `start` on, with their expansions (for a parent process)."""
        exp = {wid - start: e for wid, e in self._exp.items() if wid >= start}
        return self.words[start:], exp

    def merge(self, words: list[str], expansions: dict[int, dict[int, float]]) -> None:
        """Take words a forked worker learnt (same keywords, so the same expansions)."""
        with self.lock:
            self._merge(words, expansions)

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
