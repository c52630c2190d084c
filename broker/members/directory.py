"""The members' directory: search, and each member's matches and history."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import String, cast, func, or_, select
from sqlalchemy.orm import Session

from broker.models import Match, Member, MemberResponse, Notice
from broker.models.bids import Bid, BidMember
from broker.models.triage import Forward
from broker.paging import Paged, paginate


def _like(text: str) -> str:
    """A LIKE pattern matching `text` anywhere, with its wildcards taken literally."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped.lower()}%"


def search_members(session: Session, q: str, page: int, page_size: int) -> Paged[Member]:
    """Members whose name, keywords or description contain every word of `q`, by name."""
    query = select(Member)
    for word in q.split():
        pattern = _like(word)
        query = query.where(
            or_(
                func.lower(Member.name).like(pattern, escape="\\"),
                func.lower(Member.description).like(pattern, escape="\\"),
                # The JSON list as text: a few hundred members, so no index is needed.
                func.lower(cast(Member.keywords, String)).like(pattern, escape="\\"),
            )
        )
    return paginate(session, query.order_by(func.lower(Member.name), Member.id), page, page_size)


def match_counts(session: Session, member_ids: list[int]) -> dict[int, int]:
    """How many stored matches each of these members has."""
    if not member_ids:
        return {}
    rows = session.execute(
        select(Match.member_id, func.count(Match.id))
        .where(Match.member_id.in_(member_ids))
        .group_by(Match.member_id)
    )
    return {member_id: count for member_id, count in rows}


@dataclass
class MemberHistory:
    """What has happened between a member and the notices: forwards, answers, bids."""

    forwards: list[tuple[Forward, Notice]] = field(default_factory=list)
    responses: list[tuple[MemberResponse, Notice]] = field(default_factory=list)
    bids: list[tuple[Bid, str]] = field(default_factory=list)


def member_matches(
    session: Session, member_id: int, page: int, page_size: int
) -> Paged[tuple[Match, Notice]]:
    """A member's stored matches, best first, each with its notice."""
    query = (
        select(Match, Notice)
        .join(Notice, Notice.id == Match.notice_id)
        .where(Match.member_id == member_id)
        .order_by(Match.score.desc(), Notice.deadline.desc().nulls_last(), Match.id)
    )
    total = session.scalar(select(func.count(Match.id)).where(Match.member_id == member_id)) or 0
    page = max(1, page)
    rows = session.execute(query.limit(page_size).offset((page - 1) * page_size))
    return Paged([(m, n) for m, n in rows], total, page, page_size)


def member_history(session: Session, member_id: int) -> MemberHistory:
    """Notices forwarded to the member, its answers, and the bids it is in, newest first."""
    forwards = session.execute(
        select(Forward, Notice)
        .join(Notice, Notice.id == Forward.notice_id)
        .where(Forward.member_id == member_id)
        .order_by(Forward.created_at.desc(), Forward.id.desc())
    )
    responses = session.execute(
        select(MemberResponse, Notice)
        .join(Notice, Notice.id == MemberResponse.notice_id)
        .where(MemberResponse.member_id == member_id)
        .order_by(MemberResponse.created_at.desc(), MemberResponse.id.desc())
    )
    bids = session.execute(
        select(Bid, BidMember.role)
        .join(BidMember, BidMember.bid_id == Bid.id)
        .where(BidMember.member_id == member_id)
        .order_by(Bid.created_at.desc(), Bid.id.desc())
    )
    return MemberHistory(
        [(f, n) for f, n in forwards], [(r, n) for r, n in responses], [(b, r) for b, r in bids]
    )
