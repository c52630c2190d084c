"""Records with text a database cannot hold (a lone surrogate from a JSON "\\ud800" escape,
NUL) or raw payloads nested past what orjson writes: stored, with the problem noted, or
kept without the part that cannot be written; never a lost batch."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from broker.harvest.running import harvest_source, run_pages
from broker.models import HarvestRun, Notice, NoticeSource, RejectedRecord, SourceState
from broker.notices.records import RawNotKept, pack_raw, storable, unpack_raw
from feeds.http import Fetcher, HttpPolicy
from feeds.ocds import notice_from_release
from feeds.types import Page, Rejection

CF_2022 = "cf_ocds_search_2022-10-20.json"
FTS_2026 = "fts_release_package_2026-09-11_trimmed.json"
LONE = "\ud800"


def nested(depth: int) -> list:
    value: list = []
    for _ in range(depth - 1):
        value = [value]
    return value


def test_a_raw_payload_orjson_refuses_is_packed_by_the_json_module_and_read_back():
    payload = [{"id": "r1", "title": f"Grass {LONE} cutting", "extension": nested(300)}]
    blob = pack_raw(payload)
    assert unpack_raw(blob) == payload
    with pytest.raises(RawNotKept, match="nested too deeply"):
        pack_raw([{"id": "r2", "extension": nested(5000)}])


def test_unstorable_characters_are_replaced_and_the_fields_named(data_dir):
    release = json.loads((data_dir / FTS_2026).read_text())["releases"][0]
    notice = notice_from_release(release)
    object.__setattr__(notice, "source_id", f"ocds-h6vhtk-{LONE}")
    object.__setattr__(notice, "buyer", "Peatland\x00 ACTION")
    clean = storable(notice)
    assert clean.source_id == "ocds-h6vhtk-\ufffd" and clean.buyer == "Peatland\ufffd ACTION"
    assert clean.problems[-1].startswith("source_id, buyer: characters that cannot be stored")
    assert clean.raw is notice.raw
    assert storable(clean) is clean  # nothing left to replace


@pytest.fixture
def cf_site(httpserver, data_dir):
    """Contracts Finder's recorded page, with a lone surrogate in three places (escaped, as
    a JSON writer would send it) and one release carrying a 300-deep extension."""
    package = json.loads((data_dir / CF_2022).read_text())
    del package["links"]  # one page
    releases = package["releases"]
    releases[0]["tender"]["title"] = f"Bad {LONE} title"
    releases[2]["tender"]["description"] = f"Text {LONE} here"
    releases[3]["id"] = f"{releases[3]['id']}-{LONE}"
    releases[1]["tender"]["deepExtension"] = nested(300)
    body = json.dumps(package)  # ensure_ascii: the surrogate travels as "\ud800"
    assert "\\ud800" in body
    httpserver.expect_request("/Search").respond_with_data(body, content_type="application/json")
    return {"url": httpserver.url_for("/Search"), "releases": releases}


@pytest.fixture
def settings(make_settings, cf_site):
    return make_settings(
        sources={
            "contracts_finder": {
                "kind": "contracts_finder",
                "base_url": cf_site["url"],
                "lookback_days": 1,
                "delay_seconds": 0.0,
            }
        }
    )


def test_a_harvested_page_with_lone_surrogates_and_deep_nesting_is_stored_whole(
    sessions, settings, cf_site, data_dir, clock
):
    clock.now = datetime(2022, 10, 20, 12, tzinfo=UTC)
    fetcher = Fetcher(HttpPolicy(timeout=5, retries=0), sleep=lambda _s: None)
    summary = harvest_source(sessions, settings, "contracts_finder", clock, fetcher=fetcher)
    assert summary.status == "ok", summary.error
    releases = cf_site["releases"]
    ocids = {r["ocid"] for r in releases}
    assert summary.new == len(ocids)
    with sessions() as s:
        assert s.scalar(select(func.count(Notice.id))) == len(ocids)

        def source_row(ocid: str) -> NoticeSource:
            return s.scalars(select(NoticeSource).where(NoticeSource.source_id == ocid)).one()

        bad_title = source_row(releases[0]["ocid"])
        assert bad_title.data["title"] == "Bad \ufffd title"
        # The raw release is kept exactly, surrogate and all.
        assert LONE in json.dumps(unpack_raw(bad_title.raw), ensure_ascii=False)
        deep = source_row(releases[1]["ocid"])
        assert unpack_raw(deep.raw)[-1]["tender"]["deepExtension"] == nested(300)
        odd_id = source_row(releases[3]["ocid"])
        assert any(i.endswith("-\ufffd") for i in odd_id.release_ids)
        # The state to resume from was saved with the page.
        assert s.get(SourceState, "contracts_finder").state["window"] is None


def test_an_import_keeps_a_record_whose_raw_payload_is_too_deep_to_write(
    cli_runner, data_dir, tmp_path, sessions
):
    package = json.loads((data_dir / FTS_2026).read_text())
    package["releases"][0]["tender"]["deepExtension"] = nested(300)
    package["releases"][1]["tender"]["deeperExtension"] = "DEEPER"
    path = tmp_path / "fts-deep.json"
    # 3,000 levels: more than the json module itself can write (or read) back.
    path.write_text(json.dumps(package).replace('"DEEPER"', "[" * 3000 + "]" * 3000))
    result = cli_runner("import", str(path))
    assert result.exit_code == 0, result.output
    assert "import:fts-deep.json: ok — 2 new" in result.output
    with sessions() as s:
        rows = {r.source_id: r for r in s.scalars(select(NoticeSource))}
        first, second = (rows[r["ocid"]] for r in package["releases"])
        assert unpack_raw(first.raw)[0]["tender"]["deepExtension"] == nested(300)
        assert second.raw is None  # notice stored, its payload not
        problem = s.scalars(select(RejectedRecord).where(RejectedRecord.kept.is_(True))).all()
        reasons = {(p.record_id, p.reason) for p in problem}
        assert (
            second.source_id,
            "raw payload not kept: it cannot be written as JSON (nested too deeply)",
        ) in reasons


def test_rejections_and_state_with_unstorable_text_are_stored(sessions, settings, clock):
    page = Page(
        f"page {LONE}",
        rejections=(Rejection("ted", f"notice {LONE}", f"bad {LONE} date", f"id-{LONE}\x00"),),
        state={"token": f"tok{LONE}en", "seen": {f"k{LONE}": "v"}},
        error=f"half {LONE} broken",
    )
    summary = run_pages(sessions, "ted", iter([page]), clock, settings=settings, trigger="cli")
    assert summary.rejected == 1
    with sessions() as s:
        rejected = s.scalars(select(RejectedRecord)).one()
        assert (rejected.position, rejected.reason, rejected.record_id) == (
            "notice \ufffd",
            "bad \ufffd date",
            "id-\ufffd\ufffd",
        )
        assert s.get(SourceState, "ted").state == {"token": "tok\ufffden", "seen": {"k\ufffd": "v"}}
        assert s.get(HarvestRun, summary.run_id).error == "page \ufffd: half \ufffd broken"


def test_a_payload_nested_a_hundred_thousand_deep_is_one_pages_error_not_a_blow_up(
    httpserver, make_settings, sessions, clock
):
    import resource

    depth = 100_000
    body = '{"releases": [{"ocid": "ocds-b5fd17-x", "tender": ' + "[" * depth + "]" * depth
    body += "}]}"
    httpserver.expect_request("/Deep").respond_with_data(body, content_type="application/json")
    settings = make_settings(
        sources={
            "contracts_finder": {
                "kind": "contracts_finder",
                "base_url": httpserver.url_for("/Deep"),
                "lookback_days": 1,
                "delay_seconds": 0.0,
            }
        }
    )
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    fetcher = Fetcher(HttpPolicy(timeout=5, retries=0), sleep=lambda _s: None)
    summary = harvest_source(sessions, settings, "contracts_finder", clock, fetcher=fetcher)
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert summary.status == "failed"
    assert "invalid JSON: JSON is nested too deeply" in summary.error
    assert grown_mb < 200, f"peak memory grew by {grown_mb:.0f} MB"
