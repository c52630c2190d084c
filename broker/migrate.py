"""Alembic, driven from code: `broker db upgrade` and `broker up` call `upgrade`."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import Script, ScriptDirectory
from sqlalchemy import Connection, Engine

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def alembic_config() -> Config:
    """An Alembic config pointing at the packaged migrations (no alembic.ini needed)."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return cfg


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the database schema up to `revision`, in one transaction."""
    cfg = alembic_config()
    with _foreign_keys_off(engine) as connection, connection.begin():
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, revision)


@contextmanager
def _foreign_keys_off(engine: Engine) -> Iterator[Connection]:
    """A connection for migrating; on SQLite, with foreign keys off until it is done.

    SQLite changes a column by copying its table and dropping the old one, and with
    foreign keys on, dropping a table deletes the rows that refer to it (ON DELETE
    CASCADE): an upgrade would lose them. The setting is ignored inside a transaction,
    so it is turned off before the migration's transaction begins, and the references
    are checked when it has been committed (SQLite's own recipe for altering tables).
    """
    with engine.connect() as connection:
        sqlite = connection.dialect.name == "sqlite"
        if sqlite:
            connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
            connection.commit()
        try:
            yield connection
        finally:
            if sqlite:
                connection.exec_driver_sql("PRAGMA foreign_keys=ON")
                broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
                connection.commit()
        if sqlite and broken:
            raise RuntimeError(f"the migration left rows referring to nothing: {broken[:5]}")


def downgrade(engine: Engine, revision: str) -> None:
    """Step the schema back to `revision` (used by migration tests)."""
    cfg = alembic_config()
    with _foreign_keys_off(engine) as connection, connection.begin():
        cfg.attributes["connection"] = connection
        command.downgrade(cfg, revision)


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at, or None for an empty database."""
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def head_revision() -> str | None:
    """The newest revision shipped with this code."""
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def scripts() -> list[Script]:
    """Every migration shipped with this code, newest first."""
    return list(ScriptDirectory.from_config(alembic_config()).walk_revisions())
