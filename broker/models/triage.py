"""What coordinators do with notices: forwards, dismissals, hand-added members, bids."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from broker.db import Base, UTCDateTime
from broker.models.members import Member
from broker.models.users import User

TRIAGE_STATUSES = ("new", "forwarded", "dismissed", "bid")
BID_STAGES = ("forming", "go_no_go", "preparing", "submitted", "won", "lost", "withdrawn")
BID_MODELS = ("managing_agent", "lead_contractor", "joint_entity")
BID_ROLES = ("lead", "partner", "subcontractor")


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
    # forward, dismiss, reopen, add_member, start_bid, manual_entry
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


class Bid(Base):
    """A consortium (joint) bid for a notice, from forming to the outcome."""

    __tablename__ = "bids"
    __table_args__ = (Index("ix_bids_created_at", "created_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    notice_id: Mapped[int] = mapped_column(ForeignKey("notices.id", ondelete="CASCADE"), index=True)
    title: Mapped[str] = mapped_column(String(300))
    model: Mapped[str] = mapped_column(String(30), default="lead_contractor")
    stage: Mapped[str] = mapped_column(String(20), default="forming")
    note: Mapped[str] = mapped_column(Text, default="")
    value_won: Mapped[float | None] = mapped_column(Float)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)

    members: Mapped[list[BidMember]] = relationship(
        back_populates="bid", cascade="all, delete-orphan"
    )


class BidMember(Base):
    """A member's place in a consortium bid."""

    __tablename__ = "bid_members"

    bid_id: Mapped[int] = mapped_column(ForeignKey("bids.id", ondelete="CASCADE"), primary_key=True)
    member_id: Mapped[int] = mapped_column(
        ForeignKey("members.id", ondelete="CASCADE"), primary_key=True
    )
    role: Mapped[str] = mapped_column(String(20), default="partner")

    bid: Mapped[Bid] = relationship(back_populates="members")
    member: Mapped[Member] = relationship()
