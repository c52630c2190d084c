"""Running harvests and imports: pages in, one transaction per page, runs recorded.

A source's pages are stored one transaction each, together with the source's saved
state, so a crash between pages loses nothing already stored and the next run
resumes where the last stored page left off.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import update
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from broker.config import Settings
from broker.errors import Stopped, UnknownSource
from broker.harvest.catalogue import all_sources, build_fetcher, build_harvester, find_source
from broker.harvest.health import record_health, state_row
from broker.harvest.prefetch import prepared_pages
from broker.locks import exclusive
from broker.models import HarvestRun, RejectedRecord
from broker.notices.dedupe import Thresholds
from broker.notices.records import Packed, Prepared, prepare, storable_json, storable_text
from broker.notices.storing import StoreResult, store_notices
from feeds import files
from feeds.errors import FeedError
from feeds.types import Page, Rejection

logger = logging.getLogger(__name__)

Clock = Callable[[], datetime]
# The database is unreachable or busy, not refusing a record: nothing in the page is at
# fault, so the run stops without storing it and the next run fetches it again.
DATABASE_AWAY = (OperationalError, InterfaceError)
# Called with each page's new and changed notices (their ids), in the page's transaction.
AfterStore = Callable[[Session, list[int], datetime], None]
STOPPED = (
    "stopped: the broker was shut down (Ctrl+C or SIGTERM); the next run resumes from the "
    "last page stored"
)
INTERRUPTED = (
    "stopped before it finished (the process ended); the next run resumed from the last page stored"
)


def stoppable_sleep(stop: threading.Event | None) -> Callable[[float], None]:
    """A pause that ends the harvest (raises Stopped) as soon as `stop` is set."""

    def sleep(seconds: float) -> None:
        if stop is None:
            time.sleep(seconds)
        elif stop.wait(seconds):
            raise Stopped

    return sleep


@dataclass(frozen=True)
class RunSummary:
    """How one run went, for the CLI's one-line summary and the sources page."""

    source: str
    run_id: int
    status: str
    pages: int = 0
    failed_pages: int = 0
    new: int = 0
    updated: int = 0
    merged: int = 0
    unchanged: int = 0
    rejected: int = 0
    error: str | None = None

    @classmethod
    def not_run(cls, source: str, status: str, error: str) -> RunSummary:
        """A run that never started (another process had the source; it failed to start)."""
        return cls(source, run_id=0, status=status, error=error)

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
    stop: threading.Event | None = None,
) -> RunSummary:
    """Harvest one source (from config.toml or the Sources page) from its saved state.

    Setting `stop` ends the run at its next pause or page, as "interrupted": what it
    stored stays, and the next run resumes from the state saved with its last page.
    """
    with sessions() as session:
        source = find_source(session, settings, name)
        if source is None:
            known = ", ".join(all_sources(session, settings)) or "none"
            raise UnknownSource(
                f"no source called '{name}' in config.toml or on the Sources page "
                f"(configured: {known})"
            )
    # Downstream (back-off, health) looks the source up in settings.sources.
    settings = dataclasses.replace(settings, sources={**settings.sources, name: source})
    with exclusive(sessions.kw["bind"], f"harvest:{name}") as acquired:
        if not acquired:
            return RunSummary.not_run(
                name, "skipped", "another process is harvesting this source right now"
            )
        with sessions.begin() as session:
            close_interrupted_runs(session, name, clock())
            state = state_row(session, name, clock()).state or {}
        fetch = fetcher
        try:
            harvester = build_harvester(source)
            fetch = fetcher or build_fetcher(
                settings, source, harvester, sleep=stoppable_sleep(stop)
            )
            pages = harvester.pages(fetch, dict(state), clock())
        except (KeyError, TypeError, ValueError) as exc:
            # A source stored by an older version, say: recorded like any other failure.
            pages = iter([Page(name, error=f"cannot set up the harvester: {exc}")])
        try:
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
                stop=stop,
            )
        finally:
            if fetch is not None and fetcher is None:
                fetch.close()


def close_interrupted_runs(
    session: Session, name: str, now: datetime, reason: str = INTERRUPTED
) -> int:
    """Mark the source's runs still "running" as interrupted; flushes.

    Called while holding the source's harvest lock, so no such run is alive: its process
    died (killed, or the machine stopped) before it could finish, or is stopping and
    leaves the run behind. What it stored page by page stays, and the next run resumes
    from the state saved with its last page.
    """
    result = session.execute(
        update(HarvestRun)
        .where(HarvestRun.source == name, HarvestRun.status == "running")
        .values(status="interrupted", error=reason)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount:
        logger.warning("%s: %d earlier run(s) had been interrupted", name, result.rowcount)
    return result.rowcount


def import_file(
    sessions: sessionmaker[Session],
    settings: Settings,
    path: Path,
    clock: Clock,
    *,
    file_format: str = "auto",
    after_store: AfterStore | None = None,
    on_page: Callable[[Page, RunSummary], None] | None = None,
    background: bool = False,
) -> RunSummary:
    """Import a downloaded file with the harvesters' own parsers.

    With `background`, parsing runs in a worker process (for big files).
    """
    options = {"batch_size": settings.harvest.batch_size, "file_format": file_format}
    if background:
        pages = prepared_pages(path, keep_raw=settings.harvest.keep_raw, **options)
    else:
        pages = files.read_file(path, **options)
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
    stop: threading.Event | None = None,
) -> RunSummary:
    """Store every page in its own transaction and record the run.

    Ctrl+C (KeyboardInterrupt) or `stop` ends the run between pages, as interrupted.
    """
    run = _Run(sessions, name, clock, settings, after_store, save_state)
    run.start(trigger)
    fatal: str | None = None
    try:
        for page in pages:
            run.store(page)
            if on_page:
                on_page(page, run.counts.summary(name, run.id, "running"))
            if stop is not None and stop.is_set():
                raise Stopped
    except (Stopped, KeyboardInterrupt) as exc:
        logger.warning("harvest of %s stopped by a shutdown", name)
        summary = run.finish(STOPPED, interrupted=True)
        if isinstance(exc, KeyboardInterrupt):
            raise
        return summary
    except FeedError as exc:
        fatal = str(exc)
        logger.warning("harvest of %s stopped: %s", name, exc)
    except Exception as exc:  # one broken source must never stop the scheduler or others
        fatal = f"internal error: {type(exc).__name__}: {exc}"
        logger.exception("harvest of %s failed", name)
    return run.finish(fatal)


@dataclass
class _Counts:
    pages: int = 0
    failed_pages: int = 0
    new: int = 0
    updated: int = 0
    merged: int = 0
    unchanged: int = 0
    rejected: int = 0
    last_error: str | None = None

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


class _Run:
    """One harvest run: its row, its counts, and one transaction per page."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        name: str,
        clock: Clock,
        settings: Settings,
        after_store: AfterStore | None,
        save_state: bool,
    ):
        self.sessions = sessions
        self.name = name
        self.clock = clock
        self.settings = settings
        self.after_store = after_store
        self.save_state = save_state
        self.thresholds = Thresholds(
            title=settings.harvest.dedupe_title_threshold,
            buyer=settings.harvest.dedupe_buyer_threshold,
        )
        self.counts = _Counts()
        self.id = 0

    def start(self, trigger: str) -> None:
        with self.sessions.begin() as session:
            row = HarvestRun(
                source=self.name, trigger=trigger, started_at=self.clock(), status="running"
            )
            session.add(row)
            session.flush()
            self.id = row.id

    def store(self, page: Page) -> None:
        """Store one page in one transaction, with the state to resume from.

        If that fails on something in the page (a record the database refuses), its
        records are stored one transaction each and those that fail are rejected with
        the reason, so one bad record never loses the rest. If the database itself is
        away, nothing is stored and the run stops: the next one fetches the page again.
        """
        before = dataclasses.replace(self.counts)
        try:
            with self.sessions.begin() as session:
                self._store(session, page, self.clock())
            return
        except DATABASE_AWAY:
            self.counts = before
            raise
        except Exception as exc:
            self.counts = before
            if not page.notices:
                raise
            logger.warning(
                "%s: %s could not be stored in one go (%s); storing it record by record",
                self.name,
                page.label,
                _first_line(exc),
            )
        except BaseException:
            self.counts = before
            raise
        self._store_one_by_one(page)

    def _store_one_by_one(self, page: Page) -> None:
        refused: list[Rejection] = []
        for item in page.notices:
            before = dataclasses.replace(self.counts)
            try:
                with self.sessions.begin() as session:
                    self._store_notices(session, [item], page.label, self.clock())
            except DATABASE_AWAY:
                self.counts = before
                raise
            except Exception as exc:
                self.counts = before
                notice = item.notice if isinstance(item, Packed | Prepared) else item
                reason = f"could not be stored: {type(exc).__name__}: {_first_line(exc)}"
                logger.warning("%s %s: %s", notice.source, notice.source_id, reason)
                refused.append(Rejection(notice.source, page.label, reason, notice.source_id))
        rest = dataclasses.replace(page, notices=(), rejections=(*page.rejections, *refused))
        before = dataclasses.replace(self.counts)
        try:
            with self.sessions.begin() as session:
                self._store(session, rest, self.clock())
        except BaseException:
            self.counts = before
            raise

    def _store(self, session: Session, page: Page, now: datetime) -> None:
        counts = self.counts
        counts.pages += 1
        if page.error:
            counts.failed_pages += 1
            counts.last_error = storable_text(f"{page.label}: {page.error}")
        if page.notices:
            self._store_notices(session, page.notices, page.label, now)
        for rejection in page.rejections:
            counts.rejected += 1
            session.add(
                RejectedRecord(
                    run_id=self.id,
                    source=storable_text(rejection.source or self.name),
                    position=storable_text(rejection.position),
                    record_id=storable_text(rejection.record_id) if rejection.record_id else None,
                    reason=storable_text(rejection.reason),
                    kept=False,
                    created_at=now,
                )
            )
        if self.save_state and page.state is not None:
            state = state_row(session, self.name, now)
            state.state = storable_json(dict(page.state))
            state.updated_at = now
        row = session.get(HarvestRun, self.id)
        counts.write(row)
        row.error = counts.last_error

    def _store_notices(
        self, session: Session, items: Sequence[Any], label: str, now: datetime
    ) -> None:
        """Store notices, match them, and list the problems each was kept with."""
        keep_raw = self.settings.harvest.keep_raw
        prepared = [prepare(item, keep_raw) for item in items]
        result = store_notices(
            session, prepared, now, thresholds=self.thresholds, keep_raw=keep_raw
        )
        self.counts.add(result)
        if self.after_store and result.touched:
            self.after_store(session, result.touched, now)
        position = storable_text(label)
        session.add_all(
            RejectedRecord(
                run_id=self.id,
                source=item.notice.source,
                position=position,
                record_id=item.notice.source_id,
                reason=problem,
                kept=True,
                created_at=now,
            )
            for item in prepared
            for problem in item.notice.problems
        )

    def finish(self, fatal: str | None, interrupted: bool = False) -> RunSummary:
        """Close the run with its status and, for a harvested source, its health (not for a
        run a shutdown interrupted, which is no failure of the source)."""
        status = "interrupted" if interrupted else _status(self.counts, fatal)
        with self.sessions.begin() as session:
            now = self.clock()
            row = session.get(HarvestRun, self.id)
            row.finished_at = now
            row.status = status
            row.error = fatal or self.counts.last_error
            self.counts.write(row)
            if self.save_state and not interrupted:
                record_health(
                    session, self.name, status, row.error, now, self.settings, row.started_at
                )
        return self.counts.summary(self.name, self.id, status, fatal)


def _status(counts: _Counts, fatal: str | None) -> str:
    if fatal and counts.pages == 0:
        return "failed"
    if counts.pages and counts.failed_pages == counts.pages:
        return "failed"
    if fatal or counts.failed_pages or counts.rejected:
        return "partial"
    return "ok"


def _first_line(exc: BaseException) -> str:
    """An error's first line (SQLAlchemy puts the statement and parameters below it)."""
    text = str(exc).strip()
    return (text.splitlines()[0] if text else type(exc).__name__)[:300]
