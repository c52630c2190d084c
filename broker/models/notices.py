"""Notices: one row per opportunity, with the source records merged into it."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..db import Base, JSONType, UTCDateTime


class Notice(Base):
    """An opportunity as the broker shows it: the merge of every source that published it."""

    __tablename__ = "notices"
    # Cross-source duplicate candidates: one publisher's notices due on given days.
    __table_args__ = (
        Index("ix_notices_primary_source_deadline_day", "primary_source", "deadline_day"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    title: Mapped[str] = mapped_column(Text)
    description: Mapped[str] = mapped_column(Text, default="")
    buyer: Mapped[str | None] = mapped_column(String(500))
    cpv: Mapped[list[str]] = mapped_column(JSONType, default=list)
    regions: Mapped[list[str]] = mapped_column(JSONType, default=list)
    place: Mapped[str | None] = mapped_column(Text)
    value_amount: Mapped[float | None] = mapped_column(Float)
    value_currency: Mapped[str | None] = mapped_column(String(3))
    value_min: Mapped[float | None] = mapped_column(Float)
    value_max: Mapped[float | None] = mapped_column(Float)
    published: Mapped[datetime | None] = mapped_column(UTCDateTime)
    deadline: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    # The deadline's calendar day, for cross-source duplicate candidates.
    deadline_day: Mapped[date | None] = mapped_column(Date)
    procedure: Mapped[str | None] = mapped_column(String(300))
    notice_type: Mapped[str] = mapped_column(String(20), default="tender")
    status: Mapped[str | None] = mapped_column(String(40))
    reserved: Mapped[bool] = mapped_column(Boolean, default=False)
    sme: Mapped[bool | None] = mapped_column(Boolean)
    vcse: Mapped[bool | None] = mapped_column(Boolean)
    community_benefits: Mapped[bool] = mapped_column(Boolean, default=False)
    lots: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, default=list)
    primary_source: Mapped[str] = mapped_column(String(60))
    first_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # When a deadline, value, text or status last changed after first publication.
    changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # When the notice was last matched against the members (None: not yet).
    matched_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    sources: Mapped[list[NoticeSource]] = relationship(
        back_populates="notice", order_by="NoticeSource.id"
    )
    changes: Mapped[list[NoticeChange]] = relationship(
        back_populates="notice", order_by="NoticeChange.id"
    )


class NoticeSource(Base):
    """One publisher's record of a notice, with the raw releases it was built from."""

    __tablename__ = "notice_sources"
    __table_args__ = (UniqueConstraint("source", "source_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    notice_id: Mapped[int] = mapped_column(ForeignKey("notices.id", ondelete="CASCADE"), index=True)
    source: Mapped[str] = mapped_column(String(60))
    source_id: Mapped[str] = mapped_column(String(300))
    url: Mapped[str | None] = mapped_column(Text)
    release_id: Mapped[str | None] = mapped_column(String(300))
    release_ids: Mapped[list[str]] = mapped_column(JSONType, default=list)
    release_date: Mapped[datetime | None] = mapped_column(UTCDateTime)
    content_hash: Mapped[str] = mapped_column(String(64))
    # The normalised notice from this source, so the merged row can be rebuilt.
    data: Mapped[dict[str, Any]] = mapped_column(JSONType)
    # zlib-compressed JSON list of the raw releases, to re-derive after a parser fix.
    raw: Mapped[bytes | None] = mapped_column(LargeBinary)
    first_seen_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)

    notice: Mapped[Notice] = relationship(back_populates="sources")


class NoticeKey(Base):
    """A cross-source identity (e.g. "pcs:843372") pointing at the notice that holds it."""

    __tablename__ = "notice_keys"

    key: Mapped[str] = mapped_column(String(120), primary_key=True)
    notice_id: Mapped[int] = mapped_column(ForeignKey("notices.id", ondelete="CASCADE"), index=True)

    notice: Mapped[Notice] = relationship()


class NoticeChange(Base):
    """One dated change to a notice: an amendment, a new deadline, another source."""

    __tablename__ = "notice_changes"
    __table_args__ = (Index("ix_notice_changes_changed_at", "changed_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    notice_id: Mapped[int] = mapped_column(ForeignKey("notices.id", ondelete="CASCADE"), index=True)
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    source: Mapped[str] = mapped_column(String(60))
    field: Mapped[str] = mapped_column(String(40))
    old: Mapped[str | None] = mapped_column(Text)
    new: Mapped[str | None] = mapped_column(Text)

    notice: Mapped[Notice] = relationship(back_populates="changes")
