"""Putting e-mails in the outbox, in the caller's transaction; broker.mail.sender sends them.

Writing the message in the same transaction as the action that caused it (a forward,
a new match, a digest) means a rollback leaves no orphan mail and a commit never
loses one, whatever happens to the SMTP server afterwards.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.orm import Session

from broker.db import after_commit
from broker.mail.runs import kick
from broker.models.mail import MESSAGE_KINDS, OutboxMessage


@dataclass(frozen=True)
class Email:
    """One rendered e-mail to one recipient."""

    kind: str
    to_address: str
    subject: str
    text_body: str
    html_body: str
    member_id: int | None = None
    notice_id: int | None = None
    # Extra headers, e.g. {"List-Unsubscribe": "<https://...>"}.
    headers: dict[str, str] = field(default_factory=dict)


def message_id(from_address: str) -> str:
    """A Message-ID made once, when queued, and kept across every retry."""
    domain = from_address.rpartition("@")[2] or "sen-broker.invalid"
    return f"<{uuid.uuid4().hex}@{domain}>"


def enqueue(session: Session, email: Email, from_address: str, now: datetime) -> OutboxMessage:
    """Add `email` to the outbox; flushes only. Once the caller's unit of work commits,
    this process's scheduler (if it has one) is asked to send at once."""
    if email.kind not in MESSAGE_KINDS:
        raise ValueError(f"unknown message kind {email.kind!r}")
    message = OutboxMessage(
        kind=email.kind,
        member_id=email.member_id,
        notice_id=email.notice_id,
        to_address=email.to_address,
        subject=email.subject,
        text_body=email.text_body,
        html_body=email.html_body,
        message_id=message_id(from_address),
        headers=dict(email.headers),
        status="queued",
        attempts=0,
        next_attempt_at=now,
        last_error="",
        created_at=now,
    )
    session.add(message)
    session.flush()
    after_commit(session, kick)
    return message
