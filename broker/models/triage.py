"""What coordinators do with notices: forwards, dismissals and the notice's log."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from broker.db import Base, UTCDateTime

if TYPE_CHECKING:
    from broker.models.accounts import User
    from broker.models.members import Member

TRIAGE_STATUSES = ("new", "forwarded", "dismissed", "bid")


class NoticeAction(Base):
    """One thing a coordinator did to a notice, with who and when: the notice's log."""

    __tablename__ = "notice_actions"
    __table_args__ = (
        Index("ix_notice_actions_notice_at", "notice_id", "created_at"),
        Index("ix_notice_actions_action_at", "action", "created_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    notice_id: Mapped[int] = mapped_column(ForeignKey("notices.id", ondelete="CASCADE"))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    # forward, dismiss, reopen, add_member, start_bid, manual_entry, sent_by (a buyer)
    action: Mapped[str] = mapped_column(String(30))
    detail: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    user: Mapped[User | None] = relationship()


class Forward(Base):
    """A notice forwarded to one member with the coordinator's note."""

    __tablename__ = "forwards"
    __table_args__ = (
        Index("ix_forwards_notice", "notice_id"),
        Index("ix_forwards_member_at", "member_id", "created_at"),
        Index("ix_forwards_created_at", "created_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    notice_id: Mapped[int] = mapped_column(ForeignKey("notices.id", ondelete="CASCADE"))
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    note: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    member: Mapped[Member] = relationship()
    user: Mapped[User | None] = relationship()
