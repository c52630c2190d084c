"""The outbox: every e-mail, written in the transaction of what caused it, until sent."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from broker.db import Base, JSONType, UTCDateTime

MESSAGE_KINDS = (
    "forward",
    "alert",
    "digest",
    "change",
    "interest",
    "bid_invite",
    "bid_reminder",
    "bid_change",
    # A buyer on the public network pages: the link confirming their address, their
    # message for a member (and its copy for coordinators), and their opportunity.
    "buyer_confirm",
    "buyer_contact",
    "buyer_opportunity",
)


# queued: waiting (for the first try or a retry); sent: the server accepted it;
# failed: a permanent refusal, or too many temporary ones.
MESSAGE_STATUSES = ("queued", "sent", "failed")


class OutboxMessage(Base):
    """One e-mail to one recipient, written in the transaction of what caused it.

    The sender sets `transmitted_at` (and commits) just before it ends the SMTP DATA,
    so a crash after that point is taken as delivered and never sent again.
    """

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_status_next", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    member_id: Mapped[int | None] = mapped_column(
        ForeignKey("members.id", ondelete="SET NULL"), index=True
    )
    # The notice it is about (none for a digest, which covers several).
    notice_id: Mapped[int | None] = mapped_column(
        ForeignKey("notices.id", ondelete="SET NULL"), index=True
    )
    to_address: Mapped[str] = mapped_column(String(320))
    subject: Mapped[str] = mapped_column(String(500))
    text_body: Mapped[str] = mapped_column(Text)
    html_body: Mapped[str] = mapped_column(Text)
    # Stable across retries, so a receiving server can drop a duplicate too.
    message_id: Mapped[str] = mapped_column(String(300), unique=True)
    # Extra headers, e.g. List-Unsubscribe.
    headers: Mapped[dict[str, str]] = mapped_column(JSONType, default=dict)
    status: Mapped[str] = mapped_column(String(10), default="queued")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    transmitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
