"""What buyers send through the public network pages: a message for a member, or an
opportunity for the network, held until the buyer confirms their address."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from broker.db import Base, JSONType, UTCDateTime

# contact: a message for one listed member; opportunity: becomes a notice from a buyer.
SUBMISSION_KINDS = ("contact", "opportunity")


class BuyerSubmission(Base):
    """One buyer's message or opportunity, unconfirmed until they open the link we e-mail.

    An unconfirmed one is deleted after `network.confirm_hours`; a confirmed one keeps who
    sent it and what it became (the notice, the e-mails), and drops its text, which lives
    on in the notice or the e-mails.
    """

    __tablename__ = "buyer_submissions"
    __table_args__ = (
        # The rate limits count recent submissions by address and by e-mail.
        Index("ix_buyer_submissions_ip_hash_created_at", "ip_hash", "created_at"),
        Index("ix_buyer_submissions_email_hash_created_at", "email_hash", "created_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(12))
    # Part of the signed link, so a link can never confirm a later row given the same id.
    nonce: Mapped[str] = mapped_column(String(32))
    member_id: Mapped[int | None] = mapped_column(
        ForeignKey("members.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(320))
    organisation: Mapped[str] = mapped_column(String(300))
    message: Mapped[str] = mapped_column(Text, default="")
    title: Mapped[str] = mapped_column(String(300), default="")
    needed: Mapped[str] = mapped_column(Text, default="")
    deadline: Mapped[date | None] = mapped_column(Date)
    value: Mapped[float | None] = mapped_column(Float)
    place: Mapped[str] = mapped_column(String(300), default="")
    # Keyed hashes (HMAC with the secret key): enough to count, not to recover an address.
    ip_hash: Mapped[str] = mapped_column(String(64))
    email_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    notice_id: Mapped[int | None] = mapped_column(ForeignKey("notices.id", ondelete="SET NULL"))
    # The outbox ids of the e-mails the confirmation sent.
    mail_ids: Mapped[list[int]] = mapped_column(JSONType, default=list)
