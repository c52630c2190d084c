"""What each member was told about, and what is new or has changed since.

`ToldNotice` keeps each notice as the member last heard of it (deadline, cancelled,
when it was last amended). "New" is a match at or above the notify threshold that the
member was not told about and has not answered, on a notice still open (deadline ahead
or unknown, not cancelled, not an award, not dismissed by a coordinator). "Changed" is
a told notice whose deadline moved, which was cancelled or, for digests, amended.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from broker.models import Match, Member, MemberResponse, Notice, NoticeChange, ToldNotice
from broker.outreach.opportunities import (
    CANCELLED_STATUSES,
    is_cancelled,
    not_cancelled,
    still_open,
)

# Opportunities in one alert or digest; the rest wait for the next one.
MAX_ITEMS = 25
# Members looked at per query.
CHUNK = 500


def tell(session: Session, member_id: int, notice: Notice, now: datetime) -> ToldNotice:
    """Record that a member was told about a notice as it stands now; flushes only."""
    told = session.scalar(
        select(ToldNotice).where(
            ToldNotice.member_id == member_id, ToldNotice.notice_id == notice.id
        )
    )
    if told is None:
        told = ToldNotice(member_id=member_id, notice_id=notice.id, first_told_at=now)
        session.add(told)
    told.last_told_at = now
    told.deadline = notice.deadline
    told.cancelled = is_cancelled(notice)
    told.notice_changed_at = notice.changed_at
    session.flush()
    return told


@dataclass(frozen=True)
class Pick:
    """A member's new matches to tell: the best MAX_ITEMS, and how many more wait."""

    matches: list[tuple[Match, Notice]]
    more: int


def _told(member_id: Any, notice_id: Any) -> Any:
    return (
        select(ToldNotice.id)
        .where(ToldNotice.member_id == member_id, ToldNotice.notice_id == notice_id)
        .exists()
    )


def _answered(member_id: Any, notice_id: Any, kind: str | None = None) -> Any:
    query = select(MemberResponse.id).where(
        MemberResponse.member_id == member_id, MemberResponse.notice_id == notice_id
    )
    if kind:
        query = query.where(MemberResponse.kind == kind)
    return query.exists()


def new_matches(
    session: Session,
    member_ids: Sequence[int],
    threshold: int,
    now: datetime,
    limit: int = MAX_ITEMS,
) -> dict[int, Pick]:
    """Each member's new matches, best score first (then the soonest deadline)."""
    picked: dict[int, list[tuple[int, int]]] = defaultdict(list)
    totals: dict[int, int] = defaultdict(int)
    for start in range(0, len(member_ids), CHUNK):
        chunk = list(member_ids[start : start + CHUNK])
        # Ids first, so that only the notices that go in an e-mail are loaded whole.
        rows = session.execute(
            select(Match.member_id, Match.id, Match.notice_id)
            .join(Notice, Notice.id == Match.notice_id)
            .where(
                Match.member_id.in_(chunk),
                Match.score >= threshold,
                *still_open(now),
                not_cancelled(),
                Notice.triage_status != "dismissed",
                ~_told(Match.member_id, Match.notice_id),
                ~_answered(Match.member_id, Match.notice_id),
            )
            .order_by(
                Match.member_id,
                Match.score.desc(),
                Notice.no_deadline,
                Notice.deadline,
                Notice.id,
            )
        )
        for member_id, match_id, notice_id in rows:
            totals[member_id] += 1
            if len(picked[member_id]) < limit:
                picked[member_id].append((match_id, notice_id))
    match_ids = [m for pairs in picked.values() for m, _n in pairs]
    notice_ids = sorted({n for pairs in picked.values() for _m, n in pairs})
    matches = _by_id(session, Match, match_ids)
    notices = _by_id(session, Notice, notice_ids)
    return {
        member_id: Pick(
            [(matches[m], notices[n]) for m, n in pairs], totals[member_id] - len(pairs)
        )
        for member_id, pairs in picked.items()
    }


def _by_id(session: Session, model: Any, ids: Sequence[int]) -> dict[int, Any]:
    found = {}
    for start in range(0, len(ids), CHUNK):
        chunk = list(ids[start : start + CHUNK])
        found.update(
            {row.id: row for row in session.scalars(select(model).where(model.id.in_(chunk)))}
        )
    return found


def subscribed(frequencies: Sequence[str]) -> Any:
    """SQL: members with one of these frequencies who can be e-mailed."""
    return and_(
        Member.frequency.in_(list(frequencies)),
        Member.active.is_(True),
        Member.unsubscribed_at.is_(None),
    )


def cancelled_condition() -> Any:
    """SQL: the buyer has called the notice off."""
    return func.lower(Notice.status).in_(sorted(CANCELLED_STATUSES))


def changed_told(
    session: Session, member_ids: Sequence[int], now: datetime, *, amendments: bool
) -> list[tuple[ToldNotice, Notice, int | None]]:
    """Told notices that changed since: a new deadline, a cancellation and, with
    `amendments`, any later amendment; each with the member's score (or None), best first.

    Notices whose deadline has passed and those the member declined are left out.
    """
    changed = [
        ToldNotice.deadline.is_distinct_from(Notice.deadline),
        and_(cancelled_condition(), ToldNotice.cancelled.is_(False)),
    ]
    if amendments:
        changed.append(
            and_(
                Notice.changed_at.is_not(None),
                or_(
                    ToldNotice.notice_changed_at.is_(None),
                    Notice.changed_at > ToldNotice.notice_changed_at,
                ),
            )
        )
    found: list[tuple[ToldNotice, Notice, int | None]] = []
    for start in range(0, len(member_ids), CHUNK):
        chunk = list(member_ids[start : start + CHUNK])
        rows = session.execute(
            select(ToldNotice, Notice, Match.score)
            .join(Notice, Notice.id == ToldNotice.notice_id)
            .outerjoin(
                Match,
                and_(
                    Match.member_id == ToldNotice.member_id,
                    Match.notice_id == ToldNotice.notice_id,
                ),
            )
            .where(
                ToldNotice.member_id.in_(chunk),
                *still_open(now),
                or_(*changed),
                ~_answered(ToldNotice.member_id, ToldNotice.notice_id, "declined"),
            )
            .order_by(
                ToldNotice.member_id,
                Match.score.desc().nulls_last(),
                Notice.no_deadline,
                Notice.deadline,
                Notice.id,
            )
        )
        found.extend((told, notice, score) for told, notice, score in rows)
    return found


def history_of(session: Session, notice_ids: Sequence[int]) -> dict[int, list[NoticeChange]]:
    """Each notice's dated changes, oldest first."""
    history: dict[int, list[NoticeChange]] = defaultdict(list)
    for start in range(0, len(notice_ids), CHUNK):
        chunk = list(notice_ids[start : start + CHUNK])
        for change in session.scalars(
            select(NoticeChange)
            .where(NoticeChange.notice_id.in_(chunk))
            .order_by(NoticeChange.changed_at, NoticeChange.id)
        ):
            history[change.notice_id].append(change)
    return history
