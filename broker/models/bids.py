"""Consortium (joint) bids: the members bidding together, their roles and shares, the
tasks and deadlines, the stage from forming to the outcome, and everything that happened."""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Date, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from broker.db import Base, JSONType, UTCDateTime

if TYPE_CHECKING:
    from broker.models.accounts import User
    from broker.models.members import Member
    from broker.models.notices import Notice

BID_STAGES = ("forming", "go_no_go", "preparing", "submitted", "won", "lost", "withdrawn")
OPEN_STAGES = ("forming", "go_no_go", "preparing", "submitted")
# Senscot's Partnership for Procurement models, in words.
MODEL_LABELS = {
    "managing_agent": "Managing agent (the network bids and subcontracts the delivery)",
    "lead_contractor": "Lead contractor with partners or subcontractors",
    "joint_entity": "A joint venture or new legal entity",
}
BID_MODELS = tuple(MODEL_LABELS)
BID_ROLES = ("lead", "partner", "subcontractor")
# added: put in the bid by a coordinator; invited: asked by e-mail, no answer yet;
# joined / declined: the member's answer.
MEMBER_STATUSES = ("added", "invited", "joined", "declined")
TASK_STATUSES = ("open", "done")


class Bid(Base):
    """A consortium bid for a notice (or for an expected re-tender, linked later)."""

    __tablename__ = "bids"
    __table_args__ = (Index("ix_bids_created_at", "created_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    notice_id: Mapped[int | None] = mapped_column(
        ForeignKey("notices.id", ondelete="SET NULL"), index=True
    )
    title: Mapped[str] = mapped_column(String(300))
    model: Mapped[str] = mapped_column(String(30), default="lead_contractor")
    stage: Mapped[str] = mapped_column(String(20), default="forming")
    # What the bid is, in the coordinator's words.
    note: Mapped[str] = mapped_column(Text, default="")
    # A bid without a notice keeps the buyer's deadline and value it expects itself.
    tender_deadline: Mapped[datetime | None] = mapped_column(UTCDateTime)
    estimated_value: Mapped[float | None] = mapped_column(Float)
    # The consortium's own deadline for a final draft, kept apart from the buyer's.
    internal_deadline: Mapped[datetime | None] = mapped_column(UTCDateTime)
    value_won: Mapped[float | None] = mapped_column(Float)
    outcome_reason: Mapped[str] = mapped_column(Text, default="")
    buyer_feedback: Mapped[str] = mapped_column(Text, default="")
    lessons: Mapped[str] = mapped_column(Text, default="")
    # The notice's deadline and status as the bid's members were last told them.
    notice_known: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    stage_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    notice: Mapped[Notice | None] = relationship()
    members: Mapped[list[BidMember]] = relationship(
        back_populates="bid", cascade="all, delete-orphan"
    )
    tasks: Mapped[list[BidTask]] = relationship(
        back_populates="bid",
        cascade="all, delete-orphan",
        order_by="(BidTask.due_on.is_(None), BidTask.due_on, BidTask.position, BidTask.id)",
    )

    @property
    def deadline(self) -> datetime | None:
        """The buyer's deadline: the notice's when linked, else the one entered."""
        if self.notice is not None and self.notice.deadline is not None:
            return self.notice.deadline
        return self.tender_deadline

    @property
    def value(self) -> float | None:
        """What the contract is worth: the notice's value in pounds, else the estimate."""
        notice = self.notice
        pounds = notice is not None and (notice.value_currency or "GBP") == "GBP"
        if pounds and notice.value_amount is not None:
            return notice.value_amount
        return self.estimated_value

    @property
    def open(self) -> bool:
        return self.stage in OPEN_STAGES


class BidMember(Base):
    """A member's place in a consortium bid: the role, share of the work and lots."""

    __tablename__ = "bid_members"

    bid_id: Mapped[int] = mapped_column(ForeignKey("bids.id", ondelete="CASCADE"), primary_key=True)
    member_id: Mapped[int] = mapped_column(
        ForeignKey("members.id", ondelete="CASCADE"), primary_key=True
    )
    role: Mapped[str] = mapped_column(String(20), default="partner")
    status: Mapped[str] = mapped_column(String(20), default="added")
    # Percent of the work; the shares of one bid add up to at most 100.
    share_percent: Mapped[float | None] = mapped_column(Float)
    # Positions in the notice's lots (0-based), as the lots are listed.
    lots: Mapped[list[int]] = mapped_column(JSONType, default=list)
    invited_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    responded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decline_reason: Mapped[str] = mapped_column(Text, default="")

    bid: Mapped[Bid] = relationship(back_populates="members")
    member: Mapped[Member] = relationship()


class BidTask(Base):
    """One thing to do for a bid, with its owner (a coordinator or a member) and due date."""

    __tablename__ = "bid_tasks"
    __table_args__ = (Index("ix_bid_tasks_due_open", "status", "due_on"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    bid_id: Mapped[int] = mapped_column(ForeignKey("bids.id", ondelete="CASCADE"), index=True)
    title: Mapped[str] = mapped_column(String(300))
    owner_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    owner_member_id: Mapped[int | None] = mapped_column(
        ForeignKey("members.id", ondelete="SET NULL")
    )
    due_on: Mapped[date | None] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(10), default="open")
    position: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Who marked it done, in words ("Casey Coordinator", "Greenspace Growers").
    done_by: Mapped[str] = mapped_column(String(300), default="")

    bid: Mapped[Bid] = relationship(back_populates="tasks")
    owner_user: Mapped[User | None] = relationship()
    owner_member: Mapped[Member | None] = relationship()

    @property
    def owner_name(self) -> str:
        if self.owner_member is not None:
            return self.owner_member.name
        if self.owner_user is not None:
            return self.owner_user.display_name
        return ""


class BidEvent(Base):
    """Something that happened on a bid, for its timeline: a stage change (with from and
    to), a note, an invitation and its answer, a task done, the notice amended."""

    __tablename__ = "bid_events"
    __table_args__ = (
        Index("ix_bid_events_bid_at", "bid_id", "at"),
        # The funnel reads the first move of each bid to a stage by day.
        Index("ix_bid_events_stage_at", "to_stage", "at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    bid_id: Mapped[int] = mapped_column(ForeignKey("bids.id", ondelete="CASCADE"))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    kind: Mapped[str] = mapped_column(String(30))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    member_id: Mapped[int | None] = mapped_column(ForeignKey("members.id", ondelete="SET NULL"))
    from_stage: Mapped[str | None] = mapped_column(String(20))
    to_stage: Mapped[str | None] = mapped_column(String(20))
    detail: Mapped[str] = mapped_column(Text, default="")

    user: Mapped[User | None] = relationship()
    member: Mapped[Member | None] = relationship()


class BidReminder(Base):
    """A reminder already sent: one row per bid, subject (a task or the tender deadline),
    due date and days before it, so that no reminder is ever sent twice."""

    __tablename__ = "bid_reminders"
    __table_args__ = (UniqueConstraint("bid_id", "subject", "due_on", "days_before"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    bid_id: Mapped[int] = mapped_column(ForeignKey("bids.id", ondelete="CASCADE"))
    # "deadline" or "task:<id>"
    subject: Mapped[str] = mapped_column(String(40))
    due_on: Mapped[date] = mapped_column(Date)
    days_before: Mapped[int] = mapped_column(Integer)
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime)
