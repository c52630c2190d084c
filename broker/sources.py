"""Configured sources: building their harvesters and HTTP clients, and their health.

A source that fails three runs in a row waits longer before its next try (twice its
interval, then four times..., up to a day), and the wait is shown with its last error.
Before that, a failed source is simply tried again at its next scheduled run.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

import feeds
from broker.config import Settings, SourceSettings
from broker.models import HarvestRun, SourceState
from feeds.http import Fetcher, HttpPolicy

# After this many failed runs in a row a source waits longer before its next try.
BACKOFF_AFTER = 3
MAX_BACKOFF = timedelta(hours=24)
# A scheduled run this close to the end of a back-off goes ahead: the scheduler fires on
# the minute, the failed run started a moment after its own firing.
BACKOFF_SLACK = timedelta(seconds=30)


def build_harvester(source: SourceSettings) -> Any:
    """The configured harvester object for one [sources.NAME] entry."""
    return feeds.get(source.kind)(name=source.name, options=source.options)


def http_policy(settings: Settings, **changes: Any) -> HttpPolicy:
    """The [http] limits (timeouts, size cap, retries, User-Agent) as an HttpPolicy."""
    http = settings.http
    policy = HttpPolicy(
        timeout=http.timeout_seconds,
        total_timeout=http.total_timeout_seconds,
        max_bytes=http.max_bytes,
        user_agent=http.user_agent,
        retries=http.retries,
        backoff=http.backoff_seconds,
        max_wait=http.max_wait_seconds,
    )
    return policy.updated(changes)


def build_fetcher(settings: Settings, source: SourceSettings, harvester: Any) -> Fetcher:
    """An HTTP client with the global limits, the source's defaults and its own delay."""
    defaults = dict(getattr(harvester, "http_defaults", {}) or {})
    delay = source.delay_seconds if source.delay_seconds is not None else defaults.get("delay", 0)
    return Fetcher(
        http_policy(settings, delay=float(delay), throttle=dict(defaults.get("throttle", {})))
    )


def state_row(session: Session, name: str, now: datetime) -> SourceState:
    """A source's saved state, created empty on first use."""
    row = session.get(SourceState, name)
    if row is None:
        row = SourceState(name=name, state={}, updated_at=now, consecutive_failures=0)
        session.add(row)
        session.flush()
    return row


def record_health(
    session: Session,
    name: str,
    status: str,
    error: str | None,
    now: datetime,
    settings: Settings,
    started: datetime | None = None,
) -> None:
    """Count a run towards the source's health and, once it keeps failing, back it off.

    The wait counts from when the failed run started, as the schedule does, so a
    source backing off for twice its interval skips exactly one scheduled run.
    """
    row = state_row(session, name, now)
    if status == "failed":
        row.consecutive_failures += 1
        row.last_error = error
        if row.consecutive_failures >= BACKOFF_AFTER:
            delay = backoff_delay(row.consecutive_failures, settings, name)
            row.next_attempt_at = (started or now) + delay
        else:
            row.next_attempt_at = None
    else:
        row.consecutive_failures = 0
        row.last_error = error
        row.next_attempt_at = None


def backing_off(next_attempt_at: datetime | None, now: datetime) -> bool:
    """Whether a scheduled run at `now` should wait for a source's back-off to end."""
    return next_attempt_at is not None and next_attempt_at - now > BACKOFF_SLACK


def backoff_delay(failures: int, settings: Settings, name: str) -> timedelta:
    """How long a source waits after `failures` failed runs in a row (its interval at first)."""
    source = settings.sources.get(name)
    interval = timedelta(minutes=source.interval_minutes if source else 60)
    if failures < BACKOFF_AFTER:
        return interval
    return min(interval * 2 ** (failures - BACKOFF_AFTER + 1), max(MAX_BACKOFF, interval))


def latest_run(session: Session, name: str) -> HarvestRun | None:
    """A source's (or an import's) most recent run."""
    return session.scalars(
        select(HarvestRun)
        .where(HarvestRun.source == name)
        .order_by(HarvestRun.started_at.desc(), HarvestRun.id.desc())
        .limit(1)
    ).first()


def source_health(session: Session) -> dict[str, tuple[SourceState, HarvestRun | None]]:
    """Each source's saved state and its latest run."""
    states = {row.name: row for row in session.scalars(select(SourceState))}
    return {name: (state, latest_run(session, name)) for name, state in states.items()}
