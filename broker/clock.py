"""The real clock, used only at the edges (jobs and commands); services take `now`."""

from datetime import UTC, datetime


def utcnow() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)
