"""Harvest runs: pages stored one transaction each, state resumed, failures recorded."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select
from werkzeug import Response

from broker.harvest.health import backoff_delay
from broker.harvest.running import harvest_source, run_pages
from broker.models import HarvestRun, Notice, RejectedRecord, SourceState
from broker.runtime.jobs import harvest_job
from feeds.http import Fetcher, HttpPolicy
from feeds.ocds import notice_from_release
from feeds.types import Page, Rejection

PCS_2026 = "pcs_ocds_notices_2026-09_nt102_trimmed.json"


def no_wait_fetcher() -> Fetcher:
    return Fetcher(HttpPolicy(timeout=2, retries=1, backoff=0), sleep=lambda _s: None)


@pytest.fixture
def pcs_site(httpserver, data_dir):
    """A local stand-in for the PCS API serving the recorded September 2026 site notices."""
    payload = (data_dir / PCS_2026).read_bytes()
    envelope = json.loads(payload)
    del envelope["releases"]
    asked = []

    def answer(request):
        key = (request.args["dateFrom"], request.args["noticeType"])
        asked.append(key)
        if key == ("09-2026", "102"):
            return Response(payload, content_type="application/json")
        if key == ("08-2026", "2"):
            return Response("Error converting data type nvarchar to float.", status=500)
        return Response(json.dumps(envelope), content_type="application/json")

    httpserver.expect_request("/v1/Notices").respond_with_handler(answer)
    return {"base_url": httpserver.url_for("/v1"), "asked": asked}


@pytest.fixture
def pcs_settings(make_settings, pcs_site):
    return make_settings(
        sources={
            "pcs": {
                "kind": "pcs",
                "base_url": pcs_site["base_url"],
                "notice_types": [2, 102],
                "lookback_months": 1,
                "delay_seconds": 0,
            }
        }
    )


@pytest.fixture
def pcs_sessions(pcs_settings):
    from broker import create_app

    app = create_app(pcs_settings)
    yield app.extensions["broker.sessions"]
    app.extensions["broker.engine"].dispose()


def test_harvest_over_http_stores_notices_and_records_the_run(
    pcs_sessions, pcs_settings, pcs_site, clock
):
    clock.now = datetime(2026, 9, 19, 17, 30, tzinfo=UTC)
    summary = harvest_source(pcs_sessions, pcs_settings, "pcs", clock, fetcher=no_wait_fetcher())
    assert summary.new == 3
    # August's contract notices failed on the server; September's were stored anyway.
    assert summary.status == "partial"
    assert summary.failed_pages == 1
    assert "2026-08 noticeType 2" in summary.error and "HTTP 500" in summary.error
    with pcs_sessions() as s:
        run = s.get(HarvestRun, summary.run_id)
        assert (run.new, run.pages, run.failed_pages, run.status) == (3, 4, 1, "partial")
        assert run.finished_at == clock.now
        assert s.scalar(select(func.count(Notice.id))) == 3
        state = s.get(SourceState, "pcs")
        assert state.state["from"] == "2026-08"
        assert state.consecutive_failures == 0


def test_a_second_harvest_changes_nothing_and_retries_only_what_is_unfinished(
    pcs_sessions, pcs_settings, pcs_site, clock
):
    clock.now = datetime(2026, 9, 19, 17, 30, tzinfo=UTC)
    harvest_source(pcs_sessions, pcs_settings, "pcs", clock, fetcher=no_wait_fetcher())
    pcs_site["asked"].clear()
    clock.advance(hours=1)
    again = harvest_source(pcs_sessions, pcs_settings, "pcs", clock, fetcher=no_wait_fetcher())
    assert (again.new, again.updated, again.unchanged) == (0, 0, 3)
    # August/type 102 finished cleanly and is not asked for again; the failed month is.
    assert ("08-2026", "102") not in pcs_site["asked"]
    assert ("08-2026", "2") in pcs_site["asked"]
    assert ("09-2026", "102") in pcs_site["asked"]


def test_an_unreachable_source_is_recorded_and_backs_off(
    password, make_settings, clock, csrf_token
):
    from broker import create_app
    from broker.accounts.users import create_user
    from broker.clock import utcnow

    clock.now = utcnow()  # the sources page compares the back-off with the real time

    settings = make_settings(
        sources={
            "pcs": {
                "kind": "pcs",
                "base_url": "http://127.0.0.1:9/v1",
                "notice_types": [102],
                "lookback_months": 0,
                "interval_minutes": 30,
            }
        }
    )
    app = create_app(settings)
    sessions = app.extensions["broker.sessions"]
    for _ in range(3):
        summary = harvest_source(sessions, settings, "pcs", clock, fetcher=no_wait_fetcher())
        assert summary.status == "failed"
        assert "127.0.0.1:9" in summary.error
    with sessions() as s:
        state = s.get(SourceState, "pcs")
        assert state.consecutive_failures == 3
        assert state.next_attempt_at == clock.now + timedelta(minutes=60)
        assert "127.0.0.1:9" in state.last_error
    with sessions.begin() as s:
        create_user(s, "c@sen.example.org", password, "coordinator", clock.now)
    web = app.test_client()
    token = csrf_token(web.get("/login").get_data(as_text=True))
    web.post(
        "/login", data={"email": "c@sen.example.org", "password": password, "csrf_token": token}
    )
    page = web.get("/sources/").get_data(as_text=True)
    assert "Failed" in page and "127.0.0.1:9" in page
    assert "Backing off" in page and "3 failed runs in a row" in page
    app.extensions["broker.engine"].dispose()


def test_backoff_doubles_after_three_failures_and_is_capped(settings):
    from broker.config import SourceSettings

    settings = type(settings)(
        **{
            **settings.__dict__,
            "sources": {"x": SourceSettings(name="x", kind="pcs", interval_minutes=60)},
        }
    )
    delays = [backoff_delay(n, settings, "x") for n in range(1, 10)]
    assert delays[:2] == [timedelta(hours=1)] * 2
    assert delays[2:5] == [timedelta(hours=2), timedelta(hours=4), timedelta(hours=8)]
    assert delays[-1] == timedelta(hours=24)


def test_the_scheduled_job_skips_a_source_that_is_backing_off(app, sessions, clock):
    with sessions.begin() as s:
        s.add(
            SourceState(
                name="pcs",
                state={},
                updated_at=clock.now,
                consecutive_failures=4,
                next_attempt_at=datetime(2099, 1, 1, tzinfo=UTC),
            )
        )
    harvest_job(app, "pcs")
    with sessions() as s:
        assert s.scalar(select(func.count(HarvestRun.id))) == 0


def pages_then_crash(data_dir):
    """Two good pages, then the harvester dies before the third."""
    releases = json.loads((data_dir / PCS_2026).read_text())["releases"]
    yield Page("page 1", notices=(notice_from_release(releases[0]),), state={"page": 1})
    yield Page(
        "page 2",
        notices=(notice_from_release(releases[1]),),
        rejections=(Rejection("pcs", "page 2, release 2", "release has no title", "ocds-x"),),
        state={"page": 2},
    )
    raise RuntimeError("connection reset in the middle of page 3")


def test_a_crash_between_pages_keeps_what_was_stored_and_the_state(
    sessions, settings, clock, data_dir
):
    summary = run_pages(
        sessions, "pcs", pages_then_crash(data_dir), clock, settings=settings, trigger="cli"
    )
    assert summary.status == "partial"
    assert "connection reset" in summary.error
    with sessions() as s:
        assert s.scalar(select(func.count(Notice.id))) == 2
        assert s.get(SourceState, "pcs").state == {"page": 2}
        rejected = s.scalars(select(RejectedRecord)).one()
        assert (rejected.position, rejected.record_id, rejected.reason) == (
            "page 2, release 2",
            "ocds-x",
            "release has no title",
        )
        assert rejected.kept is False
        run = s.get(HarvestRun, summary.run_id)
        assert (run.new, run.rejected, run.pages) == (2, 1, 2)


def test_a_record_the_database_refuses_is_rejected_alone(sessions, settings, clock, data_dir):
    releases = json.loads((data_dir / PCS_2026).read_text())["releases"]
    first, second, third = (notice_from_release(r) for r in releases)
    broken = notice_from_release(releases[1])
    object.__setattr__(broken, "title", None)  # violates NOT NULL when stored

    def pages():
        yield Page("page 1", notices=(first,), state={"page": 1})
        yield Page("page 2", notices=(broken, third), state={"page": 2})
        yield Page("page 3", notices=(second,), state={"page": 3})

    summary = run_pages(sessions, "pcs", pages(), clock, settings=settings, trigger="cli")
    assert (summary.status, summary.new, summary.rejected) == ("partial", 3, 1)
    with sessions() as s:
        titles = set(s.scalars(select(Notice.title)))
        assert titles == {first.title, second.title, third.title}
        assert s.get(SourceState, "pcs").state == {"page": 3}
        rejected = s.scalars(select(RejectedRecord)).one()
        assert (rejected.position, rejected.record_id, rejected.kept) == (
            "page 2",
            broken.source_id,
            False,
        )
        assert rejected.reason.startswith("could not be stored: IntegrityError:")
        assert "notices.title" in rejected.reason or "title" in rejected.reason
        assert "[SQL" not in rejected.reason


def test_problems_in_kept_records_are_listed_with_the_record(sessions, settings, clock, data_dir):
    package = json.loads((data_dir / "fts_release_package_2026-09-11_trimmed.json").read_text())
    release = package["releases"][0]
    release["tender"]["value"]["amount"] = float("inf")
    notice = notice_from_release(release)
    assert notice.value is None and notice.problems

    summary = run_pages(
        sessions,
        "find_a_tender",
        iter([Page("p1", notices=(notice,))]),
        clock,
        settings=settings,
        trigger="cli",
    )
    assert summary.new == 1
    with sessions() as s:
        problem = s.scalars(select(RejectedRecord)).one()
        assert problem.kept is True
        assert problem.record_id == "ocds-h6vhtk-06f877"
        assert "value" in problem.reason
