"""`broker backup` and `broker restore`: a consistent copy of the database while the broker
runs, and putting one back when it doesn't.

SQLite is copied with its online backup API: one step, under a read lock, so the copy is
the database as it stood at one moment, every committed transaction in it and none half
way. PostgreSQL is dumped with pg_dump, which reads one snapshot too; it is restored with
pg_restore, by hand. A restore replaces a SQLite file only while no broker uses it (the
lock every `broker up`, scheduler, harvest and import holds), and keeps the file it
replaces beside it.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.engine import make_url

from broker import migrate
from broker.errors import BrokerError
from broker.locks import RUNNING_LOCK, exclusive

PG_DUMP_HELP = (
    "pg_dump is not installed here. Install PostgreSQL's client programs (Debian and "
    "Ubuntu: apt-get install postgresql-client), or run on a machine that has them: "
    "pg_dump --format=custom --file FILE postgresql://USER@HOST:PORT/DBNAME"
)


class BackupError(BrokerError):
    """Raised when a backup or a restore cannot be made; says why and what to do."""


@dataclass(frozen=True)
class Copied:
    """What a backup or restore copied."""

    path: Path
    notices: int | None
    revision: str | None


def backup(engine: Engine, target: Path) -> Copied:
    """Copy the database to `target` (a new file) while the broker may be running."""
    if target.exists():
        raise BackupError(f"{target} already exists; give a new file name (nothing was written)")
    if not target.parent.is_dir():
        raise BackupError(f"there is no folder {target.parent} to write {target.name} in")
    if engine.dialect.name == "sqlite":
        return _sqlite_backup(_sqlite_path(engine), target)
    if engine.dialect.name == "postgresql":
        return _pg_dump(engine, target)
    raise BackupError(f"backups of {engine.dialect.name} databases are not supported")


def restore(engine: Engine, source: Path, now: datetime) -> tuple[Copied, Path | None]:
    """Put a SQLite backup in place of the database; returns what was restored and where
    the database it replaced was kept (None if there was none)."""
    if engine.dialect.name != "sqlite":
        raise BackupError(
            "restore a PostgreSQL backup with pg_restore, the broker stopped: "
            f"pg_restore --clean --if-exists --dbname DATABASE_URL {source}"
        )
    database = _sqlite_path(engine)
    backed_up = _check_backup(source)
    with exclusive(engine, RUNNING_LOCK) as alone:
        if not alone:
            raise BackupError(
                f"a broker is using {database} (broker up, broker scheduler, a harvest or an "
                "import): stop it, then restore"
            )
        kept = None
        if database.exists():
            kept = database.with_name(f"{database.name}.before-restore-{now:%Y%m%d-%H%M%S}")
            _copy(database, kept)
        _copy(source, database)
    return Copied(database, backed_up.notices, backed_up.revision), kept


def _sqlite_path(engine: Engine) -> Path:
    database = engine.url.database
    if not database or database == ":memory:":
        raise BackupError("the database is in memory: there is nothing to back up")
    return Path(database)


def _sqlite_backup(database: Path, target: Path) -> Copied:
    if not database.exists():
        raise BackupError(f"there is no database at {database} to back up")
    partial = target.with_name(f"{target.name}.partial")
    partial.unlink(missing_ok=True)
    _copy(database, partial)
    os.replace(partial, target)
    return _check_backup(target)


def _copy(source: Path, target: Path) -> None:
    """SQLite's online backup of `source` into `target`, in one step (one snapshot)."""
    reader = sqlite3.connect(f"file:{source}?mode=ro", uri=True, timeout=30)
    try:
        writer = sqlite3.connect(target, timeout=30)
        try:
            reader.backup(writer)
        finally:
            writer.close()
    finally:
        reader.close()


def _check_backup(path: Path) -> Copied:
    """The backup's notices and schema revision, once SQLite finds it sound."""
    if not path.is_file():
        raise BackupError(f"there is no file {path}")
    try:
        connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            (verdict,) = connection.execute("PRAGMA quick_check").fetchone()
            if verdict != "ok":
                raise BackupError(f"{path} is damaged ({verdict}); it can't be restored")
            revision = connection.execute("SELECT version_num FROM alembic_version").fetchone()
            notices = connection.execute("SELECT count(*) FROM notices").fetchone()[0]
        finally:
            connection.close()
    except sqlite3.DatabaseError as exc:
        raise BackupError(f"{path} is not a broker's SQLite database ({exc})") from None
    revision = revision[0] if revision else None
    known = {script.revision for script in migrate.scripts()}
    if revision not in known:
        raise BackupError(
            f"{path} is at schema revision {revision}, which this broker doesn't know (a "
            "newer version's backup?); restore it with that version"
        )
    return Copied(path, notices, revision)


def _pg_dump(engine: Engine, target: Path) -> Copied:
    program = shutil.which("pg_dump")
    if program is None:
        raise BackupError(PG_DUMP_HELP)
    url = make_url(engine.url.render_as_string(hide_password=False))
    # libpq's own URL, the password in its environment rather than on a command line.
    plain = url.set(drivername="postgresql", password=None).render_as_string()
    env = {**os.environ, **({"PGPASSWORD": url.password} if url.password else {})}
    partial = target.with_name(f"{target.name}.partial")
    result = subprocess.run(
        [program, "--format=custom", "--no-owner", "--file", str(partial), plain],
        env=env,
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        partial.unlink(missing_ok=True)
        said = " ".join(result.stderr.split())[:500]
        raise BackupError(f"pg_dump failed ({result.returncode}): {said}")
    os.replace(partial, target)
    return Copied(target, None, migrate.current_revision(engine))
