"""read_file: the `broker import` reader."""

from __future__ import annotations

import json
import zipfile

import pytest

from feeds.errors import ParseError
from feeds.files import read_file


def test_read_file_pages_a_release_package(recorded):
    pages = list(read_file(recorded.path(recorded.CF_2022), batch_size=40))
    assert [p.label for p in pages] == [
        "cf_ocds_search_2022-10-20.json releases 1-40",
        "cf_ocds_search_2022-10-20.json releases 41-80",
        "cf_ocds_search_2022-10-20.json releases 81-100",
    ]
    assert all(p.rejections == () and p.error is None for p in pages)
    ocids = {n.source_id for p in pages for n in p.notices}
    assert len(ocids) == 86


def test_read_file_keeps_consecutive_releases_of_one_ocid_together(recorded, tmp_path):
    releases = recorded.releases(recorded.PCS_2026)
    same = [dict(releases[0], id=f"rls-{i}", date=f"2026-09-1{i}T00:00:00Z") for i in range(3)]
    path = tmp_path / "array.json"
    path.write_text(json.dumps(same + releases[1:]))
    pages = list(read_file(path, batch_size=2))
    assert [p.label for p in pages] == ["array.json releases 1-3", "array.json releases 4-5"]
    assert len(pages[0].notices) == 1
    assert pages[0].notices[0].release_id == "rls-2"


def test_read_file_bare_array(recorded):
    (page,) = read_file(recorded.path(recorded.PCS_2019))
    assert page.label == "pcs_ocds_releases_2019-04_apa999.json releases 1-90"
    assert len(page.notices) == 90
    assert sum(n.reserved for n in page.notices) == 1


def test_malformed_file_yields_what_it_could_then_names_the_file(recorded, tmp_path):
    path = tmp_path / "broken.json"
    data = recorded.bytes(recorded.CF_2022)
    path.write_bytes(data[: len(data) // 2])
    pages = []
    with pytest.raises(ParseError) as caught:
        for page in read_file(path, batch_size=30):
            pages.append(page)
    assert caught.value.where == str(path)
    assert str(path) in str(caught.value)
    assert [p.label for p in pages] == [
        "broken.json releases 1-30",
        "broken.json releases 31-48",
    ]


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"", "file is empty"),
        (b"ocid,title\n", "not an OCDS JSON or TED file"),
        (b'<?xml version="1.0"?><rss version="2.0"/>', "XML file is not a TED notice"),
        (b'<?xml version="1.0"?><TED_EXPORT', "invalid XML: unclosed token"),
    ],
)
def test_unreadable_files_raise_parse_error(tmp_path, content, reason):
    path = tmp_path / "input.dat"
    path.write_bytes(content)
    with pytest.raises(ParseError, match=reason):
        list(read_file(path))


def test_missing_file_raises_parse_error(tmp_path):
    with pytest.raises(ParseError, match="cannot open"):
        list(read_file(tmp_path / "nope.json"))


def test_format_can_be_forced_and_must_be_known(recorded):
    pages = list(read_file(recorded.path(recorded.FTS_2026), file_format="ocds"))
    assert [n.merge_keys for n in pages[0].notices] == [("pcs:842768",), ("pcs:833704",)]
    with pytest.raises(ValueError, match="unknown file format 'csv'"):
        list(read_file(recorded.path(recorded.FTS_2026), file_format="csv"))
    with pytest.raises(ParseError, match="not a TED file"):
        list(read_file(recorded.path(recorded.FTS_2026), file_format="ted"))


@pytest.mark.parametrize(
    ("name", "source_id"),
    [
        ("R209_F02_SCOTLAND", "154324-2020"),
        ("R209_F21_FRANCE", "091489-2019"),
        ("EFORMS_CN_DE", "622691-2023"),
        ("EFORMS_PIN_ES", "262891-2023"),
    ],
)
def test_read_file_detects_ted_xml_of_both_generations(recorded, name, source_id):
    path = recorded.path(getattr(recorded, name))
    (page,) = read_file(path)
    assert page.label == f"{path.name} notice"
    assert [(n.source, n.source_id) for n in page.notices] == [("ted", source_id)]
    assert page.rejections == () and page.error is None


def test_read_file_rejects_a_ted_notice_without_a_title(tmp_path, recorded):
    text = recorded.bytes(recorded.R209_F02_SCOTLAND)
    text = text.replace(b"<P>Kitchen and Bathroom Framework 2020-2024</P>", b"")
    text = text.replace(b"<ML_TITLES>", b"<ML_TITLES_GONE>").replace(
        b"</ML_TITLES>", b"</ML_TITLES_GONE>"
    )
    path = tmp_path / "untitled.xml"
    path.write_bytes(text)
    (page,) = read_file(path)
    assert page.notices == ()
    assert [r.reason for r in page.rejections] == [
        "TED export has no title (OBJECT_CONTRACT/TITLE or ML_TITLES)"
    ]


def test_read_file_reads_a_zip_of_ted_notices_in_batches(tmp_path, recorded):
    path = tmp_path / "daily.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("a.xml", recorded.bytes(recorded.R209_F02_SCOTLAND))
        archive.writestr("b.xml", recorded.bytes(recorded.EFORMS_PIN_ES))
        archive.writestr("c.xml", b"<TED_EXPORT><broken")
        archive.writestr("readme.txt", b"not a notice")
    pages = list(read_file(path, batch_size=2))
    assert [p.label for p in pages] == ["daily.zip notices 1-2", "daily.zip notices 3-3"]
    assert [n.source_id for n in pages[0].notices] == ["154324-2020", "262891-2023"]
    (rejection,) = pages[1].rejections
    assert rejection.position == f"{path}:c.xml"
    assert "invalid XML" in rejection.reason


def test_read_file_reads_a_saved_ted_search_response(recorded):
    (page,) = read_file(recorded.path(recorded.TED_SEARCH))
    assert page.label == "ted_api_v3_search_response_trimmed.json notices 1-1"
    assert [n.source_id for n in page.notices] == ["619320-2026"]
