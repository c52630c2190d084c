"""Putting one member's e-mail in the outbox, and counting what a pass queued."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from broker.mail.outbox import enqueue
from broker.models import Member
from broker.outreach.compose import MailContext, footer, member_emails


@dataclass
class Told:
    """What a pass queued: e-mails, and how many members they went to."""

    emails: int = 0
    members: int = 0
    skipped: list[str] = field(default_factory=list)

    def add(self, emails: int) -> None:
        if emails:
            self.emails += emails
            self.members += 1


def queue_email(
    session: Session,
    kind: str,
    member: Member,
    subject: str,
    parts: tuple[str, str],
    context: MailContext,
    now: datetime,
    notice_id: int | None = None,
) -> int:
    emails = member_emails(kind, member, subject, *parts, context, notice_id)
    for email in emails:
        enqueue(session, email, context.from_address, now)
    return len(emails)


def email_context(context: MailContext, member: Member, why: str, subject: str) -> dict[str, Any]:
    return {
        "subject": subject,
        "network_name": context.network_name,
        "member_name": member.name,
        "footer": footer(context, member, why),
    }
