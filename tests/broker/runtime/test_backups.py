"""`broker backup` while the broker works, and `broker restore` when it doesn't: a backup
taken during an import restores to a database that `broker check` passes and that holds
every notice committed before the backup began."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid

import pytest
from click.testing import CliRunner
from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from broker.cli import cli
from broker.db import make_engine
from broker.models import NoticeSource

PCS_2019 = "pcs_ocds_releases_2019-04_apa999.json"
CF_2022 = "cf_ocds_search_2022-10-20.json"


def broker(config, *args: str, env: dict[str, str] | None = None):
    """Run a `broker` command in this process, as `broker --config CONFIG ARGS...`."""
    from broker.runtime.terminal import Runtime

    runtime = Runtime(str(config))
    try:
        result = CliRunner().invoke(cli, list(args), obj=runtime, env=env)
    finally:
        if runtime._app is not None:
            runtime.engine.dispose()
    assert "Traceback" not in result.output, result.output
    return result


def write_config(path, database_url: str, smtp_port: int | None = None, batch_size: int = 500):
    mail = f'[mail]\nhost = "127.0.0.1"\nport = {smtp_port}\n' if smtp_port else ""
    path.write_text(
        f'[database]\nurl = "{database_url}"\n'
        '[web]\nbase_url = "https://broker.example.org"\n'
        f"[harvest]\nbatch_size = {batch_size}\n" + mail
    )
    return path


def stored(database_url: str) -> set[str]:
    engine = make_engine(database_url)
    try:
        with Session(engine) as s:
            return set(s.scalars(select(NoticeSource.source_id)))
    finally:
        engine.dispose()


@pytest.fixture
def importing(tmp_path, database_url, data_dir):
    """`broker import` of 190 real releases, two to a transaction, in a process of its own."""
    config = write_config(tmp_path / "import.toml", database_url, batch_size=2)
    files = [str(data_dir / PCS_2019), str(data_dir / CF_2022)]
    process = subprocess.Popen(
        [sys.executable, "-m", "broker", "--config", str(config), "import", *files],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "BROKER_WEB__SECRET_KEY": "test-secret"},
    )
    yield process
    if process.poll() is None:
        process.kill()
        process.communicate()


def wait_until_some_are_stored(database_url: str, process, at_least: int = 10) -> None:
    deadline = time.monotonic() + 120
    while len(stored(database_url)) < at_least:
        assert process.poll() is None, process.communicate()[0]
        assert time.monotonic() < deadline, "the import stored nothing"
        time.sleep(0.05)


@pytest.mark.slow
def test_a_backup_taken_during_an_import_restores_to_a_database_that_passes_the_check(
    tmp_path, database_url, backend, importing, smtp_server, monkeypatch
):
    monkeypatch.setenv("BROKER_WEB__SECRET_KEY", "from-the-environment")
    config = write_config(tmp_path / "config.toml", database_url, smtp_server.port)
    wait_until_some_are_stored(database_url, importing)
    before = stored(database_url)  # committed before the backup began
    backup = tmp_path / "during-the-import.backup"
    result = broker(config, "backup", str(backup))
    assert result.exit_code == 0, result.output
    assert f"Backed up to {backup}" in result.output
    assert importing.poll() is None, "the import ended before the backup: make it longer"
    output, _ = importing.communicate(timeout=300)
    assert importing.returncode == 0, output
    everything = stored(database_url)
    assert len(everything) == 90 + 86 and before < everything

    if backend == "sqlite":
        restored_url = f"sqlite:///{tmp_path / 'restored.sqlite3'}"
        restored = write_config(tmp_path / "restored.toml", restored_url, smtp_server.port)
        result = broker(restored, "restore", str(backup))
        assert result.exit_code == 0, result.output
        assert f"Restored {backup} (" in result.output
        check = broker(restored, "check")
        assert check.exit_code == 0, check.output
        assert before <= stored(restored_url) <= everything
    else:
        with scratch_postgres(database_url) as restored_url:
            plain = make_url(restored_url).set(drivername="postgresql").render_as_string(False)
            subprocess.run(["pg_restore", "--no-owner", "--dbname", plain, str(backup)], check=True)
            restored = write_config(tmp_path / "restored.toml", restored_url, smtp_server.port)
            check = broker(restored, "check")
            assert check.exit_code == 0, check.output
            assert before <= stored(restored_url) <= everything


class scratch_postgres:
    """A PostgreSQL database of its own for a restored dump, dropped afterwards."""

    def __init__(self, database_url: str):
        self.server = make_url(database_url)
        self.name = f"broker_restore_{uuid.uuid4().hex[:10]}"

    def __enter__(self) -> str:
        self.admin = create_engine(self.server, isolation_level="AUTOCOMMIT")
        with self.admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{self.name}"'))
        return self.server.set(database=self.name).render_as_string(hide_password=False)

    def __exit__(self, *exc) -> None:
        with self.admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)'))
        self.admin.dispose()


def test_a_backup_never_overwrites_a_file(tmp_path, database_url):
    config = write_config(tmp_path / "config.toml", database_url)
    existing = tmp_path / "taken.backup"
    existing.write_text("something else")
    result = broker(config, "backup", str(existing))
    assert result.exit_code == 1
    assert f"{existing} already exists; give a new file name (nothing was written)" in (
        result.output
    )
    assert existing.read_text() == "something else"


def test_without_pg_dump_the_backup_says_how_to_take_one(tmp_path, database_url, backend):
    if backend != "postgres":
        pytest.skip("pg_dump backs up PostgreSQL only")
    config = write_config(tmp_path / "config.toml", database_url)
    empty = tmp_path / "bin"
    empty.mkdir()
    result = broker(config, "backup", str(tmp_path / "x.backup"), env={"PATH": str(empty)})
    assert result.exit_code == 1
    assert "pg_dump is not installed here" in result.output
    assert "apt-get install postgresql-client" in result.output
    assert "pg_dump --format=custom --file FILE postgresql://" in result.output
    assert not (tmp_path / "x.backup").exists()


@pytest.mark.slow
def test_restore_refuses_while_a_broker_runs_on_the_database(tmp_path, database_url, backend):
    if backend != "sqlite":
        pytest.skip("restore puts back SQLite files; PostgreSQL's is pg_restore")
    config = write_config(tmp_path / "config.toml", database_url)
    backup = tmp_path / "now.backup"
    assert broker(config, "backup", str(backup)).exit_code == 0
    with_port = tmp_path / "up.toml"
    with_port.write_text(config.read_text() + "[scheduler]\nenabled = false\n")
    process = subprocess.Popen(
        [sys.executable, "-m", "broker", "--config", str(with_port), "up", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "BROKER_WEB__SECRET_KEY": "test-secret"},
    )
    try:
        for text_line in process.stdout:
            if "Serving the broker" in text_line:
                break
        result = broker(config, "restore", str(backup))
        assert result.exit_code == 1
        database = make_url(database_url).database
        assert f"a broker is using {database} (broker up, broker scheduler, a harvest or an " in (
            result.output
        )
    finally:
        process.terminate()
        process.communicate(timeout=30)
    # Stopped, it restores, and keeps the database it replaced.
    result = broker(config, "restore", str(backup))
    assert result.exit_code == 0, result.output
    assert "The database it replaced is kept as " in result.output


def test_restore_refuses_a_file_that_is_not_a_broker_backup(tmp_path, database_url, backend):
    if backend != "sqlite":
        pytest.skip("restore puts back SQLite files")
    config = write_config(tmp_path / "config.toml", database_url)
    stray = tmp_path / "notes.txt"
    stray.write_text("not a database at all")
    result = broker(config, "restore", str(stray))
    assert result.exit_code == 1
    assert f"{stray} is not a broker's SQLite database" in result.output
