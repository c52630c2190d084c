"""Members: social enterprises with a capability profile, and their answers to notices."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Float, ForeignKey, Index, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from broker.db import Base, JSONType, UTCDateTime

FREQUENCIES = ("instant", "daily", "weekly", "off")
DECLINE_REASONS = ("too_big", "too_far", "no_accreditation", "timescale", "other")
RESPONSE_KINDS = ("interested", "declined")


class Member(Base):
    """A member social enterprise and what it can deliver, where, and at what size."""

    __tablename__ = "members"
    # Active members by name, read from the index alone (adding a member by name reads them).
    __table_args__ = (Index("ix_members_active_name", "active", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(300), unique=True)
    emails: Mapped[list[str]] = mapped_column(JSONType, default=list)
    description: Mapped[str] = mapped_column(Text, default="")
    keywords: Mapped[list[str]] = mapped_column(JSONType, default=list)
    exclude: Mapped[list[str]] = mapped_column(JSONType, default=list)
    cpv: Mapped[list[str]] = mapped_column(JSONType, default=list)
    # As written: council areas, NUTS 2016 codes, "all of Scotland", "UK".
    regions: Mapped[list[str]] = mapped_column(JSONType, default=list)
    min_value: Mapped[float | None] = mapped_column(Float)
    max_value: Mapped[float | None] = mapped_column(Float)
    supported_business: Mapped[bool] = mapped_column(Boolean, default=False)
    vcse: Mapped[bool] = mapped_column(Boolean, default=True)
    sme: Mapped[bool] = mapped_column(Boolean, default=True)
    frequency: Mapped[str] = mapped_column(String(10), default="weekly")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Any change to the member; profile_changed_at only for what matching reads.
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    profile_changed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # When the member was last matched against every notice (None: not yet).
    matched_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # E-mail: the last digest sent (what is newer goes in the next one), and when the
    # member unsubscribed from all e-mail (forwards included).
    last_digest_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    unsubscribed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    responses: Mapped[list[MemberResponse]] = relationship(
        back_populates="member", order_by="MemberResponse.created_at"
    )


class Match(Base):
    """A member's fit with a notice: the engine's score and its reasons."""

    __tablename__ = "matches"
    __table_args__ = (
        Index("ix_matches_notice_score", "notice_id", "score"),
        Index("ix_matches_member_score", "member_id", "score"),
        Index("uq_matches_member_notice", "member_id", "notice_id", unique=True),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"))
    notice_id: Mapped[int] = mapped_column(ForeignKey("notices.id", ondelete="CASCADE"))
    score: Mapped[int] = mapped_column(Integer)
    # [{"kind": "keyword", "text": "keyword \"grounds maintenance\" ≈ ..."}]
    reasons: Mapped[list[dict[str, str]]] = mapped_column(JSONType, default=list)
    # Set when a coordinator added the member by hand; re-matching never removes those.
    added_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)

    member: Mapped[Member] = relationship()


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


class CorpusSnapshot(Base):
    """Word statistics of the stored notices, which weigh keywords by how rare they are.

    Every process matches with the latest snapshot, so one notice gets one score
    whichever process matched it.
    """

    __tablename__ = "corpus_snapshots"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    built_at: Mapped[datetime] = mapped_column(UTCDateTime)
    notices: Mapped[int] = mapped_column(Integer)
    # zlib-compressed JSON of matchers.CorpusStats.to_json()
    data: Mapped[bytes] = mapped_column(LargeBinary)
