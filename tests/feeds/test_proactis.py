"""PCS and Sell2Wales harvesters: the month x noticeType sweep against a local server."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from werkzeug import Request, Response

from feeds.sources.pcs import PcsOptions, PublicContractsScotland
from feeds.sources.sell2wales import Sell2Wales, Sell2WalesOptions

NOW = datetime(2026, 9, 19, 17, 30, tzinfo=UTC)


def empty_month(recorded) -> bytes:
    """A real PCS envelope without a `releases` key, as some months come back."""
    envelope = recorded.json(recorded.PCS_2026)
    del envelope["releases"]
    return json.dumps(envelope).encode()


class PcsServer:
    """Answers /v1/Notices by (dateFrom, noticeType) and records what was asked."""

    def __init__(self, httpserver, answers: dict[tuple[str, str], Response], default: Response):
        self.asked: list[tuple[str, str]] = []
        self.answers = answers
        self.default = default
        httpserver.expect_request("/v1/Notices").respond_with_handler(self.handle)
        self.base_url = httpserver.url_for("/v1")

    def handle(self, request: Request) -> Response:
        assert request.args["outputType"] == "0"
        key = (request.args["dateFrom"], request.args["noticeType"])
        self.asked.append(key)
        return self.answers.get(key, self.default)


@pytest.fixture
def pcs_server(httpserver, recorded):
    return PcsServer(
        httpserver,
        {
            ("09-2026", "102"): Response(recorded.bytes(recorded.PCS_2026)),
            ("09-2026", "101"): Response(recorded.bytes(recorded.PCS_2026)),
            ("08-2026", "2"): Response("Error converting data type nvarchar to float.", 500),
            # A body cut short: the release before the cut is kept, the month is not done.
            ("07-2026", "101"): Response(recorded.bytes(recorded.PCS_2026)[:16_000]),
        },
        default=Response(empty_month(recorded)),
    )


def harvester(pcs_server) -> PublicContractsScotland:
    return PublicContractsScotland(PcsOptions(base_url=pcs_server.base_url))


def test_first_run_sweeps_lookback_months_and_a_failing_month_does_not_stop_others(
    pcs_server, make_fetcher
):
    pages = list(harvester(pcs_server).pages(make_fetcher(retries=0), {}, NOW))
    months = ["07-2026", "08-2026", "09-2026"]
    assert pcs_server.asked == [(m, t) for m in months for t in ("2", "102", "101")]
    assert [p.label for p in pages][:3] == [
        "pcs 2026-07 noticeType 2",
        "pcs 2026-07 noticeType 102",
        "pcs 2026-07 noticeType 101",
    ]
    failed = [p for p in pages if p.error]
    assert [p.label for p in failed] == ["pcs 2026-07 noticeType 101", "pcs 2026-08 noticeType 2"]
    assert "invalid JSON" in failed[0].error
    assert [n.source_id for n in failed[0].notices] == ["ocds-r6ebe6-0000843372"]
    assert "HTTP 500: Error converting data type nvarchar to float." in failed[1].error
    # Months without a releases key are empty, not errors.
    assert all(p.notices == () and p.error is None for p in pages[:2])
    site_notices = next(p for p in pages if p.label == "pcs 2026-09 noticeType 102")
    assert [n.source_id for n in site_notices.notices] == [
        "ocds-r6ebe6-0000843372", "ocds-r6ebe6-0000843438", "ocds-r6ebe6-0000843391",
    ]  # fmt: skip
    assert {n.notice_type for n in site_notices.notices} == {"tender"}
    site_pins = next(p for p in pages if p.label == "pcs 2026-09 noticeType 101")
    assert {n.notice_type for n in site_pins.notices} == {"pipeline"}
    # July and August each lack one type; September is still running.
    assert pages[-1].state == {
        "from": "2026-07",
        "done": {"2026-07": [2, 102], "2026-08": [101, 102]},
    }


def test_later_runs_only_sweep_incomplete_months_and_the_current_one(pcs_server, make_fetcher):
    state = {"from": "2026-08", "done": {"2026-08": [101, 102]}}
    pcs_server.answers.pop(("08-2026", "2"))
    pages = list(harvester(pcs_server).pages(make_fetcher(retries=0), state, NOW))
    assert pcs_server.asked == [
        ("08-2026", "2"), ("09-2026", "2"), ("09-2026", "102"), ("09-2026", "101"),
    ]  # fmt: skip
    assert all(p.error is None for p in pages)
    assert pages[-1].state == {"from": "2026-09", "done": {}}


def test_resume_after_a_crash_fetches_nothing_twice_and_skips_nothing(pcs_server, make_fetcher):
    october = datetime(2026, 10, 5, tzinfo=UTC)  # August and September are over
    source = harvester(pcs_server)
    pcs_server.answers.clear()
    first_run = source.pages(make_fetcher(), {}, october)
    saved = next(first_run).state  # page 1 stored, then the process dies
    first_run.close()
    assert saved == {"from": "2026-08", "done": {"2026-08": [2]}}
    list(source.pages(make_fetcher(), saved, october))
    past = [key for key in pcs_server.asked if key[0] != "10-2026"]
    assert sorted(past) == sorted(
        (m, t) for m in ("08-2026", "09-2026") for t in ("2", "102", "101")
    )


def test_sell2wales_asks_in_english_and_reads_pins_as_pipeline(httpserver, recorded, make_fetcher):
    # No Sell2Wales payload was recorded; its platform is PCS's, so a PCS page with
    # Sell2Wales OCIDs stands in for one.
    body = recorded.bytes(recorded.PCS_2026).replace(b"ocds-r6ebe6", b"ocds-kuma6s")
    asked = []

    def handle(request: Request) -> Response:
        asked.append((request.args["noticeType"], request.args["locale"]))
        return Response(body)

    httpserver.expect_request("/v1/Notices").respond_with_handler(handle)
    source = Sell2Wales(Sell2WalesOptions(base_url=httpserver.url_for("/v1"), lookback_months=0))
    pages = list(source.pages(make_fetcher(), {}, NOW))
    assert asked == [("51", "2057"), ("52", "2057")]
    itt, pin = pages
    assert {n.source for n in itt.notices} == {"sell2wales"}
    assert {n.notice_type for n in itt.notices} == {"tender"}
    assert {n.notice_type for n in pin.notices} == {"pipeline"}
    assert itt.notices[0].merge_keys[0] == "s2w:843372"


def test_configured_name_labels_pages_but_notices_keep_the_publisher(pcs_server, make_fetcher):
    source = PublicContractsScotland(
        PcsOptions(base_url=pcs_server.base_url, notice_types=(102,), lookback_months=0),
        name="pcs_below_threshold",
    )
    (page,) = source.pages(make_fetcher(), {}, NOW)
    assert page.label == "pcs_below_threshold 2026-09 noticeType 102"
    assert {n.source for n in page.notices} == {"pcs"}
