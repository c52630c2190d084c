"""Members: social enterprises and their capability profiles."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import Boolean, Float, Index, Integer, String, Text, false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from broker.db import Base, JSONType, UTCDateTime

if TYPE_CHECKING:
    from broker.models.outreach import MemberResponse

FREQUENCIES = ("instant", "daily", "weekly", "off")


class Member(Base):
    """A member social enterprise and what it can deliver, where, and at what size."""

    __tablename__ = "members"
    # Active members by name, read from the index alone (adding a member by name reads them).
    __table_args__ = (
        Index("ix_members_active_name", "active", "name"),
        # The public directory reads listed members by name.
        Index("ix_members_listed_name", "listed", "name"),
    )

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
    # The member chose to appear in the network's public directory (off until they do).
    listed: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    website: Mapped[str | None] = mapped_column(String(500))
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
