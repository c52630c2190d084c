"""`broker up --demo`: load the recorded real notices shipped with the broker."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from .config import Settings
from .harvesting import Clock, RunSummary, import_file

DEMO_DATA = Path(__file__).resolve().parent / "demo_data"


def demo_files() -> list[Path]:
    """The recorded payloads, in a stable order."""
    return sorted(DEMO_DATA.glob("*.json"))


def load_demo(
    sessions: sessionmaker[Session], settings: Settings, clock: Clock
) -> list[RunSummary]:
    """Import every demo file; importing twice changes nothing."""
    return [import_file(sessions, settings, path, clock) for path in demo_files()]
