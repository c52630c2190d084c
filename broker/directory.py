"""The members' directory: search, a member's matches and history, profile edits that
re-match the member at once, CSV import and export, and trying a profile before saving it.
"""

from __future__ import annotations

import heapq
import io
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import IO

from sqlalchemy import String, cast, func, or_, select
from sqlalchemy.orm import Session

import matchers
from broker.matching import (
    CHUNK,
    Declines,
    MatcherCache,
    MatchResult,
    declines_by_member,
    match_members,
    matchable,
    notice_for,
    profile_for,
)
from broker.members import (
    FieldError,
    ImportResult,
    InvalidProfile,
    ProfileInput,
    export_csv,
    find_member,
    import_csv,
    save_member,
)
from broker.models import Match, Member, MemberResponse, Notice
from broker.models.triage import Bid, BidMember, Forward
from broker.paging import Paged, paginate

# How far back "Test this profile" looks, and how many results it shows.
TRIAL_DAYS = 90
TRIAL_RESULTS = 20


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


def save_profile(
    session: Session,
    profile: ProfileInput,
    cache: MatcherCache,
    now: datetime,
    member: Member | None = None,
) -> tuple[Member, MatchResult | None]:
    """Create or update a member and, if what matching reads changed, re-match it now.

    Raises InvalidProfile when another member already has the name.
    """
    other = find_member(session, profile.name)
    if other is not None and other is not member:
        raise InvalidProfile([FieldError("name", f"another member is called '{other.name}'")])
    member, changed = save_member(session, profile, now, member)
    if not changed:
        return member, None
    return member, match_members(session, [member.id], cache, now)


def import_members(
    session: Session, handle: IO[str], cache: MatcherCache, now: datetime, where: str
) -> tuple[ImportResult, MatchResult]:
    """Import members from CSV (the CLI's format) and re-match those whose profile changed."""
    result = import_csv(session, handle, now, where=where)
    return result, match_members(session, result.changed, cache, now)


def members_csv(session: Session) -> str:
    """Every member, by name, in the CSV import format."""
    out = io.StringIO()
    export_csv(session.scalars(select(Member).order_by(Member.name)), out)
    return out.getvalue()


@dataclass(frozen=True)
class TrialHit:
    """One notice an unsaved profile would match, with the engine's score and reasons."""

    notice: Notice
    score: int
    reasons: list[dict[str, str]]


@dataclass
class ProfileTrial:
    """What a profile would have matched among recent notices."""

    since: datetime
    tested: int
    matched: int
    hits: list[TrialHit]


def try_profile(
    session: Session,
    profile: ProfileInput,
    cache: MatcherCache,
    now: datetime,
    member: Member | None = None,
    days: int = TRIAL_DAYS,
    limit: int = TRIAL_RESULTS,
) -> ProfileTrial:
    """Score an unsaved profile against notices first seen or published in the last `days`.

    Nothing is written: the profile is an unsaved Member, scored in an engine of its own
    that weighs words with the stored corpus as real matching does.
    """
    since = now - timedelta(days=days)
    declines = declines_by_member(session, [member.id]).get(member.id) if member else None
    declines = declines or Declines()
    # Never added to the session, so it can't be flushed by accident.
    draft = Member(id=member.id if member else 0, **asdict(profile))
    cache.matcher(session)  # loads the current corpus snapshot
    engine = cache.engine([profile_for(draft, declines)])
    recent = matchable(select(Notice)).where(
        or_(Notice.first_seen_at >= since, Notice.published >= since)
    )
    best: list[tuple[int, int, matchers.Match]] = []
    tested = matched = 0
    last = 0
    while True:
        chunk = recent.where(Notice.id > last).order_by(Notice.id).limit(CHUNK)
        notices = list(session.scalars(chunk))
        if not notices:
            break
        last = notices[-1].id
        tested += len(notices)
        for found in engine.match(
            [notice_for(n) for n in notices], threshold=cache.settings.store_threshold
        ):
            notice_id = int(found.notice_id)
            if notice_id in declines.notices:
                continue
            matched += 1
            # Highest score first, then the newest notice.
            item = (found.score, notice_id, found)
            if len(best) < limit:
                heapq.heappush(best, item)
            else:
                heapq.heappushpop(best, item)
    ranked = sorted(best, key=lambda item: (-item[0], -item[1]))
    notices_by_id = {
        n.id: n
        for n in session.scalars(select(Notice).where(Notice.id.in_([i[1] for i in ranked])))
    }
    hits = [
        TrialHit(
            notices_by_id[notice_id],
            score,
            [{"kind": r.kind, "text": r.text} for r in found.reasons],
        )
        for score, notice_id, found in ranked
    ]
    return ProfileTrial(since=since, tested=tested, matched=matched, hits=hits)
