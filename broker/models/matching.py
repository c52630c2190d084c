"""Matching: each member's fit with a notice, and the word statistics that weigh keywords."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import ForeignKey, Index, Integer, LargeBinary
from sqlalchemy.orm import Mapped, mapped_column, relationship

from broker.db import Base, JSONType, UTCDateTime

if TYPE_CHECKING:
    from broker.models.members import Member


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
