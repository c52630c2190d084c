"""The e-mails a bid sends: invitations to join, reminders of what is due, and a changed
notice. Members' e-mails carry their signed links; coordinators' link to the bid page."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.orm import Session

from broker.bids.forming import ROLE_LABELS, lots_of
from broker.bids.links import BidLinks
from broker.formatting import LONDON, days_left, london
from broker.mail.outbox import Email, enqueue
from broker.models import User
from broker.models.bids import MODEL_LABELS, Bid, BidMember
from broker.outreach.compose import MailContext, render, subject_line
from broker.outreach.opportunities import summarise, value_text, where
from broker.outreach.queueing import email_context, queue_email


@dataclass(frozen=True)
class BidBrief:
    """A bid as an e-mail tells it: what it is, the notice, and one member's part."""

    title: str
    note: str
    model: str
    notice_title: str | None
    summary: str
    buyer: str | None
    where: str | None
    value: str | None
    deadline: str | None
    days_left: str | None
    internal_deadline: str | None
    role: str | None = None
    lots: list[str] = field(default_factory=list)
    share: str | None = None
    partners: list[str] = field(default_factory=list)


def brief(bid: Bid, now: datetime, place: BidMember | None = None) -> BidBrief:
    """What every bid e-mail says about the bid (and, for a member, their part)."""
    notice = bid.notice
    deadline = bid.deadline
    labels = lots_of(bid)
    partners = [
        m.member.name
        for m in bid.members
        if m.status in ("added", "joined") and (place is None or m.member_id != place.member_id)
    ]
    return BidBrief(
        title=" ".join(bid.title.split()),
        note=bid.note,
        model=MODEL_LABELS.get(bid.model, bid.model),
        notice_title=" ".join(notice.title.split()) if notice else None,
        summary=summarise(notice.description, notice.title) if notice else "",
        buyer=notice.buyer if notice else None,
        where=where(notice) if notice else None,
        value=value_text(notice) if notice else None,
        deadline=london(deadline) if deadline else None,
        days_left=days_left(deadline, now) if deadline else None,
        internal_deadline=london(bid.internal_deadline) if bid.internal_deadline else None,
        role=ROLE_LABELS.get(place.role) if place else None,
        lots=[labels[i] for i in place.lots if i < len(labels)] if place else [],
        share=f"{place.share_percent:g}%" if place and place.share_percent is not None else None,
        partners=partners,
    )


def queue_invitation(
    session: Session,
    bid: Bid,
    place: BidMember,
    context: MailContext,
    sender: str,
    now: datetime,
) -> int:
    """Ask a member to join the bid: "Join this bid" and "Can't join", signed for them."""
    links = BidLinks(context.links)
    member = place.member
    subject = f"Join a consortium bid: {bid.title}"
    why = f"{context.network_name} is forming a consortium bid and thinks you could be part of it."
    parts = render(
        "bid_invite",
        **email_context(context, member, why, subject),
        bid=brief(bid, now, place),
        sender_name=sender,
        join_url=links.url(member.id, bid.id, "join"),
        decline_url=links.url(member.id, bid.id, "decline"),
    )
    return queue_email(session, "bid_invite", member, subject, parts, context, now, bid.notice_id)


@dataclass(frozen=True)
class Due:
    """Something due on a bid, in words, and when."""

    what: str
    due: str
    days_left: str


def queue_member_reminder(
    session: Session,
    bid: Bid,
    place: BidMember,
    due: list[Due],
    context: MailContext,
    now: datetime,
) -> int:
    """Remind a member of what is due, with the link to their page for the bid."""
    subject = f"Reminder: {due[0].what} is due {due[0].due} — {bid.title}"
    return _queue_to_member(session, "bid_reminder", bid, place, subject, context, now, due=due)


def _queue_to_member(
    session: Session,
    kind: str,
    bid: Bid,
    place: BidMember,
    subject: str,
    context: MailContext,
    now: datetime,
    **extra: object,
) -> int:
    """A bid e-mail to a member of it, with the link to their own page for the bid."""
    member = place.member
    why = f"you are in this consortium bid with {context.network_name}."
    parts = render(
        kind,
        **email_context(context, member, why, subject),
        bid=brief(bid, now, place),
        page_url=BidLinks(context.links).url(member.id, bid.id, "page"),
        **extra,
    )
    return queue_email(session, kind, member, subject, parts, context, now, bid.notice_id)


def queue_user_reminder(
    session: Session, bid: Bid, user: User, due: list[Due], context: MailContext, now: datetime
) -> int:
    """Remind a coordinator of a task of theirs, with the link to the bid page."""
    subject = subject_line(f"Reminder: {due[0].what} is due {due[0].due} — {bid.title}")
    text, html = render(
        "bid_reminder_coordinator",
        subject=subject,
        network_name=context.network_name,
        name=user.display_name,
        bid=brief(bid, now),
        due=due,
        page_url=context.links.page_url(f"/bids/{bid.id}"),
    )
    enqueue(
        session,
        Email(
            kind="bid_reminder",
            to_address=user.email,
            subject=subject,
            text_body=text,
            html_body=html,
            notice_id=bid.notice_id,
        ),
        context.from_address,
        now,
    )
    return 1


def queue_change(
    session: Session,
    bid: Bid,
    place: BidMember,
    changes: list[str],
    context: MailContext,
    now: datetime,
) -> int:
    """Tell a member of the bid that its notice was amended or cancelled."""
    lead = "Cancelled" if any(c.startswith("The buyer cancelled") for c in changes) else "Changed"
    subject = f"{lead}: the notice for your bid “{bid.title}”"
    return _queue_to_member(
        session, "bid_change", bid, place, subject, context, now, changes=changes
    )


def due_words(day, now: datetime) -> tuple[str, str]:
    """A due date as e-mails say it, and how long is left: ("14 Jan 2027", "5 days left")."""
    end_of_day = datetime.combine(day, datetime.max.time(), tzinfo=LONDON)
    return f"{day.day} {day:%b %Y}", days_left(end_of_day, now)
