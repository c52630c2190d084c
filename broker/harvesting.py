"""Running harvests and imports: pages in, one transaction per page, runs recorded.

A source's pages are stored one transaction each, together with the source's saved
state, so a crash between pages loses nothing already stored and the next run
resumes where the last stored page left off.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

import feeds
from feeds import files
from feeds.errors import FeedError
from feeds.http import Fetcher, HttpPolicy
from feeds.types import Page

from .config import Settings, SourceSettings
from .dedupe import Thresholds
from .errors import UnknownSource
from .intake import StoreResult, store_notices
from .locks import exclusive
from .models import HarvestRun, RejectedRecord, SourceState

logger = logging.getLogger(__name__)

Clock = Callable[[], datetime]
AfterStore = Callable[[Session, StoreResult, datetime], None]

# After this many failed runs in a row a source waits longer before its next try.
BACKOFF_AFTER = 3
MAX_BACKOFF = timedelta(hours=24)


@dataclass(frozen=True)
class RunSummary:
    """How one run went, for the CLI's one-line summary and the sources page."""

    source: str
    run_id: int
    status: str
    pages: int
    failed_pages: int
    new: int
    updated: int
    merged: int
    unchanged: int
    rejected: int
    error: str | None

    @property
    def stored(self) -> int:
        """Records read successfully, whatever they did to the store."""
        return self.new + self.updated + self.merged + self.unchanged

    def line(self) -> str:
        """One line: what happened, and the last error if any."""
        text = (
            f"{self.source}: {self.status} — {self.new} new, {self.updated} updated, "
            f"{self.merged} merged, {self.unchanged} unchanged, {self.rejected} rejected"
        )
        if self.failed_pages:
            text += f", {self.failed_pages} of {self.pages} pages failed"
        if self.error:
            text += f" (last error: {self.error})"
        return text


def build_harvester(source: SourceSettings) -> Any:
    """The configured harvester object for one [sources.NAME] entry."""
    return feeds.get(source.kind)(name=source.name, options=source.options)


def build_fetcher(settings: Settings, source: SourceSettings, harvester: Any) -> Fetcher:
    """An HTTP client with the global limits, the source's defaults and its own delay."""
    http = settings.http
    defaults = dict(getattr(harvester, "http_defaults", {}) or {})
    delay = source.delay_seconds if source.delay_seconds is not None else defaults.get("delay", 0)
    policy = HttpPolicy(
        timeout=http.timeout_seconds,
        total_timeout=http.total_timeout_seconds,
        max_bytes=http.max_bytes,
        user_agent=http.user_agent,
        retries=http.retries,
        backoff=http.backoff_seconds,
        max_wait=http.max_wait_seconds,
        delay=float(delay),
        throttle=dict(defaults.get("throttle", {})),
    )
    return Fetcher(policy)


def harvest_source(
    sessions: sessionmaker[Session],
    settings: Settings,
    name: str,
    clock: Clock,
    *,
    trigger: str = "schedule",
    fetcher: Any = None,
    after_store: AfterStore | None = None,
    on_page: Callable[[Page, RunSummary], None] | None = None,
) -> RunSummary:
    """Harvest one configured source from its saved state."""
    source = settings.sources.get(name)
    if source is None:
        known = ", ".join(sorted(settings.sources)) or "none"
        raise UnknownSource(f"no source called '{name}' in config.toml (configured: {known})")
    harvester = build_harvester(source)
    with exclusive(sessions.kw["bind"], f"harvest:{name}") as acquired:
        if not acquired:
            return RunSummary(
                source=name,
                run_id=0,
                status="skipped",
                pages=0,
                failed_pages=0,
                new=0,
                updated=0,
                merged=0,
                unchanged=0,
                rejected=0,
                error="another process is harvesting this source right now",
            )
        own_fetcher = fetcher is None
        fetch = fetcher or build_fetcher(settings, source, harvester)
        with sessions.begin() as session:
            state = _state_row(session, name, clock()).state or {}
        try:
            pages = harvester.pages(fetch, dict(state), clock())
            return run_pages(
                sessions,
                name,
                pages,
                clock,
                settings=settings,
                trigger=trigger,
                after_store=after_store,
                on_page=on_page,
                save_state=True,
            )
        finally:
            if own_fetcher:
                fetch.close()


def import_file(
    sessions: sessionmaker[Session],
    settings: Settings,
    path: Path,
    clock: Clock,
    *,
    file_format: str = "auto",
    after_store: AfterStore | None = None,
    on_page: Callable[[Page, RunSummary], None] | None = None,
) -> RunSummary:
    """Import a downloaded file with the harvesters' own parsers."""
    pages = files.read_file(path, batch_size=settings.harvest.batch_size, file_format=file_format)
    return run_pages(
        sessions,
        f"import:{path.name}",
        pages,
        clock,
        settings=settings,
        trigger="import",
        after_store=after_store,
        on_page=on_page,
        save_state=False,
    )


def run_pages(
    sessions: sessionmaker[Session],
    name: str,
    pages: Iterator[Page],
    clock: Clock,
    *,
    settings: Settings,
    trigger: str,
    after_store: AfterStore | None = None,
    on_page: Callable[[Page, RunSummary], None] | None = None,
    save_state: bool = True,
) -> RunSummary:
    """Store every page in its own transaction and record the run."""
    thresholds = Thresholds(
        title=settings.harvest.dedupe_title_threshold,
        buyer=settings.harvest.dedupe_buyer_threshold,
    )
    with sessions.begin() as session:
        run = HarvestRun(source=name, trigger=trigger, started_at=clock(), status="running")
        session.add(run)
        session.flush()
        run_id = run.id
    counts = _Counts()
    fatal: str | None = None
    try:
        for page in pages:
            with sessions.begin() as session:
                now = clock()
                _store_page(
                    session,
                    run_id,
                    name,
                    page,
                    now,
                    counts,
                    thresholds,
                    settings.harvest.keep_raw,
                    after_store,
                    save_state,
                )
            if on_page:
                on_page(page, counts.summary(name, run_id, "running"))
    except FeedError as exc:
        fatal = str(exc)
        logger.warning("harvest of %s stopped: %s", name, exc)
    except Exception as exc:  # one broken source must never stop the scheduler or others
        fatal = f"internal error: {type(exc).__name__}: {exc}"
        logger.exception("harvest of %s failed", name)
    status = _status(counts, fatal)
    with sessions.begin() as session:
        now = clock()
        run = session.get(HarvestRun, run_id)
        run.finished_at = now
        run.status = status
        run.error = fatal or counts.last_error
        counts.write(run)
        if save_state:
            _record_health(session, name, status, run.error, now, settings)
    return counts.summary(name, run_id, status, fatal)


class _Counts:
    def __init__(self) -> None:
        self.pages = self.failed_pages = 0
        self.new = self.updated = self.merged = self.unchanged = self.rejected = 0
        self.last_error: str | None = None

    def add(self, result: StoreResult) -> None:
        self.new += len(result.new)
        self.updated += len(result.updated)
        self.merged += result.merged
        self.unchanged += result.unchanged

    def write(self, run: HarvestRun) -> None:
        run.pages, run.failed_pages = self.pages, self.failed_pages
        run.new, run.updated, run.merged = self.new, self.updated, self.merged
        run.unchanged, run.rejected = self.unchanged, self.rejected

    def summary(self, name: str, run_id: int, status: str, fatal: str | None = None) -> RunSummary:
        return RunSummary(
            source=name,
            run_id=run_id,
            status=status,
            pages=self.pages,
            failed_pages=self.failed_pages,
            new=self.new,
            updated=self.updated,
            merged=self.merged,
            unchanged=self.unchanged,
            rejected=self.rejected,
            error=fatal or self.last_error,
        )


def _store_page(
    session: Session,
    run_id: int,
    name: str,
    page: Page,
    now: datetime,
    counts: _Counts,
    thresholds: Thresholds,
    keep_raw: bool,
    after_store: AfterStore | None,
    save_state: bool,
) -> None:
    counts.pages += 1
    if page.error:
        counts.failed_pages += 1
        counts.last_error = f"{page.label}: {page.error}"
    if page.notices:
        result = store_notices(session, page.notices, now, thresholds=thresholds, keep_raw=keep_raw)
        counts.add(result)
        if after_store and result.touched:
            after_store(session, result, now)
    for rejection in page.rejections:
        counts.rejected += 1
        session.add(
            RejectedRecord(
                run_id=run_id,
                source=rejection.source or name,
                position=rejection.position,
                record_id=rejection.record_id,
                reason=rejection.reason,
                kept=False,
                created_at=now,
            )
        )
    for notice in page.notices:
        for problem in notice.problems:
            session.add(
                RejectedRecord(
                    run_id=run_id,
                    source=notice.source,
                    position=page.label,
                    record_id=notice.source_id,
                    reason=problem,
                    kept=True,
                    created_at=now,
                )
            )
    if save_state and page.state is not None:
        row = _state_row(session, name, now)
        row.state = dict(page.state)
        row.updated_at = now
    run = session.get(HarvestRun, run_id)
    counts.write(run)
    run.error = counts.last_error


def _status(counts: _Counts, fatal: str | None) -> str:
    if fatal and counts.pages == 0:
        return "failed"
    if counts.pages and counts.failed_pages == counts.pages:
        return "failed"
    if fatal or counts.failed_pages or counts.rejected:
        return "partial"
    return "ok"


def _state_row(session: Session, name: str, now: datetime) -> SourceState:
    row = session.get(SourceState, name)
    if row is None:
        row = SourceState(name=name, state={}, updated_at=now, consecutive_failures=0)
        session.add(row)
        session.flush()
    return row


def _record_health(
    session: Session,
    name: str,
    status: str,
    error: str | None,
    now: datetime,
    settings: Settings,
) -> None:
    row = _state_row(session, name, now)
    if status == "failed":
        row.consecutive_failures += 1
        row.last_error = error
        row.next_attempt_at = now + backoff_delay(row.consecutive_failures, settings, name)
    else:
        row.consecutive_failures = 0
        row.last_error = error
        row.next_attempt_at = None


def backoff_delay(failures: int, settings: Settings, name: str) -> timedelta:
    """How long a source waits after `failures` failed runs in a row."""
    source = settings.sources.get(name)
    interval = timedelta(minutes=source.interval_minutes if source else 60)
    if failures < BACKOFF_AFTER:
        return interval
    return min(interval * 2 ** (failures - BACKOFF_AFTER + 1), max(MAX_BACKOFF, interval))


def source_health(session: Session) -> dict[str, tuple[SourceState, HarvestRun | None]]:
    """Each source's saved state and its latest run."""
    states = {row.name: row for row in session.scalars(select(SourceState))}
    result = {}
    for name, state in states.items():
        last = session.scalars(
            select(HarvestRun)
            .where(HarvestRun.source == name)
            .order_by(HarvestRun.started_at.desc(), HarvestRun.id.desc())
            .limit(1)
        ).first()
        result[name] = (state, last)
    return result
