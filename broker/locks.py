"""Cross-process locks so that two schedulers, or a scheduler and a command, never
harvest the same source at once: a PostgreSQL advisory lock, or a file lock beside
the SQLite database.
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine, text

logger = logging.getLogger(__name__)


# Held shared by every `broker up`, `broker scheduler`, harvest and import for as long as
# it runs; `broker restore` takes it exclusively, so it never replaces a database in use.
RUNNING_LOCK = "broker-running"


def lock_key(name: str) -> int:
    """A stable signed 63-bit key for pg_advisory_lock from a lock name."""
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big") >> 1


@contextmanager
def exclusive(engine: Engine, name: str) -> Iterator[bool]:
    """Try to hold lock `name` while inside; yields False when another process holds it."""
    if engine.dialect.name == "postgresql":
        with _advisory(engine, name) as acquired:
            yield acquired
    else:
        with _file_lock(engine, name) as acquired:
            yield acquired


@contextmanager
def shared(engine: Engine, name: str) -> Iterator[bool]:
    """Hold lock `name` together with any other sharer; yields False while a process holds
    it exclusively (see `exclusive`).

    SQLite only: a shared PostgreSQL advisory lock would hold a connection that gunicorn's
    forked workers would inherit, and only a SQLite file is ever restored in place.
    """
    database = engine.url.database
    if engine.dialect.name != "sqlite" or not database or database == ":memory:":
        yield True
        return
    fd = os.open(_lock_path(database, name), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def _lock_path(database: str, name: str) -> Path:
    """The lock file beside a SQLite database, e.g. broker.sqlite3.broker_scheduler.lock."""
    safe = "".join(c if c.isalnum() else "_" for c in name)
    return Path(f"{database}.{safe}.lock")


@contextmanager
def _advisory(engine: Engine, name: str) -> Iterator[bool]:
    key = lock_key(name)
    # A session-level advisory lock lives as long as this one connection.
    conn = engine.connect()
    try:
        acquired = bool(conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": key}).scalar())
        conn.commit()
        try:
            yield acquired
        finally:
            if acquired:
                conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})
                conn.commit()
    finally:
        conn.close()


@contextmanager
def _file_lock(engine: Engine, name: str) -> Iterator[bool]:
    database = engine.url.database
    if not database or database == ":memory:":
        yield True
        return
    fd = os.open(_lock_path(database, name), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
