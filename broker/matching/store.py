"""Matching stored notices against members and keeping the matches.

New or changed notices are matched as a harvest stores them; a member whose profile
changes is re-matched; `broker match --all` re-matches everything. Declined notices
never come back for that member, and the reasons members decline with adjust their
ranking (see `matchers` feedback).
"""

from __future__ import annotations

import gc
import logging
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from itertools import repeat
from operator import itemgetter
from typing import Any

from flask import Flask
from sqlalchemy import (
    ColumnElement,
    Text,
    delete,
    func,
    select,
    text,
    type_coerce,
    update,
)
from sqlalchemy.orm import Session

import matchers
from broker.db import after_commit, json_loads
from broker.matching.cache import MatcherCache, get_cache
from broker.matching.corpus import rebuild_corpus
from broker.matching.inputs import (
    CHUNK,
    Declines,
    declines_by_member,
    matchable,
    notice_chunks,
    notice_for,
    profile_for,
)
from broker.models import Match, Member, Notice

logger = logging.getLogger(__name__)


def store_hook(app: Flask) -> Callable[[Session, list[int], datetime], None]:
    """The harvest's after-store step: match the new and changed notices of each page."""
    cache = get_cache(app)

    def hook(session: Session, notice_ids: list[int], now: datetime) -> None:
        match_notices(session, notice_ids, cache, now)

    return hook


@dataclass
class MatchResult:
    """What a matching pass did."""

    notices: int = 0
    stored: int = 0
    removed: int = 0
    new: int = 0

    def line(self) -> str:
        """One line for the CLI."""
        return (
            f"matched {self.notices} notices: {self.stored} matches stored "
            f"({self.new} new), {self.removed} removed"
        )


def match_notices(
    session: Session, notice_ids: Sequence[int], cache: MatcherCache, now: datetime
) -> MatchResult:
    """Match these notices against every member and store the matches; flushes only.

    With no members yet, nothing is matched and the notices stay pending.
    """
    result = MatchResult()
    with cache.lock, _collector_paused():
        matcher = cache.matcher(session)
        if not matcher.profile_ids:
            return result
        for chunk in _chunks(sorted(set(notice_ids)), CHUNK):
            notices = session.scalars(matchable(select(Notice).where(Notice.id.in_(chunk)))).all()
            # A notice no longer worth matching (now an award) keeps no matches.
            unmatchable = sorted(set(chunk) - {n.id for n in notices})
            found = matcher.columns(
                [notice_for(n) for n in notices], threshold=cache.settings.store_threshold
            )
            pieces = [_nothing_for(unmatchable), *found] if unmatchable else found
            _store(session, pieces, cache.declines, now, result)
            # Not synchronised into the notices just loaded: nothing reads matched_at off
            # them, and evaluating the criterion over each cost a twentieth of the batch.
            session.execute(
                update(Notice)
                .where(Notice.id.in_(chunk))
                .values(matched_at=now)
                .execution_options(synchronize_session=False)
            )
            result.notices += len(notices)
    return result


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Python's cycle collector held off while new notices are matched and stored.

    A batch makes a few hundred thousand short-lived objects (rows, reasons), none in
    cycles, and the collector's passes over them also walk the warm matcher's own
    objects: measured, a tenth to a fifth of the time of matching 1,000 new notices
    (0.19 to 0.26 s). Reference counting frees everything as before; the collector
    runs again afterwards.
    """
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def match_members(
    session: Session, member_ids: Sequence[int], cache: MatcherCache, now: datetime
) -> MatchResult:
    """Re-match these members against every matchable notice; flushes only."""
    result = MatchResult()
    ids = sorted(set(member_ids))
    if not ids:
        return result
    declines = declines_by_member(session, ids)
    members = session.scalars(select(Member).where(Member.id.in_(ids), Member.active)).all()
    cache.matcher(session)  # loads the current corpus snapshot
    # A small engine holding only these members: cheaper than scoring everyone.
    engine = cache.engine(profile_for(m, declines.get(m.id, Declines())) for m in members)

    for notices in notice_chunks(session):
        found = engine.columns(
            [notice_for(n) for n in notices], threshold=cache.settings.store_threshold
        )
        _store(session, found, declines, now, result, members=ids)
        result.notices += len(notices)
    session.execute(update(Member).where(Member.id.in_(ids)).values(matched_at=now))
    return result


# Notices re-matched together by `match_all`: enough for the engine to share them out to
# its worker processes (parallel_min_notices, 10,000 by default) while this process
# stores the slices they have done; few enough to hold.
ALL_BATCH = 20_000


def match_all(session: Session, cache: MatcherCache, now: datetime) -> MatchResult:
    """Recount the word statistics, then re-match every notice against every member."""
    result = MatchResult()
    rebuild_corpus(session, now)
    with cache.lock, _by_member_index_built_last(session) as by_member:
        matcher = cache.matcher(session)
        for notices in notice_chunks(session, size=ALL_BATCH):
            found = matcher.columns(
                [notice_for(n) for n in notices], threshold=cache.settings.store_threshold
            )
            _store(session, found, cache.declines, now, result, by_member=by_member)
            result.notices += len(notices)
        session.execute(update(Notice).values(matched_at=now))
        session.execute(update(Member).values(matched_at=now))
    after_commit(session, _refresh_statistics)
    return result


def _refresh_statistics(app: Flask) -> None:
    """After a pass rewrote every match, PostgreSQL's planner statistics for them, which
    autovacuum gathers only later (and never where it is off): without them it reads
    all of `matches` to find one notice's."""
    engine = app.extensions["broker.engine"]
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            conn.execute(text("ANALYZE matches, notices"))
            conn.commit()


# The index led by member: each slice of notices adds rows at every member's place in
# it, so keeping it while millions of rows go in costs more than building it once.
_BY_MEMBER = ("ix_matches_member_notice",)


@contextmanager
def _by_member_index_built_last(session: Session) -> Iterator[bool]:
    """On SQLite, when the pass will write nearly every match (the table holds fewer
    matches than there are notices: the first pass, or after the members were imported),
    drop the by-member index for the pass and build it at its end.

    Inside the pass's transaction: readers (WAL) keep the committed table and its
    indexes, and a failed pass rolls the drop back. The unique index, led by notice as
    the pass goes, stays and refuses a pair stored twice. PostgreSQL keeps them all:
    dropping one would lock the table against the web pages' reads until the pass
    commits. Yields whether the by-member index is there during the pass.
    """
    conn = session.connection()
    if conn.dialect.name != "sqlite" or session.scalar(
        select(func.count(Match.id))
    ) >= session.scalar(select(func.count(Notice.id))):
        yield True
        return
    indexes = [i for i in Match.__table__.indexes if i.name in _BY_MEMBER]
    for index in indexes:
        index.drop(conn)
    yield False
    for index in indexes:
        index.create(conn)


def match_pending(session: Session, cache: MatcherCache, now: datetime) -> MatchResult:
    """Match what is out of date: notices never matched, members edited since their match.

    Word statistics are counted first if there are none, or if an upgraded engine stems
    words differently from the one that counted them.
    """
    if cache.corpus_out_of_date(session):
        rebuild_corpus(session, now)
    stale_members = list(
        session.scalars(
            select(Member.id).where(
                Member.active,
                (Member.matched_at.is_(None)) | (Member.matched_at < Member.profile_changed_at),
            )
        )
    )
    result = match_members(session, stale_members, cache, now) if stale_members else MatchResult()
    pending = list(session.scalars(matchable(select(Notice.id).where(Notice.matched_at.is_(None)))))
    if pending:
        more = match_notices(session, pending, cache, now)
        result.notices += more.notices
        result.stored += more.stored
        result.removed += more.removed
        result.new += more.new
    return result


def _chunks(items: Sequence[int], size: int) -> Iterator[Sequence[int]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _nothing_for(notice_ids: list[int]) -> matchers.Columns:
    """No matches for these notices."""
    return matchers.Columns(list(notice_ids), [], [], [], [], [])


def _store(
    session: Session,
    pieces: Iterable[matchers.Columns],
    declines: dict[int, Declines],
    now: datetime,
    result: MatchResult,
    members: Sequence[int] | None = None,
    by_member: bool = True,
) -> None:
    """Write matches, piece by piece, leaving out notices the member declined.

    The results replace the stored matches of a piece's notices (of these `members`
    only, if given; else every member's): those still found are updated where they
    changed (so `created_at` survives), new ones inserted, the rest deleted. A member a
    coordinator added by hand stays, whatever the engine now thinks. `by_member`:
    whether the index led by member is kept up as rows go in (see
    `_by_member_index_built_last`).
    """
    writer = _Writer(session, now, by_member)
    declined = {(m, n) for m, said in declines.items() for n in said.notices}
    for piece in pieces:
        covers = [int(n) for n in piece.covers]
        if not covers:
            continue
        superseded = Match.notice_id.in_(covers)
        if members is not None:
            superseded &= Match.member_id.in_(members)
        _store_piece(session, writer, piece, declined, result, superseded, members is None)


def _store_piece(
    session: Session,
    writer: _Writer,
    piece: matchers.Columns,
    declined: set[tuple[int, int]],
    result: MatchResult,
    superseded: ColumnElement[bool],
    whole: bool,
) -> None:
    """Store one piece; `whole`: whether `superseded` holds every match of its notices."""
    stored: dict[tuple[int, int], tuple[int, int, Any]] = {}
    left_out = set(declined)
    for row in session.execute(
        select(
            Match.id,
            Match.member_id,
            Match.notice_id,
            Match.score,
            # Undecoded: a pass compares hundreds of thousands of these, decoding few.
            type_coerce(Match.reasons, Text),
            Match.added_by,
        ).where(superseded)
    ):
        if row.added_by is None:
            stored[(row[1], row[2])] = (row[0], row[3], row[4])
        else:
            left_out.add((row[1], row[2]))
    reasons = [writer.reasons(c) for c in piece.reason_sets]
    members = list(map(int, piece.profiles))
    notices = list(map(int, piece.notices))
    covered = set(notices)
    now = writer.now
    fresh = not stored and not any(n in covered for _m, n in left_out)
    if fresh:
        # Notices matched for the first time (as in a first pass): every row is new.
        values = [r.value for r in reasons]
        inserts = list(
            zip(
                members,
                notices,
                piece.scores,
                map(values.__getitem__, piece.reasons),
                repeat(now),
                repeat(now),
                strict=False,  # the repeats are endless
            )
        )
        updates: list[tuple[Any, ...]] = []
        seen = covered
        result.stored += len(inserts)
    else:
        inserts, updates, seen, kept = _compare(
            piece, members, notices, reasons, stored, left_out, now
        )
        result.stored += kept
    result.new += len(inserts)
    if writer.by_member:
        # By member (notices stay in order within each), as the index that grows most
        # is ordered: its pages are then met in turn rather than at random. Without it,
        # the engine's order (by notice) keeps the notice index growing at its end.
        inserts.sort(key=itemgetter(0))
    writer.insert(inserts)
    writer.update(updates)
    if stored:
        gone = [row[0] for row in stored.values()]
        for chunk in _chunks(gone, CHUNK):
            session.execute(delete(Match).where(Match.id.in_(chunk)))
        result.removed += len(gone)
    if fresh and whole:
        # The rows just written are all these notices have: no need to read them back.
        writer.summaries(notices, piece.scores)
    else:
        refresh_match_summary(session, sorted(seen | {n for _m, n in stored}))


def _compare(
    piece: matchers.Columns,
    members: list[int],
    notices: list[int],
    reasons: list[_Reasons],
    stored: dict[tuple[int, int], tuple[int, int, Any]],
    left_out: set[tuple[int, int]],
    now: Any,
) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]], set[int], int]:
    """Rows to insert and to update against the stored matches, which loses those
    still found (the rest are gone); the notices that keep a match, and how many
    matches are kept."""
    inserts: list[tuple[Any, ...]] = []
    updates: list[tuple[Any, ...]] = []
    seen: set[int] = set()
    kept = 0
    rows = zip(zip(members, notices, strict=True), piece.scores, piece.reasons, strict=True)
    for key, score, k in rows:
        if key in left_out:
            continue
        seen.add(key[1])
        kept += 1
        old = stored.pop(key, None) if stored else None
        if old is None:
            inserts.append((*key, score, reasons[k].value, now, now))
        elif old[1] != score or not reasons[k].same(old[2]):
            updates.append((score, reasons[k].value, now, old[0]))
    return inserts, updates, seen, kept


@dataclass(frozen=True, slots=True)
class _Reasons:
    """A set of reasons as the driver takes it (`value`) and as the column holds it."""

    stored: list[dict[str, str]]
    value: Any
    text: str | None  # the column's text, where the driver is given it as text

    def same(self, held: str | list[dict[str, str]]) -> bool:
        """Whether the column's value holds these reasons: its text on SQLite, what the
        driver decoded on PostgreSQL (psycopg reads jsonb itself)."""
        if isinstance(held, str):
            return held == self.text or json_loads(held) == self.stored
        return held == self.stored


class _Writer:
    """Inserts and updates matches with the driver's executemany.

    A pass writes hundreds of thousands of rows, most sharing a set of reasons and
    all sharing a timestamp: each is converted for the database once, not per row as
    SQLAlchemy's executemany would.
    """

    def __init__(self, session: Session, now: datetime, by_member: bool = True):
        self.by_member = by_member
        self._conn = session.connection()
        dialect = self._conn.dialect
        columns = Match.__table__.c
        self._json = columns.reasons.type.dialect_impl(dialect).bind_processor(dialect)
        stamp = columns.created_at.type.dialect_impl(dialect).bind_processor(dialect)
        self.now = stamp(now) if stamp else now
        self._encoded: dict[tuple[matchers.Reason, ...], _Reasons] = {}
        mark = {"qmark": "?", "format": "%s", "pyformat": "%s"}[dialect.paramstyle]
        self._postgres = dialect.name == "postgresql"
        json = f"{mark}::jsonb" if self._postgres else mark
        self._mark = mark
        whole = f"{mark}::integer" if self._postgres else mark
        self._triple = f"({whole}, {whole}, {whole})"
        self._insert = (
            "INSERT INTO matches (member_id, notice_id, score, reasons, created_at, updated_at) "
            f"VALUES ({mark}, {mark}, {mark}, {json}, {mark}, {mark})"
        )
        self._update = (
            f"UPDATE matches SET score = {mark}, reasons = {json}, updated_at = {mark} "
            f"WHERE id = {mark}"
        )

    def reasons(self, combo: tuple[matchers.Reason, ...]) -> _Reasons:
        """A set of reasons ready to write (kept for the pass: sets repeat across notices)."""
        found = self._encoded.get(combo)
        if found is None:
            if len(self._encoded) > 100_000:
                self._encoded.clear()
            stored = [{"kind": r.kind, "text": r.text} for r in combo]
            value = self._json(stored) if self._json else stored
            found = _Reasons(stored, value, value if isinstance(value, str) else None)
            self._encoded[combo] = found
        return found

    def insert(self, rows: list[tuple[Any, ...]]) -> None:
        self._many(self._insert, rows)

    def summaries(self, notices: Sequence[int], scores: Sequence[int]) -> None:
        """The match summary (as `refresh_match_summary` writes it) of notices whose
        every match is one of these (notice, score) rows, all written now."""
        best: dict[int, int] = {}
        count: dict[int, int] = {}
        for n, score in zip(notices, scores, strict=True):
            if score > best.get(n, -1):
                best[n] = score
            count[n] = count.get(n, 0) + 1
        rows = [(n, best[n], count[n]) for n in sorted(best)]
        # One statement a chunk, not one a notice: row by row, SQLite's full-text index
        # (which a notice enters when first matched) made it several times as slow.
        for lo in range(0, len(rows), CHUNK):
            chunk = rows[lo : lo + CHUNK]
            listed = ", ".join([self._triple] * len(chunk))
            self._conn.exec_driver_sql(
                f"WITH summary (id, best, n) AS (VALUES {listed}) "
                "UPDATE notices SET best_score = summary.best, match_count = summary.n, "
                f"first_matched_at = COALESCE(first_matched_at, {self._mark}) "
                "FROM summary WHERE notices.id = summary.id",
                (*(x for row in chunk for x in row), self.now),
            )

    def update(self, rows: list[tuple[Any, ...]]) -> None:
        self._many(self._update, rows)

    def _many(self, statement: str, rows: list[tuple[Any, ...]]) -> None:
        if not rows:
            return
        if not self._postgres:
            self._conn.exec_driver_sql(statement, rows)
            return
        # The connections plan every statement for its values (db.make_engine), which
        # would plan each of these rows afresh: twice the time of the insert itself.
        # A row by its key has one plan whatever the values. (If the rows fail, the
        # transaction is lost and the setting with it.)
        self._conn.exec_driver_sql("SET LOCAL plan_cache_mode = force_generic_plan")
        self._conn.exec_driver_sql(statement, rows)
        self._conn.exec_driver_sql("SET LOCAL plan_cache_mode TO DEFAULT")


def refresh_match_summary(session: Session, notice_ids: Sequence[int]) -> None:
    """Recompute the best score and match count the triage queue sorts and filters on, and
    note when a notice was first matched (for the dashboard's funnel)."""
    best = select(func.max(Match.score)).where(Match.notice_id == Notice.id).scalar_subquery()
    count = select(func.count(Match.id)).where(Match.notice_id == Notice.id).scalar_subquery()
    first = select(func.min(Match.created_at)).where(Match.notice_id == Notice.id).scalar_subquery()
    for chunk in _chunks(list(notice_ids), CHUNK):
        session.execute(
            update(Notice)
            .where(Notice.id.in_(chunk))
            .values(
                best_score=best,
                match_count=count,
                first_matched_at=func.coalesce(Notice.first_matched_at, first),
            )
            .execution_options(synchronize_session=False)
        )
