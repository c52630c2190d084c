"""Running the service and looking after it: `broker up`, `broker scheduler`, `broker db`,
`broker init`, `broker check`, `broker backup` and `broker restore`."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import click
from flask import Flask
from sqlalchemy.engine import make_url

from broker import migrate
from broker.clock import utcnow
from broker.config import load_settings
from broker.runtime.terminal import Runtime, pass_runtime
from broker.web.server import exit_at_once

RESTORING = (
    "a restore (`broker restore`) is replacing this database right now; try again when it ends"
)


@click.command()
@click.option("--host", default=None, help="Address to listen on (default from config: 127.0.0.1).")
@click.option("--port", default=None, type=int, help="Port (default from config: 5000).")
@click.option(
    "--demo", is_flag=True, help="First load the recorded real notices shipped with the broker."
)
@click.option("--no-scheduler", is_flag=True, help="Serve the web app only; don't harvest.")
@pass_runtime
def up(rt: Runtime, host: str | None, port: int | None, demo: bool, no_scheduler: bool) -> None:
    """Upgrade the database, then serve the web app and run the scheduler."""
    # The address to listen on is also the one links in e-mails use (when web.base_url is
    # unset), in this process and every one it starts.
    if host:
        rt.override("web", host=host)
    if port:
        rt.override("web", port=port)
    if demo:
        # A demo never sends mail: the Outbox page shows what members would get.
        rt.override("mail", backend="log")
    settings = rt.settings
    with rt.in_use():
        migrate.upgrade(rt.engine)
        _say_where(rt)
        if demo:
            _load_demo(rt)
        run_scheduler = settings.scheduler.enabled and not no_scheduler
        if settings.web.workers > 1:
            code = _serve_workers(rt, run_scheduler)
        else:
            code = _serve_in_process(rt, run_scheduler)
    # Everything is stopped and closed: leave without tidying the heap for seconds.
    exit_at_once(code)


def _say_where(rt: Runtime) -> None:
    """Where the data is, and where links in e-mails point."""
    from broker.outreach.links import base_url

    settings = rt.settings
    click.echo(f"Instance folder: {settings.instance_path}")
    database = make_url(settings.database_url).render_as_string(hide_password=True)
    click.echo(f"Database: {database}")
    if not settings.web.base_url:
        click.echo(
            f"Links in e-mails point to {base_url(settings)}/ (set web.base_url for a network)"
        )


def _serve_in_process(rt: Runtime, run_scheduler: bool) -> int:
    """waitress threads in this process, and the scheduler beside them."""
    import waitress

    from broker.locks import exclusive
    from broker.runtime.scheduler import SCHEDULER_LOCK, build_scheduler, harvest_job_names
    from broker.runtime.stopping import stop_on_signals, wind_down

    settings, app = rt.settings, rt.app
    host, port = settings.web.host, settings.web.port
    # Ctrl+C or SIGTERM: waitress finishes the requests in progress, then the jobs stop.
    stop_on_signals(app)
    with exclusive(rt.engine, SCHEDULER_LOCK) as leader:
        scheduler = None
        try:
            if run_scheduler and leader:
                scheduler = build_scheduler(app)
                scheduler.start()
                names = ", ".join(harvest_job_names(scheduler)) or "none"
                click.echo(f"Scheduler started; sources: {names}")
            elif run_scheduler:
                click.echo(
                    "Another broker process is running the scheduler; serving the web app only."
                )
            click.echo(f"Serving the broker on http://{host}:{port}/ (Ctrl+C to stop)")
            waitress.serve(
                app, host=host, port=port, threads=settings.web.threads, ident="sen-broker"
            )
        except SystemExit:
            pass  # a signal before waitress started: stop all the same
        finally:
            wind_down(app, scheduler)
    return 0


def _worker_app(config_path: str | None, overrides: dict[str, Any]) -> Flask:
    """The app of one gunicorn worker, reading SQLite through the shared memory map."""
    from broker import create_app, db

    settings = load_settings(config_path, overrides=overrides)
    engine = db.make_engine(settings.database_url, settings.database.echo, memory_map=True)
    return create_app(settings, engine)


def _serve_workers(rt: Runtime, run_scheduler: bool) -> int:
    """gunicorn worker processes, and the scheduler in a process of its own."""
    from broker.runtime.processes import start_scheduler_process, stop_process
    from broker.web.server import WebServer, gunicorn_options

    settings = rt.settings
    host, port = settings.web.host, settings.web.port
    overrides = dict(rt.overrides)
    # Workers fork from this process: it must hold no database connection they'd share.
    rt.engine.dispose()
    scheduler = None
    if run_scheduler:
        scheduler, state = start_scheduler_process(rt.config_path, overrides)
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

    def stop_scheduler_too() -> None:
        if scheduler is not None and scheduler.poll() is None:
            scheduler.terminate()  # it winds down while the workers finish their requests

    try:
        WebServer(lambda: _worker_app(config_path, overrides), options, stop_scheduler_too).run()
    except SystemExit as exc:  # gunicorn's master ends this way, stopped or failed
        return exc.code if isinstance(exc.code, int) else 1
    finally:
        # Workers are forks of this process; only we stop the scheduler.
        if scheduler is not None and os.getpid() == here:
            stop_process(scheduler)
    return 0


@click.command()
@pass_runtime
def scheduler(rt: Runtime) -> None:
    """Run only the scheduler, in the foreground (for a separate process)."""
    from broker.locks import exclusive
    from broker.runtime.scheduler import SCHEDULER_LOCK, build_scheduler, harvest_job_names
    from broker.runtime.stopping import stop_flag, stop_on_signals, wind_down

    app = rt.app
    with rt.in_use(), exclusive(rt.engine, SCHEDULER_LOCK) as leader:
        if not leader:
            raise click.ClickException("another broker process is already running the scheduler")
        migrate.upgrade(rt.engine)
        stop_on_signals(app)
        scheduler = build_scheduler(app)
        try:
            scheduler.start()
            names = ", ".join(harvest_job_names(scheduler)) or "none"
            click.echo(f"Scheduler running; sources: {names} (Ctrl+C to stop)")
            flag = stop_flag(app)
            while not flag.wait(1.0):
                pass
        except SystemExit:
            pass  # Ctrl+C or SIGTERM
        finally:
            wind_down(app, scheduler)
    exit_at_once(0)


def _load_demo(rt: Runtime) -> None:
    from broker.matching.cache import get_cache
    from broker.outreach.compose import MailContext
    from broker.runtime.demo import DEMO_USER, load_demo

    loaded = load_demo(
        rt.sessions, rt.settings, utcnow, get_cache(rt.app), MailContext.for_app(rt.app)
    )
    if loaded.already:
        click.echo(
            f"Demo data is already here (dates moved to {loaded.today:%d %B %Y}); nothing changed."
        )
    else:
        for summary in loaded.summaries:
            click.echo(f"demo {summary.line()}")
        members = loaded.members
        if members is not None:
            click.echo(
                f"demo members: {len(members.created)} added, {len(members.errors)} problems"
            )
        click.echo(
            "demo history: " + ", ".join(f"{n} {what}" for what, n in loaded.history.items())
        )
        click.echo(f"Demo data: real notices, with their dates moved to {loaded.today:%d %B %Y}.")
    if loaded.password:
        click.echo(f"Demo login: {DEMO_USER} with password {loaded.password}")
    else:
        click.echo(f"Demo login: {DEMO_USER} (password as shown when it was first created)")


@click.group()
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


@click.command()
def init() -> None:
    """Write the commented config.toml (every setting, its default and what it does) here."""
    from broker.config import resource

    target = Path.cwd() / "config.toml"
    if target.exists():
        raise click.ClickException(f"{target} already exists; it was left as it is")
    shutil.copyfile(resource("config.toml"), target)
    click.echo(f"Wrote {target}: every setting with its default and what it does.")
    click.echo(
        "Edit it, set secrets in the environment (see its first lines), then run `broker check`."
    )


@click.command()
@click.pass_context
def check(ctx: click.Context) -> None:
    """Check the settings, the database, the secret key, the public address, the mail server
    and the sources; each line says what to fix."""
    from broker.runtime.checks import FAIL, WARN, run_checks

    rt: Runtime = ctx.find_object(Runtime)
    checks = run_checks(rt.config_path)
    for item in checks:
        click.echo(item.line())
    failed = sum(c.outcome == FAIL for c in checks)
    warned = sum(c.outcome == WARN for c in checks)
    if failed:
        click.echo(f"{failed} to fix, {warned} to look at before running it for a network.")
        ctx.exit(1)
    click.echo("Ready." if not warned else f"Ready to run; {warned} to look at for a network.")


@click.command()
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@pass_runtime
def backup(rt: Runtime, file: Path) -> None:
    """Copy the database to FILE while the broker runs (SQLite's online backup; pg_dump)."""
    from broker.runtime.backups import backup as take

    copied = take(rt.engine, file)
    what = f"{copied.notices} notices, " if copied.notices is not None else ""
    click.echo(f"Backed up to {copied.path} ({what}schema {copied.revision}).")


@click.command()
@click.argument("file", type=click.Path(dir_okay=False, exists=True, path_type=Path))
@pass_runtime
def restore(rt: Runtime, file: Path) -> None:
    """Put the SQLite backup FILE in place of the database (with no broker running on it)."""
    from broker.runtime.backups import restore as put_back

    copied, kept = put_back(rt.engine, file, utcnow())
    click.echo(
        f"Restored {file} ({copied.notices} notices, schema {copied.revision}) to {copied.path}."
    )
    if kept is not None:
        click.echo(f"The database it replaced is kept as {kept}.")
    if copied.revision != migrate.head_revision():
        click.echo("`broker up` (or `broker db upgrade`) brings its schema up to date.")
