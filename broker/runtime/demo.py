"""`broker up --demo`: load the recorded real notices and a few example members."""

from __future__ import annotations

import secrets
from datetime import datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from broker.accounts.users import create_user
from broker.config import Settings
from broker.harvest.running import Clock, RunSummary, import_file
from broker.matching.cache import MatcherCache
from broker.matching.store import match_pending
from broker.members.csv_format import ImportResult, import_csv
from broker.models import User

DEMO_DATA = Path(__file__).resolve().parent.parent / "demo_data"
DEMO_MEMBERS = DEMO_DATA / "members.csv"


def demo_files() -> list[Path]:
    """The recorded payloads, in a stable order."""
    return sorted(DEMO_DATA.glob("*.json"))


DEMO_USER = "demo@sen-broker.example"


def ensure_demo_user(session: Session, now: datetime) -> str | None:
    """Create the demo coordinator if missing; returns its new password (None if it exists)."""
    if session.scalar(select(User.id).where(User.email == DEMO_USER)) is not None:
        return None
    password = secrets.token_urlsafe(12)
    create_user(session, DEMO_USER, password, "admin", now, name="Demo coordinator")
    return password


def load_demo(
    sessions: sessionmaker[Session],
    settings: Settings,
    clock: Clock,
    cache: MatcherCache,
) -> tuple[list[RunSummary], ImportResult]:
    """Import the demo notices and members, and match them; loading twice changes nothing."""
    summaries = [import_file(sessions, settings, path, clock) for path in demo_files()]
    with sessions.begin() as session:
        with DEMO_MEMBERS.open(encoding="utf-8", newline="") as handle:
            members = import_csv(session, handle, clock(), where=DEMO_MEMBERS.name)
        match_pending(session, cache, clock())
    return summaries, members
