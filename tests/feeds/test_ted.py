"""TED Search API v3: the response reader and the harvester's windows, tokens and state."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from werkzeug import Request
from werkzeug import Response as WerkzeugResponse

from feeds.errors import FetchError
from feeds.sources.ted import TedOptions, TedSearch
from feeds.ted_search import read_search_response

NOW = datetime(2026, 9, 19, 12, 0, tzinfo=UTC)
SEARCH_URL = "https://api.ted.europa.eu/v3/notices/search"


def response(notices, token=None, **extra) -> bytes:
    body = {"notices": notices, "iterationNextToken": token, "totalNoticeCount": len(notices)}
    return json.dumps({**body, **extra}).encode()


def fixture_notice(recorded) -> dict:
    return recorded.json(recorded.TED_SEARCH)["notices"][0]


def test_search_response_maps_the_recorded_notice(recorded):
    page = read_search_response(recorded.bytes(recorded.TED_SEARCH), where="ted")
    assert (page.next_token, page.total, page.records, page.rejections) == (None, 822, 1, ())
    (notice,) = page.notices
    assert (notice.source, notice.source_id) == ("ted", "619320-2026")
    # English first, although the notice's official language is Polish.
    assert notice.title.startswith("Poland \u2013 Miscellaneous computer equipment \u2013 ZK-DZP")
    assert notice.description.startswith("Przedmiotem zamówienia jest zakup")  # only Polish
    assert notice.buyer == "Politechnika Białostocka"
    assert notice.cpv == ("30236000", "30213000", "48820000", "30214000", "30213100", "30211100")
    assert notice.deadline == datetime(2026, 9, 18, 21, 59, 59, tzinfo=UTC)  # end of day, +02:00
    assert notice.published == datetime(2026, 9, 8, 22, 0, tzinfo=UTC)
    assert notice.url == "https://ted.europa.eu/en/notice/-/detail/619320-2026"
    assert notice.notice_type == "tender"


def test_one_bad_notice_is_rejected_and_the_rest_kept(recorded):
    good = fixture_notice(recorded)
    notices = [
        good,
        "not an object",
        {**good, "publication-number": None},
        {**good, "publication-number": "1-2026", "notice-title": {"eng": 42}},
        {**good, "publication-number": "2-2026", "deadline-receipt-tender-date-lot": ["31/02"]},
        {**good, "publication-number": "3-2026", "classification-cpv": [1e308, "bad", None]},
        {**good, "publication-number": "4-2026", "buyer-name": {"eng": ["Caf\udce9"]}},
    ]
    body = json.dumps({"notices": notices, "iterationNextToken": None}).encode()
    body = body.replace(b"1e+308", b"1e9999")  # as Find a Tender and others really send
    page = read_search_response(body, where="page 1")
    assert [n.source_id for n in page.notices] == [
        "619320-2026",
        "000002-2026",
        "000003-2026",
        "000004-2026",
    ]
    assert [(r.position, r.reason) for r in page.rejections] == [
        ("page 1, notice 2", "notice is a str, not an object"),
        ("page 1, notice 3", "no usable publication-number: None"),
        ("page 1, notice 4", "notice has no notice-title"),
    ]
    by_id = {n.source_id: n for n in page.notices}
    assert by_id["000002-2026"].deadline is None
    assert by_id["000002-2026"].problems == (
        "deadline-receipt-tender-date-lot '31/02' is not a date",
    )
    assert by_id["000003-2026"].cpv == ()
    assert by_id["000004-2026"].buyer == "Caf\ufffd"  # a lone surrogate is not text


def scripted(*bodies: bytes):
    """Answer each POST with the next body; the last one repeats."""
    queue = list(bodies)

    def answer(url, body):
        return queue.pop(0) if len(queue) > 1 else queue[0]

    return answer


def test_harvest_walks_windows_and_iteration_tokens(recorded, fake_fetch):
    notice = fixture_notice(recorded)
    fetch = fake_fetch(
        scripted(
            response([notice], token="t1"),
            response([{**notice, "publication-number": "619321-2026"}], token="t2"),
            response([], token="t3"),  # TED sends a token after the last page too
            response([]),
        )
    )
    options = TedOptions(lookback_days=13, window_days=7)
    pages = list(TedSearch(options).pages(fetch, {}, NOW))
    assert [p.label for p in pages] == [
        "ted 2026-09-06..2026-09-12 page 1",
        "ted 2026-09-06..2026-09-12 page 2",
        "ted 2026-09-06..2026-09-12 page 3",
        "ted 2026-09-13..2026-09-19 page 1",
    ]
    assert [len(p.notices) for p in pages] == [1, 1, 0, 0]
    first, second, *_ = [body for _, body in fetch.calls]
    assert first["query"] == (
        "(buyer-country IN (GBR IRL) AND notice-type IN (cn-standard cn-social cn-desg))"
        " AND publication-date>=20260906 AND publication-date<=20260912"
    )
    assert first["paginationMode"] == "ITERATION" and first["limit"] == 250
    assert "iterationNextToken" not in first and second["iterationNextToken"] == "t1"
    assert pages[1].state == {
        "done_until": "2026-09-06",
        "window": {"from": "2026-09-06", "to": "2026-09-12", "page": 3, "token": "t2"},
    }
    assert pages[-1].state == {"done_until": "2026-09-19", "window": None}
    assert all(url == SEARCH_URL for url, _ in fetch.calls)


def test_harvest_resumes_mid_window_with_the_saved_token(fake_fetch):
    fetch = fake_fetch(scripted(response([])))
    state = {
        "done_until": "2026-09-13",
        "window": {"from": "2026-09-13", "to": "2026-09-19", "page": 4, "token": "t3"},
    }
    (page,) = TedSearch().pages(fetch, state, NOW)
    assert fetch.calls[0][1]["iterationNextToken"] == "t3"
    assert page.label == "ted 2026-09-13..2026-09-19 page 4"
    assert page.state == {"done_until": "2026-09-19", "window": None}


def test_today_is_searched_again_on_every_run(fake_fetch):
    state = {"done_until": "2026-09-19", "window": None}
    for _ in range(2):
        (page,) = TedSearch().pages(fake_fetch(scripted(response([]))), state, NOW)
        assert page.label == "ted 2026-09-19..2026-09-19 page 1"
        state = page.state
    assert state == {"done_until": "2026-09-19", "window": None}


def test_a_repeated_token_ends_the_window(recorded, fake_fetch):
    fetch = fake_fetch(scripted(response([fixture_notice(recorded)], token="same")))
    state = {"done_until": "2026-09-19", "window": None}
    pages = list(TedSearch().pages(fetch, state, NOW))
    assert len(fetch.calls) == 2  # the second answer repeats the token it was asked with
    assert pages[-1].state == {"done_until": "2026-09-19", "window": None}


def test_a_window_that_never_ends_is_given_up_after_max_pages(recorded, fake_fetch):
    tokens = iter(range(10_000))

    def endless(url, body):
        return response([fixture_notice(recorded)], token=f"t{next(tokens)}")

    fetch = fake_fetch(endless)
    state = {"done_until": "2026-09-19", "window": None}
    pages = list(TedSearch(TedOptions(max_pages=5)).pages(fetch, state, NOW))
    assert len(pages) == 5
    assert pages[-1].error == "gave up on the window after 5 pages"


def test_a_timed_out_search_keeps_its_notices_and_is_asked_again(recorded, fake_fetch):
    fetch = fake_fetch(scripted(response([fixture_notice(recorded)], token="t", timedOut=True)))
    state = {"done_until": "2026-09-19", "window": None}
    (page,) = TedSearch().pages(fetch, state, NOW)
    assert page.error == "TED search timed out" and len(page.notices) == 1
    assert page.state == {
        "done_until": "2026-09-19",
        "window": {"from": "2026-09-19", "to": "2026-09-19", "page": 1},
    }


def test_a_broken_response_is_a_page_error_and_the_page_is_asked_again(fake_fetch):
    fetch = fake_fetch(scripted(b"<html>Service unavailable</html>"))
    state = {"done_until": "2026-09-19", "window": None}
    (page,) = TedSearch().pages(fetch, state, NOW)
    assert page.error.startswith(f"{SEARCH_URL}: invalid JSON")
    assert page.state["done_until"] == "2026-09-19"


def test_a_corrupted_iteration_token_does_not_loop_forever(httpserver, make_fetcher, recorded):
    """TED answers HTTP 500 to a corrupted token; the window restarts, then is given up."""
    notice = fixture_notice(recorded)

    def handler(request: Request) -> WerkzeugResponse:
        if request.get_json().get("iterationNextToken"):
            return WerkzeugResponse("Internal Server Error", 500)
        return WerkzeugResponse(response([notice], token="corrupted"), 200)

    httpserver.expect_request("/v3/notices/search", method="POST").respond_with_handler(handler)
    harvester = TedSearch(TedOptions(base_url=httpserver.url_for("/v3/notices/search")))
    fetcher = make_fetcher(retries=1)
    state = {"done_until": "2026-09-19", "window": None}
    runs = []
    for _ in range(3):
        pages = list(harvester.pages(fetcher, state, NOW))
        runs.append(pages)
        state = pages[-1].state
    first, second, third = runs
    assert [p.error is None for p in first] == [True, False]
    assert "HTTP 500" in first[-1].error
    assert first[-1].state["window"] == {
        "from": "2026-09-19",
        "to": "2026-09-19",
        "page": 1,
        "failures": 1,
    }
    assert second[-1].error.endswith("the iteration token failed 2 times, window given up")
    assert second[-1].state == {"done_until": "2026-09-20", "window": None}
    # The next run starts afresh from today, and never sends the corrupted token again.
    assert third[0].label == "ted 2026-09-19..2026-09-19 page 1"
    assert len(httpserver.log) == 2 * 3 + 3  # per run: 1 good + 2 tries (retries=1) of the token


def test_fetch_xml_replaces_search_results_with_the_richer_notice_xml(recorded, fake_fetch):
    notice = {
        **fixture_notice(recorded),
        "publication-number": "154324-2020",
        "links": {"xml": {"MUL": "https://ted.europa.eu/en/notice/154324-2020/xml"}},
    }
    missing = {**fixture_notice(recorded), "publication-number": "999999-2020", "links": {}}

    def answer(url, body):
        if url == SEARCH_URL:
            return response([notice, missing])
        if url.endswith("154324-2020/xml"):
            return recorded.bytes(recorded.R209_F02_SCOTLAND)
        raise FetchError(url, "HTTP 404: not found", 404)

    state = {"done_until": "2026-09-19", "window": None}
    (page,) = TedSearch(TedOptions(fetch_xml=True)).pages(fake_fetch(answer), state, NOW)
    rich, plain = page.notices
    assert rich.source_id == "154324-2020" and len(rich.lots) == 7
    assert rich.regions == ("UKM62", "UKM71", "UKM50")
    assert plain.source_id == "999999-2020" and plain.lots == ()
    assert plain.problems == (
        "notice XML not read: https://ted.europa.eu/en/notice/999999-2020/xml: HTTP 404: not found",
    )


@pytest.mark.parametrize(
    ("options", "error"),
    [
        ({"limit": 500}, "limit must be 1-250, not 500"),
        ({"scope": "EVERYTHING"}, "scope must be one of ALL, ACTIVE, LATEST"),
        ({"query": "buyer-country = GBR SORT BY publication-date"}, "without SORT BY"),
        ({"fields": ("notice-title",)}, "fields must include publication-number"),
    ],
)
def test_a_misconfigured_search_fails_without_a_request(fake_fetch, options, error):
    fetch = fake_fetch(scripted(response([])))
    harvester = TedSearch(TedOptions(**options))
    assert error in harvester.check()
    (page,) = harvester.pages(fetch, {"done_until": "2026-09-01"}, NOW)
    assert error in page.error and fetch.calls == []
    assert page.state == {"done_until": "2026-09-01"}
