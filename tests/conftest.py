"""Shared fixtures: a real database per test (SQLite always, PostgreSQL when configured).

Tests that use `database_url` (directly or through `settings`, `app`, `sessions`)
run once per backend. PostgreSQL runs when BROKER_TEST_POSTGRES_URL names a server
(e.g. postgresql+psycopg://postgres@127.0.0.1:5432/postgres); each test session
creates its own database there and drops it at the end.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

DATA = Path(__file__).parent / "data"
PG_URL = os.environ.get("BROKER_TEST_POSTGRES_URL", "")
BACKENDS = ["sqlite", "postgres"] if PG_URL else ["sqlite"]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "backend" in metafunc.fixturenames:
        metafunc.parametrize("backend", BACKENDS, scope="session")


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file migrated once to head, copied for every test."""
    from broker import migrate
    from broker.db import make_engine

    path = tmp_path_factory.mktemp("template") / "broker.sqlite3"
    engine = make_engine(f"sqlite:///{path}")
    migrate.upgrade(engine)
    engine.dispose()
    return path


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[str]:
    """A fresh PostgreSQL database for this test session, migrated to head."""
    from broker import migrate
    from broker.db import make_engine

    server = make_url(PG_URL)
    name = f"broker_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(server.set(drivername="postgresql+psycopg"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = server.set(drivername="postgresql+psycopg", database=name).render_as_string(
        hide_password=False
    )
    engine = make_engine(url)
    migrate.upgrade(engine)
    engine.dispose()
    try:
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _truncate_all(url: str) -> None:
    from broker.models import Base

    engine = create_engine(url)
    tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    engine.dispose()


@pytest.fixture
def database_url(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    """A migrated, empty database for one test."""
    if backend == "sqlite":
        path = tmp_path / "broker.sqlite3"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        return f"sqlite:///{path}"
    url = request.getfixturevalue("postgres_database")
    _truncate_all(url)
    return url


@pytest.fixture
def make_settings(database_url: str, tmp_path: Path):
    """Build Settings for this test's database, with optional overrides."""
    from broker.config import load_settings

    def make(overrides: dict[str, Any] | None = None, sources: dict[str, Any] | None = None):
        base: dict[str, Any] = {
            "testing": True,
            "database": {"url": database_url},
            "web": {"secret_key": "test-secret"},
            "sources": sources or {},
        }
        for key, value in (overrides or {}).items():
            if isinstance(value, dict):
                base.setdefault(key, {}).update(value)
            else:
                base[key] = value
        config = tmp_path / "empty-config.toml"
        config.write_text("")
        return load_settings(config, environ={}, overrides=base)

    return make


@pytest.fixture
def settings(make_settings):
    return make_settings()


@pytest.fixture
def app(settings):
    from broker import create_app

    app = create_app(settings)
    yield app
    app.extensions["broker.engine"].dispose()


@pytest.fixture
def sessions(app):
    return app.extensions["broker.sessions"]


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def cli_runner(app):
    """Invoke `broker` commands against this test's app."""
    from click.testing import CliRunner

    from broker.cli import cli
    from broker.runtime.terminal import Runtime

    runner = CliRunner()

    def invoke(*args: str, **kwargs: Any):
        return runner.invoke(cli, list(args), obj=Runtime(app=app), **kwargs)

    return invoke


class Clock:
    """A hand-wound clock: services take `now`, tests decide what it is."""

    def __init__(self, start: datetime):
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock(datetime(2026, 11, 20, 9, 0, tzinfo=UTC))


@pytest.fixture
def data_dir() -> Path:
    return DATA


PASSWORD = "correct horse battery staple"


@pytest.fixture
def password() -> str:
    """The password `make_user` gives every user."""
    return PASSWORD


@pytest.fixture
def make_user(sessions, clock):
    """Create a user (coordinator by default) with the test password."""
    from broker.accounts.users import create_user

    def make(
        email: str = "coordinator@sen.example.org",
        role: str = "coordinator",
        name: str = "Casey Coordinator",
    ):
        with sessions.begin() as s:
            user = create_user(s, email, PASSWORD, role, clock(), name=name)
            s.expunge(user)
        return user

    return make


@pytest.fixture
def csrf_token():
    """The CSRF token of the last page a client fetched (from its hidden input)."""
    import re

    def token(page) -> str:
        """The token in `page`: HTML, or a response, which must have answered 200."""
        if not isinstance(page, str):
            assert page.status_code == 200, page.get_data(as_text=True)[:2000]
            page = page.get_data(as_text=True)
        html = page
        found = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html) or re.search(
            r'name="csrf_token" value="([^"]+)"', html
        )
        assert found, "no CSRF token on the page"
        return found.group(1)

    return token


@pytest.fixture
def login(client, csrf_token):
    """Log a client in through the real login form."""

    def do(user_email: str = "coordinator@sen.example.org", password: str = PASSWORD):
        page = client.get("/login").get_data(as_text=True)
        return client.post(
            "/login",
            data={"email": user_email, "password": password, "csrf_token": csrf_token(page)},
        )

    return do


@pytest.fixture
def coordinator(make_user, login):
    """A logged-in coordinator on `client`."""
    user = make_user()
    response = login()
    assert response.status_code == 302, response.get_data(as_text=True)
    return user


@pytest.fixture
def admin(make_user, login):
    """A logged-in admin on `client`."""
    user = make_user("admin@sen.example.org", role="admin", name="Ada Admin")
    response = login("admin@sen.example.org")
    assert response.status_code == 302
    return user


# --- a real SMTP server on loopback ------------------------------------------------------


class RecordingHandler:
    """An aiosmtpd handler that keeps what it accepts and refuses what it is told to.

    `rcpt_replies` and `data_replies` map a recipient to a reply ("550 5.1.1 no such
    user"): a string is given every time, a list one reply per try until it runs out.
    `on_rcpt` and `on_data` run before the server answers RCPT TO and the final "."
    (a message that reached `on_data` has been received).
    """

    def __init__(self):
        import threading

        self.received: list[Any] = []
        self.rcpt_replies: dict[str, str | list[str]] = {}
        self.data_replies: dict[str, str | list[str]] = {}
        self.on_rcpt = None
        self.on_data = None
        self._lock = threading.Lock()

    def _reply(self, table: dict[str, str | list[str]], address: str) -> str | None:
        with self._lock:
            reply = table.get(address)
            if isinstance(reply, list):
                return reply.pop(0) if reply else None
            return reply

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.on_rcpt is not None:
            self.on_rcpt(address)
        reply = self._reply(self.rcpt_replies, address)
        if reply:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        import email
        import email.policy

        reply = self._reply(self.data_replies, envelope.rcpt_tos[0])
        if reply:
            return reply
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        with self._lock:
            self.received.append((envelope.mail_from, list(envelope.rcpt_tos), message))
        if self.on_data is not None:
            self.on_data(envelope)
        return "250 2.0.0 Message accepted for delivery"


class SmtpServer:
    """aiosmtpd on 127.0.0.1 at a fixed port, which can be stopped and started again."""

    def __init__(self, port: int):
        self.port = port
        self.handler = RecordingHandler()
        self._controller = None

    def start(self) -> None:
        from aiosmtpd.controller import Controller

        self._controller = Controller(
            self.handler, hostname="127.0.0.1", port=self.port, server_hostname="mail.test"
        )
        self._controller.start()

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    @property
    def messages(self) -> list[Any]:
        """The messages received, parsed (email.message.EmailMessage)."""
        return [message for _, _, message in self.handler.received]

    def count_by_message_id(self) -> dict[str, int]:
        """How many times each Message-ID arrived."""
        from collections import Counter

        return dict(Counter(str(m["Message-ID"]) for m in self.messages))


def free_port() -> int:
    """A loopback port nothing listens on right now."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    """A running SMTP server on loopback (a free port) that records what it receives."""
    server = SmtpServer(free_port())
    server.start()
    try:
        yield server
    finally:
        server.stop()
