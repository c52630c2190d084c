"""How the sources are doing: latest runs, failures in a row and the back-off they cause,
run history and rejected records (the Sources pages and `broker sources`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from broker.config import Settings, SourceSettings
from broker.errors import UnknownSource
from broker.harvest.catalogue import all_sources, find_source
from broker.harvest.stored import stored_row
from broker.models import ConfiguredSource, HarvestRun, RejectedRecord, SourceState
from broker.paging import Paged, paginate

IMPORT_PREFIX = "import:"


@dataclass(frozen=True)
class SourceHealth:
    """One configured source: its settings, saved state and latest run.

    `stored` is the row of a source added on the Sources page (None for config.toml's).
    """

    name: str
    settings: SourceSettings | None
    state: SourceState | None
    last_run: HarvestRun | None
    stored: ConfiguredSource | None = None

    @property
    def failures(self) -> int:
        """Failed runs in a row."""
        return self.state.consecutive_failures if self.state else 0

    def backing_off(self, now: datetime) -> bool:
        """Whether the scheduler is waiting longer than usual after repeated failures."""
        wait = self.state.next_attempt_at if self.state else None
        return wait is not None and wait > now


def overview(session: Session, settings: Settings) -> list[SourceHealth]:
    """Every source's health: config.toml's in file order, then those added on the page."""
    health = source_health(session)
    rows = {row.name: row for row in session.scalars(select(ConfiguredSource))}
    return [
        SourceHealth(
            name,
            source,
            *health.get(name, (None, None)),
            stored=rows.get(name) if name not in settings.sources else None,
        )
        for name, source in all_sources(session, settings).items()
    ]


def source_detail(session: Session, settings: Settings, name: str) -> SourceHealth:
    """One source's health: a configured or stored source, or a file import that has run.

    Raises UnknownSource for anything else.
    """
    source = find_source(session, settings, name)
    stored = stored_row(session, name) if name not in settings.sources else None
    if source is None and not (
        name.startswith(IMPORT_PREFIX)
        and session.scalar(select(HarvestRun.id).where(HarvestRun.source == name).limit(1))
    ):
        raise UnknownSource(f"no source called '{name}'")
    state, last = source_health(session).get(name, (None, None))
    if last is None:
        last = latest_run(session, name)
    return SourceHealth(name, source, state, last, stored)


def runs(session: Session, name: str, page: int, page_size: int) -> Paged[HarvestRun]:
    """A source's runs, newest first."""
    query = (
        select(HarvestRun)
        .where(HarvestRun.source == name)
        .order_by(HarvestRun.started_at.desc(), HarvestRun.id.desc())
    )
    return paginate(session, query, page, page_size)


def rejected(
    session: Session, name: str, page: int, page_size: int, kept: bool | None = None
) -> Paged[RejectedRecord]:
    """Records a source's runs rejected (or kept with a problem, `kept`), newest first.

    Found through the runs: a kept record is filed under its publisher, not the source.
    """
    query = select(RejectedRecord).where(
        RejectedRecord.run_id.in_(select(HarvestRun.id).where(HarvestRun.source == name))
    )
    if kept is not None:
        query = query.where(RejectedRecord.kept.is_(kept))
    query = query.order_by(RejectedRecord.created_at.desc(), RejectedRecord.id.desc())
    return paginate(session, query, page, page_size)


def rejected_in_run(session: Session, run_id: int, limit: int) -> tuple[list[RejectedRecord], int]:
    """The first `limit` records one run rejected, in the order met, and how many in all."""
    rejected_here = (RejectedRecord.run_id == run_id) & RejectedRecord.kept.is_(False)
    first = list(
        session.scalars(
            select(RejectedRecord).where(rejected_here).order_by(RejectedRecord.id).limit(limit)
        )
    )
    total = session.scalar(select(func.count(RejectedRecord.id)).where(rejected_here)) or 0
    return first, total


def imports(session: Session, page: int, page_size: int) -> Paged[HarvestRun]:
    """File imports' runs, newest first."""
    query = (
        select(HarvestRun)
        .where(HarvestRun.source.startswith(IMPORT_PREFIX, autoescape=True))
        .order_by(HarvestRun.started_at.desc(), HarvestRun.id.desc())
    )
    return paginate(session, query, page, page_size)


# After this many failed runs in a row a source waits longer before its next try.
BACKOFF_AFTER = 3


MAX_BACKOFF = timedelta(hours=24)


# A scheduled run this close to the end of a back-off goes ahead: the scheduler fires on
# the minute, the failed run started a moment after its own firing.
BACKOFF_SLACK = timedelta(seconds=30)


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
