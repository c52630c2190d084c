"""HTML listing sources against a local HTTP server: selectors, encodings, robots.txt, manners."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from feeds.dates import LONDON
from feeds.html_listing import parse_listing_date
from feeds.sources.html_listing import HtmlListing, HtmlListingOptions

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
LISTING = "/business/procurement/current-tenders"
ROW_SELECTORS = {
    "item_selector": "tr.opportunity",
    "title_selector": "td.title a",
    "link_selector": "td.title a",
    "deadline_selector": "td.closing",
    "buyer_selector": "td.buyer",
}
ROBOTS = b"User-agent: *\nDisallow: /admin/\n\nUser-agent: BadBot\nDisallow: /\n"


def listing(httpserver, fetcher, state=None, **options):
    """All pages of one run of a listing source over the served council page."""
    settings = {**ROW_SELECTORS, "default_buyer": "Example District Council", **options}
    harvester = HtmlListing(HtmlListingOptions(url=httpserver.url_for(LISTING), **settings))
    return list(harvester.pages(fetcher, state or {}, NOW))


def serve_site(httpserver, recorded, *, robots=ROBOTS, page=None, headers=None):
    if robots is not None:
        httpserver.expect_request("/robots.txt").respond_with_data(robots)
    else:
        httpserver.expect_request("/robots.txt").respond_with_data("not found", status=404)
    body = page if page is not None else recorded.bytes(recorded.HTML_LISTING)
    httpserver.expect_request(LISTING).respond_with_data(
        body, headers=headers or {"Content-Type": "text/html; charset=utf-8"}
    )


def paths(httpserver):
    return [request.path for request, _ in httpserver.log]


def test_listing_rows_become_notices(httpserver, make_fetcher, recorded):
    serve_site(httpserver, recorded)
    (page,) = listing(httpserver, make_fetcher())
    assert page.error is None
    toilets, cafe, furniture = page.notices
    assert (toilets.source, toilets.title) == ("html_listing", "Cleaning of public conveniences")
    # Relative links are resolved against the page; the id is the absolute link.
    assert (
        toilets.source_id
        == toilets.url
        == httpserver.url_for("/business/procurement/tenders/edc-2026-031")
    )
    assert cafe.url == httpserver.url_for("/business/procurement/tenders/edc-2026-034") + (
        "?src=list"
    )  # the #fragment is dropped
    assert toilets.buyer == "Neighbourhood Services"
    assert toilets.deadline == datetime(2026, 3, 27, 12, 0, tzinfo=UTC)
    assert cafe.deadline == datetime(2026, 4, 14, 22, 59, 59, tzinfo=UTC)  # "14 April 2026"
    assert furniture.deadline is None and furniture.problems == ()  # no deadline given
    assert furniture.buyer == "Example District Council"  # the configured default
    assert furniture.url == httpserver.url_for("/business/procurement/tenders/edc-2026-035")
    (rejection,) = page.rejections
    assert rejection.reason == "item has no title"
    assert rejection.position == httpserver.url_for(LISTING) + ", item 4"
    assert paths(httpserver) == ["/robots.txt", LISTING]


def test_a_windows_1252_page_is_decoded(httpserver, make_fetcher, recorded):
    text = recorded.bytes(recorded.HTML_LISTING).decode()
    text = text.replace('<meta charset="utf-8">', '<meta charset="windows-1252">')
    text = text.replace("Community café operator", "Community café “pop-up” operator")
    serve_site(
        httpserver, recorded, page=text.encode("cp1252"), headers={"Content-Type": "text/html"}
    )
    (page,) = listing(httpserver, make_fetcher())
    assert page.notices[1].title == "Community café “pop-up” operator, Riverside Park"


def test_the_http_charset_wins_over_a_wrong_meta(httpserver, make_fetcher, recorded):
    text = recorded.bytes(recorded.HTML_LISTING).decode()
    serve_site(
        httpserver,
        recorded,
        page=text.encode("cp1252"),  # the page still says utf-8 in its <meta>
        headers={"Content-Type": "text/html; charset=windows-1252"},
    )
    (page,) = listing(httpserver, make_fetcher())
    assert page.notices[1].title == "Community café operator, Riverside Park"


def test_robots_txt_that_disallows_the_path_stops_the_harvest(httpserver, make_fetcher, recorded):
    serve_site(httpserver, recorded, robots=b"User-agent: *\nDisallow: /business/\n")
    (page,) = listing(httpserver, make_fetcher(), state={"seen": {}})
    assert page.error == (
        f"robots.txt disallows {httpserver.url_for(LISTING)} "
        "for 'sen-opportunity-broker/0.1 (public tender notice harvester)'"
    )
    assert page.notices == () and page.state == {"seen": {}}
    assert paths(httpserver) == ["/robots.txt"]  # the listing itself is never requested


def test_robots_txt_rules_for_our_user_agent_apply(httpserver, make_fetcher, recorded):
    serve_site(httpserver, recorded, robots=b"User-agent: SEN-Broker\nDisallow: /\n")
    (page,) = listing(httpserver, make_fetcher(), user_agent="SEN-Broker/1.0")
    assert page.error.startswith("robots.txt disallows")
    (page,) = listing(httpserver, make_fetcher(), user_agent="OtherBot")
    assert page.error is None


@pytest.mark.parametrize(
    ("status", "allowed"),
    [(404, True), (403, False), (503, False)],
)
def test_robots_txt_that_cannot_be_read(httpserver, make_fetcher, recorded, status, allowed):
    httpserver.expect_request("/robots.txt").respond_with_data("no", status=status)
    serve_site(httpserver, recorded, robots=b"unused")
    (page,) = listing(httpserver, make_fetcher(retries=0))
    assert (page.error is None) is allowed
    if not allowed:
        assert "robots.txt" in page.error


def test_robots_txt_can_be_switched_off(httpserver, make_fetcher, recorded):
    serve_site(httpserver, recorded, robots=b"User-agent: *\nDisallow: /\n")
    (page,) = listing(httpserver, make_fetcher(), respect_robots=False)
    assert len(page.notices) == 3
    assert paths(httpserver) == [LISTING]


def serve_details(httpserver, recorded):
    detail = recorded.bytes(recorded.HTML_DETAIL)
    for slug in ("edc-2026-031", "edc-2026-034"):
        httpserver.expect_request(f"/business/procurement/tenders/{slug}").respond_with_data(
            detail, content_type="text/html"
        )


def test_item_pages_are_followed_one_at_a_time_with_the_delay(
    httpserver, make_fetcher, recorded, sleeps
):
    serve_site(httpserver, recorded)
    serve_details(httpserver, recorded)
    gone = "/business/procurement/tenders/edc-2026-035"
    httpserver.expect_request(gone).respond_with_data("withdrawn", status=404)
    fetcher = make_fetcher(delay=5.0)
    (page,) = listing(httpserver, fetcher, detail_selector="div.tender-description")
    toilets, cafe, furniture = page.notices
    assert toilets.description.startswith("The Council requires daily cleaning")
    assert toilets.cpv == ("90911200",)  # read from the item's page
    assert toilets.community_benefits
    assert cafe.description.startswith("The Council requires daily cleaning")
    assert furniture.description == ""
    assert furniture.problems == (f"item page not read: {furniture.url}: HTTP 404: withdrawn",)
    assert paths(httpserver) == [
        "/robots.txt",
        LISTING,
        "/business/procurement/tenders/edc-2026-031",
        "/business/procurement/tenders/edc-2026-034",
        gone,
    ]
    # The Fetcher paused before each request after the first (no sleeping in tests).
    assert len(sleeps) >= 3 and all(0 < s <= 5.0 for s in sleeps)


def test_an_item_page_that_fails_is_tried_again_next_run(httpserver, make_fetcher, recorded):
    serve_site(httpserver, recorded)
    serve_details(httpserver, recorded)
    fetcher = make_fetcher(retries=0)
    (first,) = listing(httpserver, fetcher, detail_selector="div.tender-description")
    assert "item page not read" in first.notices[2].problems[0]  # edc-2026-035: not served
    (again,) = listing(
        httpserver, fetcher, state=first.state, detail_selector="div.tender-description"
    )
    assert [n.title for n in again.notices] == ["Furniture reuse and recycling service"]


def test_robots_txt_can_forbid_only_the_item_pages(httpserver, make_fetcher, recorded):
    robots = b"User-agent: *\nDisallow: /business/procurement/tenders/\n"
    serve_site(httpserver, recorded, robots=robots)
    (page,) = listing(httpserver, make_fetcher(), detail_selector="div.tender-description")
    assert all(n.problems == ("robots.txt disallows the item's page",) for n in page.notices)
    assert paths(httpserver) == ["/robots.txt", LISTING]


def test_an_unchanged_listing_costs_no_further_requests(httpserver, make_fetcher, recorded):
    serve_site(httpserver, recorded)
    serve_details(httpserver, recorded)
    fetcher = make_fetcher(retries=0)
    options = {"detail_selector": "div.tender-description"}
    (first,) = listing(httpserver, fetcher, **options)
    httpserver.expect_request("/business/procurement/tenders/edc-2026-035").respond_with_data(
        recorded.bytes(recorded.HTML_DETAIL), content_type="text/html"
    )
    (second,) = listing(httpserver, fetcher, state=first.state, **options)
    assert len(second.notices) == 1  # only the one whose page failed before
    httpserver.clear_log()
    (third,) = listing(httpserver, fetcher, state=second.state, **options)
    assert third.notices == ()
    assert paths(httpserver) == ["/robots.txt", LISTING]


def test_a_crash_between_pages_resumes_without_repeats(httpserver, make_fetcher, recorded):
    serve_site(httpserver, recorded)
    serve_details(httpserver, recorded)
    fetcher = make_fetcher(retries=0)
    options = {"detail_selector": "div.tender-description", "batch_size": 1}
    pages = listing(httpserver, fetcher, **options)
    assert [len(p.notices) for p in pages] == [1, 1, 1, 0]
    # The broker stored the first page and its state, then the process was killed.
    httpserver.clear_log()
    resumed = listing(httpserver, fetcher, state=pages[0].state, **options)
    titles = [n.title for p in resumed for n in p.notices]
    assert titles == [
        "Community café operator, Riverside Park",
        "Furniture reuse and recycling service",
    ]
    assert "/business/procurement/tenders/edc-2026-031" not in paths(httpserver)


def test_max_details_leaves_the_rest_for_the_next_run(httpserver, make_fetcher, recorded):
    serve_site(httpserver, recorded)
    serve_details(httpserver, recorded)
    options = {"detail_selector": "div.tender-description", "max_details": 1}
    (page,) = listing(httpserver, make_fetcher(), **options)
    assert [n.title for n in page.notices] == ["Cleaning of public conveniences"]
    (page,) = listing(httpserver, make_fetcher(), state=page.state, **options)
    assert [n.title for n in page.notices] == ["Community café operator, Riverside Park"]


def test_a_page_where_nothing_matches_is_reported(httpserver, make_fetcher, recorded):
    serve_site(httpserver, recorded)
    (page,) = listing(httpserver, make_fetcher(), item_selector="li.tender")
    assert page.error == "no items matched item_selector"


@pytest.mark.parametrize(
    ("options", "error"),
    [
        ({"item_selector": ""}, "the item selector is empty"),
        ({"deadline_selector": "td[closing"}, "bad CSS selector 'td[closing'"),
        ({"detail_selector": ":nonsense("}, "bad CSS selector ':nonsense('"),
        ({"url": "ftp://example.org/"}, "url must be an http(s) URL"),
    ],
)
def test_misconfiguration_fails_before_any_request(fake_fetch, options, error):
    settings = {**ROW_SELECTORS, "url": "https://example.org/tenders", **options}
    fetch = fake_fetch(lambda url, params: b"")
    (page,) = HtmlListing(HtmlListingOptions(**settings)).pages(fetch, {}, NOW)
    assert error in page.error and fetch.calls == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("27/03/2026 12:00", datetime(2026, 3, 27, 12, 0, tzinfo=UTC)),
        ("14 April 2026", datetime(2026, 4, 14, 22, 59, 59, tzinfo=UTC)),
        ("14 Apr 2026, 10:30", datetime(2026, 4, 14, 9, 30, tzinfo=UTC)),
        ("Closes Friday 1st May 2026 at noon", datetime(2026, 5, 1, 11, 0, tzinfo=UTC)),
        ("TBC", None),
    ],
)
def test_listing_dates(text, expected):
    assert parse_listing_date(text, ("%d/%m/%Y %H:%M", "%d %B %Y", "%d %b %Y %H:%M"), LONDON) == (
        expected
    )
