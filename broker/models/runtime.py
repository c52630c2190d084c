"""What the running broker records about itself: the scheduler's heartbeat, and the mark
of a database the demo made."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from broker.db import Base, UTCDateTime


class Heartbeat(Base):
    """A process's latest sign of life ("scheduler"), for /healthz and `broker check`."""

    __tablename__ = "heartbeats"

    name: Mapped[str] = mapped_column(String(60), primary_key=True)
    beat_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Which machine and process, for whoever reads /healthz.
    host: Mapped[str] = mapped_column(String(255))
    pid: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)


class DemoLoad(Base):
    """`broker up --demo` made this database: the day its notices' dates were moved to,
    and when loading finished (None while it runs, so an interrupted load resumes)."""

    __tablename__ = "demo_loads"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    today: Mapped[date] = mapped_column(Date)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
