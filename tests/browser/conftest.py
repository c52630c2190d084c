"""Browser tests: Playwright drives Debian's chromium against the real app on loopback.

One live server per backend for the browser tests (package-scoped, so it and chromium
stop when the browser tests are done and leave no threads behind for the rest of the
suite): the real Flask app (the `broker.create_app` that `broker up` serves) on
waitress, in a background thread, on 127.0.0.1 and a port the OS picks. Its database
is a real SQLite file copied from the migrated template and, when
BROKER_TEST_POSTGRES_URL is set, a PostgreSQL database of its own (dropped at the end).
It holds the recorded April 2019 PCS notices, imported through `broker import` with
their deadlines moved into the future so the open queue shows them, the members from
tests/data/members.csv (`broker members import`) plus a care-equipment supplier, a
laundry and two tree-care members (for the consortium bid test), a coordinator and an
admin.

Tests share the server, so each one changes only notices and members of its own
(see the names below) and they pass in any order.

Chromium comes from Debian (/usr/bin/chromium, or $BROKER_TEST_CHROMIUM) and axe-core
from npm (tests/browser/node_modules, `npm ci --prefix tests/browser`); when either is
missing the tests that need it are skipped with the reason, unless
BROKER_REQUIRE_BROWSER=1 (set by .ci/run), which makes a missing one a failure.
Screenshots go to test-results/browser/<backend>/ under the repository root.
"""

from __future__ import annotations

import os
import shutil
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

HERE = Path(__file__).parent
ROOT = HERE.parent.parent
DATA = HERE.parent / "data"
SHOTS = ROOT / "test-results" / "browser"
AXE = HERE / "node_modules" / "axe-core" / "axe.min.js"
CHROMIUM = Path(os.environ.get("BROKER_TEST_CHROMIUM", "/usr/bin/chromium"))
REQUIRED = os.environ.get("BROKER_REQUIRE_BROWSER", "") == "1"
TIMEOUT_MS = 15_000  # for each action and expectation
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    # Without these chromium phones home at start, which this sandbox (and CI) refuses.
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    # Nothing but loopback resolves: a page that reached for the internet would fail.
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
]

PCS_2019 = "pcs_ocds_releases_2019-04_apa999.json"
PASSWORD = "correct horse battery staple"
COORDINATOR = "coordinator@sen.example.org"
ADMIN = "admin@sen.example.org"

# The recorded notices and members each test works on, so tests never step on each other.
LANDSCAPE = (  # read only
    "Caledonia Housing Association - Landscape Maintenance 2019 - 2023 (West Dunbartonshire)"
)
END_OF_LEASE = "EC0849 ACE End of Lease Cleaning Services"  # dismissed
MEDICAL_AIDS = "Supply of Medical Aids to Fife Council Community Equipment Stores (FCES)"
GREENSPACE = "Greenspace Growers"  # read only
CLEAN_START = "Clean Start Services"
SHARED_WHEELS = "Shared Wheels Transport"
CARE = "Care Equipment Supplies"
LAUNDRY = "Bright Laundry Co-operative"  # matches nothing; added by hand, answers by e-mail
# A consortium bid for the forestry framework's two regional lots (test_bids.py).
FORESTRY = "Forestry and Arboriculture Services Framework Agreement"
LOTHIAN_TREES = "Lothian Tree Care"
WEST_LOTHIAN_WOODS = "West Lothian Woodlands"


def _missing(reason: str) -> None:
    if REQUIRED:
        pytest.fail(f"{reason} (BROKER_REQUIRE_BROWSER=1)", pytrace=False)
    pytest.skip(reason)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if HERE in Path(str(item.path)).parents:
            item.add_marker(pytest.mark.browser)


# Screenshots taken in this run, for the summary at the end.
TAKEN: list[Path] = []


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if TAKEN:
        folders = ", ".join(sorted({str(p.parent) for p in TAKEN}))
        terminalreporter.write_line(f"browser screenshots: {len(TAKEN)} PNG files in {folders}")


# --- the live server --------------------------------------------------------------


@dataclass
class LiveServer:
    """The app as a browser sees it, and its database as the tests see it."""

    url: str
    backend: str
    app: Any
    sessions: sessionmaker[Session]
    shots: Path
    # Where the app's e-mail goes (aiosmtpd on loopback); `send_mail` sends the outbox.
    smtp: Any

    def send_mail(self) -> None:
        from broker.clock import utcnow
        from broker.mail.sender import send_outbox

        send_outbox(self.sessions, self.app.config["SETTINGS"], utcnow, include_waiting=True)

    def notice_id(self, title: str) -> int:
        from broker.models import Notice

        with self.sessions() as s:
            found = s.scalar(select(Notice.id).where(Notice.title == title))
        assert found is not None, title
        return found

    def member_id(self, name: str) -> int:
        from broker.models import Member

        with self.sessions() as s:
            found = s.scalar(select(Member.id).where(Member.name == name))
        assert found is not None, name
        return found


def _postgres_database() -> tuple[str, Callable[[], None]]:
    """A PostgreSQL database of the browser tests' own (so other tests' truncating
    the shared one can't pull the data from under the live server), and its drop."""
    server = make_url(os.environ["BROKER_TEST_POSTGRES_URL"]).set(drivername="postgresql+psycopg")
    name = f"broker_browser_{uuid.uuid4().hex[:12]}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))

    def drop() -> None:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    url = server.set(database=name).render_as_string(hide_password=False)
    return url, drop


def _stock(app: Any, tmp: Path) -> None:
    """Members and notices through the real commands; open deadlines; two users."""
    from click.testing import CliRunner

    from broker.accounts.users import create_user
    from broker.cli import cli
    from broker.clock import utcnow
    from broker.models import Notice
    from broker.runtime.terminal import Runtime

    def run(*args: str) -> None:
        result = CliRunner().invoke(cli, list(args), obj=Runtime(app=app))
        assert result.exit_code == 0, result.output

    run("members", "import", str(DATA / "members.csv"))
    care = tmp / "care-member.csv"
    care.write_text(
        "name,email,keywords,regions,supported_business\n"
        f"{CARE},orders@careequip.example.org,medical aids;community equipment,Fife,yes\n"
        f"{LAUNDRY},hello@brightlaundry.example.org,commercial laundry,Glasgow City,yes\n"
        f"{LOTHIAN_TREES},bids@lothiantrees.example.org,arboriculture;tree surgery;forestry,"
        "City of Edinburgh;East Lothian;Midlothian;Fife;Scottish Borders,no\n"
        f"{WEST_LOTHIAN_WOODS},office@wlwoodlands.example.org,arboriculture;forestry;tree felling,"
        "West Lothian,yes\n"
    )
    run("members", "import", str(care))
    run("import", str(DATA / PCS_2019))
    sessions = app.extensions["broker.sessions"]
    shift = utcnow() - datetime(2019, 4, 20, tzinfo=UTC)
    with sessions.begin() as s:
        for notice in s.scalars(select(Notice)):
            if notice.deadline:
                notice.deadline = notice.deadline + shift
        create_user(s, COORDINATOR, PASSWORD, "coordinator", utcnow(), name="Casey Coordinator")
        create_user(s, ADMIN, PASSWORD, "admin", utcnow(), name="Ada Admin")


@pytest.fixture(scope="package")
def live_server(
    backend: str, tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[LiveServer]:
    import waitress

    from broker import create_app
    from broker.config import load_settings
    from tests.conftest import SmtpServer, free_port

    tmp = tmp_path_factory.mktemp(f"browser-{backend}")
    drop: Callable[[], None] | None = None
    app = server = thread = None
    smtp = SmtpServer(free_port())
    smtp.start()
    # The members' links in e-mails must point at this server, so its port comes first.
    port = free_port()
    try:
        if backend == "sqlite":
            path = tmp / "broker.sqlite3"
            shutil.copy(request.getfixturevalue("sqlite_template"), path)
            database_url = f"sqlite:///{path}"
        else:
            from broker import migrate
            from broker.db import make_engine

            database_url, drop = _postgres_database()
            engine = make_engine(database_url)
            migrate.upgrade(engine)
            engine.dispose()
        config = tmp / "config.toml"
        config.write_text("")
        settings = load_settings(
            config,
            environ={},
            overrides={
                "testing": True,
                "database": {"url": database_url},
                "web": {
                    "secret_key": "browser-test-secret",
                    "base_url": f"http://127.0.0.1:{port}",
                },
                "mail": {"host": "127.0.0.1", "port": smtp.port, "timeout_seconds": 5.0},
                # One source on a closed port, never scheduled here: the sources page has
                # a configured source to show as well as the file import.
                "sources": {
                    "pcs": {"kind": "pcs", "base_url": "http://127.0.0.1:9/v1", "enabled": False}
                },
            },
        )
        app = create_app(settings)
        _stock(app, tmp)
        server = waitress.create_server(
            app, host="127.0.0.1", port=port, threads=4, ident="sen-broker"
        )
        thread = threading.Thread(target=server.run, name=f"live-server-{backend}", daemon=True)
        thread.start()
        shots = SHOTS / backend
        shots.mkdir(parents=True, exist_ok=True)
        yield LiveServer(
            url=f"http://127.0.0.1:{server.effective_port}",
            backend=backend,
            app=app,
            sessions=app.extensions["broker.sessions"],
            shots=shots,
            smtp=smtp,
        )
    finally:
        smtp.stop()
        if server is not None and thread is not None:
            _stop(server, thread)
        if app is not None:
            app.extensions["broker.engine"].dispose()
        if drop is not None:
            drop()


def _stop(server: Any, thread: threading.Thread) -> None:
    """Stop waitress, which has no stop(): in its own loop thread (through its trigger),
    close the open connections, the listening socket and the trigger; with nothing left
    to watch, run() returns."""

    def close_all() -> None:
        for dispatcher in list(server._map.values()):
            if dispatcher is not server and dispatcher is not server.trigger:
                dispatcher.close()
        server.close()

    server.trigger.pull_trigger(close_all)
    thread.join(10)
    server.task_dispatcher.shutdown()
    assert not thread.is_alive(), "the live server did not stop"


# --- chromium -----------------------------------------------------------------------


@pytest.fixture(scope="package")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        _missing(f"no chromium at {CHROMIUM}: apt-get install chromium (.ci/run does)")
    try:
        from playwright.sync_api import expect, sync_playwright
    except ImportError:
        _missing("the playwright package is not installed: pip install -e '.[test]'")
    # A busy CI machine (two cores, the server, chromium and pytest) can be slow to
    # re-match a member; waits stay short when things go right.
    expect.set_options(timeout=TIMEOUT_MS)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="package")
def axe_source() -> str:
    if not AXE.exists():
        _missing(f"no {AXE.relative_to(ROOT)}: run `npm ci --prefix tests/browser`")
    return AXE.read_text()


@dataclass
class Watch:
    """What a page did that it shouldn't: console errors, uncaught errors, dialogs, and
    files it failed to load (a form page answered 400 is fine: that's the form's errors)."""

    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)
    failed_loads: list[str] = field(default_factory=list)

    def attach(self, page: Any) -> None:
        def console(message: Any) -> None:
            # Chromium logs every 4xx response; failed_loads tells the ones that matter.
            if message.type == "error" and not message.text.startswith("Failed to load"):
                self.console_errors.append(f"{message.text} at {message.location}")

        def response(response: Any) -> None:
            if response.status >= 400 and response.request.resource_type != "document":
                self.failed_loads.append(f"{response.status} {response.url}")

        def dialog(d: Any) -> None:
            self.dialogs.append(f"{d.type}: {d.message}")
            d.dismiss()

        page.on("console", console)
        page.on("pageerror", lambda e: self.page_errors.append(str(e)))
        page.on("response", response)
        page.on("requestfailed", lambda r: self.failed_loads.append(f"{r.failure} {r.url}"))
        page.on("dialog", dialog)

    def assert_clean(self) -> None:
        assert not self.dialogs, f"dialogs opened: {self.dialogs}"
        assert not self.page_errors, f"uncaught errors: {self.page_errors}"
        assert not self.console_errors, f"console errors: {self.console_errors}"
        assert not self.failed_loads, f"failed to load: {self.failed_loads}"


@pytest.fixture(scope="package")
def login_states(browser: Any, live_server: LiveServer) -> dict[str, dict[str, Any]]:
    """Each role's cookies after logging in through the form once (per backend)."""
    states: dict[str, dict[str, Any]] = {}
    for role, email in (("coordinator", COORDINATOR), ("admin", ADMIN)):
        context = browser.new_context(base_url=live_server.url)
        page = context.new_page()
        log_in(page, email)
        states[role] = context.storage_state()
        context.close()
    return states


def log_in(page: Any, email: str, password: str = PASSWORD) -> None:
    """Log in through the login form, as a person would."""
    page.goto("/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(lambda url: "/login" not in url)


@dataclass
class Browse:
    """Opens watched pages in fresh browser contexts; checks them when the test ends."""

    browser: Any
    live: LiveServer
    states: dict[str, dict[str, Any]]
    contexts: list[Any] = field(default_factory=list)
    watches: list[Watch] = field(default_factory=list)

    def page(
        self, role: str | None = "coordinator", width: int = 1280, bypass_csp: bool = False
    ) -> Any:
        context = self.browser.new_context(
            base_url=self.live.url,
            viewport={"width": width, "height": 900},
            storage_state=self.states[role] if role else None,
            bypass_csp=bypass_csp,
        )
        context.set_default_timeout(TIMEOUT_MS)
        self.contexts.append(context)
        page = context.new_page()
        watch = Watch()
        watch.attach(page)
        self.watches.append(watch)
        return page

    def screenshot(self, page: Any, name: str) -> Path:
        path = self.live.shots / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        TAKEN.append(path)
        print(f"screenshot: {path}")
        return path

    def close(self) -> None:
        for context in self.contexts:
            context.close()


@pytest.fixture
def browse(
    browser: Any,
    live_server: LiveServer,
    login_states: dict[str, dict[str, Any]],
) -> Iterator[Browse]:
    """Pages for this test; every one must end with no console error, uncaught error or
    dialog, and no file that failed to load (a CSP violation, say, is a console error)."""
    opened = Browse(browser, live_server, login_states)
    try:
        yield opened
        for watch in opened.watches:
            watch.assert_clean()
    finally:
        opened.close()
