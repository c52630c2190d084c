"""Engine, sessions, the declarative base, and the one transaction boundary.

Services take a Session and only flush. The caller owns the transaction: a view, a
command or a job wraps its work in `unit_of_work`, which commits when the work ends,
rolls back if it raises, and then runs what was waiting for the commit (the mail
sender's kick). A rolled-back action never e-mails anyone.

Two places commit more often, on purpose, and say so where they do it:
- a harvest or an import commits each page with the source's saved state
  (broker.harvest.running), so a crash loses at most the page in hand;
- the mail sender commits around each message (broker.mail.sender), so a message is
  marked as handed over before the SMTP DATA ends and is never sent twice.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
from flask import Flask, current_app, g
from sqlalchemy import JSON, DateTime, Engine, MetaData, create_engine, event
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import make_url
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.types import TypeDecorator

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

logger = logging.getLogger(__name__)

# JSONB on PostgreSQL (indexable, compact), plain JSON text on SQLite.
JSONType = JSON().with_variant(JSONB(), "postgresql")


class UTCDateTime(TypeDecorator[datetime]):
    """Stores aware datetimes as UTC and always hands back aware UTC datetimes."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r} given to a UTC column")
        value = value.astimezone(UTC)
        # SQLite keeps no zone; store naive UTC so ordering and comparison stay textual.
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


def json_dumps(value: Any) -> str:
    # orjson is several times faster than json for the JSON columns of bulk imports.
    try:
        return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()
    except TypeError:  # orjson.JSONEncodeError
        # orjson refuses lone surrogates and nesting past 255 levels; json writes both
        # (surrogates as escapes, which SQLite keeps; PostgreSQL's jsonb refuses them, so
        # harvests make text storable first: broker.notices.records.storable).
        return json.dumps(value, default=str)


def json_loads(text: str | bytes) -> Any:
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:  # what only the json module wrote (see json_dumps)
        return json.loads(text)


def make_engine(url: str, echo: bool = False, memory_map: bool = False) -> Engine:
    """Create an engine; SQLite gets WAL, foreign keys and a busy timeout.

    `memory_map` (SQLite, for the web workers) reads the file through a shared memory
    map, so the workers share one copy of the hot pages. Not for bulk writers: every
    page they touch would count in their resident memory.
    """
    parsed = make_url(url)
    json_options = {"json_serializer": json_dumps, "json_deserializer": json_loads}
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url,
            echo=echo,
            connect_args={"check_same_thread": False, "timeout": 30},
            **json_options,
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        if memory_map:
            event.listen(engine, "connect", _sqlite_memory_map)
        return engine
    if parsed.get_backend_name() == "postgresql" and parsed.drivername == "postgresql":
        # Plain postgresql:// would pick psycopg2, which we don't ship.
        url = parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
    return create_engine(
        url,
        echo=echo,
        pool_pre_ping=True,
        # No parallel workers for one query: the broker's queries are short and come many
        # at once, so splitting one over several processes only takes cores from the rest.
        # Always a plan for the actual values: psycopg prepares a statement run five times,
        # and PostgreSQL's generic plan for it (chosen after five more) can't see that a
        # month's deadlines or a region are a small part of the queue; the triage filters
        # ran 10x slower on it.
        connect_args={
            "options": "-c max_parallel_workers_per_gather=0 -c plan_cache_mode=force_custom_plan"
        },
        **json_options,
    )


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA busy_timeout=30000")
    # 32 MB of page cache (the default is 2 MB): indexes of a big store stay hot.
    cur.execute("PRAGMA cache_size=-32768")
    cur.close()


def _sqlite_memory_map(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    # Up to 1 GB of the file read through a shared memory map rather than read() calls.
    cur.execute("PRAGMA mmap_size=1073741824")
    cur.close()


class Checkpointer:
    """SQLite: the write-ahead log copied into the database file on a thread of its own.

    By default the commit that takes the log past 1,000 pages copies it there itself,
    with two fsyncs, before it returns. A harvest commits every page of notices with
    their matches (some 35 MB of pages for 1,000 notices), and the copy took a quarter
    to a third of the time of matching them. With a checkpointer the engine's
    connections never copy: each one given back to the pool wakes this thread, which
    copies what it can without waiting for readers or blocking writers (a PASSIVE
    checkpoint, as SQLite's own is), while the harvest goes on to its next page.

    SQLite only; for the scheduler's process, whose harvests write most (see
    broker.runtime.scheduler). Other processes keep SQLite's own checkpoints.
    """

    def __init__(self, engine: Engine):
        self._engine = engine
        self._due = threading.Event()
        self._stopping = False
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Take over checkpoints from the engine's connections (made from now on)."""
        database = self._engine.url.database
        if self._engine.dialect.name != "sqlite" or database in (None, "", ":memory:"):
            return
        if self._thread is not None:
            return
        self._stopping = False
        event.listen(self._engine, "connect", _no_autocheckpoint)
        event.listen(self._engine, "checkin", self._wake)
        # Pooled connections made before would still copy the log themselves.
        self._engine.dispose()
        self._thread = threading.Thread(target=self._run, name="checkpointer", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Copy what is left, end the thread, and give checkpoints back to the engine."""
        if self._thread is None:
            return
        self._stopping = True
        self._due.set()
        self._thread.join(30)
        event.remove(self._engine, "checkin", self._wake)
        event.remove(self._engine, "connect", _no_autocheckpoint)
        self._engine.dispose()
        self._thread = None

    def _wake(self, _dbapi_conn: Any, _record: Any) -> None:
        self._due.set()

    def _run(self) -> None:
        # A connection of its own, outside the pool, so copying wakes nobody.
        conn = sqlite3.connect(str(self._engine.url.database), check_same_thread=False)
        try:
            while True:
                self._due.wait()
                self._due.clear()
                try:
                    conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                except sqlite3.Error:
                    logger.exception("could not copy the write-ahead log into the database")
                if self._stopping:
                    return
        finally:
            conn.close()


def _no_autocheckpoint(dbapi_conn: Any, _record: Any) -> None:
    dbapi_conn.execute("PRAGMA wal_autocheckpoint=0")


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    """Sessions whose objects stay readable after commit (for rendering and summaries)."""
    return sessionmaker(engine, expire_on_commit=False)


AFTER_COMMIT = "broker.after_commit"


def after_commit(session: Session, hook: Callable[[Flask], object]) -> None:
    """Run `hook(app)` once, after the unit of work holding `session` commits; never if
    it rolls back."""
    hooks = session.info.setdefault(AFTER_COMMIT, [])
    if hook not in hooks:
        hooks.append(hook)


@contextmanager
def unit_of_work(app: Flask | None = None) -> Iterator[Session]:
    """One transaction: commit when the block ends, roll back if it raises, then run the
    after-commit hooks.

    In a request (no `app`), the request's session; a view redirects or re-shows its
    form after the block. Given an app (a command, a job), a session of its own, closed
    afterwards.
    """
    if app is None:
        app, session, owned = current_app._get_current_object(), get_session(), False
    else:
        session, owned = get_sessions(app)(), True
    # Hooks from an earlier transaction of this session were never committed.
    session.info.pop(AFTER_COMMIT, None)
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        session.info.pop(AFTER_COMMIT, None)
        raise
    finally:
        if owned:
            session.close()
    for hook in session.info.pop(AFTER_COMMIT, []):
        hook(app)


def init_app(app: Flask, engine: Engine) -> None:
    """Register the engine and the request-scoped session on `app`."""
    app.extensions["broker.engine"] = engine
    app.extensions["broker.sessions"] = make_sessionmaker(engine)
    app.teardown_appcontext(_close_session)


def get_sessions(app: Flask | None = None) -> sessionmaker[Session]:
    """The app's sessionmaker, for jobs that need their own transactions."""
    return (app or current_app).extensions["broker.sessions"]


def get_session() -> Session:
    """The request's session, opened lazily; views commit it themselves."""
    if "db_session" not in g:
        g.db_session = get_sessions()()
    return g.db_session


def _close_session(_exc: BaseException | None) -> None:
    session = g.pop("db_session", None)
    if session is not None:
        session.close()
