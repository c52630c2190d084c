"""Consortium (joint) bids: a notice, the members bidding together, and the stage."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from broker.db import Base, UTCDateTime

if TYPE_CHECKING:
    from broker.models.members import Member

BID_STAGES = ("forming", "go_no_go", "preparing", "submitted", "won", "lost", "withdrawn")


BID_MODELS = ("managing_agent", "lead_contractor", "joint_entity")


BID_ROLES = ("lead", "partner", "subcontractor")


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
