"""The sources pages: health and back-off, runs, rejected records, file imports, run now."""

from __future__ import annotations

import json
import re
import threading

import pytest
from sqlalchemy import func, select
from werkzeug import Response

from broker.clock import utcnow
from broker.harvest.running import harvest_source, run_pages
from broker.models import HarvestRun, Notice, RejectedRecord
from feeds.http import Fetcher, HttpPolicy
from feeds.types import Page, Rejection

PCS_2026 = "pcs_ocds_notices_2026-09_nt102_trimmed.json"
FTS = "fts_release_package_2026-09-11_trimmed.json"


@pytest.fixture
def pcs_url(httpserver, data_dir):
    """A stand-in for the PCS API: the recorded notices, one without a title and one with
    an amount too big for a number."""
    envelope = json.loads((data_dir / PCS_2026).read_text())
    del envelope["releases"][1]["tender"]["title"]
    envelope["releases"][2]["tender"]["value"] = {"amount": 12345.678, "currency": "GBP"}
    payload = json.dumps(envelope).replace("12345.678", "1e9999")
    httpserver.expect_request("/v1/Notices").respond_with_handler(
        lambda _request: Response(payload, content_type="application/json")
    )
    return httpserver.url_for("/v1")


@pytest.fixture
def settings(make_settings, pcs_url):
    pcs = {"kind": "pcs", "notice_types": [102], "lookback_months": 0, "delay_seconds": 0}
    return make_settings(
        sources={
            "pcs": {**pcs, "base_url": pcs_url},
            "pcs_mirror": {**pcs, "base_url": "http://127.0.0.1:9/v1", "interval_minutes": 30},
        }
    )


def no_wait_fetcher() -> Fetcher:
    return Fetcher(HttpPolicy(timeout=2, retries=1, backoff=0), sleep=lambda _s: None)


def harvest(sessions, settings, name: str):
    return harvest_source(sessions, settings, name, utcnow, fetcher=no_wait_fetcher())


def card(page: str, name: str) -> str:
    """One source's section of the sources page."""
    start = page.index(f'href="/sources/{name}"')
    return page[start : page.index("</section>", start)]


def test_sources_page_shows_each_sources_health_and_back_off(
    pages, client, coordinator, sessions, settings
):
    assert harvest(sessions, settings, "pcs").status == "partial"
    for _ in range(4):
        assert harvest(sessions, settings, "pcs_mirror").status == "failed"
    page = pages.text(client.get("/sources/"))
    good = card(page, "pcs")
    assert '<span class="status status-partial">Partly worked</span>' in good
    assert "2 new · 0 updated · 0 merged · 0 unchanged · 1 rejected" in good
    assert "<dt>Failed runs in a row</dt>\n  <dd>0</dd>" in good
    assert "At the next scheduled run" in good
    bad = card(page, "pcs_mirror")
    assert '<span class="status status-failed">Failed</span>' in bad
    assert "<dd>4</dd>" in bad
    # Repeated failures back off: the page says so, and until when.
    assert re.search(
        r"<strong>Backing off</strong> after 4 failed runs in a row: waits until <time", bad
    )
    assert "127.0.0.1:9" in bad
    assert "Every 30 minutes" in bad
    # Coordinators see health, not the run buttons.
    assert "Run pcs now" not in page
    pages.assert_accessible(page)
    pages.assert_accessible(pages.text(client.get("/sources/pcs_mirror")))


def test_a_source_page_lists_runs_and_rejected_records(
    pages, client, coordinator, sessions, settings
):
    harvest(sessions, settings, "pcs")
    harvest(sessions, settings, "pcs")
    page = pages.text(client.get("/sources/pcs"))
    assert "<h1>pcs</h1>" in page
    assert "Runs (2)" in page
    runs = page[page.index('id="runs-heading"') : page.index('id="rejected-heading"')]
    assert runs.count("Scheduled") == 2
    assert "0 new · 0 updated · 0 merged · 2 unchanged · 1 rejected" in runs
    rejected = page[page.index('id="rejected-heading"') :]
    assert "Rejected records and problems (4)" in rejected
    assert "release has no title (tender.title or title)" in rejected
    assert "<code>ocds-r6ebe6-0000843438</code>" in rejected
    assert re.search(r"<code>pcs \d{4}-\d{2} noticeType 102, release 2</code>", rejected)
    # The record stored with its amount left out is listed as kept.
    assert "tender.value.amount" in rejected and '<span class="badge">Kept</span>' in rejected
    kept = pages.text(client.get("/sources/pcs?show=kept"))
    kept = kept[kept.index('id="rejected-heading"') :]
    assert "tender.value.amount" in kept and "release has no title" not in kept
    assert '<option value="kept" selected>' in kept
    pages.assert_accessible(page)


def test_rejected_records_come_a_page_at_a_time(pages, client, coordinator, sessions, settings):
    rejections = tuple(
        Rejection("pcs", f"page 1, release {i}", "release has no title", f"ocds-{i}")
        for i in range(1, 56)
    )
    run_pages(
        sessions,
        "pcs",
        iter([Page("page 1", rejections=rejections)]),
        utcnow,
        settings=settings,
        trigger="schedule",
    )
    first = pages.text(client.get("/sources/pcs"))
    assert first.count("release has no title") == 50
    assert "Page 1 of 2" in first
    assert 'href="/sources/pcs?rejected_page=2#rejected"' in first
    second = pages.text(client.get("/sources/pcs?rejected_page=2"))
    assert second.count("release has no title") == 5


def test_file_imports_are_listed_with_their_problems(
    pages, client, coordinator, cli_runner, data_dir, tmp_path
):
    # The recorded Find a Tender package, with an amount as big as the API sometimes writes.
    package = (data_dir / FTS).read_text().replace('"amount": 450000', '"amount": 1e9999', 1)
    path = tmp_path / "fts_big_amount.json"
    path.write_text(package)
    assert cli_runner("import", str(path)).exit_code == 0
    page = pages.text(client.get("/sources/"))
    imports = page[page.index('id="imports-heading"') :]
    assert '<a href="/sources/import:fts_big_amount.json">fts_big_amount.json</a>' in imports
    assert "2 new · 0 updated · 0 merged · 0 unchanged · 0 rejected" in imports
    detail = pages.text(client.get("/sources/import:fts_big_amount.json"))
    assert "<h1>File import fts_big_amount.json</h1>" in detail
    assert "<td>File import</td>" in detail
    rejected = detail[detail.index('id="rejected-heading"') :]
    assert "Rejected records and problems (1)" in rejected
    assert "not a usable amount" in rejected and '<span class="badge">Kept</span>' in rejected
    assert "<code>ocds-h6vhtk-" in rejected
    assert "Run " not in detail  # an import can't be run again from here


def test_unknown_sources_are_not_found(client, coordinator):
    assert client.get("/sources/nope").status_code == 404
    assert client.get("/sources/import:never.json").status_code == 404


def harvest_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("harvest-")]


def test_an_admin_can_run_a_source_now(pages, client, admin, sessions, csrf_token):
    page = pages.text(client.get("/sources/"))
    assert '<button type="submit" class="button secondary-button">Run pcs now</button>' in page
    pages.assert_accessible(page)
    response = client.post(
        "/sources/pcs/run", data={"csrf_token": csrf_token(page), "back": "index"}
    )
    assert response.status_code == 302 and response.headers["Location"] == "/sources/"
    for thread in harvest_threads():
        thread.join(timeout=30)
    assert "Started a run of pcs." in pages.text(client.get("/sources/"))
    with sessions() as s:
        run = s.scalars(select(HarvestRun).where(HarvestRun.source == "pcs")).one()
        assert (run.status, run.new, run.rejected) == ("partial", 2, 1)
        assert s.scalar(select(func.count(Notice.id))) == 2


def test_an_admin_can_run_a_backing_off_source_anyway(
    pages, client, admin, sessions, settings, csrf_token
):
    for _ in range(3):
        harvest(sessions, settings, "pcs_mirror")
    page = pages.text(client.get("/sources/pcs_mirror"))
    response = client.post("/sources/pcs_mirror/run", data={"csrf_token": csrf_token(page)})
    assert response.headers["Location"] == "/sources/pcs_mirror"
    for thread in harvest_threads():
        thread.join(timeout=30)
    page = pages.text(client.get("/sources/pcs_mirror"))
    assert "has failed 3 runs in a row; this run goes ahead anyway" in page
    with sessions() as s:
        # Asked for by an admin, the run went ahead despite the back-off.
        runs = s.scalars(select(HarvestRun).order_by(HarvestRun.id)).all()
        assert len(runs) == 4
        assert runs[-1].trigger == "manual"


def test_coordinators_cannot_run_sources(pages, client, coordinator, sessions, csrf_token):
    page = pages.text(client.get("/sources/pcs"))
    assert "Run pcs now" not in page
    response = client.post("/sources/pcs/run", data={"csrf_token": csrf_token(page)})
    assert response.status_code == 403
    assert not harvest_threads()
    with sessions() as s:
        assert s.scalar(select(func.count(HarvestRun.id))) == 0
        assert s.scalar(select(func.count(RejectedRecord.id))) == 0


def test_running_without_the_csrf_token_is_refused(client, admin, sessions):
    assert client.post("/sources/pcs/run").status_code == 400
    assert not harvest_threads()
