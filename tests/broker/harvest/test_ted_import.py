"""`broker import` of TED files, end to end through the command line: notice XML of both
generations, a zip of them and a saved search response, stored with their codes,
regions, deadlines, reservations and lots, and merged with other publishers' copies."""

from __future__ import annotations

import json
import zipfile
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from broker.models import HarvestRun, Notice, NoticeSource

EFORMS_CN = "ted_eforms_cn_standard_622691-2023.xml"
EFORMS_PIN = "ted_eforms_pin_reserved_262891-2023.xml"
R209_F02 = "ted_r209_f02_cn_scotland_20-156983.xml"
R209_F21 = "ted_r209_f21_reserved_fr_19-090974.xml"
SEARCH = "ted_api_v3_search_response_trimmed.json"
PCS_2026 = "pcs_ocds_notices_2026-09_nt102_trimmed.json"
XML_FILES = (EFORMS_CN, EFORMS_PIN, R209_F02, R209_F21)


def stored(sessions, publication_number: str) -> Notice:
    with sessions() as s:
        notice_id = s.scalar(
            select(NoticeSource.notice_id).where(
                NoticeSource.source == "ted", NoticeSource.source_id == publication_number
            )
        )
        assert notice_id is not None, publication_number
        return s.get(Notice, notice_id)


@pytest.mark.parametrize("file_format", ["auto", "ted"])
def test_import_stores_each_ted_format_with_its_details(
    cli_runner, data_dir, sessions, file_format
):
    paths = [str(data_dir / name) for name in (*XML_FILES, SEARCH)]
    result = cli_runner("import", "--format", file_format, *paths)
    assert result.exit_code == 0, result.output
    assert "Done: imported 5 records (5 new notices, 0 rejected) from 5 sources." in result.output

    # R2.0.9 contract notice from four Scottish housing associations, seven lots.
    f02 = stored(sessions, "154324-2020")
    assert f02.title == "Kitchen and Bathroom Framework 2020-2024"
    assert f02.buyer == "Langstane Housing Association Ltd"
    assert f02.cpv[0] == "45000000"
    assert set(f02.regions) == {"UKM50", "UKM62", "UKM71"}
    assert f02.deadline == datetime(2020, 5, 8, 11, 0, tzinfo=UTC)  # noon, Dublin summer time
    assert f02.reserved is False
    assert len(f02.lots) == 7
    assert {lot["title"] for lot in f02.lots} >= {"Lot 1: Aberdeen City", "Lot 5: Moray"}

    # R2.0.9 F21 social services, reserved twice over.
    f21 = stored(sessions, "091489-2019")
    assert f21.buyer == "EPS Paul Guiraud"
    assert (f21.cpv, f21.regions, f21.reserved) == (["55321000"], ["FR105"], True)
    assert f21.deadline == datetime(2019, 3, 22, 14, 0, tzinfo=UTC)

    # eForms prior information notice whose lots 3 and 4 are reserved (res-ws).
    pin = stored(sessions, "262891-2023")
    assert pin.buyer == "AYUNTAMIENTO DE RIPOLL" and pin.reserved is True
    assert pin.cpv == ["90911200", "90919300"]
    assert [lot["reserved"] for lot in pin.lots] == [False, False, True, True]
    assert pin.deadline == datetime(2023, 6, 2, 12, 0, tzinfo=UTC)

    # eForms contract notice: the deadline's date, time and offset.
    cn = stored(sessions, "622691-2023")
    assert cn.buyer == "KKH Kaufmännische Krankenkasse" and cn.cpv == ["33600000"]
    assert cn.deadline == datetime(2026, 12, 31, 22, 59, tzinfo=UTC)
    assert len(cn.lots) == 1

    # A saved search response: English title first, the buyer in its own language.
    search = stored(sessions, "619320-2026")
    assert search.title.startswith("Poland \u2013 Miscellaneous computer equipment")
    assert search.buyer == "Politechnika Białostocka"
    assert search.cpv[:3] == ["30236000", "30213000", "48820000"]
    assert search.deadline == datetime(2026, 9, 18, 21, 59, 59, tzinfo=UTC)
    with sessions() as s:
        assert s.scalar(select(func.count(Notice.id))) == 5
        assert {r.status for r in s.scalars(select(HarvestRun))} == {"ok"}


def test_import_of_a_zip_of_ted_xml_reads_every_notice_once(
    cli_runner, data_dir, sessions, tmp_path
):
    archive = tmp_path / "ted-daily-package.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zipped:
        for name in XML_FILES:
            zipped.write(data_dir / name, f"2026-11-27/{name}")
        zipped.writestr("2026-11-27/broken.xml", b"<TED_EXPORT><CODED_DATA_SECTION>")
        zipped.writestr("README.txt", b"not a notice")
    result = cli_runner("import", str(archive))
    assert result.exit_code == 0, result.output
    assert "import:ted-daily-package.zip: partial — 4 new" in result.output
    assert "1 rejected" in result.output
    with sessions() as s:
        assert s.scalar(select(func.count(Notice.id))) == 4
        run = s.scalars(select(HarvestRun)).one()
        assert (run.new, run.rejected) == (4, 1)
    assert stored(sessions, "262891-2023").reserved is True
    # The same notices again, one by one: nothing new.
    again = cli_runner("import", *(str(data_dir / name) for name in XML_FILES))
    assert again.exit_code == 0, again.output
    assert "(0 new notices, 0 rejected)" in again.output


def pcs_copy_of_the_ted_notice(data_dir, tmp_path):
    """A PCS release for the same opportunity as TED 154324-2020 ("SC Ref:619060")."""
    package = json.loads((data_dir / PCS_2026).read_text())
    release = package["releases"][0]
    release["ocid"] = "ocds-r6ebe6-0000619060"
    release["id"] = "rls-1-619060"
    release["tender"]["title"] = "Kitchen and Bathroom Framework 2020-2024"
    package["releases"] = [release]
    path = tmp_path / "pcs-619060.json"
    path.write_text(json.dumps(package))
    return path


@pytest.mark.parametrize("pcs_first", [True, False])
def test_a_ted_copy_of_a_pcs_notice_is_merged_into_it(
    cli_runner, data_dir, sessions, tmp_path, pcs_first
):
    files = [str(pcs_copy_of_the_ted_notice(data_dir, tmp_path)), str(data_dir / R209_F02)]
    for path in files if pcs_first else reversed(files):
        result = cli_runner("import", path)
        assert result.exit_code == 0, result.output
    assert "1 merged" in result.output
    with sessions() as s:
        assert s.scalar(select(func.count(Notice.id))) == 1
        sources = {(r.source, r.source_id) for r in s.scalars(select(NoticeSource))}
        assert sources == {("pcs", "ocds-r6ebe6-0000619060"), ("ted", "154324-2020")}
        notice = s.scalars(select(Notice)).one()
        # The TED copy brings its lots and regions to the one notice.
        assert set(notice.regions) >= {"UKM50", "UKM62", "UKM71"}


def test_format_ted_refuses_an_ocds_file_and_names_it(cli_runner, data_dir, sessions):
    result = cli_runner("import", "--format", "ted", str(data_dir / PCS_2026))
    assert result.exit_code == 1
    assert f"{PCS_2026}: not a TED file" in result.output
    assert "Traceback" not in result.output
    with sessions() as s:
        assert s.scalar(select(func.count(Notice.id))) == 0


def test_import_help_lists_the_formats(cli_runner):
    result = cli_runner("import", "--help")
    assert "[auto|ocds|ted]" in result.output
