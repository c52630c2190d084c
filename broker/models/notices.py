"""Notices: one row per opportunity, with the source records merged into it."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    Computed,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from broker.db import Base, JSONType, UTCDateTime

# When several publishers carry one opportunity, whose copy wins: its text is the
# notice's, and its link is the one members are sent.
SOURCE_PRIORITY = ("pcs", "sell2wales", "find_a_tender", "contracts_finder", "ted")


class Notice(Base):
    """An opportunity as the broker shows it: the merge of every source that published it."""

    __tablename__ = "notices"
    __table_args__ = (
        # Cross-source duplicate candidates: one publisher's notices due on given days.
        Index("ix_notices_primary_source_deadline_day", "primary_source", "deadline_day"),
        # The dashboard's harvested and matched stages, each counted and valued by day
        # from its index alone (broker.dashboard).
        Index("ix_notices_first_seen_at", "first_seen_at", "value_amount", "value_currency"),
        Index(
            "ix_notices_first_matched_at",
            "first_matched_at",
            "value_amount",
            "value_currency",
            sqlite_where=text("first_matched_at IS NOT NULL"),
            postgresql_where=text("first_matched_at IS NOT NULL"),
        ),
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
    # Kept by the database: lets every backend sort unknown deadlines last from an index
    # (SQLite sorts NULL first, PostgreSQL last).
    no_deadline: Mapped[bool] = mapped_column(Boolean, Computed("deadline IS NULL"))
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
    first_seen_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # When a deadline, value, text or status last changed after first publication.
    changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # When the notice was last matched against the members (None: not yet).
    matched_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Triage: new, forwarded, dismissed or bid; and the match summary the queue sorts on.
    triage_status: Mapped[str] = mapped_column(String(20), default="new")
    triage_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Set together from the stored matches: best_score is None exactly when match_count is 0.
    best_score: Mapped[int | None] = mapped_column(Integer)
    match_count: Mapped[int] = mapped_column(Integer, default=0)
    # When a member was first matched to it; kept if the matches later go (the funnel
    # counts a notice as matched in the week it first was).
    first_matched_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    sources: Mapped[list[NoticeSource]] = relationship(
        back_populates="notice", order_by="NoticeSource.id"
    )
    changes: Mapped[list[NoticeChange]] = relationship(
        back_populates="notice", order_by="NoticeChange.id"
    )


# What the triage queue filters on besides its sort order.
QUEUE_FILTER_COLUMNS = ("triage_status", "value_amount", "reserved", "vcse")


def _queue_index(name: str, *order: Any) -> Index:
    """A partial index over matched notices: the sort columns, then the filter columns."""
    names = {getattr(c, "name", None) or c.element.name for c in order}
    rest = [Notice.__table__.c[c] for c in QUEUE_FILTER_COLUMNS if c not in names]
    matched = text("best_score IS NOT NULL")
    return Index(name, *order, *rest, sqlite_where=matched, postgresql_where=matched)


# The triage queue (broker.triage), one index per sort order. Only matched notices
# (best_score set) are in them, and each carries every column the queue filters on, so
# a page and its count are read from the index alone, in order, stopping early.
_queue_index(
    "ix_notices_queue_score",
    Notice.best_score.desc(),
    Notice.no_deadline,
    Notice.deadline,
    Notice.id,
)
_queue_index(
    "ix_notices_queue_deadline", Notice.no_deadline, Notice.deadline, Notice.id, Notice.best_score
)
_queue_index(
    "ix_notices_queue_newest", Notice.first_seen_at, Notice.id, Notice.best_score, Notice.deadline
)


class NoticeSource(Base):
    """One publisher's record of a notice, with the raw releases it was built from."""

    __tablename__ = "notice_sources"
    __table_args__ = (
        UniqueConstraint("source", "source_id"),
        # A notice's publishers, read from the index alone (the rows carry the raw releases).
        Index("ix_notice_sources_notice_source", "notice_id", "source"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    notice_id: Mapped[int] = mapped_column(ForeignKey("notices.id", ondelete="CASCADE"))
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


class NoticeRegion(Base):
    """One NUTS region of a notice, so the queue can filter by area with an index."""

    __tablename__ = "notice_regions"
    # text_pattern_ops: PostgreSQL ranges over it for the queue's `code LIKE 'UKM8%'`.
    __table_args__ = (
        Index(
            "ix_notice_regions_code",
            "code",
            "notice_id",
            postgresql_ops={"code": "text_pattern_ops"},
        ),
    )

    notice_id: Mapped[int] = mapped_column(
        ForeignKey("notices.id", ondelete="CASCADE"), primary_key=True
    )
    code: Mapped[str] = mapped_column(String(10), primary_key=True)
