"""`broker up`: one command starts the web app and the scheduler, even with no network."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest
from apscheduler.triggers.date import DateTrigger
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from broker.locks import exclusive
from broker.runtime.scheduler import build_scheduler


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(predicate, timeout: float = 30.0, interval: float = 0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError("timed out waiting")


def get(url: str) -> str | None:
    try:
        response = httpx.get(url, timeout=2)
    except httpx.HTTPError:
        return None
    return response.text if response.status_code == 200 else None


def start_broker(
    tmp_path: Path,
    database_url: str,
    *args: str,
    config: Path | None = None,
    env: dict[str, str] | None = None,
) -> tuple[subprocess.Popen, int]:
    if config is None:
        config = tmp_path / "config.toml"
        # One source on a closed port: the network is "down", and the broker must not care.
        config.write_text(
            '[sources.pcs]\nkind = "pcs"\nbase_url = "http://127.0.0.1:9/v1"\n'
            "notice_types = [102]\nlookback_months = 0\ninterval_minutes = 60\n"
            "delay_seconds = 0\n[http]\nretries = 0\ntimeout_seconds = 2.0\n"
        )
    port = free_port()
    env = {
        **os.environ,
        "BROKER_CONFIG": str(config),
        "BROKER_DATABASE__URL": database_url,
        "BROKER_WEB__SECRET_KEY": "test-secret",
        **(env or {}),
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "broker", "up", "--port", str(port), *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    return process, port


def read_until(process: subprocess.Popen, marker: str, timeout: float = 60) -> list[str]:
    """Lines the process printed, up to and including the first containing `marker`."""
    lines: list[str] = []
    found = threading.Event()

    def read() -> None:
        for line in process.stdout:
            lines.append(line)
            if marker in line:
                found.set()
                return

    threading.Thread(target=read, daemon=True).start()
    assert found.wait(timeout), "".join(lines)
    return lines


def stop(process: subprocess.Popen) -> str:
    process.terminate()
    try:
        output, _ = process.communicate(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        output, _ = process.communicate()
    return output


def log_in(web: httpx.Client, email: str, password: str) -> None:
    page = web.get("/login").text
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    response = web.post("/login", data={"email": email, "password": password, "csrf_token": token})
    assert response.status_code == 302, response.text


@pytest.mark.slow
def test_up_with_demo_serves_real_notices_and_survives_no_network(tmp_path, database_url):
    process, port = start_broker(tmp_path, database_url, "--demo")
    output = ""
    try:
        printed = "".join(read_until(process, "Serving the broker"))
        assert "Scheduler started; sources: pcs" in printed
        email, password = re.search(r"Demo login: (\S+) with password (\S+)", printed).groups()
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as web:
            assert wait_for(lambda: get(f"http://127.0.0.1:{port}/login"))
            assert web.get("/").status_code == 302  # a login first
            log_in(web, email, password)
            page = web.get("/?status=all").text
            assert "Caledonia Housing Association - Landscape Maintenance" in page
            # The scheduler's first harvest fails on the closed port; the broker carries on
            # and the sources page shows it.
            assert wait_for(lambda: "127.0.0.1:9" in web.get("/sources/").text)
        assert process.poll() is None
    finally:
        output = stop(process)
    assert "Traceback" not in output


@pytest.mark.slow
def test_up_with_the_shipped_config_starts_on_a_machine_with_no_network(tmp_path, database_url):
    from broker.config import ROOT
    from broker.db import make_engine
    from broker.models import HarvestRun

    # Every request goes to a proxy on a closed port: no network, and nothing leaves the
    # machine. No retries, so the first failure comes quickly.
    offline = {"HTTP_PROXY": "http://127.0.0.1:9", "HTTPS_PROXY": "http://127.0.0.1:9"}
    offline |= {"BROKER_HTTP__RETRIES": "0", "NO_PROXY": ""}
    process, port = start_broker(tmp_path, database_url, config=ROOT / "config.toml", env=offline)
    engine = make_engine(database_url)

    def failed_runs() -> list[str]:
        with Session(engine) as s:
            return list(s.scalars(select(HarvestRun.source).where(HarvestRun.status == "failed")))

    try:
        printed = "".join(read_until(process, "Serving the broker"))
        assert (
            "Scheduler started; sources: pcs, sell2wales, contracts_finder, find_a_tender, ted"
            in printed
        )
        assert wait_for(lambda: get(f"http://127.0.0.1:{port}/login"))
        # The first scheduled harvest fails, is recorded, and the broker carries on.
        assert "pcs" in wait_for(failed_runs, timeout=90)
        assert wait_for(lambda: get(f"http://127.0.0.1:{port}/login"))
        assert process.poll() is None
    finally:
        output = stop(process)
        engine.dispose()
    assert "Traceback" not in output


@pytest.mark.slow
def test_a_second_broker_up_does_not_start_a_second_scheduler(tmp_path, database_url):
    first, _port = start_broker(tmp_path, database_url)
    second = None
    try:
        read_until(first, "Serving the broker")
        second, _second_port = start_broker(tmp_path, database_url)
        printed = "".join(read_until(second, "Serving the broker"))
    finally:
        stop(first)
        if second:
            stop(second)
    assert "Another broker process is running the scheduler" in printed


def test_holding_a_lock_keeps_a_second_holder_out(database_url):
    from broker.db import make_engine

    engine = make_engine(database_url)
    with exclusive(engine, "harvest:pcs") as first:
        assert first is True
        with exclusive(engine, "harvest:pcs") as second:
            assert second is False
        with exclusive(engine, "harvest:cf") as other:
            assert other is True
    with exclusive(engine, "harvest:pcs") as again:
        assert again is True
    engine.dispose()


def test_scheduler_runs_each_enabled_source_on_its_interval_never_twice_at_once(make_settings):
    from broker import create_app

    settings = make_settings(
        sources={
            "pcs": {"kind": "pcs", "interval_minutes": 30},
            "contracts_finder": {"kind": "contracts_finder", "interval_minutes": 90},
            "sell2wales": {"kind": "sell2wales", "enabled": False},
        }
    )
    app = create_app(settings)
    scheduler = build_scheduler(app)
    scheduler.start(paused=True)  # job defaults apply once jobs reach the job store
    jobs = {job.id: job for job in scheduler.get_jobs()}
    scheduler.shutdown(wait=False)
    # Plus the job that keeps the Sources page's sources in step with the database, the
    # heartbeat /healthz reads, and the matcher's warm-up at start.
    assert set(jobs) == {
        "harvest:pcs",
        "harvest:contracts_finder",
        "sources:sync",
        "scheduler:heartbeat",
        "mail:send",
        "digest:daily",
        "digest:weekly",
        "bids:remind",
        "network:forget",
        "matching:warm",
    }
    assert jobs["harvest:pcs"].trigger.interval.total_seconds() == 30 * 60
    assert jobs["harvest:contracts_finder"].trigger.interval.total_seconds() == 90 * 60
    assert jobs["sources:sync"].trigger.interval.total_seconds() == 60
    # The outbox goes every [mail] send_interval_seconds.
    assert jobs["mail:send"].trigger.interval.total_seconds() == 30
    assert jobs["mail:send"].args == (app,)
    # The warm-up runs once, as the scheduler starts (before the first harvest).
    assert isinstance(jobs["matching:warm"].trigger, DateTrigger)
    assert jobs["matching:warm"].next_run_time <= jobs["harvest:pcs"].next_run_time
    assert jobs["matching:warm"].args == (app,)
    for job in jobs.values():
        assert job.max_instances == 1
        assert job.coalesce is True
        if job.id.startswith("harvest:"):
            assert job.args == (app, job.id.split(":")[1])
    app.extensions["broker.engine"].dispose()


@pytest.mark.slow
def test_up_with_one_worker_serves_from_its_own_process(tmp_path, database_url, monkeypatch):
    monkeypatch.setenv("BROKER_WEB__WORKERS", "1")
    process, port = start_broker(tmp_path, database_url)
    try:
        printed = "".join(read_until(process, "Serving the broker"))
        assert "Scheduler started; sources: pcs" in printed
        assert "worker processes" not in printed
        assert wait_for(lambda: get(f"http://127.0.0.1:{port}/login"))
    finally:
        output = stop(process)
    assert "Traceback" not in output


def test_workers_are_threaded_only_when_asked():
    from broker.web.server import gunicorn_options

    assert gunicorn_options("127.0.0.1", 5000, 3, 4)["worker_class"] == "gthread"
    options = gunicorn_options("0.0.0.0", 8000, 2, 1)
    assert options["worker_class"] == "sync"
    assert (options["bind"], options["workers"]) == ("0.0.0.0:8000", 2)


@pytest.mark.slow
def test_links_in_every_process_s_mail_use_the_port_broker_up_listens_on(
    tmp_path, database_url, httpserver, data_dir, cli_runner, make_user, password
):
    """No web.base_url and `broker up --port P`: the scheduler's own process (gunicorn's
    workers beside it) writes alerts, a worker writes forwards; both link to port P."""
    import json
    from datetime import UTC, datetime, timedelta

    from broker.db import make_engine
    from broker.models import Notice, OutboxMessage

    package = json.loads((data_dir / "pcs_ocds_notices_2026-09_nt102_trimmed.json").read_text())
    open_until = (datetime.now(UTC) + timedelta(days=30)).isoformat()
    for release in package["releases"]:
        release["tender"]["tenderPeriod"]["endDate"] = open_until  # still open
    httpserver.expect_request("/v1/Notices").respond_with_json(package)
    members = tmp_path / "members.csv"
    members.write_text(
        "name,email,description,keywords,exclude,cpv,regions,min_value,max_value,"
        "supported_business,frequency\n"
        "Gorbals Roofing Trust,roofs@gorbals.example.org,Roofing by apprentices,"
        "roof replacement;roofing,,4526,Glasgow City,,,no,instant\n"
    )
    assert cli_runner("members", "import", str(members)).exit_code == 0
    make_user()
    config = tmp_path / "config.toml"
    config.write_text(
        '[mail]\nbackend = "log"\n[http]\nretries = 0\n'
        f'[sources.pcs]\nkind = "pcs"\nbase_url = "{httpserver.url_for("/v1")}"\n'
        "notice_types = [102]\nlookback_months = 0\ndelay_seconds = 0.0\n"
    )
    process, port = start_broker(tmp_path, database_url, config=config)
    engine = make_engine(database_url)

    def bodies(kind: str) -> list[str]:
        with Session(engine) as s:
            rows = s.scalars(select(OutboxMessage).where(OutboxMessage.kind == kind)).all()
            return [m.text_body + m.html_body for m in rows]

    try:
        read_until(process, "Serving the broker")
        # The alert: written by the scheduler's process after its harvest.
        (alert,) = wait_for(lambda: bodies("alert"), timeout=90)
        assert f"http://127.0.0.1:{port}/r/" in alert
        assert "127.0.0.1:5000" not in alert
        # A forward: written by a gunicorn worker.
        with Session(engine) as s:
            notice_id = s.scalar(select(Notice.id).where(Notice.title.startswith("New Gorbals")))
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as web:
            assert wait_for(lambda: get(f"http://127.0.0.1:{port}/login"))
            log_in(web, "coordinator@sen.example.org", password)
            page = web.get(f"/notices/{notice_id}").text
            token = re.search(r'name="csrf_token"(?: type="hidden")? value="([^"]+)"', page)[1]
            member = re.search(r'name="forward-members" type="checkbox" value="(\d+)"', page)
            form = {"csrf_token": token, "forward-members": member.group(1), "forward-note": "Hi"}
            assert web.post(f"/notices/{notice_id}/forward", data=form).status_code == 302
        (forward,) = wait_for(lambda: bodies("forward"))
        assert f"http://127.0.0.1:{port}/r/" in forward
    finally:
        output = stop(process)
        engine.dispose()
    assert "Traceback" not in output


def test_the_scheduler_leaves_sqlite_checkpoints_to_a_thread_while_it_runs(make_settings):
    """Its harvests' commits return without copying the write-ahead log (a thread does,
    see broker.db.Checkpointer); stopped, the connections copy it themselves again."""
    from broker import create_app

    app = create_app(make_settings())
    engine = app.extensions["broker.engine"]

    def autocheckpoint() -> int:
        with engine.connect() as conn:
            return conn.execute(text("PRAGMA wal_autocheckpoint")).scalar()

    scheduler = build_scheduler(app)
    scheduler.start(paused=True)
    try:
        running = autocheckpoint() if engine.dialect.name == "sqlite" else None
        assert any(t.name == "checkpointer" for t in threading.enumerate()) == (
            engine.dialect.name == "sqlite"
        )
    finally:
        scheduler.shutdown(wait=False)
    if engine.dialect.name == "sqlite":
        assert (running, autocheckpoint()) == (0, 1000)
    assert not any(t.name == "checkpointer" for t in threading.enumerate())
    engine.dispose()
