"""Matching in the broker: stored rows in, `matchers` dataclasses through, matches stored.

New or changed notices are matched as a harvest stores them; a member whose profile
changes is re-matched; `broker match --all` re-matches everything. Declined notices
never come back for that member, and the reasons members decline with adjust their
ranking (see `matchers` feedback).
"""

from __future__ import annotations

import logging
import statistics
import threading
import zlib
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson
from flask import Flask
from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.orm import Session

import matchers
from broker.config import MatchingSettings
from broker.intake import StoreResult
from broker.models import CorpusSnapshot, Match, Member, MemberResponse, Notice

logger = logging.getLogger(__name__)

# Notices matched per engine call and per query.
CHUNK = 1000


def notice_for(notice: Notice) -> matchers.Notice:
    """A stored notice as the engine reads it."""
    return matchers.Notice(
        id=notice.id,
        title=notice.title,
        description=notice.description or "",
        buyer=notice.buyer,
        cpv=tuple(notice.cpv or ()),
        regions=tuple(notice.regions or ()),
        place=notice.place,
        value=notice.value_amount,
        reserved=bool(notice.reserved),
        lots=tuple(
            matchers.Lot(
                title=lot.get("title") or "",
                description=lot.get("description") or "",
                cpv=tuple(lot.get("cpv") or ()),
                value=(lot.get("value") or {}).get("amount"),
            )
            for lot in notice.lots or ()
        ),
        published=notice.published.isoformat() if notice.published else None,
        deadline=notice.deadline.isoformat() if notice.deadline else None,
    )


@dataclass(frozen=True)
class Declines:
    """What a member has said "not for us" to: which notices, and why how often."""

    notices: frozenset[int] = frozenset()
    reasons: dict[str, int] = field(default_factory=dict)
    too_big_value: float | None = None


def profile_for(member: Member, declines: Declines = Declines()) -> matchers.Profile:
    """A member's capability profile as the engine reads it."""
    return matchers.Profile(
        id=str(member.id),
        name=member.name,
        keywords=tuple(member.keywords or ()),
        exclude=tuple(member.exclude or ()),
        cpv=tuple(member.cpv or ()),
        regions=tuple(member.regions or ()),
        min_value=member.min_value,
        max_value=member.max_value,
        supported_business=bool(member.supported_business),
        feedback=dict(declines.reasons),
        declined_value=declines.too_big_value,
    )


def declines_by_member(
    session: Session, member_ids: Iterable[int] | None = None
) -> dict[int, Declines]:
    """Each member's "not for us" answers, with the typical value of those too big."""
    query = (
        select(
            MemberResponse.member_id,
            MemberResponse.notice_id,
            MemberResponse.reason,
            Notice.value_amount,
        )
        .join(Notice, Notice.id == MemberResponse.notice_id)
        .where(MemberResponse.kind == "declined")
    )
    if member_ids is not None:
        query = query.where(MemberResponse.member_id.in_(list(member_ids)))
    notices: dict[int, set[int]] = defaultdict(set)
    reasons: dict[int, Counter[str]] = defaultdict(Counter)
    too_big: dict[int, list[float]] = defaultdict(list)
    for member_id, notice_id, reason, value in session.execute(query):
        notices[member_id].add(notice_id)
        reasons[member_id][reason or "other"] += 1
        if reason == "too_big" and value is not None:
            too_big[member_id].append(value)
    return {
        member_id: Declines(
            notices=frozenset(notices[member_id]),
            reasons=dict(reasons[member_id]),
            too_big_value=statistics.median(too_big[member_id]) if too_big[member_id] else None,
        )
        for member_id in notices
    }


def init_app(app: Flask) -> None:
    """Give the app its warm Matcher."""
    app.extensions["broker.matcher"] = MatcherCache(app.config["SETTINGS"].matching)


def get_cache(app: Flask) -> MatcherCache:
    """The app's warm Matcher."""
    return app.extensions["broker.matcher"]


def store_hook(app: Flask) -> Callable[[Session, StoreResult, datetime], None]:
    """The harvest's after-store step: match the new and changed notices of each page."""
    cache = get_cache(app)

    def hook(session: Session, stored: StoreResult, now: datetime) -> None:
        match_notices(session, stored.touched, cache, now)

    return hook


def rebuild_corpus(session: Session, now: datetime) -> CorpusSnapshot:
    """Count the words of every matchable notice into a new snapshot; flushes only."""
    stats = matchers.CorpusStats.from_notices(
        notice_for(n) for chunk in _notice_chunks(session) for n in chunk
    )
    snapshot = CorpusSnapshot(
        built_at=now, notices=stats.docs, data=zlib.compress(orjson.dumps(stats.to_json()), 6)
    )
    session.add(snapshot)
    session.flush()
    # Only the latest is ever read; keep one older in case a process is loading it.
    session.execute(delete(CorpusSnapshot).where(CorpusSnapshot.id < snapshot.id - 1))
    return snapshot


def latest_corpus(session: Session) -> tuple[int | None, matchers.CorpusStats | None]:
    """The newest snapshot's id and statistics (None, None before the first)."""
    snapshot = session.scalars(
        select(CorpusSnapshot).order_by(CorpusSnapshot.id.desc()).limit(1)
    ).first()
    if snapshot is None:
        return None, None
    return snapshot.id, matchers.CorpusStats.from_json(orjson.loads(zlib.decompress(snapshot.data)))


class MatcherCache:
    """A warm Matcher for this process, refreshed member by member when profiles change.

    Building the engine's index for every member is the expensive part; a harvest
    that stores many pages reuses it, and an edit to one profile rebuilds only that one.
    A new corpus snapshot rebuilds it all.
    """

    def __init__(self, settings: MatchingSettings):
        self.settings = settings
        self.lock = threading.RLock()
        self._matcher: matchers.Matcher | None = None
        self._corpus_id: int | None = None
        self.corpus: matchers.CorpusStats | None = None
        self._versions: dict[int, tuple[Any, ...]] = {}
        self.declines: dict[int, Declines] = {}

    def engine(self, profiles: Iterable[matchers.Profile]) -> matchers.Matcher:
        """A separate Matcher for some profiles, weighing words as this one does."""
        return matchers.Matcher(profiles, self.settings.engine, corpus=self.corpus)

    def matcher(self, session: Session) -> matchers.Matcher:
        """The Matcher, brought up to date with the stored members and their feedback."""
        with self.lock:
            newest = session.scalar(select(func.max(CorpusSnapshot.id)))
            if self._matcher is None or newest != self._corpus_id:
                self._corpus_id, self.corpus = latest_corpus(session)
                self._matcher = self.engine(())
                self._versions.clear()
            current = _member_versions(session)
            changed = [m for m, v in current.items() if self._versions.get(m) != v]
            removed = [m for m in self._versions if m not in current]
            for member_id in removed:
                self._matcher.remove(str(member_id))
                self._versions.pop(member_id)
                self.declines.pop(member_id, None)
            if changed:
                declines = declines_by_member(session, changed)
                members = session.scalars(select(Member).where(Member.id.in_(changed)))
                for member in members:
                    self.declines[member.id] = declines.get(member.id, Declines())
                    self._matcher.update(profile_for(member, self.declines[member.id]))
                    self._versions[member.id] = current[member.id]
            return self._matcher


def _member_versions(session: Session) -> dict[int, tuple[Any, ...]]:
    """For each active member, what its engine profile depends on."""
    last_decline = {
        member_id: last
        for member_id, last in session.execute(
            select(MemberResponse.member_id, func.max(MemberResponse.id))
            .where(MemberResponse.kind == "declined")
            .group_by(MemberResponse.member_id)
        )
    }
    rows = session.execute(select(Member.id, Member.profile_changed_at).where(Member.active))
    return {mid: (changed_at, last_decline.get(mid)) for mid, changed_at in rows}


@dataclass
class MatchResult:
    """What a matching pass did."""

    notices: int = 0
    stored: int = 0
    removed: int = 0
    new_pairs: list[tuple[int, int]] = field(default_factory=list)

    def line(self) -> str:
        """One line for the CLI."""
        return (
            f"matched {self.notices} notices: {self.stored} matches stored "
            f"({len(self.new_pairs)} new), {self.removed} removed"
        )


def matchable(query: Any) -> Any:
    """Notices worth matching: everything but award notices."""
    return query.where(Notice.notice_type != "award")


def match_notices(
    session: Session, notice_ids: Sequence[int], cache: MatcherCache, now: datetime
) -> MatchResult:
    """Match these notices against every member and store the matches; flushes only.

    With no members yet, nothing is matched and the notices stay pending.
    """
    result = MatchResult()
    with cache.lock:
        matcher = cache.matcher(session)
        if not matcher.profile_ids:
            return result
        for chunk in _chunks(sorted(set(notice_ids)), CHUNK):
            notices = session.scalars(matchable(select(Notice).where(Notice.id.in_(chunk)))).all()
            found = matcher.match(
                [notice_for(n) for n in notices], threshold=cache.settings.store_threshold
            )
            _store(
                session,
                found,
                cache.declines,
                now,
                result,
                replace=select(Match.id).where(Match.notice_id.in_(chunk)),
            )
            session.execute(update(Notice).where(Notice.id.in_(chunk)).values(matched_at=now))
            result.notices += len(notices)
    return result


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
    for notices in _notice_chunks(session):
        found = engine.match(
            [notice_for(n) for n in notices], threshold=cache.settings.store_threshold
        )
        superseded = select(Match.id).where(
            Match.member_id.in_(ids), Match.notice_id.in_([n.id for n in notices])
        )
        _store(session, found, declines, now, result, replace=superseded)
        result.notices += len(notices)
    session.execute(update(Member).where(Member.id.in_(ids)).values(matched_at=now))
    return result


def match_all(session: Session, cache: MatcherCache, now: datetime) -> MatchResult:
    """Recount the word statistics, then re-match every notice against every member."""
    result = MatchResult()
    rebuild_corpus(session, now)
    with cache.lock:
        matcher = cache.matcher(session)
        for notices in _notice_chunks(session):
            found = matcher.match(
                [notice_for(n) for n in notices], threshold=cache.settings.store_threshold
            )
            superseded = select(Match.id).where(Match.notice_id.in_([n.id for n in notices]))
            _store(session, found, cache.declines, now, result, replace=superseded)
            result.notices += len(notices)
        session.execute(update(Notice).values(matched_at=now))
        session.execute(update(Member).values(matched_at=now))
    return result


def match_pending(session: Session, cache: MatcherCache, now: datetime) -> MatchResult:
    """Match what is out of date: notices never matched, members edited since their match."""
    if session.scalar(select(func.count(CorpusSnapshot.id))) == 0:
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
        result.new_pairs += more.new_pairs
    return result


def _notice_chunks(session: Session) -> Iterator[list[Notice]]:
    last = 0
    while True:
        notices = session.scalars(
            matchable(select(Notice).where(Notice.id > last)).order_by(Notice.id).limit(CHUNK)
        ).all()
        if not notices:
            return
        yield list(notices)
        last = notices[-1].id


def _chunks(items: Sequence[int], size: int) -> Iterator[Sequence[int]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _store(
    session: Session,
    found: Iterable[matchers.Match],
    declines: dict[int, Declines],
    now: datetime,
    result: MatchResult,
    replace: Any,
) -> None:
    """Write matches, leaving out notices the member declined.

    `replace` selects the stored matches these results supersede: those still found are
    updated in place (so `created_at` survives), new ones inserted, the rest deleted.
    """
    fresh: dict[tuple[int, int], matchers.Match] = {}
    for match in found:
        member_id = int(match.profile_id)
        notice_id = int(match.notice_id)
        if notice_id in declines.get(member_id, Declines()).notices:
            continue
        fresh[(member_id, notice_id)] = match
    existing = {
        (row.member_id, row.notice_id): row
        for row in session.scalars(select(Match).where(Match.id.in_(replace)))
    }
    # A member a coordinator added by hand stays, whatever the engine now thinks.
    existing = {key: row for key, row in existing.items() if row.added_by is None}
    inserts = []
    for key, match in fresh.items():
        reasons = [{"kind": r.kind, "text": r.text} for r in match.reasons]
        row = existing.pop(key, None)
        if row is None:
            inserts.append(
                {
                    "member_id": key[0],
                    "notice_id": key[1],
                    "score": match.score,
                    "reasons": reasons,
                    "created_at": now,
                    "updated_at": now,
                }
            )
            result.new_pairs.append(key)
        elif row.score != match.score or row.reasons != reasons:
            row.score, row.reasons, row.updated_at = match.score, reasons, now
    if existing:
        session.execute(delete(Match).where(Match.id.in_([r.id for r in existing.values()])))
        result.removed += len(existing)
    if inserts:
        session.execute(insert(Match.__table__), inserts)
    result.stored += len(fresh)
    session.flush()
    touched = {n for _m, n in fresh} | {n for _m, n in existing}
    refresh_match_summary(session, sorted(touched))


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
