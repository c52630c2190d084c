"""Sources added on the Sources page: the forms, their checks, who may use them, and the
scheduler and `broker harvest` picking them up without a restart."""

from __future__ import annotations

import re
import time
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from broker.clock import utcnow
from broker.harvest.catalogue import find_source, stored_sources
from broker.harvest.stored import SourceEntry, add_source
from broker.models import ConfiguredSource, HarvestRun, NoticeSource, SourceState
from broker.runtime.scheduler import build_scheduler, sync_jobs
from feeds.sources.html_listing import HtmlListingOptions
from feeds.sources.rss import RssOptions

FEED = "/business/tenders/feed.rss"
LISTING = "/business/procurement/current-tenders"
SELECTORS = {
    "item_selector": "tr.opportunity",
    "title_selector": "td.title a",
    "link_selector": "td.title a",
    "deadline_selector": "td.closing",
    "buyer_selector": "td.buyer",
}


@pytest.fixture
def settings(make_settings):
    # One source in config.toml, so a clash with its name can be tried.
    return make_settings(sources={"pcs": {"kind": "pcs", "base_url": "http://127.0.0.1:9/v1"}})


@pytest.fixture
def council_site(httpserver, data_dir):
    """A council's site: its RSS feed and its "current tenders" page (recorded shapes)."""
    httpserver.expect_request(FEED).respond_with_data(
        (data_dir / "rss_council_tenders.xml").read_bytes(),
        content_type="application/rss+xml; charset=utf-8",
    )
    httpserver.expect_request("/robots.txt").respond_with_data("User-agent: *\nDisallow: /admin/\n")
    httpserver.expect_request(LISTING).respond_with_data(
        (data_dir / "html_listing_council.html").read_bytes(),
        content_type="text/html; charset=utf-8",
    )
    return httpserver


def post_form(client, csrf_token, path: str, **fields):
    token = csrf_token(client.get(path))
    data = {"csrf_token": token, **{k: v for k, v in fields.items() if v is not None}}
    return client.post(path, data=data)


def rss_fields(url: str, **changes) -> dict[str, str]:
    return {
        "name": "example-council",
        "url": url,
        "interval_minutes": "60",
        "default_buyer": "Example Borough Council",
        "delay_seconds": "0",
        "enabled": "y",
        **changes,
    }


def test_an_admin_adds_an_rss_feed_from_the_sources_page(
    pages, client, admin, sessions, csrf_token, council_site
):
    index = pages.text(client.get("/sources/"))
    assert '<a href="/sources/add/rss">Add an RSS or Atom feed</a>' in index
    assert '<a href="/sources/add/html_listing">Add a web page that lists tenders</a>' in index
    form = pages.text(client.get("/sources/add/rss"))
    for input_id in re.findall(r'<(?:input|select|textarea)[^>]* id="([^"]+)"', form):
        if input_id != "csrf_token":
            assert f'<label for="{input_id}">' in form, input_id
    assert '<button type="submit" class="button">Add feed</button>' in form
    pages.assert_accessible(form)

    url = council_site.url_for(FEED)
    response = post_form(client, csrf_token, "/sources/add/rss", **rss_fields(url))
    assert response.status_code == 302, response.get_data(as_text=True)
    assert response.headers["Location"] == "/sources/example-council"
    with sessions() as s:
        row = s.scalars(select(ConfiguredSource)).one()
        assert (row.name, row.kind, row.enabled, row.interval_minutes) == (
            "example-council",
            "rss",
            True,
            60,
        )
        assert row.updated_by_id == admin.id
        source = find_source(s, _settings(client), "example-council")
    assert source.options == RssOptions(url=url, default_buyer="Example Borough Council")
    assert source.delay_seconds == 0.0

    detail = pages.text(client.get("/sources/example-council"))
    assert "Added example-council. Its first harvest starts within a minute." in detail
    assert "<h1>example-council</h1>" in detail and "RSS or Atom feed" in detail
    assert url in detail and "On this page" in detail and "Every 60 minutes" in detail
    pages.assert_accessible(detail)
    card = pages.text(client.get("/sources/"))
    assert 'href="/sources/example-council/edit"' in card
    assert "Disable example-council" in card


def _settings(client):
    return client.application.config["SETTINGS"]


def test_an_admin_adds_an_html_listing_with_its_selectors_and_it_harvests(
    pages, client, admin, sessions, csrf_token, council_site, cli_runner
):
    fields = {
        "name": "example-district",
        "url": council_site.url_for(LISTING),
        "interval_minutes": "120",
        "default_buyer": "Example District Council",
        "respect_robots": "y",
        "delay_seconds": "0",
        "enabled": "y",
        **SELECTORS,
    }
    form = pages.text(client.get("/sources/add/html_listing"))
    assert '<label for="item_selector">' in form and '<label for="detail_selector">' in form
    assert 'value="a[href]"' in form  # the link selector's default
    pages.assert_accessible(form)
    response = post_form(client, csrf_token, "/sources/add/html_listing", **fields)
    assert response.status_code == 302, response.get_data(as_text=True)
    with sessions() as s:
        source = find_source(s, _settings(client), "example-district")
    assert source.interval_minutes == 120
    assert source.options == HtmlListingOptions(
        url=council_site.url_for(LISTING), default_buyer="Example District Council", **SELECTORS
    )
    # `broker harvest NAME` reads the stored source like one from config.toml.
    result = cli_runner("harvest", "example-district")
    assert result.exit_code == 0, result.output
    assert "example-district: partial — 3 new" in result.output  # one row has no title
    with sessions() as s:
        titles = set(s.scalars(select(NoticeSource.data["title"].as_string())))
    assert "Cleaning of public conveniences" in titles


def test_each_bad_field_gets_its_own_message(pages, client, admin, sessions, csrf_token):
    response = post_form(
        client,
        csrf_token,
        "/sources/add/html_listing",
        name="Fife Council!",
        url="ftp://files.example.gov.uk/tenders",
        interval_minutes="1",
        item_selector="tr.opportunity",
        title_selector="td[",
        link_selector="a[href]",
        delay_seconds="-2",
    )
    page = pages.text(response, 400)
    assert "The source was not saved" in page
    assert pages.field_errors(page, "name") == [
        "Use up to 60 lower-case letters, digits, '-' or '_', starting with a letter or "
        "digit, e.g. fife-council"
    ]
    assert pages.field_errors(page, "interval_minutes") == [
        "Enter a number of minutes from 5 to 10080 (a week)"
    ]
    assert pages.field_errors(page, "delay_seconds") == ["Enter a number of seconds from 0 to 300"]
    assert pages.field_errors(page, "title_selector")[0].startswith("Bad CSS selector 'td['")
    assert pages.field_errors(page, "url") == [
        "Must be an http(s) URL, not 'ftp://files.example.gov.uk/tenders'"
    ]
    # What was typed stays in the form, escaped.
    assert 'value="Fife Council!"' in page
    pages.assert_accessible(page)
    missing = pages.text(post_form(client, csrf_token, "/sources/add/html_listing", name="x"), 400)
    assert pages.field_errors(missing, "item_selector") == ["Enter the selector of each tender"]
    assert pages.field_errors(missing, "url") == ["Enter its web address"]
    # Every problem at once: a missing address doesn't hide a bad name or selector.
    several = pages.text(
        post_form(
            client,
            csrf_token,
            "/sources/add/html_listing",
            name="Not A Name!",
            interval_minutes="60",
            item_selector="tr[",
        ),
        400,
    )
    assert pages.field_errors(several, "url") == ["Enter its web address"]
    assert pages.field_errors(several, "name")[0].startswith("Use up to 60 lower-case letters")
    assert pages.field_errors(several, "item_selector")[0].startswith("Bad CSS selector 'tr['")
    with sessions() as s:
        assert s.scalar(select(func.count(ConfiguredSource.id))) == 0


def test_a_name_in_config_toml_or_already_stored_is_refused(
    pages, client, admin, csrf_token, sessions
):
    url = "https://www.example-council.gov.uk/feed.rss"
    clash = pages.text(
        post_form(client, csrf_token, "/sources/add/rss", **rss_fields(url, name="pcs")), 400
    )
    assert pages.field_errors(clash, "name") == [
        "config.toml already has a source called 'pcs'; choose another"
    ]
    assert post_form(client, csrf_token, "/sources/add/rss", **rss_fields(url)).status_code == 302
    again = pages.text(post_form(client, csrf_token, "/sources/add/rss", **rss_fields(url)), 400)
    assert pages.field_errors(again, "name") == ["A source called 'example-council' already exists"]
    reserved = pages.text(
        post_form(client, csrf_token, "/sources/add/rss", **rss_fields(url, name="add")), 400
    )
    assert pages.field_errors(reserved, "name") == [
        "'add' is used by the Sources pages; choose another"
    ]
    with sessions() as s:
        assert s.scalar(select(func.count(ConfiguredSource.id))) == 1


def test_an_admin_edits_disables_enables_and_deletes_a_stored_source(
    pages, client, admin, sessions, csrf_token, clock
):
    url = "https://www.example-council.gov.uk/feed.rss"
    assert post_form(client, csrf_token, "/sources/add/rss", **rss_fields(url)).status_code == 302
    form = pages.text(client.get("/sources/example-council/edit"))
    assert "<h1>Edit example-council</h1>" in form
    assert 'id="name"' not in form  # a source keeps its name
    assert f'value="{url}"' in form and 'value="Example Borough Council"' in form
    pages.assert_accessible(form)
    edited = post_form(
        client,
        csrf_token,
        "/sources/example-council/edit",
        url="https://www.example-council.gov.uk/tenders.atom",
        interval_minutes="30",
        default_buyer="",
        delay_seconds="",
        enabled="y",
    )
    assert edited.headers["Location"] == "/sources/example-council"
    with sessions() as s:
        source = find_source(s, _settings(client), "example-council")
        s.add(SourceState(name="example-council", state={"seen": {}}, updated_at=clock.now))
        s.add(HarvestRun(source="example-council", started_at=clock.now, status="ok"))
        s.commit()
    assert source.options.url.endswith("/tenders.atom") and source.options.default_buyer == ""
    assert (source.interval_minutes, source.delay_seconds) == (30, None)

    page = pages.text(client.get("/sources/example-council"))
    disable = client.post(
        "/sources/example-council/enabled", data={"csrf_token": csrf_token(page), "enabled": "0"}
    )
    assert disable.headers["Location"] == "/sources/example-council"
    page = pages.text(client.get("/sources/example-council"))
    assert "is no longer harvested on schedule" in page
    assert "Not scheduled (disabled)" in page and "Enable example-council" in page
    with sessions() as s:
        assert stored_sources(s)["example-council"].enabled is False
    client.post(
        "/sources/example-council/enabled",
        data={"csrf_token": csrf_token(page), "enabled": "1", "back": "index"},
    )
    with sessions() as s:
        assert stored_sources(s)["example-council"].enabled is True

    form = pages.text(client.get("/sources/example-council/edit"))
    assert (
        '<button type="submit" class="button danger-button">Delete example-council</button>' in form
    )
    deleted = client.post("/sources/example-council/delete", data={"csrf_token": csrf_token(form)})
    assert deleted.headers["Location"] == "/sources/"
    assert "Deleted example-council." in pages.text(client.get("/sources/"))
    assert client.get("/sources/example-council").status_code == 404
    with sessions() as s:
        assert s.scalar(select(func.count(ConfiguredSource.id))) == 0
        assert s.get(SourceState, "example-council") is None  # re-added, it starts afresh
        assert s.scalar(select(func.count(HarvestRun.id))) == 1  # its history stays


def test_config_toml_sources_cannot_be_edited_or_deleted_here(pages, client, admin, csrf_token):
    page = pages.text(client.get("/sources/pcs"))
    assert "In config.toml" in page and "/sources/pcs/edit" not in page
    assert client.get("/sources/pcs/edit").status_code == 404
    token = csrf_token(page)
    assert client.post("/sources/pcs/delete", data={"csrf_token": token}).status_code == 404
    assert client.post("/sources/pcs/enabled", data={"csrf_token": token}).status_code == 404
    assert client.get("/sources/add/pcs").status_code == 404


def test_coordinators_see_stored_sources_but_cannot_change_them(
    pages, client, coordinator, sessions, csrf_token, clock
):
    with sessions.begin() as s:
        add_source(
            s,
            SourceEntry("example-council", "rss", 60, options={"url": "https://e.example/f.rss"}),
            {"pcs"},
            None,
            clock.now,
        )
    page = pages.text(client.get("/sources/"))
    assert "example-council" in page and "On this page" in page
    assert "Add a source" not in page and "/sources/add/rss" not in page
    assert "/sources/example-council/edit" not in page and "Disable example-council" not in page
    token = csrf_token(page)
    assert client.get("/sources/add/rss").status_code == 403
    assert client.get("/sources/example-council/edit").status_code == 403
    data = {"csrf_token": token, **rss_fields("https://e.example/f.rss", name="mine")}
    assert client.post("/sources/add/rss", data=data).status_code == 403
    for action in ("edit", "enabled", "delete"):
        response = client.post(f"/sources/example-council/{action}", data={"csrf_token": token})
        assert response.status_code == 403, action
    with sessions() as s:
        assert [r.name for r in s.scalars(select(ConfiguredSource))] == ["example-council"]
        assert s.scalar(select(ConfiguredSource.enabled)) is True


def test_forms_without_the_csrf_token_are_refused(client, admin, sessions):
    data = rss_fields("https://e.example/f.rss")
    assert client.post("/sources/add/rss", data=data).status_code == 400
    with sessions() as s:
        assert s.scalar(select(func.count(ConfiguredSource.id))) == 0


def scheduled(scheduler) -> dict[str, float]:
    return {
        job.id: job.trigger.interval.total_seconds() / 60
        for job in scheduler.get_jobs()
        if job.id.startswith("harvest:")
    }


def test_the_sync_job_adds_reschedules_and_removes_stored_sources_jobs(app, sessions, clock):
    def store(name: str, **changes):
        with sessions.begin() as s:
            add_source(
                s,
                SourceEntry(name, "rss", 60, options={"url": f"https://e.example/{name}.rss"}),
                set(),
                None,
                clock.now,
            )
            if changes:
                s.flush()
                row = s.scalars(select(ConfiguredSource).where(ConfiguredSource.name == name)).one()
                for key, value in changes.items():
                    setattr(row, key, value)

    def change(name: str, **values):
        with sessions.begin() as s:
            row = s.scalars(select(ConfiguredSource).where(ConfiguredSource.name == name)).one()
            for key, value in values.items():
                setattr(row, key, value)

    store("at-start")
    scheduler = build_scheduler(app)
    scheduler.start(paused=True)
    assert scheduled(scheduler) == {"harvest:pcs": 60, "harvest:at-start": 60}
    store("added-later")
    store("added-disabled", enabled=False)
    sync_jobs(app, scheduler)
    assert set(scheduled(scheduler)) == {"harvest:pcs", "harvest:at-start", "harvest:added-later"}
    first = scheduler.get_job("harvest:added-later").next_run_time
    assert first - utcnow() < timedelta(seconds=30)  # soon, not an interval away

    change("at-start", interval_minutes=15)
    change("added-later", enabled=False)
    change("added-disabled", enabled=True)
    sync_jobs(app, scheduler)
    assert scheduled(scheduler) == {
        "harvest:pcs": 60,
        "harvest:at-start": 15,
        "harvest:added-disabled": 60,
    }
    with sessions.begin() as s:
        s.delete(
            s.scalars(select(ConfiguredSource).where(ConfiguredSource.name == "at-start")).one()
        )
    sync_jobs(app, scheduler)
    assert set(scheduled(scheduler)) == {"harvest:pcs", "harvest:added-disabled"}
    scheduler.shutdown(wait=False)


def test_the_running_scheduler_harvests_a_feed_added_on_the_page_without_a_restart(
    pages, client, admin, app, sessions, csrf_token, council_site
):
    scheduler = build_scheduler(app)
    scheduler.remove_job("harvest:pcs")  # only the new source is of interest here
    scheduler.start()
    try:
        url = council_site.url_for(FEED)
        assert (
            post_form(client, csrf_token, "/sources/add/rss", **rss_fields(url)).status_code == 302
        )
        # The sync job runs every minute; run it now rather than wait.
        scheduler.get_job("sources:sync").modify(next_run_time=utcnow())

        def harvested():
            with sessions() as s:
                return s.scalars(
                    select(HarvestRun).where(
                        HarvestRun.source == "example-council", HarvestRun.status != "running"
                    )
                ).first()

        run = wait_for(harvested, timeout=60)
        assert (run.status, run.new, run.trigger) == ("ok", 3, "schedule")
        assert "harvest:example-council" in {job.id for job in scheduler.get_jobs()}

        page = pages.text(client.get("/sources/example-council/edit"))
        client.post("/sources/example-council/delete", data={"csrf_token": csrf_token(page)})
        scheduler.get_job("sources:sync").modify(next_run_time=utcnow())
        wait_for(lambda: scheduler.get_job("harvest:example-council") is None, timeout=30)
    finally:
        scheduler.shutdown(wait=True)


def wait_for(predicate, timeout: float):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError("timed out waiting")
