"""`broker up`: one command starts the web app and the scheduler, even with no network."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from broker.locks import exclusive
from broker.scheduler import build_scheduler


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


def start_broker(tmp_path: Path, database_url: str, *args: str) -> tuple[subprocess.Popen, int]:
    config = tmp_path / "config.toml"
    # One source on a closed port: the network is "down", and the broker must not care.
    config.write_text(
        '[sources.pcs]\nkind = "pcs"\nbase_url = "http://127.0.0.1:9/v1"\n'
        "notice_types = [102]\nlookback_months = 0\ninterval_minutes = 60\ndelay_seconds = 0\n"
        "[http]\nretries = 0\ntimeout_seconds = 2.0\n"
    )
    port = free_port()
    env = {
        **os.environ,
        "BROKER_CONFIG": str(config),
        "BROKER_DATABASE__URL": database_url,
        "BROKER_WEB__SECRET_KEY": "test-secret",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "broker", "up", "--port", str(port), *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    return process, port


def stop(process: subprocess.Popen) -> str:
    process.terminate()
    try:
        output, _ = process.communicate(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        output, _ = process.communicate()
    return output


@pytest.mark.slow
def test_up_with_demo_serves_real_notices_and_survives_no_network(tmp_path, database_url):
    process, port = start_broker(tmp_path, database_url, "--demo")
    try:
        home = f"http://127.0.0.1:{port}/"
        page = wait_for(lambda: get(home))
        assert "Immersive Theater Installation and Exhibition Alterations" in page
        assert "181 notices stored" in page
        # The scheduler's first harvest fails on the closed port; the page shows it.
        page = wait_for(lambda: (p := get(home)) and "status-failed" in p and p)
        assert "127.0.0.1:9" in page
        assert process.poll() is None
    finally:
        output = stop(process)
    assert "Scheduler started; sources: pcs" in output
    assert "Traceback" not in output


@pytest.mark.slow
def test_a_second_broker_up_does_not_start_a_second_scheduler(tmp_path, database_url):
    first, port = start_broker(tmp_path, database_url)
    second = None
    try:
        wait_for(lambda: get(f"http://127.0.0.1:{port}/"))
        second, second_port = start_broker(tmp_path, database_url)
        wait_for(lambda: get(f"http://127.0.0.1:{second_port}/"))
    finally:
        stop(first)
        output = stop(second) if second else ""
    assert "Another broker process is running the scheduler" in output


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
    assert set(jobs) == {"harvest:pcs", "harvest:contracts_finder"}
    assert jobs["harvest:pcs"].trigger.interval.total_seconds() == 30 * 60
    assert jobs["harvest:contracts_finder"].trigger.interval.total_seconds() == 90 * 60
    for job in jobs.values():
        assert job.max_instances == 1
        assert job.coalesce is True
        assert job.args == (app, job.id.split(":")[1])
    app.extensions["broker.engine"].dispose()


def test_home_page_lists_the_latest_notices_first(client, cli_runner, data_dir, clock):
    assert (
        cli_runner("import", str(data_dir / "pcs_ocds_releases_2019-04_apa999.json")).exit_code == 0
    )
    assert (
        cli_runner(
            "import", str(data_dir / "pcs_ocds_notices_2026-09_nt102_trimmed.json")
        ).exit_code
        == 0
    )
    page = client.get("/").get_data(as_text=True)
    assert "93 notices stored" in page
    newest = page.index("Immersive Theater Installation and Exhibition Alterations")
    older = page.index("Supply of Medical Aids to Fife Council Community Equipment Stores")
    assert newest < older
    assert "Reserved" in page
