"""The outbox as people see it: counts by status, pages of messages, the mail about a
notice or a member, and an admin's retry of a failed message.
"""

from __future__ import annotations

import email
import email.policy
import re
from dataclasses import dataclass
from datetime import datetime
from html.parser import HTMLParser

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from broker.config import MailSettings
from broker.db import after_commit
from broker.errors import BrokerError
from broker.mail.runs import kick
from broker.mail.smtp import render
from broker.models import Member, Notice
from broker.models.mail import MESSAGE_STATUSES, OutboxMessage
from broker.paging import Paged, paginate


class NotRetryable(BrokerError):
    """Raised by `retry` for a message that is missing or has not failed."""


@dataclass(frozen=True)
class OutboxCounts:
    """How many messages are in each state, and the one that has waited longest."""

    queued: int
    sent: int
    failed: int
    oldest_waiting: OutboxMessage | None

    @property
    def total(self) -> int:
        return self.queued + self.sent + self.failed


def counts(session: Session) -> OutboxCounts:
    """Messages by status, and the oldest still waiting to go."""
    by_status = dict.fromkeys(MESSAGE_STATUSES, 0)
    for status, count in session.execute(
        select(OutboxMessage.status, func.count(OutboxMessage.id)).group_by(OutboxMessage.status)
    ):
        by_status[status] = count
    oldest = session.scalars(
        select(OutboxMessage)
        .where(OutboxMessage.status == "queued")
        .order_by(OutboxMessage.created_at, OutboxMessage.id)
        .limit(1)
    ).first()
    return OutboxCounts(by_status["queued"], by_status["sent"], by_status["failed"], oldest)


def page_of_messages(
    session: Session, status: str | None, page: int, page_size: int
) -> Paged[OutboxMessage]:
    """One page of messages: waiting ones in the order they will go, others newest first."""
    query = select(OutboxMessage)
    if status:
        query = query.where(OutboxMessage.status == status)
    if status == "queued":
        query = query.order_by(
            OutboxMessage.next_attempt_at, OutboxMessage.created_at, OutboxMessage.id
        )
    else:
        query = query.order_by(OutboxMessage.created_at.desc(), OutboxMessage.id.desc())
    return paginate(session, query, page, page_size)


def messages_for(
    session: Session, notice_id: int | None = None, member_id: int | None = None
) -> list[OutboxMessage]:
    """The mail about a notice, to a member, or both; newest first."""
    query = select(OutboxMessage)
    if notice_id is not None:
        query = query.where(OutboxMessage.notice_id == notice_id)
    if member_id is not None:
        query = query.where(OutboxMessage.member_id == member_id)
    return list(
        session.scalars(query.order_by(OutboxMessage.created_at.desc(), OutboxMessage.id.desc()))
    )


def names_for(
    session: Session, messages: list[OutboxMessage]
) -> tuple[dict[int, str], dict[int, str]]:
    """Member names and notice titles for a page of messages, keyed by id."""
    member_ids = {m.member_id for m in messages if m.member_id is not None}
    notice_ids = {m.notice_id for m in messages if m.notice_id is not None}
    members = {
        row.id: row.name
        for row in session.execute(select(Member.id, Member.name).where(Member.id.in_(member_ids)))
    }
    notices = {
        row.id: row.title
        for row in session.execute(select(Notice.id, Notice.title).where(Notice.id.in_(notice_ids)))
    }
    return members, notices


def retry(session: Session, outbox_id: int, now: datetime) -> OutboxMessage:
    """Queue a failed message again, due now, with its attempts counted afresh; flushes."""
    message = session.get(OutboxMessage, outbox_id)
    if message is None:
        raise NotRetryable(f"there is no message {outbox_id} in the outbox")
    if message.status != "failed":
        raise NotRetryable(f"message {outbox_id} has not failed (it is {message.status})")
    message.status = "queued"
    message.attempts = 0
    message.next_attempt_at = now
    message.transmitted_at = None
    session.flush()
    after_commit(session, kick)
    return message


@dataclass(frozen=True)
class AsReceived:
    """A message as its recipient gets it: the headers in order, both parts, the links."""

    headers: list[tuple[str, str]]
    text: str
    html: str
    links: list[str]


_TEXT_LINK = re.compile(r"https?://[^\s<>\"']+")


class _Hrefs(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        href = dict(attrs).get("href") if tag == "a" else None
        if href and href.startswith(("http://", "https://")):
            self.found.append(href)


def as_received(message: OutboxMessage, mail: MailSettings) -> AsReceived:
    """Build the message exactly as the sender puts it on the wire, and read it back.

    Raises ValueError (or TypeError) for a message the e-mail library can't write, as
    the sender would fail it.
    """
    parsed = email.message_from_bytes(render(message, mail), policy=email.policy.default)
    text_part, html_part = parsed.get_body(("plain",)), parsed.get_body(("html",))
    text = text_part.get_content() if text_part is not None else ""
    html = html_part.get_content() if html_part is not None else ""
    hrefs = _Hrefs()
    hrefs.feed(html)
    # Headers such as List-Unsubscribe carry links too, in angle brackets.
    in_headers = [u for _, v in parsed.items() for u in _TEXT_LINK.findall(str(v))]
    found = [*hrefs.found, *_TEXT_LINK.findall(text), *in_headers]
    return AsReceived(
        headers=[(name, str(value)) for name, value in parsed.items()],
        text=text,
        html=html,
        # A link at the end of a sentence keeps its full stop out.
        links=list(dict.fromkeys(link.rstrip(".,;)") for link in found)),
    )
