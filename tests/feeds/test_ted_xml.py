"""TED notice XML: eForms and R2.0.9 notices from TED and the eForms SDK, field by field."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from feeds.errors import ParseError, RecordError
from feeds.ted import combine, notice_type, publication_number, zone_for_country
from feeds.ted_xml import notice_from_ted_xml


def read(recorded, name):
    return notice_from_ted_xml(recorded.bytes(getattr(recorded, name)), where=name)


def test_r209_f02_scotland_contract_notice(recorded):
    notice = read(recorded, "R209_F02_SCOTLAND")
    assert (notice.source, notice.source_id) == ("ted", "154324-2020")
    assert notice.title == "Kitchen and Bathroom Framework 2020-2024"
    assert notice.buyer == "Langstane Housing Association Ltd"
    assert notice.cpv == ("45000000",)
    # Where the work is done; the buyers' own NUTS (CA_CE_NUTS, incl. UKM5) is not.
    assert notice.regions == ("UKM62", "UKM71", "UKM50")
    assert notice.notice_type == "tender"
    assert notice.procedure == "Restricted procedure"
    assert notice.value is not None and (notice.value.amount, notice.value.currency) == (
        12_000_000.0,
        "GBP",
    )
    # 12:00 on 8 May 2020 in Aberdeen is 11:00 UTC (BST).
    assert notice.deadline == datetime(2020, 5, 8, 11, 0, tzinfo=UTC)
    assert notice.published == datetime(2020, 3, 30, 22, 0, tzinfo=UTC)
    assert notice.url == "https://ted.europa.eu/en/notice/-/detail/154324-2020"
    assert [lot.id for lot in notice.lots] == ["2", "1", "3", "4", "5", "6", "7"]
    assert notice.lots[1].title == "Lot 1: Aberdeen City"
    assert all(lot.cpv == ("45000000",) for lot in notice.lots)
    assert not notice.reserved and not any(lot.reserved for lot in notice.lots)
    assert notice.community_benefits
    assert notice.merge_keys == ("pcs:619060",)  # "(SC Ref:619060)": the PCS original
    assert notice.problems == ()


def test_r209_f21_reserved_social_services_notice_in_french(recorded):
    notice = read(recorded, "R209_F21_FRANCE")
    assert notice.source_id == "091489-2019"
    assert notice.title.startswith("Marché de service pour l'élaboration, la fabrication")
    assert notice.buyer == "EPS Paul Guiraud"
    assert notice.cpv == ("55321000",)
    assert notice.regions == ("FR105",)
    assert notice.lots == ()  # NO_LOT_DIVISION
    assert notice.reserved
    assert notice.reserved_kinds == ("shelteredWorkshop", "publicService")
    assert notice.deadline == datetime(2019, 3, 22, 14, 0, tzinfo=UTC)  # 15:00 in Paris
    assert notice.notice_type == "tender"  # F21 with NOTICE TYPE="CONTRACT"


def test_eforms_german_contract_notice(recorded):
    notice = read(recorded, "EFORMS_CN_DE")
    assert notice.source_id == "622691-2023"
    assert notice.title.startswith("Abschluss nicht-exklusiver Rabattvereinbarungen")
    assert notice.buyer == "KKH Kaufmännische Krankenkasse"
    assert notice.cpv == ("33600000",)
    assert notice.regions == ()
    assert notice.notice_type == "tender"
    assert notice.procedure == "Open procedure"
    # EndDate 2026-12-31+01:00 and EndTime 23:59:00+01:00.
    assert notice.deadline == datetime(2026, 12, 31, 22, 59, tzinfo=UTC)
    assert notice.published == datetime(2023, 10, 13, tzinfo=UTC)
    (lot,) = notice.lots
    assert (lot.id, lot.title, lot.cpv, lot.reserved) == (
        "LOT-0001",
        "Lenograstim (L03AA10)",
        ("33600000",),
        False,
    )
    assert not notice.reserved


def test_eforms_spanish_pin_with_lots_reserved_for_sheltered_workshops(recorded):
    notice = read(recorded, "EFORMS_PIN_ES")
    assert notice.source_id == "262891-2023"
    assert notice.title == "CONTRATO DE SERVICIOS DE LIMPIEZA DE EDIFICIOS MUNICIPALES"
    assert notice.buyer == "AYUNTAMIENTO DE RIPOLL"
    assert notice.notice_type == "pipeline"
    assert notice.cpv == ("90911200", "90919300")
    assert [(lot.id, lot.reserved) for lot in notice.lots] == [
        ("LOT-0001", False),
        ("LOT-0002", False),
        ("LOT-0003", True),
        ("LOT-0004", True),
    ]
    assert notice.reserved and notice.reserved_kinds == ("shelteredWorkshop",)
    # A PIN used as a call: the deadline for expressions of interest, 14:00+02:00.
    assert notice.deadline == datetime(2023, 6, 2, 12, 0, tzinfo=UTC)


def test_eforms_sdk_example_in_english_without_publication_number(recorded):
    notice = read(recorded, "EFORMS_CUMBRIA")
    assert notice.source_id == "6bc75979-ce6c-46eb-81a6-eee543697dec"
    assert notice.problems == ("no TED publication number; named by its notice ID",)
    assert notice.title == "School Payroll and HR Admin Services"
    assert notice.buyer == "Cumbria County Council"
    assert notice.cpv == ("79000000",)
    assert notice.value is not None and notice.value.amount == 1_230_000.0
    assert notice.deadline == datetime(2020, 5, 11, 9, 0, tzinfo=UTC)  # 10:00+01:00
    assert notice.url is None


def test_eforms_maximal_example_reserved_for_public_service_missions(recorded):
    notice = read(recorded, "EFORMS_MAXIMAL")
    assert notice.title == "Procurement Title ---"
    assert notice.cpv == ("79710000", "79720000", "75121000")
    assert notice.regions == ("LU000",)  # the organisations' addresses do not count
    assert [lot.id for lot in notice.lots] == ["LOT-0001", "LOT-0002"]  # not GLO-0001
    assert [lot.reserved for lot in notice.lots] == [True, False]
    assert notice.reserved_kinds == ("publicService",)
    # Restricted procedure: the deadline for requests to participate.
    assert notice.deadline == datetime(2023, 5, 22, 19, 59, 32, tzinfo=UTC)
    assert notice.procedure == "Negotiated procedure with prior publication"


def test_english_text_is_preferred_over_the_official_language(recorded):
    data = recorded.bytes(recorded.EFORMS_CN_DE).replace(
        b'<cbc:Name languageID="DEU">Lenograstim (L03AA10)</cbc:Name>',
        b'<cbc:Name languageID="DEU">Lenograstim (L03AA10)</cbc:Name>'
        b'<cbc:Name languageID="ENG">Lenograstim, English</cbc:Name>',
    )
    notice = notice_from_ted_xml(data, where="x")
    assert notice.lots[0].title == "Lenograstim, English"


def test_an_eforms_change_notice_is_an_amendment(recorded):
    data = recorded.bytes(recorded.EFORMS_CN_DE).replace(
        b"<efac:Publication>", b"<efac:Changes><efac:Change/></efac:Changes><efac:Publication>"
    )
    assert notice_from_ted_xml(data, where="x").notice_type == "amendment"


def test_an_unreadable_deadline_is_a_problem_not_a_failure(recorded):
    data = recorded.bytes(recorded.EFORMS_CN_DE).replace(b"2026-12-31+01:00", b"2026-13-45")
    notice = notice_from_ted_xml(data, where="x")
    assert notice.deadline is None
    assert notice.problems == ("EndDate '2026-13-45 23:59:00+01:00' is not a date",)


def test_a_notice_without_title_is_a_record_error(recorded):
    data = recorded.bytes(recorded.EFORMS_PIN_ES).replace(
        b"CONTRATO DE SERVICIOS DE LIMPIEZA DE EDIFICIOS MUNICIPALES", b""
    )
    with pytest.raises(RecordError, match="no title"):
        notice_from_ted_xml(data, where="x")


def test_xml_that_is_not_a_ted_notice_is_a_parse_error():
    with pytest.raises(ParseError, match="root element 'Invoice' is not a TED notice"):
        notice_from_ted_xml(b"<Invoice xmlns='urn:x'/>", where="inv.xml")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("154324-2020", "154324-2020"),
        ("00622691-2023", "622691-2023"),
        ("91489-2019", "091489-2019"),
        ("2019/S 040-091489", "091489-2019"),
        ("1234567-2024", "1234567-2024"),
        ("abc", None),
        (12, None),
    ],
)
def test_publication_numbers_are_written_one_way(value, expected):
    assert publication_number(value) == expected


@pytest.mark.parametrize(
    ("code", "kind"),
    [
        ("cn-standard", "tender"),
        ("cn-social", "tender"),
        ("pin-only", "pipeline"),
        ("pin-cfc-social", "pipeline"),
        ("can-standard", "award"),
        ("veat", "award"),
        ("corr", "amendment"),
        (None, "tender"),
    ],
)
def test_notice_types(code, kind):
    assert notice_type(code) == kind


def test_dates_without_offset_are_local_to_the_buyer_country():
    london = zone_for_country("GBR")
    assert combine("20200605", "12:00", london) == datetime(2020, 6, 5, 11, 0, tzinfo=UTC)
    assert combine("2020-06-05", None, zone_for_country("XX"), end_of_day=True) == datetime(
        2020, 6, 5, 21, 59, 59, tzinfo=UTC
    )  # unknown country: Brussels time
    assert combine("2026-09-18+02:00", None, london) == datetime(2026, 9, 17, 22, tzinfo=UTC)
