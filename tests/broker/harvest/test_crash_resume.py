"""A harvest killed with SIGKILL between pages, in a real `broker harvest` process: nothing
it committed is lost, and the next run resumes from the saved state without asking for
finished pages again and without duplicates."""

from __future__ import annotations

import json
import subprocess
import sys
import threading

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from werkzeug import Request, Response

from broker.db import make_engine
from broker.models import HarvestRun, Notice, NoticeSource, SourceState

CF_2022 = "cf_ocds_search_2022-10-20.json"
CURSORS = [None, "page-2", "page-3"]


@pytest.fixture
def contracts_finder(httpserver, data_dir):
    """Contracts Finder serving its recorded 100 releases as three cursor pages.

    The request for the second page blocks until the test lets it go, so the harvest
    can be killed while it waits (by then the first page is stored: the harvester only
    asks for a page once the one before it is committed).
    """
    package = json.loads((data_dir / CF_2022).read_text())
    releases = package["releases"]
    chunks = [releases[:34], releases[34:67], releases[67:]]
    asked: list[str | None] = []
    second_asked = threading.Event()
    hold = threading.Event()
    url = httpserver.url_for("/Published/Notices/OCDS/Search")

    window: dict[str, str] = {}

    def answer(request: Request) -> Response:
        cursor = request.args.get("cursor")
        span = {"from": request.args["publishedFrom"], "to": request.args["publishedTo"]}
        window.setdefault("from", span["from"])
        window.setdefault("to", span["to"])
        asked.append((span["from"], cursor))
        if span["from"] != window["from"]:
            # A later window (the time since the killed run began): nothing new there.
            return Response(json.dumps({**package, "releases": [], "links": {}}))
        index = CURSORS.index(cursor)
        if index == 1 and not hold.is_set():
            second_asked.set()
            hold.wait(60)
        page = {**package, "releases": chunks[index]}
        page.pop("links", None)
        if index + 1 < len(CURSORS):
            page["links"] = {"next": f"{url}?limit=100&cursor={CURSORS[index + 1]}"}
        return Response(json.dumps(page), content_type="application/json")

    httpserver.expect_request("/Published/Notices/OCDS/Search").respond_with_handler(answer)
    yield {
        "url": url,
        "asked": asked,
        "second_asked": second_asked,
        "hold": hold,
        "chunks": chunks,
        "window": window,
    }
    hold.set()


def harvest_process(tmp_path, database_url: str, base_url: str) -> subprocess.Popen:
    config = tmp_path / "config.toml"
    config.write_text(
        f'[database]\nurl = "{database_url}"\n'
        '[web]\nsecret_key = "test-secret"\n'
        "[http]\nretries = 0\ntimeout_seconds = 90.0\n"
        '[sources.cf]\nkind = "contracts_finder"\n'
        f'base_url = "{base_url}"\nlookback_days = 1\ndelay_seconds = 0.0\n'
    )
    return subprocess.Popen(
        [sys.executable, "-m", "broker", "--config", str(config), "harvest", "cf"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def ocids(releases) -> set[str]:
    return {release["ocid"] for release in releases}


@pytest.mark.slow
def test_a_harvest_killed_between_pages_loses_nothing_and_resumes(
    tmp_path, database_url, contracts_finder
):
    engine = make_engine(database_url)
    first, second, third = contracts_finder["chunks"]
    try:
        process = harvest_process(tmp_path, database_url, contracts_finder["url"])
        assert contracts_finder["second_asked"].wait(60), process.communicate(timeout=5)[0]
        with Session(engine) as s:
            # The first page and the state after it were committed together.
            stored = set(s.scalars(select(NoticeSource.source_id)))
            assert stored == ocids(first)
            window = s.get(SourceState, "cf").state["window"]
            assert (window["cursor"], window["page"]) == ("page-2", 2)
        process.kill()  # SIGKILL: no cleanup, no last commit
        process.communicate(timeout=10)
        contracts_finder["hold"].set()
        with Session(engine) as s:
            assert set(s.scalars(select(NoticeSource.source_id))) == ocids(first)
            assert s.scalar(select(HarvestRun.status)) == "running"  # as the dead run left it

        asked_before = len(contracts_finder["asked"])
        again = harvest_process(tmp_path, database_url, contracts_finder["url"])
        output, _ = again.communicate(timeout=120)
        assert again.returncode == 0, output
        assert "Traceback" not in output
        # It went on from the second page: the first was never asked for again, and
        # after the third it moved on to the time since, never back.
        window = contracts_finder["window"]
        resumed = contracts_finder["asked"][asked_before:]
        assert [c for start, c in resumed if start == window["from"]] == ["page-2", "page-3"]
        assert all(start >= window["to"] for start, _ in resumed if start != window["from"])

        with Session(engine) as s:
            everything = ocids(first) | ocids(second) | ocids(third)
            assert s.scalar(select(func.count(Notice.id))) == len(everything)
            assert s.scalar(select(func.count(NoticeSource.id))) == len(everything)
            assert set(s.scalars(select(NoticeSource.source_id))) == everything
            runs = s.scalars(select(HarvestRun).order_by(HarvestRun.id)).all()
            assert [r.status for r in runs] == ["interrupted", "ok"]
            assert "stopped before it finished" in runs[0].error
            assert runs[0].new == len(ocids(first))  # what it had committed, counted
            assert s.get(SourceState, "cf").state["window"] is None
    finally:
        engine.dispose()


def test_a_second_run_while_one_is_alive_leaves_it_alone(database_url, make_settings, clock):
    """Only a run whose process is gone is marked interrupted: the harvest lock says so."""
    from broker import create_app
    from broker.harvest.running import harvest_source
    from broker.locks import exclusive

    settings = make_settings(
        sources={"cf": {"kind": "contracts_finder", "base_url": "http://127.0.0.1:9/x"}}
    )
    app = create_app(settings)
    sessions = app.extensions["broker.sessions"]
    with sessions.begin() as s:
        s.add(HarvestRun(source="cf", started_at=clock.now, status="running"))
    with exclusive(app.extensions["broker.engine"], "harvest:cf"):  # the live run's lock
        summary = harvest_source(sessions, settings, "cf", clock)
    assert summary.status == "skipped"
    with sessions() as s:
        assert s.scalar(select(HarvestRun.status)) == "running"
    app.extensions["broker.engine"].dispose()
