"""Reading OCDS payloads: the three JSON shapes, streaming, 1e9999 and broken JSON."""

from __future__ import annotations

import io
import json
from collections import defaultdict

import pytest

from feeds import packages
from feeds.errors import ParseError
from feeds.packages import load_payload, read_package


def record_package(releases: list[dict]) -> bytes:
    by_ocid: dict[str, list[dict]] = defaultdict(list)
    for release in releases:
        by_ocid[release["ocid"]].append(release)
    records = [{"ocid": ocid, "releases": group} for ocid, group in by_ocid.items()]
    return json.dumps({"uri": "test", "records": records}).encode()


def test_release_package_and_bare_array_are_read_alike(recorded):
    cf = list(read_package(recorded.bytes(recorded.CF_2022), where="cf"))
    assert [r["id"] for r in cf] == [r["id"] for r in recorded.releases(recorded.CF_2022)]
    pcs = list(read_package(io.BytesIO(recorded.bytes(recorded.PCS_2019)), where="pcs"))
    assert len(pcs) == 90
    assert pcs[45]["ocid"] == "ocds-r6ebe6-0000580540"
    assert len(load_payload(recorded.bytes(recorded.PCS_2019), where="pcs").releases) == 90


def test_record_package_gives_embedded_releases(recorded):
    data = record_package(recorded.releases(recorded.CF_2022))
    streamed = list(read_package(data, where="records.json"))
    loaded = load_payload(data, where="records.json").releases
    assert len(streamed) == len(loaded) == 100
    assert {r["ocid"] for r in streamed} == {r["ocid"] for r in loaded}


def test_record_with_only_a_compiled_release_gives_that(recorded):
    release = recorded.releases(recorded.PCS_2026)[0]
    data = json.dumps(
        {"records": [
            {"ocid": release["ocid"], "releases": [{"url": "x", "date": release["date"],
                                                   "tag": ["tender"]}],
             "compiledRelease": {**release, "tag": ["compiled"]}},
            {"ocid": "ocds-r6ebe6-1"},
        ]}
    ).encode()  # fmt: skip
    found = list(read_package(data, where="records.json"))
    assert found[0]["tag"] == ["compiled"]
    notices, rejections = packages.map_releases(found, source="file", where="records.json")
    assert [n.source_id for n in notices] == [release["ocid"]]
    assert notices[0].notice_type == "tender"
    assert [r.reason for r in rejections] == [
        "record has neither embedded releases nor a compiledRelease"
    ]


@pytest.mark.parametrize("body", [b'{"uri": "x", "version": "1.1"}', b'{"releases": null}'])
def test_package_without_releases_is_empty(body):
    assert list(read_package(body, where="x")) == []
    payload = load_payload(body, where="x")
    assert payload.releases == [] and payload.error is None


def test_broken_json_keeps_what_came_before_and_names_where(recorded):
    data = recorded.bytes(recorded.CF_2022)
    truncated = data[: len(data) // 2]
    got = []
    with pytest.raises(ParseError) as caught:
        for release in read_package(truncated, where="cf_page.json"):
            got.append(release)
    assert len(got) == 48
    assert caught.value.where == "cf_page.json"
    assert "after 48 releases" in str(caught.value)
    payload = load_payload(truncated, where="https://example.test/page")
    assert len(payload.releases) == 48
    assert str(payload.error).startswith("https://example.test/page: invalid JSON at line")
    assert "kept the 48 releases before it" in str(payload.error)


def test_not_json_at_all():
    payload = load_payload(b"<html>Service unavailable</html>", where="u")
    assert payload.releases == [] and payload.error is not None
    assert payload.error.where == "u"


def test_1e9999_and_infinity_become_strings_when_streaming(recorded, monkeypatch):
    data = recorded.bytes(recorded.FTS_2026).replace(
        b'"maximumLotsAwardedPerSupplier": 2', b'"maximumLotsAwardedPerSupplier": Infinity'
    )
    expected = {"maximumLotsAwardedPerSupplier": "Infinity", "maximumLotsBidPerSupplier": "1e9999"}
    assert load_payload(data, where="x").releases[1]["tender"]["lotDetails"] == expected
    # Tiny chunks put the odd numbers across chunk boundaries.
    for chunk in (7, 13, 64 * 1024):
        monkeypatch.setattr(packages, "CHUNK", chunk)
        streamed = list(read_package(io.BytesIO(data), where="x"))
        assert streamed[1]["tender"]["lotDetails"] == expected
        assert streamed[0]["tender"]["value"] == {"amount": 450000, "currency": "GBP"}


def test_odd_number_quoting_leaves_text_and_ordinary_numbers_alone():
    data = b'{"a": 1e9999, "b": [1.5e300, -1E+999], "c": "see 1e9999 here", "d": 2.5}'
    assert json.loads(packages.finite_json(data)) == {
        "a": "1e9999",
        "b": [1.5e300, "-1E+999"],
        "c": "see 1e9999 here",
        "d": 2.5,
    }


def test_payload_in_cp1252_is_still_read(recorded):
    data = recorded.bytes(recorded.CF_2022)
    assert "£217.7 billion".encode() in data
    cp1252 = data.replace("£217.7 billion".encode(), "£217.7 billion".encode("cp1252"))
    payload = load_payload(cp1252, where="cf")
    assert payload.error is None and len(payload.releases) == 100
    notices, _ = packages.map_releases(payload.releases, source="cf", where="p")
    assert any("£217.7 billion" in n.description for n in notices)
    assert any("•" in n.description for n in notices)  # UTF-8 elsewhere repaired


def test_streamed_bytes_that_are_not_utf8_are_read_as_cp1252():
    # Contracts Finder has sent cp1252 bytes ("£" as 0xA3) inside otherwise UTF-8 JSON.
    release = b'{"ocid": "o%d", "tender": {"title": "caf\xc3\xa9 \xa3%d"}}'
    body = b'{"releases": [' + b",".join(release % (i, i) for i in range(5000)) + b"]}"
    releases = list(read_package(io.BytesIO(body), where="cf"))
    assert len(releases) == 5000  # spans many chunks: no character is split between two
    assert {r["tender"]["title"] for r in releases[:2]} == {"café £0", "café £1"}


def test_json_nested_too_deeply_is_a_parse_error_not_a_crash():
    body = b'{"releases": [{"ocid": "o", "x": ' + b"[" * 5000 + b"]" * 5000 + b'}], "y": }'
    payload = load_payload(body, where="deep")
    assert payload.error is not None and "invalid JSON" in str(payload.error)
