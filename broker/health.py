"""How the sources are doing, for the sources pages: latest runs, failures and back-off,
run history, rejected records; and starting a harvest from the page.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime

from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from broker.config import Settings, SourceSettings
from broker.errors import UnknownSource
from broker.jobs import harvest_job
from broker.models import ConfiguredSource, HarvestRun, RejectedRecord, SourceState
from broker.paging import Paged, paginate
from broker.sources import latest_run, source_health
from broker.stored_sources import all_sources, find_source, stored_row

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


def imports(session: Session, page: int, page_size: int) -> Paged[HarvestRun]:
    """File imports' runs, newest first."""
    query = (
        select(HarvestRun)
        .where(HarvestRun.source.startswith(IMPORT_PREFIX, autoescape=True))
        .order_by(HarvestRun.started_at.desc(), HarvestRun.id.desc())
    )
    return paginate(session, query, page, page_size)


def start_harvest(app: Flask, session: Session, settings: Settings, name: str) -> threading.Thread:
    """Harvest a source now, in a background thread (the job's own sessions).

    Raises UnknownSource when no such source is configured or stored.
    """
    if find_source(session, settings, name) is None:
        raise UnknownSource(f"no source called '{name}'")
    # An admin asked for it: run even if the source is backing off after failures.
    thread = threading.Thread(
        target=harvest_job,
        args=(app, name),
        kwargs={"trigger": "manual", "force": True},
        name=f"harvest-{name}",
        daemon=True,
    )
    thread.start()
    return thread
