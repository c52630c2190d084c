"""A prompt stop: SIGTERM (or Ctrl+C) ends `broker up` within 5 seconds, even while a
harvest waits on a slow source, and the next harvest resumes without duplicates."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from werkzeug import Request, Response

from broker.db import make_engine
from broker.models import HarvestRun, Notice, NoticeSource

CF_2022 = "cf_ocds_search_2022-10-20.json"
CURSORS = [None, "page-2", "page-3"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def slow_source(httpserver, data_dir):
    """Contracts Finder's recorded releases as three cursor pages; the second answers only
    when the test lets it (a source that has gone slow)."""
    package = json.loads((data_dir / CF_2022).read_text())
    chunks = [package["releases"][:34], package["releases"][34:67], package["releases"][67:]]
    url = httpserver.url_for("/Published/Notices/OCDS/Search")
    asked: list[str | None] = []
    second_asked, hold = threading.Event(), threading.Event()
    window: dict[str, str] = {}

    def answer(request: Request) -> Response:
        cursor = request.args.get("cursor")
        window.setdefault("from", request.args["publishedFrom"])
        if request.args["publishedFrom"] != window["from"]:
            return Response(json.dumps({**package, "releases": [], "links": {}}))
        asked.append(cursor)
        index = CURSORS.index(cursor)
        if index == 1 and not hold.is_set():
            second_asked.set()
            hold.wait(60)
        page = {**package, "releases": chunks[index], "links": {}}
        if index + 1 < len(CURSORS):
            page["links"] = {"next": f"{url}?limit=100&cursor={CURSORS[index + 1]}"}
        return Response(json.dumps(page), content_type="application/json")

    httpserver.expect_request("/Published/Notices/OCDS/Search").respond_with_handler(answer)
    yield {"url": url, "asked": asked, "second_asked": second_asked, "hold": hold, "chunks": chunks}
    hold.set()


def config(tmp_path, database_url: str, base_url: str, **http) -> str:
    path = tmp_path / "config.toml"
    options = {"retries": 0, "timeout_seconds": 90.0, **http}
    path.write_text(
        f'[database]\nurl = "{database_url}"\n'
        '[web]\nsecret_key = "test-secret"\n'
        "[http]\n" + "".join(f"{k} = {v}\n" for k, v in options.items()) + "[sources.cf]\n"
        'kind = "contracts_finder"\n'
        f'base_url = "{base_url}"\nlookback_days = 1\ndelay_seconds = 0.0\n'
    )
    return str(path)


def broker(*args: str, config_path: str, **env: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "broker", "--config", config_path, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, **env},
    )


def stopping_time(process: subprocess.Popen, sig: int = signal.SIGTERM) -> tuple[float, str]:
    """Send `sig` and time how long the process takes to end; its output."""
    started = time.monotonic()
    process.send_signal(sig)
    try:
        output, _ = process.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        output, _ = process.communicate()
    return time.monotonic() - started, output


def ocids(releases) -> set[str]:
    return {release["ocid"] for release in releases}


@pytest.mark.slow
def test_sigterm_during_a_slow_harvest_stops_broker_up_within_5_seconds_and_it_resumes(
    tmp_path, database_url, slow_source
):
    """gunicorn's web workers, the scheduler in its own process, its harvest blocked in a
    read: all of it gone within 5 s, and nothing lost or stored twice."""
    path = config(tmp_path, database_url, slow_source["url"])
    process = broker("up", "--port", str(free_port()), config_path=path)
    engine = make_engine(database_url)
    first, second, third = slow_source["chunks"]
    try:
        assert slow_source["second_asked"].wait(60), process.communicate(timeout=5)[0]
        elapsed, output = stopping_time(process)
        assert process.returncode == 0, output
        assert elapsed < 5, f"took {elapsed:.1f} s to stop:\n{output}"
        assert "Traceback" not in output
        with Session(engine) as s:
            assert set(s.scalars(select(NoticeSource.source_id))) == ocids(first)
            run = s.scalars(select(HarvestRun)).one()
            # Left behind in its read, the run was marked interrupted on the way out.
            assert run.status == "interrupted" and "shut down" in run.error, output

        slow_source["hold"].set()
        again = broker("harvest", "cf", config_path=path)
        output, _ = again.communicate(timeout=120)
        assert again.returncode == 0, output
        # It went on from the second page: the first was never asked for again.
        assert slow_source["asked"] == [None, "page-2", "page-2", "page-3"]
        with Session(engine) as s:
            everything = ocids(first) | ocids(second) | ocids(third)
            assert s.scalar(select(func.count(NoticeSource.id))) == len(everything)
            assert s.scalar(select(func.count(Notice.id))) == len(everything)
            statuses = s.scalars(select(HarvestRun.status).order_by(HarvestRun.id)).all()
            assert statuses == ["interrupted", "ok"]
    finally:
        if process.poll() is None:
            process.kill()
        engine.dispose()


@pytest.mark.slow
def test_ctrl_c_during_a_retry_s_backoff_stops_the_harvest_at_once(
    tmp_path, database_url, httpserver
):
    """One process (waitress and the scheduler beside it); the source fails and the harvest
    waits a minute to retry: Ctrl+C ends the wait, and the run, at once."""
    failing = threading.Event()

    def answer(_request: Request) -> Response:
        failing.set()
        return Response("busy", status=503)

    httpserver.expect_request("/Published/Notices/OCDS/Search").respond_with_handler(answer)
    path = config(
        tmp_path,
        database_url,
        httpserver.url_for("/Published/Notices/OCDS/Search"),
        retries=3,
        backoff_seconds=60.0,
    )
    process = broker("up", "--port", str(free_port()), config_path=path, BROKER_WEB__WORKERS="1")
    engine = make_engine(database_url)
    try:
        assert failing.wait(60), process.communicate(timeout=5)[0]
        time.sleep(0.5)  # into the backoff
        elapsed, output = stopping_time(process, signal.SIGINT)
        assert elapsed < 5, f"took {elapsed:.1f} s to stop:\n{output}"
        assert "Traceback" not in output
        with Session(engine) as s:
            run = s.scalars(select(HarvestRun)).one()
            # The harvest itself saw the stop and closed its run.
            assert (run.status, run.finished_at is not None) == ("interrupted", True)
            assert "Ctrl+C or SIGTERM" in run.error
    finally:
        if process.poll() is None:
            process.kill()
        engine.dispose()
