"""The Matcher: profiles compiled once, notices scored in batches, every score explained."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import TypeVar

import numpy as np

from . import parallel
from .config import MatchConfig
from .corpus import CorpusStats
from .errors import ProfileError
from .evidence import CodeIndex
from .explain import Evidence, Explained, explain_pairs, veto
from .facts import Keys
from .finder import Fields, Found, fields_of, find
from .fuzzy import WordBuckets
from .index import KeywordIndex, coverage_needs
from .keywords import Phrase, compile_phrase, expand_to_cpv, phrase_key, weigh
from .labels import label_index, lexicon
from .members import MemberIndex, Roster
from .results import Columns, MatchRows
from .scoring import Scored, Scratch, chunk_size, concat, score_chunk
from .snapshot import Snapshot
from .text import TRANSACTION_WORDS, is_acronym_stem, stem_word
from .types import Match, Notice, Profile
from .vocab import Vocabulary

_TRANSACTION = frozenset(stem_word(w) for w in TRANSACTION_WORDS)
# Notices scored and explained together when streaming (JSON lines, or Columns to store).
SLICE = 2_000
T = TypeVar("T")


def _text_rank(phrases: list[Phrase]) -> np.ndarray:
    """Phrase id -> the place of its text in sorted order."""
    rank = np.empty(len(phrases), np.int64)
    rank[sorted(range(len(phrases)), key=lambda i: phrases[i].text)] = np.arange(len(phrases))
    return rank


class Matcher:
    """Matches notices against every profile; reusable, and cheap to update one profile.

    Word rarity comes from `corpus` (statistics of the stored notices, see
    CorpusStats) and the CPV labels, never from the notices being matched, so a
    notice scores the same in every process and batch. One thread at a time may
    score or update; a match's reasons may be read from any thread.
    """

    def __init__(
        self,
        profiles: Iterable[Profile] = (),
        config: MatchConfig | None = None,
        corpus: CorpusStats | None = None,
    ):
        self.config = config or MatchConfig()
        self.corpus = corpus or CorpusStats()
        c = self.config
        self._vocab = Vocabulary(
            lexicon(), c.fuzzy_min_length, c.fuzzy_two_edits_length, c.fuzzy_similarity
        )
        self._label_words = WordBuckets(lexicon(), c.fuzzy_min_length, c.fuzzy_two_edits_length)
        self._label_words.add(lexicon())
        self._typos: dict[str, set[str]] = {}
        self._phrases: list[Phrase] = []
        self._phrase_ids: dict[tuple[object, ...], int] = {}
        self._by_text: dict[str, int | None] = {}  # keywords as written -> phrase
        self._idf: dict[str, float] = {}
        self._members = MemberIndex()
        self._derived = CodeIndex(
            c.cpv_min_common_digits, c.cpv_max_steps, c.cpv_narrower_decay, c.cpv_broader_decay
        )
        self._snapshot: Snapshot | None = None
        self._snapshot_version = -1
        self._scratch: Scratch | None = None
        self._keys = Keys()
        for p in profiles:
            self.update(p)

    # Profiles ---------------------------------------------------------------------

    @property
    def profile_ids(self) -> list[str]:
        """Ids of the profiles held, in the order they were added."""
        return list(self._members.members)

    @property
    def tokens_read(self) -> int:
        """How many distinct notice tokens this matcher has read so far. Each is looked
        at once, the first time it is seen (its word, stem and the keyword words it may
        be a typo of), so a matcher that has read recent notices reads the next faster."""
        return len(self._vocab.tokens) - 1  # the separator between texts is not read

    def _rarity(self, stem: str) -> float:
        v = self._idf.get(stem)
        if v is None:
            # An acronym is as rare as its letters folded ("NHS" as "nhs"); one whose
            # letters make a function word ("IT") is counted nowhere, so it is rare.
            v = self._idf[stem] = self.corpus.idf(stem.lower())
        return v

    def _generic(self, stem: str) -> bool:
        """Is a stem too common to make a match alone (in many labels, or many notices)?"""
        if is_acronym_stem(stem):
            return False
        if stem in _TRANSACTION:
            return True
        c = self.config
        common = -math.log(c.generic_notice_share) if c.generic_notice_share > 0 else -math.inf
        return label_index().share(stem) >= c.generic_label_share or self._rarity(stem) <= common

    def _phrase(self, text: str) -> int | None:
        if text in self._by_text:
            return self._by_text[text]
        pid = self._by_text[text] = self._new_phrase(text)
        return pid

    def _new_phrase(self, text: str) -> int | None:
        key = phrase_key(text)
        if not key:
            return None
        pid = self._phrase_ids.get(key)
        if pid is None:
            phrase = compile_phrase(len(self._phrases), text)
            if phrase is None:
                return None
            pid = phrase.id
            vocab = self._vocab
            vocab.add_keyword_words(zip(phrase.words, phrase.stems, strict=True))
            # Compound and split readings ("grasscut", "grass" + "cut") match exactly only.
            vocab.add_keyword_words(
                ((s, s) for v in phrase.variants for s, _ in v if s not in phrase.stems),
                fuzzy=False,
            )
            weigh(phrase, self._rarity, vocab.stem_id, self._generic)
            typos = {
                s: self._label_typos(w) for w, s in zip(phrase.words, phrase.stems, strict=True)
            }
            expand_to_cpv(
                phrase,
                typos,
                self.config.label_min_strength,
                self.config.cpv_supplies_factor,
                self.config.cpv_min_common_digits,
            )
            # A phrase means the code it names best; the others it reaches are narrower
            # senses sharing its words ("cleaning services": "Beach cleaning services"),
            # fit where a notice uses them, but their neighbours ("Asbestos removal
            # services") say nothing about the member.
            best = max(phrase.codes.values(), default=0.0)
            for code, strength in phrase.codes.items():
                self._derived.add(pid, code, strength, related=strength == best)
            self._phrases.append(phrase)
            self._phrase_ids[key] = pid
        return pid

    def _label_typos(self, word: str) -> set[str]:
        """Stems of the CPV-label words `word` may be a misspelling of (memoised)."""
        if is_acronym_stem(word):
            return set()
        found = self._typos.get(word)
        if found is None:
            found = self._typos[word] = {stem_word(w) for w, _ in self._label_words.near(word)}
        return found

    def update(self, profile: Profile) -> None:
        """Add a profile, or replace the one with the same id (only its own parts are rebuilt)."""
        self._members.update(profile, self._phrase)

    def keyword_codes(self, keyword: str) -> dict[str, float]:
        """CPV codes a keyword reaches through the official labels, with strength 0..1."""
        pid = self._phrase(keyword)
        return {} if pid is None else dict(self._phrases[pid].codes)

    def remove(self, profile_id: str) -> None:
        """Forget a profile; its phrases stay cached for the next profile that uses them."""
        self._members.remove(profile_id)

    def _state(self) -> Snapshot:
        """The compiled state scoring reads, rebuilt only after profiles changed."""
        if self._snapshot is None or self._snapshot_version != self._members.version:
            members = list(self._members.members.values())
            live = {k for m in members for k in (*m.keywords, *m.excludes)}
            c = self.config
            self._snapshot = Snapshot(
                c,
                Roster(members, len(self._phrases), c),
                KeywordIndex(
                    self._phrases,
                    live,
                    len(self._vocab.stems),
                    coverage_needs(
                        c.min_phrase_coverage,
                        c.min_keyword_evidence,
                        (
                            c.title_weight,
                            c.description_weight,
                            c.lot_title_weight,
                            c.lot_description_weight,
                        ),
                    ),
                ),
                self._phrases,
                self._derived,
                self._vocab,
                _text_rank(self._phrases),
            )
            self._snapshot_version = self._members.version
            self._scratch = None
        return self._snapshot

    # Batches -----------------------------------------------------------------------

    def rows(
        self,
        notices: Sequence[Notice],
        threshold: float | None = None,
        profile_ids: Iterable[str] | None = None,
    ) -> MatchRows:
        """Matches at or above `threshold` (default: the notify threshold) as columns.

        Iterating gives (profile_id, notice_id, score) rows, by notice then score; a
        big batch is split over `config.workers` processes when that is safe.
        """
        limit = self.config.notify_threshold if threshold is None else threshold
        snap = self._state()
        wanted = None
        if profile_ids is not None:
            wanted = np.zeros(snap.roster.size, bool)
            wanted[[snap.roster.slot[p] for p in profile_ids if p in snap.roster.slot]] = True
        notices = notices if isinstance(notices, list | tuple) else list(notices)
        workers = parallel.workers_for(len(notices), self.config)
        if workers > 1:
            scored = parallel.run(self, notices, limit, wanted, workers)
        else:
            scored = self._score(notices, limit, wanted)
        return MatchRows(notices, scored.notice, scored.slot, scored.score, snap)

    def match(
        self,
        notices: Sequence[Notice],
        threshold: float | None = None,
        profile_ids: Iterable[str] | None = None,
    ) -> list[Match]:
        """Matches at or above `threshold` (default: the notify threshold), by notice then score.

        Reasons are written on first read (see `rows` for the same matches as columns).
        """
        return self.rows(notices, threshold, profile_ids).matches()

    def jsonl(self, notices: Sequence[Notice], threshold: float | None = None) -> Iterator[str]:
        """The matches as JSON lines (see MatchRows.jsonl), streamed a slice at a time.

        A big batch is scored and written by forked processes, slice by slice and in
        order, so neither the matches nor their reasons are ever held whole.
        """
        return self._slices(notices, threshold, lambda rows, why: "".join(rows.jsonl(why)))

    def columns(
        self, notices: Sequence[Notice], threshold: float | None = None
    ) -> Iterator[Columns]:
        """The matches with their reasons as Columns, a slice of notices at a time and in
        order; every notice is in one slice's `covers`. As with `jsonl`, a big batch is
        scored and explained by forked processes while the caller stores the slices
        before."""
        return self._slices(notices, threshold, MatchRows.whole)

    def _slices(
        self,
        notices: Sequence[Notice],
        threshold: float | None,
        write: Callable[[MatchRows, Explained], T],
    ) -> Iterator[T]:
        """write(rows, reasons) of each slice of the batch, in order."""
        limit = self.config.notify_threshold if threshold is None else threshold
        notices = notices if isinstance(notices, list | tuple) else list(notices)
        step = SLICE
        count = -(-len(notices) // step)

        def make(i: int) -> T:
            # The text is found once, with the words behind each hit, for both scoring
            # and reasons.
            part = notices[i * step : (i + 1) * step]
            snap = self._state()
            fields = fields_of(part, self.config)
            found = find(fields, self._vocab, snap.index, self.config, detail=True)
            scored = self._score(part, limit, None, (fields, found))
            rows = MatchRows(part, scored.notice, scored.slot, scored.score, snap)
            ev = Evidence(snap, part, fields, found)
            return write(rows, explain_pairs(snap, part, scored.notice, scored.slot, ev))

        workers = parallel.workers_for(len(notices), self.config)
        if workers > 1:
            self._state()
            self._vocab.arrays()
        yield from parallel.pieces(make, count, workers)

    def explain(self, notice: Notice, profile_id: str) -> Match:
        """One pair, scored whatever the result, with every reason (vetoes included)."""
        snap = self._state()
        slot = snap.roster.slot.get(profile_id)
        if slot is None:
            raise ProfileError(f"unknown profile {profile_id!r}")
        wanted = np.zeros(snap.roster.size, bool)
        wanted[slot] = True
        scored = self._score([notice], None, wanted)
        if len(scored.score) == 0:
            return Match(profile_id, notice.id, 0, ())
        ev = Evidence(snap, [notice])
        if scored.vetoed[0]:
            reason = veto(snap, ev, 0, slot)
            return Match(profile_id, notice.id, 0, (reason,) if reason else ())
        pair = np.zeros(1, np.int64), np.full(1, slot, np.int64)
        return Match(
            profile_id, notice.id, int(scored.score[0]), explain_pairs(snap, [notice], *pair, ev)[0]
        )

    def _score(
        self,
        notices: Sequence[Notice],
        limit: float | None,
        wanted: np.ndarray | None,
        evidence: tuple[Fields, Found] | None = None,
    ) -> Scored:
        """Score a batch in this process, chunk by chunk (`evidence`: its text, found already)."""
        snap = self._state()
        self._keys.trim()
        size = chunk_size(snap.roster.size)
        if self._scratch is None or self._scratch.shape[0] < min(size, len(notices)):
            self._scratch = Scratch(min(size, max(len(notices), 1)), snap.roster.size)
        parts = []
        for start in range(0, len(notices), size):
            chunk = notices[start : start + size]
            if evidence is None:
                fields = fields_of(chunk, self.config)
                found = find(fields, self._vocab, snap.index, self.config)
            else:
                fields, found = evidence[0], evidence[1].part(start, start + size)
            part = score_chunk(
                chunk,
                found,
                fields,
                snap.roster,
                snap.derived,
                snap.index,
                self._keys,
                self.config,
                limit,
                wanted,
                self._scratch,
            )
            part.notice += start
            parts.append(part)
        return concat(parts)
