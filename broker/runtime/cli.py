"""`broker up`, `broker scheduler` and `broker db`: running the service and its schema."""

from __future__ import annotations

import contextlib
import os

import click
from flask import Flask

from broker import migrate
from broker.clock import utcnow
from broker.config import load_settings
from broker.db import unit_of_work
from broker.runtime.terminal import Runtime, pass_runtime


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
    from broker.runtime.scheduler import SCHEDULER_LOCK, build_scheduler, harvest_job_names

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
    engine = db.make_engine(settings.database_url, settings.database.echo, memory_map=True)
    return create_app(settings, engine)


def _serve_workers(rt: Runtime, host: str, port: int, run_scheduler: bool) -> None:
    """gunicorn worker processes, and the scheduler in a process of its own."""
    from broker.runtime.processes import start_scheduler_process, stop_process
    from broker.web.server import WebServer, gunicorn_options

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


@click.command()
@pass_runtime
def scheduler(rt: Runtime) -> None:
    """Run only the scheduler, in the foreground (for a separate process)."""
    from broker.locks import exclusive
    from broker.runtime.scheduler import SCHEDULER_LOCK, build_scheduler

    migrate.upgrade(rt.engine)
    with exclusive(rt.engine, SCHEDULER_LOCK) as leader:
        if not leader:
            raise click.ClickException("another broker process is already running the scheduler")
        click.echo("Scheduler running (Ctrl+C to stop)")
        with contextlib.suppress(KeyboardInterrupt, SystemExit):
            build_scheduler(rt.app, blocking=True).start()


def _load_demo(rt: Runtime) -> None:
    from broker.matching.cache import get_cache
    from broker.runtime.demo import DEMO_USER, ensure_demo_user, load_demo

    summaries, members = load_demo(rt.sessions, rt.settings, utcnow, get_cache(rt.app))
    for summary in summaries:
        click.echo(f"demo {summary.line()}")
    click.echo(f"demo members: {len(members.created)} added, {len(members.errors)} problems")
    with unit_of_work(rt.app) as session:
        password = ensure_demo_user(session, utcnow())
    if password:
        click.echo(f"Demo login: {DEMO_USER} with password {password}")
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
