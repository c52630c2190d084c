"""What every `broker` command shares: the settings and app, progress on a terminal, and
the step after matching that tells members."""

from __future__ import annotations

import dataclasses
import gc
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import click
from flask import Flask
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from broker.config import Settings, load_settings
from broker.locks import RUNNING_LOCK, shared

RESTORING = (
    "a restore (`broker restore`) is replacing this database right now; try again when it ends"
)

err = Console(stderr=True)


class Runtime:
    """What commands share: settings and the app, built on first use."""

    def __init__(self, config_path: str | None = None, app: Flask | None = None):
        self.config_path = config_path
        self._app = app
        # Settings a command changes for itself and every process it starts: `broker up`'s
        # --host and --port (which links in e-mails use), --demo's mail backend.
        self.overrides: dict[str, dict[str, Any]] = {}

    def override(self, section: str, **values: Any) -> None:
        """Change settings of one section, here and in the processes started from here."""
        self.overrides.setdefault(section, {}).update(values)
        if self._app is not None:
            settings = self._app.config["SETTINGS"]
            changed = dataclasses.replace(getattr(settings, section), **values)
            self._app.config["SETTINGS"] = dataclasses.replace(settings, **{section: changed})

    @property
    def app(self) -> Flask:
        if self._app is None:
            from broker import create_app

            self._app = create_app(load_settings(self.config_path, overrides=self.overrides))
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

    @contextmanager
    def in_use(self) -> Iterator[None]:
        """Hold the database as in use while a command runs, so that `broker restore`
        refuses to replace it meanwhile."""
        with shared(self.engine, RUNNING_LOCK) as free:
            if not free:
                raise click.ClickException(RESTORING)
            yield


pass_runtime = click.make_pass_decorator(Runtime)


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


def database_problem(rt: Runtime, exc: Exception) -> str:
    """What to do about a database error a command met: reach it, or upgrade it."""
    from sqlalchemy.engine import make_url

    from broker import migrate

    where = make_url(rt.settings.database_url).render_as_string(hide_password=True)
    first = (str(getattr(exc, "orig", None) or exc).strip().splitlines() or [""])[0]
    try:
        current = migrate.current_revision(rt.engine)
    except Exception:  # unreachable: say so, with the driver's own words
        return f"can't reach the database {where}: {first}"
    head = migrate.head_revision()
    if current != head:
        return (
            f"the database {where} is at revision {current or 'none (empty)'} and this "
            f"broker needs {head}: run `broker db upgrade` (`broker up` does it on start)"
        )
    return f"the database {where} refused the command: {first}"


def tell_members_after(rt: Runtime) -> None:
    """After matching: queue the instant alerts and change notices it calls for."""
    from broker.runtime.jobs import tell_members

    notified = tell_members(rt.app)
    if notified is not None and (notified.alerts.emails or notified.changes.emails):
        click.echo(f"Queued {notified.line().removeprefix('e-mail: ')}.")
