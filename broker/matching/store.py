"""Matching stored notices against members and keeping the matches.

New or changed notices are matched as a harvest stores them; a member whose profile
changes is re-matched; `broker match --all` re-matches everything. Declined notices
never come back for that member, and the reasons members decline with adjust their
ranking (see `matchers` feedback).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from flask import Flask
from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.orm import Session

import matchers
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
from broker.models import CorpusSnapshot, Match, Member, Notice

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
    new_pairs: list[tuple[int, int]] = field(default_factory=list)

    def line(self) -> str:
        """One line for the CLI."""
        return (
            f"matched {self.notices} notices: {self.stored} matches stored "
            f"({len(self.new_pairs)} new), {self.removed} removed"
        )


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
    for notices in notice_chunks(session):
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
        for notices in notice_chunks(session):
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
