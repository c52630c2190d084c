"""Members' answers from their signed links: interested, not for us, unsubscribe.

Answers are `MemberResponse` rows (channel "email"), which the notice page, the
member's page, the dashboard funnel and the matching feedback all read. "I'm
interested" also e-mails the coordinators. Each answer given twice is kept once.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

import matchers
from broker.formatting import london
from broker.mail.outbox import Email, enqueue
from broker.models import Member, MemberResponse, Notice, User
from broker.outreach.compose import MailContext, render, subject_line

NOTE_LIMIT = 2000


def latest(session: Session, member: Member, notice: Notice, kind: str) -> MemberResponse | None:
    """The member's latest answer of this kind ("interested", "declined") to the notice."""
    return session.scalars(
        select(MemberResponse)
        .where(
            MemberResponse.member_id == member.id,
            MemberResponse.notice_id == notice.id,
            MemberResponse.kind == kind,
        )
        .order_by(MemberResponse.id.desc())
    ).first()


def _record(
    session: Session,
    member: Member,
    notice: Notice,
    kind: str,
    reason: str | None,
    note: str,
    now: datetime,
) -> MemberResponse:
    """A new answer from a member's e-mail link; flushes only."""
    response = MemberResponse(
        member_id=member.id,
        notice_id=notice.id,
        kind=kind,
        reason=reason,
        note=note,
        channel="email",
        created_at=now,
    )
    session.add(response)
    session.flush()
    return response


def interested(
    session: Session,
    member: Member,
    notice: Notice,
    note: str,
    context: MailContext,
    now: datetime,
) -> tuple[MemberResponse, bool]:
    """Record "I'm interested" and tell the coordinators; returns it and whether it is new.

    A second click changes nothing and tells nobody again (a new note is kept).
    """
    note = note.strip()[:NOTE_LIMIT]
    response = latest(session, member, notice, "interested")
    if response is not None:
        if note and note != response.note:
            response.note = note
            session.flush()
        return response, False
    response = _record(session, member, notice, "interested", None, note, now)
    queue_interest(session, member, notice, note, context, now)
    return response, True


def declined(
    session: Session, member: Member, notice: Notice, reason: str | None, note: str, now: datetime
) -> MemberResponse:
    """Record "not for us" and why; a changed answer replaces the earlier one.

    Replacing (rather than editing) gives the answer a new id, which is what tells the
    matcher to read the member's feedback again.
    """
    if reason is not None and reason not in matchers.FEEDBACK_REASONS:
        raise ValueError(f"unknown decline reason {reason!r}")
    note = note.strip()[:NOTE_LIMIT]
    earlier = latest(session, member, notice, "declined")
    if earlier is not None:
        if earlier.reason == reason and earlier.note == note:
            return earlier
        session.delete(earlier)
    return _record(session, member, notice, "declined", reason, note, now)


def unsubscribe(session: Session, member: Member, now: datetime) -> bool:
    """Stop every e-mail to the member; False if it had already unsubscribed."""
    if member.unsubscribed_at is not None:
        return False
    member.unsubscribed_at = now
    member.updated_at = now
    session.flush()
    return True


def resubscribe(session: Session, member: Member, now: datetime) -> None:
    """Send the member e-mail again (after it unsubscribed)."""
    if member.unsubscribed_at is not None:
        member.unsubscribed_at = None
        member.updated_at = now
        session.flush()


def coordinators(session: Session) -> list[str]:
    """The addresses of every active coordinator and admin."""
    return list(
        session.scalars(
            select(User.email)
            .where(User.active.is_(True), User.role.in_(("coordinator", "admin")))
            .order_by(User.email)
        )
    )


def listeners(session: Session, context: MailContext, about: str) -> tuple[list[str], str]:
    """Who hears for the network, `mail.notify_address` or else every active coordinator
    and admin, and why they get the e-mail, in words ("... hear `about`")."""
    if context.notify_address:
        return [context.notify_address], f"are the address set to hear {about}"
    return coordinators(session), "are a coordinator in the broker"


def queue_interest(
    session: Session,
    member: Member,
    notice: Notice,
    note: str,
    context: MailContext,
    now: datetime,
) -> int:
    """E-mail `mail.notify_address`, else every active coordinator and admin, that a
    member is interested; returns how many e-mails were queued."""
    recipients, why = listeners(session, context, "when a member is interested")
    subject = subject_line(f"{member.name} is interested: {notice.title}")
    text, html = render(
        "interest",
        subject=subject,
        network_name=context.network_name,
        member_name=member.name,
        member_emails=list(member.emails or ()),
        notice_title=" ".join(notice.title.split()),
        buyer=notice.buyer,
        deadline=london(notice.deadline) if notice.deadline else None,
        note=note,
        notice_url=context.links.page_url(f"/notices/{notice.id}"),
        member_url=context.links.page_url(f"/members/{member.id}"),
        why=why,
    )
    for address in recipients:
        enqueue(
            session,
            Email(
                kind="interest",
                to_address=address,
                subject=subject,
                text_body=text,
                html_body=html,
                member_id=member.id,
                notice_id=notice.id,
            ),
            context.from_address,
            now,
        )
    return len(recipients)
