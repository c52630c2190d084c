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
    # Two indexes, both in the order new rows arrive in: a new notice's matches go at the
    # end of the notice-led one, and at the end of each member's run in the member-led
    # one (notice ids only grow). An index led by (member, score) would put them all
    # over each member's run instead, and a harvest would rewrite twice the pages.
    # The member-led one carries the score, so a member's matches above a threshold
    # are found without reading the rows.
    __table_args__ = (
        Index("uq_matches_notice_member", "notice_id", "member_id", unique=True),
        Index("ix_matches_member_notice", "member_id", "notice_id", "score"),
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
