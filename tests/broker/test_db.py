"""Database plumbing: SQLite's write-ahead log copied back by a thread of its own."""

from __future__ import annotations

import shutil
import sqlite3
import time

from sqlalchemy import text

from broker.db import Checkpointer, make_engine


def _autocheckpoint(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(text("PRAGMA wal_autocheckpoint")).scalar()


def _rows_in_the_file_alone(path, tmp_path) -> int | None:
    """The rows of table t that the database file itself holds, its log left aside."""
    copy = tmp_path / "alone.sqlite3"
    for leftover in tmp_path.glob("alone.sqlite3*"):
        leftover.unlink()
    shutil.copy(path, copy)
    conn = sqlite3.connect(copy)
    try:
        return conn.execute("SELECT count(*) FROM t").fetchone()[0]
    except sqlite3.DatabaseError:  # not there yet, or copied while being written
        return None
    finally:
        conn.close()


def test_a_checkpointer_copies_the_log_after_commits_that_no_longer_copy_it(tmp_path):
    path = tmp_path / "broker.sqlite3"
    engine = make_engine(f"sqlite:///{path}")
    assert _autocheckpoint(engine) == 1000  # SQLite's own: the committer copies
    checkpointer = Checkpointer(engine)
    checkpointer.start()
    try:
        assert _autocheckpoint(engine) == 0
        with engine.begin() as conn:
            conn.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY, body TEXT)"))
        with engine.begin() as conn:
            # Some 6,000 pages: past the 1,000 at which a committer would copy them.
            conn.execute(
                text("INSERT INTO t (body) VALUES (:body)"),
                [{"body": f"{i:05d}" * 80} for i in range(50_000)],
            )
        deadline = time.monotonic() + 20
        while _rows_in_the_file_alone(path, tmp_path) != 50_000:
            assert time.monotonic() < deadline, "the log was never copied into the file"
            time.sleep(0.05)
    finally:
        checkpointer.stop()
    # Stopped, it hands checkpoints back to the connections.
    assert _autocheckpoint(engine) == 1000
    engine.dispose()


def test_a_checkpointer_leaves_postgresql_and_memory_alone(database_url):
    engine = make_engine(database_url)
    checkpointer = Checkpointer(engine)
    checkpointer.start()
    if engine.dialect.name == "sqlite":
        # A file database: taken over.
        assert _autocheckpoint(engine) == 0
    checkpointer.stop()
    engine.dispose()
    memory = make_engine("sqlite://")
    checkpointer = Checkpointer(memory)
    checkpointer.start()
    assert _autocheckpoint(memory) == 1000
    checkpointer.stop()
    memory.dispose()
