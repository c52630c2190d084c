"""Contracts Finder and Find a Tender harvesters: windows up to `now` and cursor pages."""

from __future__ import annotations

import itertools
import json
from datetime import UTC, datetime, timedelta

import pytest
from werkzeug import Request, Response

from feeds.http import HttpPolicy
from feeds.sources.contracts_finder import ContractsFinder, ContractsFinderOptions
from feeds.sources.find_a_tender import FindATender, FindATenderOptions

CF_NOW = datetime(2022, 10, 20, 8, 43, 52, tzinfo=UTC)  # the recorded page's publishedTo
CF_CURSOR = (
    "cHVibGlzaGVkVG89MjAyMi0xMC0yMFQwOTo0Mzo1MiswMTowMHxsaW1pdD0xMDB8bmV4dEN1cnNvcj00ODA3NjE="
)
CF_PATH = "/Published/Notices/OCDS/Search"


def empty_package(recorded, name: str) -> bytes:
    envelope = recorded.json(name)
    envelope["releases"] = []
    envelope.pop("links", None)
    return json.dumps(envelope).encode()


class CfServer:
    """Window 2 holds the recorded page and a second page behind its cursor."""

    def __init__(self, httpserver, recorded):
        self.asked: list[dict[str, str]] = []
        self.interruptions: list[Response] = []  # answered first, whatever is asked
        self.page_one = recorded.bytes(recorded.CF_2022)
        second = recorded.json(recorded.CF_2022)
        second["releases"] = second["releases"][90:]
        del second["links"]
        self.page_two = Response(json.dumps(second))
        self.empty = empty_package(recorded, recorded.CF_2022)
        httpserver.expect_request(CF_PATH).respond_with_handler(self.handle)
        self.base_url = httpserver.url_for(CF_PATH)

    def handle(self, request: Request) -> Response:
        args = dict(request.args)
        self.asked.append(args)
        assert args["limit"] == "100"
        if self.interruptions:
            return self.interruptions.pop(0)
        if args["publishedFrom"] != "2022-10-05T08:43:52Z":
            return Response(self.empty)
        if args.get("cursor") == CF_CURSOR:
            return self.page_two
        return Response(self.page_one)


@pytest.fixture
def cf_server(httpserver, recorded):
    return CfServer(httpserver, recorded)


def contracts_finder(server) -> ContractsFinder:
    return ContractsFinder(ContractsFinderOptions(base_url=server.base_url))


def test_contracts_finder_walks_windows_to_now_and_follows_the_cursor(cf_server, make_fetcher):
    pages = list(contracts_finder(cf_server).pages(make_fetcher(), {}, CF_NOW))
    assert [(a["publishedFrom"], a["publishedTo"], a.get("cursor")) for a in cf_server.asked] == [
        ("2022-09-20T08:43:52Z", "2022-10-05T08:43:52Z", None),
        ("2022-10-05T08:43:52Z", "2022-10-20T08:43:52Z", None),
        # The recorded links.next names the real host; only its cursor is used.
        ("2022-10-05T08:43:52Z", "2022-10-20T08:43:52Z", CF_CURSOR),
    ]
    assert [p.label for p in pages] == [
        "contracts_finder 2022-09-20T08:43:52Z..2022-10-05T08:43:52Z page 1",
        "contracts_finder 2022-10-05T08:43:52Z..2022-10-20T08:43:52Z page 1",
        "contracts_finder 2022-10-05T08:43:52Z..2022-10-20T08:43:52Z page 2",
    ]
    assert [p.state for p in pages] == [
        {"done_until": "2022-10-05T08:43:52Z", "window": None},
        {
            "done_until": "2022-10-05T08:43:52Z",
            "window": {
                "from": "2022-10-05T08:43:52Z",
                "to": "2022-10-20T08:43:52Z",
                "cursor": CF_CURSOR,
                "page": 2,
            },
        },
        {"done_until": "2022-10-20T08:43:52Z", "window": None},
    ]
    assert [len(p.notices) for p in pages] == [0, 86, 10]
    assert all(p.error is None and p.rejections == () for p in pages)
    # The next run starts where this one stopped: nothing to do at the same instant.
    assert list(contracts_finder(cf_server).pages(make_fetcher(), pages[-1].state, CF_NOW)) == []


def test_contracts_finder_resume_after_a_crash_mid_window(cf_server, make_fetcher):
    source = contracts_finder(cf_server)
    run = source.pages(make_fetcher(), {}, CF_NOW)
    next(run)
    saved = next(run).state  # page 2 stored; the process dies before page 3
    run.close()
    later = list(source.pages(make_fetcher(), saved, CF_NOW))
    assert [p.label[-6:] for p in later] == ["page 2"]
    asked = [(a["publishedFrom"], a.get("cursor")) for a in cf_server.asked]
    assert len(asked) == len(set(asked)) == 3


def test_failed_page_stops_the_run_and_is_fetched_again_next_time(cf_server, make_fetcher):
    cf_server.page_two = Response("Service Unavailable", 502)
    pages = list(contracts_finder(cf_server).pages(make_fetcher(retries=0), {}, CF_NOW))
    assert "HTTP 502" in pages[-1].error
    assert pages[-1].state == pages[-2].state  # nothing to save beyond the last good page
    assert pages[-1].state["window"]["cursor"] == CF_CURSOR
    cf_server.page_two = Response(b'{"releases": []}')
    resumed = list(contracts_finder(cf_server).pages(make_fetcher(), pages[-1].state, CF_NOW))
    assert [p.error for p in resumed] == [None]
    assert cf_server.asked[-1].get("cursor") == CF_CURSOR


def test_contracts_finder_403_throttle_waits_then_carries_on(cf_server, make_fetcher, sleeps):
    cf_server.interruptions.append(Response("Forbidden", 403))
    fetcher = make_fetcher(HttpPolicy().updated(ContractsFinder.http_defaults))
    pages = list(contracts_finder(cf_server).pages(fetcher, {}, CF_NOW))
    assert all(p.error is None for p in pages)
    assert len(pages) == 3
    assert 300.0 in sleeps


def test_a_day_later_only_the_new_day_is_asked_for(cf_server, make_fetcher):
    state = {"done_until": "2022-10-20T08:43:52Z", "window": None}
    later = CF_NOW + timedelta(days=1)
    list(contracts_finder(cf_server).pages(make_fetcher(), state, later))
    assert [(a["publishedFrom"], a["publishedTo"]) for a in cf_server.asked] == [
        ("2022-10-20T08:43:52Z", "2022-10-21T08:43:52Z")
    ]


FTS_NOW = datetime(2026, 9, 11, 18, 0, tzinfo=UTC)
FTS_PATH = "/api/1.0/ocdsReleasePackages"
FTS_CURSOR = "MjAyNi0wOS0xMSAwNzozMDoxMA+/x="  # "+" and "/" must survive the round trip


def test_find_a_tender_six_hour_windows_cursor_and_retry_after(
    httpserver, recorded, make_fetcher, sleeps
):
    page = recorded.json(recorded.FTS_2026)
    first_page = recorded.bytes(recorded.FTS_2026).replace(
        b'"publishedDate"',
        b'"links": {"next": "https://www.find-tender.service.gov.uk/api/1.0/ocdsReleasePackages'
        b"?cursor=" + FTS_CURSOR.replace("+", "%2B").encode() + b'"}, "publishedDate"',
        1,
    )
    assert json.loads(first_page)["links"]["next"].endswith("%2B/x=")
    empty = empty_package(recorded, recorded.FTS_2026)
    asked = []
    throttled = []

    def handle(request: Request) -> Response:
        args = dict(request.args)
        asked.append((args["updatedFrom"], args["updatedTo"], args.get("cursor")))
        assert (args["limit"], args["stages"]) == ("100", "planning,tender")
        if args["updatedFrom"] == "2026-09-11T12:00:00" and not throttled:
            throttled.append(1)
            return Response("12 request limit in 2 minute exceeded", 429, {"Retry-After": "3"})
        if args["updatedFrom"] == "2026-09-11T06:00:00":
            return Response(empty if args.get("cursor") == FTS_CURSOR else first_page)
        return Response(empty)

    httpserver.expect_request(FTS_PATH).respond_with_handler(handle)
    source = FindATender(FindATenderOptions(base_url=httpserver.url_for(FTS_PATH), lookback_days=1))
    fetcher = make_fetcher(HttpPolicy().updated(FindATender.http_defaults))
    pages = list(source.pages(fetcher, {}, FTS_NOW))
    assert asked == [
        ("2026-09-10T18:00:00", "2026-09-11T00:00:00", None),
        ("2026-09-11T00:00:00", "2026-09-11T06:00:00", None),
        ("2026-09-11T06:00:00", "2026-09-11T12:00:00", None),
        ("2026-09-11T06:00:00", "2026-09-11T12:00:00", FTS_CURSOR),
        ("2026-09-11T12:00:00", "2026-09-11T18:00:00", None),
        ("2026-09-11T12:00:00", "2026-09-11T18:00:00", None),
    ]
    assert 3.0 in sleeps  # Retry-After honoured
    assert all(9.0 < s <= 10.0 for s in sleeps if s != 3.0)  # the polite delay
    notices = [n for p in pages for n in p.notices]
    assert [n.merge_keys for n in notices] == [("pcs:842768",), ("pcs:833704",)]
    assert notices[1].raw["tender"]["lotDetails"]["maximumLotsBidPerSupplier"] == "1e9999"
    assert len(page["releases"]) == len(notices)
    assert pages[-1].state == {"done_until": "2026-09-11T18:00:00Z", "window": None}


def test_a_clock_with_microseconds_ends_the_walk_at_now(cf_server, make_fetcher):
    # The scheduler's clock has microseconds; windows are written to the second.
    now = CF_NOW + timedelta(microseconds=123_456)
    harvester = ContractsFinder(ContractsFinderOptions(base_url=cf_server.base_url))
    state = {"done_until": "2022-10-20T08:40:00Z", "window": None}
    # At most a few pages, so a walk that never ends fails instead of hanging.
    pages = list(itertools.islice(harvester.pages(make_fetcher(), state, now), 5))
    assert len(pages) == 1 == len(cf_server.asked)
    assert cf_server.asked[0]["publishedTo"] == "2022-10-20T08:43:52Z"
    assert pages[0].state == {"done_until": "2022-10-20T08:43:52Z", "window": None}
