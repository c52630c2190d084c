"""What a coordinator does with a notice: forward, dismiss, reopen, add a member, start a
bid; each one logged with who and when."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

import matchers
from broker.matching.cache import MatcherCache
from broker.matching.inputs import Declines, notice_for, profile_for
from broker.matching.store import refresh_match_summary
from broker.models import Match, Member, Notice
from broker.models.triage import Forward, NoticeAction

DISMISS_REASONS = (
    "Not relevant to any member",
    "Too big for our members",
    "Outside our area",
    "Deadline too short",
    "Duplicate",
    "Other",
)


class TriageError(ValueError):
    """Raised by an action that can't be done, with a message for the coordinator."""


def record(
    session: Session, notice: Notice, user_id: int | None, action: str, detail: str, now: datetime
) -> None:
    """Log an action on a notice."""
    session.add(
        NoticeAction(
            notice_id=notice.id, user_id=user_id, action=action, detail=detail, created_at=now
        )
    )


def _set_status(notice: Notice, status: str, now: datetime) -> None:
    notice.triage_status = status
    notice.triage_changed_at = now


def forward(
    session: Session,
    notice: Notice,
    member_ids: list[int],
    note: str,
    user_id: int | None,
    now: datetime,
) -> list[Forward]:
    """Forward a notice to members with a note; flushes only (mail goes out after commit)."""
    if not member_ids:
        raise TriageError("Choose at least one member to forward this notice to.")
    members = session.scalars(select(Member).where(Member.id.in_(member_ids))).all()
    if len(members) != len(set(member_ids)):
        raise TriageError("One of the chosen members no longer exists.")
    forwards = [
        Forward(
            notice_id=notice.id, member_id=m.id, user_id=user_id, note=note.strip(), created_at=now
        )
        for m in members
    ]
    session.add_all(forwards)
    if notice.triage_status == "new":
        _set_status(notice, "forwarded", now)
    names = ", ".join(sorted(m.name for m in members))
    record(
        session,
        notice,
        user_id,
        "forward",
        f"to {names}" + (f": {note.strip()}" if note.strip() else ""),
        now,
    )
    session.flush()
    return forwards


def dismiss(
    session: Session, notice: Notice, reason: str, user_id: int | None, now: datetime
) -> None:
    """Take a notice out of the queue, saying why."""
    if not reason.strip():
        raise TriageError("Say why you are dismissing this notice.")
    _set_status(notice, "dismissed", now)
    record(session, notice, user_id, "dismiss", reason.strip(), now)


def reopen(session: Session, notice: Notice, user_id: int | None, now: datetime) -> None:
    """Put a dismissed notice back in the queue."""
    _set_status(notice, "new", now)
    record(session, notice, user_id, "reopen", "", now)


def add_member(
    session: Session,
    notice: Notice,
    member: Member,
    cache: MatcherCache,
    user_id: int | None,
    now: datetime,
) -> Match:
    """Add a member the engine didn't match, with the engine's explanation of the fit."""
    existing = session.scalar(
        select(Match).where(Match.notice_id == notice.id, Match.member_id == member.id)
    )
    if existing is not None:
        raise TriageError(f"{member.name} is already listed for this notice.")
    engine = matchers.Matcher([profile_for(member, Declines())], cache.settings.engine)
    explained = engine.explain(notice_for(notice), str(member.id))
    reasons = [{"kind": r.kind, "text": r.text} for r in explained.reasons]
    reasons.append({"kind": "manual", "text": "added by a coordinator"})
    match = Match(
        member_id=member.id,
        notice_id=notice.id,
        score=explained.score,
        reasons=reasons,
        added_by=user_id,
        created_at=now,
        updated_at=now,
    )
    session.add(match)
    session.flush()
    refresh_match_summary(session, [notice.id])
    record(session, notice, user_id, "add_member", member.name, now)
    return match


def mark_bid(
    session: Session, notice: Notice, user_id: int | None, now: datetime, detail: str
) -> None:
    """Note that members are bidding for a notice: its status, and its log."""
    _set_status(notice, "bid", now)
    record(session, notice, user_id, "start_bid", detail, now)
