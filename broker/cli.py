"""The `broker` command: run the service, harvest, import, export, inspect sources."""

from __future__ import annotations

import contextlib
import gc
import logging
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click
from flask import Flask
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from broker import migrate
from broker.clock import utcnow
from broker.config import Settings, load_settings
from broker.errors import BrokerError
from broker.harvesting import RunSummary, harvest_source, import_file
from broker.matching import store_hook
from broker.sources import source_health
from feeds.files import FORMATS as FILE_FORMATS

logger = logging.getLogger(__name__)
err = Console(stderr=True)


class Runtime:
    """What commands share: settings and the app, built on first use."""

    def __init__(self, config_path: str | None = None, app: Flask | None = None):
        self.config_path = config_path
        self._app = app

    @property
    def app(self) -> Flask:
        if self._app is None:
            from broker import create_app

            self._app = create_app(load_settings(self.config_path))
        return self._app

    @property
    def settings(self) -> Settings:
        return self.app.config["SETTINGS"]

    @property
    def engine(self) -> Engine:
        return self.app.extensions["broker.engine"]

    @property
    def sessions(self) -> sessionmaker[Session]:
        return self.app.extensions["broker.sessions"]


pass_runtime = click.make_pass_decorator(Runtime)


class BrokerGroup(click.Group):
    """Turns the broker's own errors into one clear line instead of a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except BrokerError as exc:
            raise click.ClickException(str(exc)) from None


@click.group(cls=BrokerGroup)
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False),
    help="Settings file (default: $BROKER_CONFIG, else ./config.toml).",
)
@click.pass_context
def cli(ctx: click.Context, config_path: str | None) -> None:
    """SEN Opportunity Broker: public contracts for social enterprises."""
    if ctx.obj is None:
        ctx.obj = Runtime(config_path)


@contextmanager
def progress_bar() -> Iterator[Progress]:
    """A live progress display on a terminal; silent when output is piped."""
    progress = Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        console=err,
        transient=True,
        disable=not err.is_terminal,
    )
    with progress:
        yield progress


def _page_reporter(progress: Progress, label: str) -> Callable[[Any, RunSummary], None]:
    task = progress.add_task(label)

    def report(_page: Any, summary: RunSummary) -> None:
        progress.update(
            task,
            description=f"{label}: page {summary.pages}, {summary.new} new, "
            f"{summary.updated} updated, {summary.rejected} rejected",
        )

    return report


# --- the service -------------------------------------------------------------------


@cli.command()
@click.option("--host", default=None, help="Address to listen on (default from config: 127.0.0.1).")
@click.option("--port", default=None, type=int, help="Port (default from config: 5000).")
@click.option(
    "--demo", is_flag=True, help="First load the recorded real notices shipped with the broker."
)
@click.option("--no-scheduler", is_flag=True, help="Serve the web app only; don't harvest.")
@pass_runtime
def up(rt: Runtime, host: str | None, port: int | None, demo: bool, no_scheduler: bool) -> None:
    """Upgrade the database, then serve the web app and run the scheduler."""
    settings = rt.settings
    migrate.upgrade(rt.engine)
    if demo:
        _load_demo(rt)
    host = host or settings.web.host
    port = port or settings.web.port
    run_scheduler = settings.scheduler.enabled and not no_scheduler
    if settings.web.workers > 1:
        _serve_workers(rt, host, port, run_scheduler)
    else:
        _serve_in_process(rt, host, port, run_scheduler)


def _serve_in_process(rt: Runtime, host: str, port: int, run_scheduler: bool) -> None:
    """waitress threads in this process, and the scheduler beside them."""
    import waitress

    from broker.locks import exclusive
    from broker.scheduler import SCHEDULER_LOCK, build_scheduler, harvest_job_names

    settings = rt.settings
    with exclusive(rt.engine, SCHEDULER_LOCK) as leader:
        scheduler = None
        if run_scheduler and leader:
            scheduler = build_scheduler(rt.app)
            scheduler.start()
            names = ", ".join(harvest_job_names(scheduler)) or "none"
            click.echo(f"Scheduler started; sources: {names}")
        elif run_scheduler:
            click.echo("Another broker process is running the scheduler; serving the web app only.")
        click.echo(f"Serving the broker on http://{host}:{port}/ (Ctrl+C to stop)")
        try:
            waitress.serve(
                rt.app, host=host, port=port, threads=settings.web.threads, ident="sen-broker"
            )
        finally:
            if scheduler is not None:
                scheduler.shutdown(wait=False)


def _worker_app(config_path: str | None) -> Flask:
    """The app of one gunicorn worker, reading SQLite through the shared memory map."""
    from broker import create_app, db

    settings = load_settings(config_path)
    database = settings.database
    engine = db.make_engine(database.resolved_url(), database.echo, memory_map=True)
    return create_app(settings, engine)


def _serve_workers(rt: Runtime, host: str, port: int, run_scheduler: bool) -> None:
    """gunicorn worker processes, and the scheduler in a process of its own."""
    from broker.server import WebServer, gunicorn_options, start_scheduler_process, stop_process

    settings = rt.settings
    # Workers fork from this process: it must hold no database connection they'd share.
    rt.engine.dispose()
    scheduler = None
    if run_scheduler:
        scheduler, state = start_scheduler_process(rt.config_path)
        if state.startswith("started: "):
            click.echo(f"Scheduler started; sources: {state.removeprefix('started: ')}")
        elif state == "follower":
            click.echo("Another broker process is running the scheduler; serving the web app only.")
        else:
            click.echo(f"The scheduler did not start ({state}); serving the web app only.")
    click.echo(
        f"Serving the broker on http://{host}:{port}/ with {settings.web.workers} worker "
        "processes (Ctrl+C to stop)"
    )
    options = gunicorn_options(host, port, settings.web.workers, settings.web.threads)
    config_path = rt.config_path
    here = os.getpid()
    try:
        WebServer(lambda: _worker_app(config_path), options).run()
    finally:
        # Workers are forks of this process and leave through here too: only we stop it.
        if scheduler is not None and os.getpid() == here:
            stop_process(scheduler)


@cli.command()
@pass_runtime
def scheduler(rt: Runtime) -> None:
    """Run only the scheduler, in the foreground (for a separate process)."""
    from broker.locks import exclusive
    from broker.scheduler import SCHEDULER_LOCK, build_scheduler

    migrate.upgrade(rt.engine)
    with exclusive(rt.engine, SCHEDULER_LOCK) as leader:
        if not leader:
            raise click.ClickException("another broker process is already running the scheduler")
        click.echo("Scheduler running (Ctrl+C to stop)")
        with contextlib.suppress(KeyboardInterrupt, SystemExit):
            build_scheduler(rt.app, blocking=True).start()


def _load_demo(rt: Runtime) -> None:
    from broker.demo import DEMO_USER, ensure_demo_user, load_demo
    from broker.matching import get_cache

    summaries, members = load_demo(rt.sessions, rt.settings, utcnow, get_cache(rt.app))
    for summary in summaries:
        click.echo(f"demo {summary.line()}")
    click.echo(f"demo members: {len(members.created)} added, {len(members.errors)} problems")
    with rt.sessions.begin() as session:
        password = ensure_demo_user(session, utcnow())
    if password:
        click.echo(f"Demo login: {DEMO_USER} with password {password}")
    else:
        click.echo(f"Demo login: {DEMO_USER} (password as shown when it was first created)")


@cli.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
@pass_runtime
def db_upgrade(rt: Runtime) -> None:
    """Apply every migration not yet applied."""
    before = migrate.current_revision(rt.engine)
    migrate.upgrade(rt.engine)
    after = migrate.current_revision(rt.engine)
    if before == after:
        click.echo(f"Database already at {after}.")
    else:
        click.echo(f"Database upgraded from {before or 'empty'} to {after}.")


@db.command("current")
@pass_runtime
def db_current(rt: Runtime) -> None:
    """Show the schema revision and the newest one this code ships."""
    click.echo(
        f"database: {migrate.current_revision(rt.engine) or 'empty'}; "
        f"code: {migrate.head_revision()}"
    )


# --- harvesting --------------------------------------------------------------------


@cli.command()
@click.argument("sources", nargs=-1)
@pass_runtime
def harvest(rt: Runtime, sources: tuple[str, ...]) -> None:
    """Harvest SOURCES now (default: every enabled source, in config.toml or added on the
    Sources page)."""
    from broker.errors import UnknownSource
    from broker.stored_sources import all_sources

    settings = rt.settings
    with rt.sessions() as session:
        known = all_sources(session, settings)
    names = list(sources) or [s.name for s in known.values() if s.enabled]
    if not names:
        click.echo("No sources are enabled in config.toml or on the Sources page.")
        return
    unknown = [name for name in names if name not in known]
    if unknown:
        raise UnknownSource(
            f"no source called {', '.join(repr(n) for n in unknown)} in config.toml or on the "
            f"Sources page (configured: {', '.join(known) or 'none'})"
        )
    summaries = []
    with progress_bar() as progress:
        for name in names:
            try:
                summary = harvest_source(
                    rt.sessions,
                    settings,
                    name,
                    utcnow,
                    trigger="cli",
                    on_page=_page_reporter(progress, name),
                    after_store=store_hook(rt.app),
                )
            except Exception as exc:  # one source's trouble must not stop the others
                logger.exception("harvest of %s failed", name)
                summary = RunSummary(name, 0, "failed", 0, 0, 0, 0, 0, 0, 0, f"{exc}")
            summaries.append(summary)
    _tell_members(rt)
    _finish(summaries, "harvested")


@cli.command("import")
@click.argument("paths", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option(
    "--format",
    "file_format",
    type=click.Choice(list(FILE_FORMATS)),
    default="auto",
    show_default=True,
    help="File format: ocds (OCDS JSON), ted (TED notice XML, eForms or R2.0.9, alone or "
    "zipped, or a saved TED search response); auto tells them apart from the content.",
)
@pass_runtime
def import_(rt: Runtime, paths: tuple[str, ...], file_format: str) -> None:
    """Import downloaded notice files with the harvesters' own parsers."""
    summaries = []
    with bulk_allocation(), progress_bar() as progress:
        for raw_path in paths:
            path = Path(raw_path)
            summaries.append(
                import_file(
                    rt.sessions,
                    rt.settings,
                    path,
                    utcnow,
                    file_format=file_format,
                    on_page=_page_reporter(progress, path.name),
                    after_store=store_hook(rt.app),
                    background=True,
                )
            )
    _tell_members(rt)
    _finish(summaries, "imported")


@contextmanager
def bulk_allocation() -> Iterator[None]:
    """Collect garbage less often while a bulk import makes millions of short-lived objects.

    They form few reference cycles, so this is about a tenth faster and peak memory
    stays the same; the collector's settings are restored afterwards.
    """
    thresholds = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(50_000, 50, 100)
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)
        gc.unfreeze()


def _finish(summaries: list[RunSummary], verb: str) -> None:
    for summary in summaries:
        click.echo(summary.line())
    total = sum(s.stored for s in summaries)
    new = sum(s.new for s in summaries)
    rejected = sum(s.rejected for s in summaries)
    failed = [s for s in summaries if s.status == "failed"]
    click.echo(
        f"Done: {verb} {total} records ({new} new notices, {rejected} rejected) "
        f"from {len(summaries)} {'source' if len(summaries) == 1 else 'sources'}"
        + (f"; {len(failed)} failed" if failed else "")
        + "."
    )
    if total == 0 and any(s.error or s.status in ("failed", "skipped") for s in summaries):
        sys.exit(1)


@cli.command()
@pass_runtime
def sources(rt: Runtime) -> None:
    """Each source (config.toml's and those added on the Sources page) with its health."""
    from broker.stored_sources import all_sources

    with rt.sessions() as session:
        health = source_health(session)
        known = all_sources(session, rt.settings)
    table = Table(title="Sources")
    for column in (
        "source",
        "kind",
        "from",
        "enabled",
        "every",
        "last run",
        "status",
        "new/upd/rej",
        "failures",
        "backing off until",
        "last error",
    ):
        table.add_column(column)
    now = utcnow()
    for name, source in known.items():
        state, run = health.get(name, (None, None))
        wait = state.next_attempt_at if state else None
        table.add_row(
            name,
            source.kind,
            "config.toml" if name in rt.settings.sources else "Sources page",
            "yes" if source.enabled else "no",
            f"{source.interval_minutes} min",
            run.started_at.strftime("%Y-%m-%d %H:%M") if run else "never",
            run.status if run else "-",
            f"{run.new}/{run.updated}/{run.rejected}" if run else "-",
            str(state.consecutive_failures) if state else "0",
            wait.strftime("%Y-%m-%d %H:%M") if wait and wait > now else "-",
            (run.error or "") if run else "",
        )
    Console(width=200).print(table)


# --- members and matching ------------------------------------------------------------


@cli.command()
@click.option(
    "--all",
    "everything",
    is_flag=True,
    help="Re-match every notice against every member, not just what is out of date.",
)
@pass_runtime
def match(rt: Runtime, everything: bool) -> None:
    """Match notices against member profiles (new notices and edited members)."""
    from broker.matching import get_cache, match_all, match_pending

    cache = get_cache(rt.app)
    with rt.sessions.begin() as session, bulk_allocation():
        result = (match_all if everything else match_pending)(session, cache, utcnow())
    _tell_members(rt)
    click.echo(f"Done: {result.line()}.")


def _tell_members(rt: Runtime) -> None:
    """After matching: queue the instant alerts and change notices it calls for."""
    from broker.jobs import tell_members

    notified = tell_members(rt.app)
    if notified is not None and (notified.alerts.emails or notified.changes.emails):
        click.echo(f"Queued {notified.line().removeprefix('e-mail: ')}.")


@cli.group()
def members() -> None:
    """Member social enterprises and their capability profiles."""


@members.command("import")
@click.argument("path", type=click.Path(dir_okay=False, exists=True))
@pass_runtime
def members_import(rt: Runtime, path: str) -> None:
    """Create or update members from a CSV file (matched by name), then re-match them."""
    from broker.matching import get_cache, match_members
    from broker.members import BadCsv, import_csv

    now = utcnow()
    with rt.sessions.begin() as session:
        try:
            with open(path, encoding="utf-8-sig", newline="") as handle:
                result = import_csv(session, handle, now, where=Path(path).name)
        except (BadCsv, UnicodeDecodeError) as exc:
            raise click.ClickException(str(exc)) from None
        matched = match_members(session, result.changed, get_cache(rt.app), now)
    for error in result.errors:
        click.echo(error, err=True)
    click.echo(
        f"Done: {len(result.created)} created, {len(result.updated)} updated, "
        f"{result.unchanged} unchanged, {len(result.errors)} problems; {matched.line()}."
    )
    if result.errors and not (result.created or result.updated or result.unchanged):
        sys.exit(1)


@members.command("export")
@click.option("--out", type=click.Path(dir_okay=False), help="Write here instead of stdout.")
@pass_runtime
def members_export(rt: Runtime, out: str | None) -> None:
    """Every member in the CSV import format."""
    from sqlalchemy import select

    from broker.members import export_csv
    from broker.models import Member

    with rt.sessions() as session:
        rows = session.scalars(select(Member).order_by(Member.name))
        if out:
            with open(out, "w", encoding="utf-8", newline="") as handle:
                count = export_csv(rows, handle)
            click.echo(f"Exported {count} members to {out}.", err=True)
        else:
            export_csv(rows, sys.stdout)


# --- member e-mail --------------------------------------------------------------------


@cli.group()
def mail() -> None:
    """Member e-mails: the outbox and digests."""


@mail.command("preview")
@click.argument("member")
@pass_runtime
def mail_preview(rt: Runtime, member: str) -> None:
    """Print MEMBER's next digest (a member id or exact name) without queuing it."""
    from sqlalchemy import select

    from broker.digests import preview
    from broker.emails import MailContext
    from broker.models import Member

    # A session that is never committed: previewing changes nothing.
    with rt.sessions() as session:
        found = session.get(Member, int(member)) if member.isdigit() else None
        if found is None:
            found = session.scalars(select(Member).where(Member.name == member)).first()
        if found is None:
            raise click.ClickException(f"no member has the id or name '{member}'")
        if found.frequency not in ("daily", "weekly"):
            click.echo(
                f"{found.name} gets {found.frequency} e-mail, not digests; "
                "this is what a digest would hold now.",
                err=True,
            )
        click.echo(preview(session, found, MailContext.for_app(rt.app), utcnow()), nl=False)
        session.rollback()


# --- users -------------------------------------------------------------------------


@cli.group()
def users() -> None:
    """Coordinators and admins who log in to the web app."""


@users.command("add")
@click.argument("email")
@click.option(
    "--role",
    type=click.Choice(["coordinator", "admin"]),
    default="coordinator",
    show_default=True,
    help="Admins also manage users and sources.",
)
@click.option("--name", default="", help="The name shown in the app.")
@pass_runtime
def users_add(rt: Runtime, email: str, role: str, name: str) -> None:
    """Add a user; the password is read from standard input or asked for twice."""
    from broker.users import create_user

    if sys.stdin.isatty():
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    else:
        password = sys.stdin.readline().rstrip("\r\n")
    with rt.sessions.begin() as session:
        user = create_user(session, email, password, role, utcnow(), name=name)
        click.echo(f"Added {user.role} {user.email}.")


@users.command("list")
@pass_runtime
def users_list(rt: Runtime) -> None:
    """Every user with their role and last login."""
    from sqlalchemy import select

    from broker.models import User

    with rt.sessions() as session:
        for user in session.scalars(select(User).order_by(User.email)):
            last = user.last_login_at.strftime("%Y-%m-%d %H:%M") if user.last_login_at else "never"
            state = "" if user.active else " (deactivated)"
            click.echo(f"{user.email}\t{user.role}{state}\tlast login {last}")


@mail.command("send")
@click.option(
    "--all",
    "include_waiting",
    is_flag=True,
    help="Also send messages waiting for a retry, without waiting for their next try.",
)
@pass_runtime
def mail_send(rt: Runtime, include_waiting: bool) -> None:
    """Send the outbox now: every message that is due, oldest first."""
    from broker.formatting import london
    from broker.mail import send_outbox

    report = send_outbox(rt.sessions, rt.settings, utcnow, include_waiting=include_waiting)
    for problem in report.failed:
        click.echo(f"Failed: #{problem.outbox_id} to {problem.to_address}: {problem.reason}")
    for problem in report.deferred:
        when = london(problem.next_attempt_at) if problem.next_attempt_at else "later"
        click.echo(
            f"Will retry: #{problem.outbox_id} to {problem.to_address}: {problem.reason} "
            f"(next try {when})"
        )
    click.echo(f"Done: {report.line()}.")
    if report.connection_failed and not report.sent:
        sys.exit(1)


@mail.command("status")
@pass_runtime
def mail_status(rt: Runtime) -> None:
    """How many messages wait, were sent and failed; the oldest waiting and recent failures."""
    from sqlalchemy import select

    from broker.formatting import london
    from broker.mail_status import counts
    from broker.models import OutboxMessage

    with rt.sessions() as session:
        state = counts(session)
        failures = session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.status == "failed")
            .order_by(OutboxMessage.created_at.desc(), OutboxMessage.id.desc())
            .limit(10)
        ).all()
    click.echo(f"Outbox: {state.queued} waiting, {state.sent} sent, {state.failed} failed.")
    if not rt.settings.mail.enabled:
        click.echo("Sending is off ([mail] enabled = false): messages wait in the outbox.")
    oldest = state.oldest_waiting
    if oldest is not None:
        line = (
            f'Oldest waiting: #{oldest.id} to {oldest.to_address}, "{oldest.subject}", '
            f"queued {london(oldest.created_at)}; "
            f"{oldest.attempts} {'try' if oldest.attempts == 1 else 'tries'} so far, "
            f"next try {london(oldest.next_attempt_at)}"
        )
        if oldest.last_error:
            line += f"; last error: {oldest.last_error}"
        click.echo(line)
    if failures:
        click.echo("Recent failures (retry them on the Outbox page):")
        for message in failures:
            click.echo(f"  #{message.id} to {message.to_address}: {message.last_error}")


# --- export ------------------------------------------------------------------------


@cli.group()
def export() -> None:
    """Export stored data."""


@export.command("notices")
@click.option(
    "--format",
    "file_format",
    type=click.Choice(["jsonl", "csv"]),
    default="jsonl",
    show_default=True,
)
@click.option("--out", type=click.Path(dir_okay=False), help="Write here instead of stdout.")
@pass_runtime
def export_notices(rt: Runtime, file_format: str, out: str | None) -> None:
    """Every notice, in the documented JSONL (or CSV) format."""
    from broker.export import notice_records, write_csv, write_jsonl

    writer = write_jsonl if file_format == "jsonl" else write_csv
    with rt.sessions() as session:
        if out:
            with open(out, "w", encoding="utf-8", newline="") as fh:
                count = writer(notice_records(session), fh)
            click.echo(f"Exported {count} notices to {out}.", err=True)
        else:
            writer(notice_records(session), sys.stdout)


def main() -> None:
    """Console-script entry point."""
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    cli(prog_name="broker")
