"""What the notice page shows beside the notice: who matched and why, where it was
published, its amendments, and everything done with it (actions, forwards, answers, bids)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload, load_only

from broker.models import Bid, Forward, Match, Member, MemberResponse, Notice, NoticeSource
from broker.models.notices import NoticeChange
from broker.models.triage import NoticeAction

# Plain SQL read straight from the driver: for a couple of thousand members, making result
# rows costs more than the query (ix_members_active_name answers it alone).
ACTIVE_MEMBERS = "SELECT id, name FROM members WHERE active = TRUE"


@dataclass(frozen=True)
class NoticeRecord:
    """A notice's matches and history, newest first, each row with the names it shows."""

    matches: list[Match]
    sources: list[NoticeSource]
    changes: list[NoticeChange]
    actions: list[NoticeAction]
    forwards: list[Forward]
    responses: list[MemberResponse]
    bids: list[Bid]


def _with_member_name(relationship: Any) -> Any:
    """Load a row's member in the same query, and only what the page shows of it."""
    return joinedload(relationship).load_only(
        Member.id, Member.name, Member.active, Member.unsubscribed_at
    )


def matches_of(session: Session, notice: Notice) -> list[Match]:
    """The notice's matched members, best first, with their names."""
    return list(
        session.scalars(
            select(Match)
            .options(_with_member_name(Match.member))
            .where(Match.notice_id == notice.id)
            .order_by(Match.score.desc(), Match.id)
        )
    )


def notice_record(
    session: Session, notice: Notice, matches: list[Match] | None = None
) -> NoticeRecord:
    """Everything the notice page lists; `matches` when the caller has read them already."""
    sources = session.scalars(
        select(NoticeSource)
        .options(load_only(NoticeSource.source, NoticeSource.source_id, NoticeSource.url))
        .where(NoticeSource.notice_id == notice.id)
        .order_by(NoticeSource.id)
    )
    actions = session.scalars(
        select(NoticeAction)
        .options(joinedload(NoticeAction.user))
        .where(NoticeAction.notice_id == notice.id)
        .order_by(NoticeAction.created_at.desc())
    )
    forwards = session.scalars(
        select(Forward)
        .options(_with_member_name(Forward.member), joinedload(Forward.user))
        .where(Forward.notice_id == notice.id)
        .order_by(Forward.created_at.desc())
    )
    responses = session.scalars(
        select(MemberResponse)
        .options(_with_member_name(MemberResponse.member))
        .where(MemberResponse.notice_id == notice.id)
        .order_by(MemberResponse.created_at.desc())
    )
    bids = session.scalars(select(Bid).where(Bid.notice_id == notice.id))
    return NoticeRecord(
        matches=matches if matches is not None else matches_of(session, notice),
        sources=list(sources),
        changes=sorted(notice.changes, key=lambda c: c.changed_at, reverse=True),
        actions=list(actions),
        forwards=list(forwards),
        responses=list(responses),
        bids=list(bids),
    )


def active_members(session: Session) -> list[tuple[int, str]]:
    """Every active member's id and name, to find the one a coordinator typed."""
    return session.connection().exec_driver_sql(ACTIVE_MEMBERS).fetchall()
