"""Member outreach: what each member has been told, and their answers to notices."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from broker.db import Base, UTCDateTime

if TYPE_CHECKING:
    from broker.models.members import Member


class ToldNotice(Base):
    """What a member was last told about a notice, to tell them when it changes."""

    __tablename__ = "told_notices"
    __table_args__ = (
        Index("uq_told_notices_member_notice", "member_id", "notice_id", unique=True),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"))
    notice_id: Mapped[int] = mapped_column(ForeignKey("notices.id", ondelete="CASCADE"), index=True)
    first_told_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_told_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # The notice as the member last heard of it.
    deadline: Mapped[datetime | None] = mapped_column(UTCDateTime)
    cancelled: Mapped[bool] = mapped_column(Boolean, default=False)
    # The notice's changed_at when told; a later one is an update to tell about.
    notice_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


RESPONSE_KINDS = ("interested", "declined")


class MemberResponse(Base):
    """A member's answer to a notice: interested, or not for us and why."""

    __tablename__ = "member_responses"
    __table_args__ = (Index("ix_member_responses_member_notice", "member_id", "notice_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"))
    notice_id: Mapped[int] = mapped_column(ForeignKey("notices.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    # For "declined": too_big, too_far, no_accreditation, timescale or other.
    reason: Mapped[str | None] = mapped_column(String(30))
    note: Mapped[str] = mapped_column(Text, default="")
    # Where it came from: "email" (a member's signed link) or "coordinator".
    channel: Mapped[str] = mapped_column(String(20), default="email")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    member: Mapped[Member] = relationship(back_populates="responses")
