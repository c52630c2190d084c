"""Hardening at the broker level: one failing source never stops the others; a source that
keeps failing backs off, and the Sources page says so; a response over the size cap and a
server that drips its bytes are that source's error, with a message that says which."""

from __future__ import annotations

import re
import time
from datetime import timedelta

import pytest
from sqlalchemy import func, select
from werkzeug import Request, Response

from broker.clock import utcnow
from broker.harvest.health import backing_off
from broker.harvest.running import harvest_source
from broker.harvest.stored import SourceEntry, add_source, stored_row, update_source
from broker.models import ConfiguredSource, HarvestRun, Notice, SourceState
from broker.runtime.jobs import harvest_job
from feeds.http import Fetcher, HttpPolicy

SIZE_CAP = 20_000


@pytest.fixture
def site(httpserver, data_dir):
    """A good council feed, and three servers that misbehave."""
    feed = (data_dir / "rss_council_tenders.xml").read_bytes()
    assert len(feed) < SIZE_CAP
    httpserver.expect_request("/good.rss").respond_with_data(
        feed, content_type="application/rss+xml"
    )
    # Declares its size: refused before a byte of the body is read.
    httpserver.expect_request("/too-big.rss").respond_with_data(
        feed * 10, content_type="application/rss+xml"
    )

    def endless(_request: Request) -> Response:
        def chunks():
            for _ in range(1000):
                yield b"<item>" + b"x" * 4096 + b"</item>"

        return Response(chunks(), content_type="application/rss+xml")  # no Content-Length

    def drip(_request: Request) -> Response:
        def chunks():
            yield feed[:100]
            for byte in feed[100:130]:
                time.sleep(0.1)  # each read comes well inside the per-read timeout
                yield bytes([byte])

        return Response(chunks(), content_type="application/rss+xml")

    httpserver.expect_request("/endless.rss").respond_with_handler(endless)
    httpserver.expect_request("/drip.rss").respond_with_handler(drip)
    return httpserver


@pytest.fixture
def settings(make_settings, site):
    def rss(path: str) -> dict:
        return {"kind": "rss", "url": site.url_for(path), "delay_seconds": 0.0}

    return make_settings(
        {
            "http": {
                "max_bytes": SIZE_CAP,
                "timeout_seconds": 2.0,
                "total_timeout_seconds": 1.0,
                "retries": 0,
            }
        },
        sources={
            "too_big": rss("/too-big.rss"),
            "endless": rss("/endless.rss"),
            "drip": rss("/drip.rss"),
            "good": rss("/good.rss"),
        },
    )


def run_count(sessions) -> int:
    with sessions() as s:
        return s.scalar(select(func.count(HarvestRun.id)))


def runs(sessions) -> dict[str, HarvestRun]:
    with sessions() as s:
        return {run.source: run for run in s.scalars(select(HarvestRun).order_by(HarvestRun.id))}


def test_each_failing_source_is_its_own_error_and_the_others_carry_on(
    app, sessions, settings, client, coordinator
):
    started = time.monotonic()
    for name in settings.sources:  # as the scheduler runs them, one job each
        harvest_job(app, name)
    assert time.monotonic() - started < 10
    done = runs(sessions)
    assert (done["good"].status, done["good"].new) == ("ok", 3)
    for name in ("too_big", "endless", "drip"):
        assert done[name].status == "failed", (name, done[name].error)
    assert re.search(
        r"too-big\.rss: response of \d+ bytes is over 20000, the size limit; not downloaded",
        done["too_big"].error,
    )
    assert "endless.rss: response is over 20000 bytes, the size limit; cut off" in (
        done["endless"].error
    )
    assert (
        "drip.rss: gave up after 1 attempt: took longer than 1 s in all (the total time "
        "limit: the server sent it too slowly)" in done["drip"].error
    )
    with sessions() as s:
        assert len(s.scalars(select(Notice)).all()) == 3
        for name in ("too_big", "endless", "drip"):
            assert s.get(SourceState, name).consecutive_failures == 1
    page = client.get("/sources/").get_data(as_text=True)
    assert "over 20000, the size limit; not downloaded" in page
    assert "the server sent it too slowly" in page


def test_broker_harvest_runs_every_source_whatever_one_of_them_does(
    cli_runner, sessions, settings, clock
):
    with sessions.begin() as s:
        # A source stored by some other version, of a kind this one doesn't know.
        s.add(
            ConfiguredSource(
                name="gopher-site",
                kind="gopher",
                enabled=True,
                interval_minutes=60,
                options={},
                created_at=clock.now,
                updated_at=clock.now,
            )
        )
    result = cli_runner("harvest")
    assert result.exit_code == 0, result.output
    lines = result.output
    assert "good: ok — 3 new" in lines
    assert "too_big: failed" in lines and "drip: failed" in lines and "endless: failed" in lines
    assert "gopher-site: failed" in lines and "cannot set up the harvester" in lines
    assert "Done: harvested 3 records (3 new notices, 0 rejected) from 5 sources; 4 failed." in (
        lines
    )
    listed = cli_runner("sources")
    assert listed.exit_code == 0, listed.output
    table = {line.split("│")[1].strip(): line for line in listed.output.splitlines() if "│" in line}
    assert "Sources page" in table["gopher-site"] and "config.toml" in table["good"]
    assert "failed" in table["too_big"] and "ok" in table["good"]
    # A name that is not configured stops the command before it harvests anything.
    typo = cli_runner("harvest", "good", "godo")
    assert typo.exit_code == 1
    assert "no source called 'godo'" in typo.output
    with sessions() as s:
        assert s.scalar(select(func.count(HarvestRun.id)).where(HarvestRun.source == "good")) == 1


@pytest.fixture
def failing_feed(sessions, clock):
    """A feed added on the Sources page, at an address nothing answers."""
    clock.now = utcnow()  # the Sources page compares the back-off with the real time
    with sessions.begin() as s:
        add_source(
            s,
            SourceEntry(
                "flaky", "rss", 60, delay_seconds=0.0, options={"url": "http://127.0.0.1:9/"}
            ),
            set(),
            None,
            clock.now,
        )
    return "flaky"


def no_wait_fetcher() -> Fetcher:
    return Fetcher(HttpPolicy(timeout=2, retries=0, backoff=0), sleep=lambda _s: None)


def card(page: str, name: str) -> str:
    start = page.index(f'href="/sources/{name}"')
    return page[start : page.index("</section>", start)]


def test_a_source_backs_off_from_its_third_failure_in_a_row_and_the_page_says_so(
    sessions, settings, clock, client, admin, failing_feed, site
):
    def fail() -> SourceState:
        summary = harvest_source(sessions, settings, "flaky", clock, fetcher=no_wait_fetcher())
        assert summary.status == "failed"
        with sessions() as s:
            return s.get(SourceState, "flaky")

    for failures in (1, 2):
        started = clock.now
        state = fail()
        assert state.consecutive_failures == failures
        # Tried again at its next scheduled run, an interval later.
        assert state.next_attempt_at is None
        assert not backing_off(state.next_attempt_at, started + timedelta(minutes=60))
        flaky = card(client.get("/sources/").get_data(as_text=True), "flaky")
        assert f"<dt>Failed runs in a row</dt>\n  <dd>{failures}</dd>" in flaky
        assert "At the next scheduled run" in flaky
        clock.advance(minutes=60)

    started = clock.now
    state = fail()
    assert state.consecutive_failures == 3
    assert state.next_attempt_at == started + timedelta(minutes=120)
    # The scheduler fires on the interval: the next firing waits, the one after runs.
    fired = started - timedelta(seconds=0.2)
    assert backing_off(state.next_attempt_at, fired + timedelta(minutes=60))
    assert not backing_off(state.next_attempt_at, fired + timedelta(minutes=120))
    flaky = card(client.get("/sources/").get_data(as_text=True), "flaky")
    assert re.search(
        r"<strong>Backing off</strong> after 3 failed runs in a row: waits until <time", flaky
    )
    assert "127.0.0.1:9" in flaky  # the last error, shown with it

    clock.advance(minutes=120)
    started = clock.now
    assert fail().next_attempt_at == started + timedelta(hours=4)

    # Fixed on the Sources page, it works at the next try and the back-off is over.
    with sessions.begin() as s:
        row = stored_row(s, "flaky")
        update_source(
            s,
            row,
            SourceEntry("flaky", "rss", 60, options={"url": site.url_for("/good.rss")}),
            set(settings.sources),
            None,
            clock.now,
        )
    clock.advance(hours=4)
    summary = harvest_source(sessions, settings, "flaky", clock, fetcher=no_wait_fetcher())
    assert (summary.status, summary.new) == ("ok", 3)
    with sessions() as s:
        state = s.get(SourceState, "flaky")
        assert (state.consecutive_failures, state.next_attempt_at) == (0, None)
    flaky = card(client.get("/sources/").get_data(as_text=True), "flaky")
    assert "Backing off" not in flaky and "At the next scheduled run" in flaky


def test_the_scheduled_job_waits_out_a_back_off_but_not_a_moment_more(app, sessions, clock):
    def run_with(next_attempt_at) -> bool:
        with sessions.begin() as s:
            state = s.get(SourceState, "good") or SourceState(
                name="good", state={}, updated_at=clock.now
            )
            state.consecutive_failures = 3 if next_attempt_at else 0
            state.next_attempt_at = next_attempt_at
            s.add(state)
        before = run_count(sessions)
        harvest_job(app, "good")
        return run_count(sessions) > before

    assert not run_with(utcnow() + timedelta(hours=1))
    assert run_with(utcnow() + timedelta(seconds=10))  # the firing that ends the back-off
    assert run_with(None)
