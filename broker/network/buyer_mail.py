"""The e-mails a buyer's submission causes, all through the outbox: the confirmation link
to the buyer, then (once confirmed) the message to the member with a copy to the
coordinators, or the opportunity to the coordinators.

The buyer is only ever told a member's name: the member's address stays out of every
e-mail the buyer gets, and the member answers through Reply-To.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime

from sqlalchemy.orm import Session

from broker.formatting import london, money
from broker.mail.outbox import Email, enqueue
from broker.models import Member, Notice, OutboxMessage
from broker.models.network import BuyerSubmission
from broker.outreach.answers import listeners
from broker.outreach.compose import MailContext, can_email, footer, member_emails, render
from broker.outreach.compose import subject_line as one_line


def queue_confirmation(
    session: Session,
    submission: BuyerSubmission,
    member: Member | None,
    url: str,
    hours: int,
    context: MailContext,
    now: datetime,
) -> OutboxMessage:
    """The only e-mail an unconfirmed submission sends: to the buyer, with the link."""
    what = (
        f"send your message to {member.name}"
        if member is not None
        else "send your opportunity to the network"
    )
    subject = one_line(f"Please confirm: {what}")
    text, html = render(
        "buyer_confirm",
        subject=subject,
        network_name=context.network_name,
        buyer_name=submission.name,
        member_name=member.name if member is not None else None,
        title=submission.title,
        confirm_url=url,
        hours=hours,
        contact_address=context.contact_address,
    )
    return enqueue(
        session,
        Email("buyer_confirm", submission.email, subject, text, html),
        context.from_address,
        now,
    )


def queue_contact(
    session: Session,
    submission: BuyerSubmission,
    member: Member,
    context: MailContext,
    now: datetime,
) -> list[OutboxMessage]:
    """A confirmed message: to the member (when they are still listed and can be
    e-mailed), and a copy to the coordinators; every one answered to the buyer."""
    subject = one_line(f"{submission.organisation} would like to talk to you")
    reply_to = {"Reply-To": submission.email}
    details = {
        "network_name": context.network_name,
        "buyer_name": submission.name,
        "buyer_email": submission.email,
        "organisation": submission.organisation,
        "message": submission.message,
    }
    emails: list[Email] = []
    # Unlisting takes effect at once: a member who left the directory since is not written to.
    reached = can_email(member) and member.listed
    if reached:
        text, html = render(
            "buyer_contact",
            subject=subject,
            member_name=member.name,
            footer=footer(
                context,
                member,
                "You get this because you are listed in the network's public directory.",
            ),
            **details,
        )
        emails += [
            dataclasses.replace(e, headers={**e.headers, **reply_to})
            for e in member_emails("buyer_contact", member, subject, text, html, context)
        ]
    recipients, why = listeners(session, context, "for the network")
    copy_subject = one_line(f"Copy: {submission.organisation} wrote to {member.name}")
    text, html = render(
        "buyer_contact_copy",
        subject=copy_subject,
        member_name=member.name,
        member_url=context.links.page_url(f"/members/{member.id}"),
        reached=reached,
        why=why,
        **details,
    )
    emails += [
        Email("buyer_contact", address, copy_subject, text, html, member.id, headers=reply_to)
        for address in recipients
    ]
    return [enqueue(session, e, context.from_address, now) for e in emails]


def queue_opportunity(
    session: Session,
    submission: BuyerSubmission,
    notice: Notice,
    matches: int,
    context: MailContext,
    now: datetime,
) -> list[OutboxMessage]:
    """Tell the coordinators about a confirmed opportunity, now a notice on triage."""
    recipients, why = listeners(session, context, "for the network")
    subject = one_line(f"From a buyer: {submission.organisation}: {submission.title}")
    text, html = render(
        "buyer_opportunity",
        subject=subject,
        network_name=context.network_name,
        buyer_name=submission.name,
        buyer_email=submission.email,
        organisation=submission.organisation,
        title=submission.title,
        needed=submission.needed,
        place=submission.place,
        deadline=london(notice.deadline) if notice.deadline else None,
        value=money(submission.value) if submission.value is not None else None,
        matches=matches,
        notice_url=context.links.page_url(f"/notices/{notice.id}"),
        why=why,
    )
    reply_to = {"Reply-To": submission.email}
    return [
        enqueue(
            session,
            Email(
                "buyer_opportunity",
                address,
                subject,
                text,
                html,
                notice_id=notice.id,
                headers=reply_to,
            ),
            context.from_address,
            now,
        )
        for address in recipients
    ]
