"""`broker check`: is this installation ready for a network? One line per point, each
saying what to fix.

A failure stops the broker from working (a bad setting, a database it can't reach or
hasn't upgraded, a mail server that won't take its mail, a source it can't find); a
warning is fine for a trial on one machine but not for a network (a generated secret key,
no public address for links, mail that isn't sent).
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from sqlalchemy import text
from sqlalchemy.engine import make_url

from broker import migrate
from broker.config import Settings, default_config_path, load_settings
from broker.db import make_engine, make_sessionmaker
from broker.errors import ConfigError

OK, WARN, FAIL = "ok", "warn", "FAIL"


@dataclass(frozen=True)
class Check:
    """One line of the checklist: how it went, what was found, and what to do."""

    outcome: str
    found: str
    fix: str = ""

    def line(self) -> str:
        text = f"{self.outcome:<5} {self.found}"
        return f"{text}\n      Fix: {self.fix}" if self.fix else text


def run_checks(config_path: str | None, environ: Mapping[str, str] = os.environ) -> list[Check]:
    """Every check, in order; later ones are skipped when the settings can't be read."""
    where = config_path or default_config_path(environ) or "the defaults (no config.toml)"
    try:
        settings = load_settings(config_path, environ)
    except ConfigError as exc:
        return [Check(FAIL, f"The configuration can't be used: {exc}.", f"correct it in {where}")]
    checks = [Check(OK, f"The configuration is valid ({where}).")]
    database, engine = _database(settings)
    checks.extend(database)
    checks.append(_secret_key(settings, environ))
    checks.append(_base_url(settings))
    checks.append(_mail(settings))
    checks.extend(_sources(settings, engine))
    if engine is not None:
        engine.dispose()
    return checks


def _database(settings: Settings) -> tuple[list[Check], object | None]:
    url = make_url(settings.database_url)
    shown = url.render_as_string(hide_password=True)
    if url.get_backend_name() == "sqlite" and url.database and not Path(url.database).exists():
        return [
            Check(
                FAIL,
                f"There is no database at {url.database} yet.",
                "run `broker db upgrade` (or `broker up`, which does it), or point "
                "database.url (BROKER_DATABASE__URL) at the database",
            )
        ], None
    engine = make_engine(settings.database_url)
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        current = migrate.current_revision(engine)
    except Exception as exc:
        engine.dispose()
        said = (str(getattr(exc, "orig", None) or exc).strip().splitlines() or [""])[0]
        return [
            Check(
                FAIL,
                f"The database {shown} can't be reached: {said}",
                "check database.url (BROKER_DATABASE__URL), and that the server runs and "
                "lets this machine in",
            )
        ], None
    checks = [Check(OK, f"The database {shown} answers.")]
    head = migrate.head_revision()
    if current == head:
        checks.append(Check(OK, f"The database is at the latest migration ({head})."))
    else:
        checks.append(
            Check(
                FAIL,
                f"The database is at migration {current or 'none (empty)'}; this broker "
                f"needs {head}.",
                "run `broker db upgrade` (`broker up` does it on start)",
            )
        )
    return checks, engine


def _secret_key(settings: Settings, environ: Mapping[str, str]) -> Check:
    if environ.get("BROKER_WEB__SECRET_KEY"):
        return Check(OK, "The secret key comes from the environment (BROKER_WEB__SECRET_KEY).")
    if settings.web.secret_key:
        return Check(
            WARN,
            "The secret key is written in the configuration file.",
            "move it to the environment as BROKER_WEB__SECRET_KEY, out of files people share",
        )
    return Check(
        WARN,
        f"No secret key is set: a generated one is kept in "
        f"{settings.instance_path / 'secret_key'}.",
        "set BROKER_WEB__SECRET_KEY (the same on every machine serving the broker), e.g. to "
        'the output of `python3 -c "import secrets; print(secrets.token_hex(32))"`',
    )


def _base_url(settings: Settings) -> Check:
    from broker.outreach.links import base_url

    if settings.web.base_url:
        return Check(OK, f"Links in e-mails point to {settings.web.base_url}.")
    return Check(
        WARN,
        f"web.base_url is not set: links in e-mails point to {base_url(settings)}, the "
        "address `broker up` listens on, which members elsewhere can't reach.",
        "set web.base_url (BROKER_WEB__BASE_URL) to the broker's public address, e.g. "
        "https://broker.example.org",
    )


def _mail(settings: Settings) -> Check:
    from broker.mail.smtp import Unreachable, connect, hang_up, where

    mail = settings.mail
    if not mail.enabled:
        return Check(
            WARN,
            "Sending is off ([mail] enabled = false): e-mails wait in the outbox.",
            "set [mail] enabled = true when members should get them",
        )
    if mail.backend == "log":
        return Check(
            WARN,
            'Mail is kept, not sent ([mail] backend = "log"): members get nothing.',
            'set [mail] backend = "smtp" and the server\'s host and port',
        )
    try:
        smtp = connect(mail)
    except Unreachable as exc:
        return Check(
            FAIL,
            f"The mail server doesn't take mail: {exc}.",
            "check [mail] host, port, security and username, and BROKER_MAIL__PASSWORD",
        )
    hang_up(smtp)
    login = f" and accepts the login for {mail.username}" if mail.username else ""
    return Check(OK, f"The mail server {where(mail)} answers EHLO{login}.")


def _sources(settings: Settings, engine: object | None) -> Iterator[Check]:
    sources = {s.name: s for s in settings.enabled_sources()}
    if engine is not None:
        from broker.harvest.catalogue import enabled_sources

        try:
            with make_sessionmaker(engine)() as session:
                sources.update({s.name: s for s in enabled_sources(session, settings)})
        except Exception:  # the database was checked above; config.toml's still count
            pass
    if not sources:
        yield Check(WARN, "No source is enabled: nothing will be harvested.", "enable one")
    for name, source in sources.items():
        address = getattr(source.options, "base_url", "") or getattr(source.options, "url", "")
        host = urlsplit(address).hostname
        if not host:
            yield Check(FAIL, f"Source {name} has no address.", f"set [sources.{name}] base_url")
            continue
        try:
            socket.getaddrinfo(host, None)
        except OSError as exc:
            yield Check(
                FAIL,
                f"Source {name}: the name {host} doesn't resolve ({exc.strerror or exc}).",
                f"check its address in [sources.{name}] or on the Sources page, and this "
                "machine's network and DNS",
            )
        else:
            yield Check(OK, f"Source {name}: {host} resolves.")
