"""notice_from_release and friends on the recorded PCS, Contracts Finder and FTS payloads."""

from __future__ import annotations

import copy
import math
from datetime import UTC, datetime

import pytest

from feeds.errors import RecordError
from feeds.ocds import (
    compile_releases,
    notice_from_release,
    notice_from_releases,
    publisher_for_ocid,
)
from feeds.packages import load_payload, map_releases
from feeds.types import Lot, Money, Notice

CF_THREE_AMENDMENTS = "ocds-b5fd17-66babd80-87f5-4102-9dc3-ed1841a8c373"
CF_AWARD_THEN_UPDATE = "ocds-b5fd17-9acd68ad-792b-4018-834f-ae3b047c8a7d"


def test_pcs_site_notices_map_to_expected_fields(recorded):
    notices = [notice_from_release(r) for r in recorded.releases(recorded.PCS_2026)]
    first, _, third = notices
    assert [n.title for n in notices] == [
        "Immersive Theater Installation and Exhibition Alterations",
        "Robocutting on Seafield and Strathspey Estates to improve habitat for capercaillie",
        "New Gorbals H.A. - Roof Replacements & Associated Works Phase 3 - 110 - 149 Old "
        "Rutherglen Road",
    ]
    assert [n.buyer for n in notices] == [
        "Scottish Seabird Centre",
        "Cairngorms National Park Authority",
        "New Gorbals Housing Association Ltd.",
    ]
    assert all(n.source == "pcs" and n.notice_type == "tender" for n in notices)
    assert first.source_id == "ocds-r6ebe6-0000843372"
    assert first.url == (
        "https://www.publiccontractsscotland.gov.uk/search/show/search_view.aspx?ID=SEP564850"
    )
    # Main CPV first, then the item codes in order, without repeats.
    assert first.cpv == (
        "45453100", "32321200", "51310000", "39154000", "72212520", "92521100", "45310000",
        "45331000",
    )  # fmt: skip
    assert first.regions == ("UKM73",)
    assert first.place.startswith("Scottish Seabird Centre, The Harbour, North Berwick, EH39 4SS")
    assert first.value == Money(265000.0, "GBP")
    assert third.value is None
    assert first.deadline == datetime(2026, 10, 16, 9, 0, tzinfo=UTC)
    assert first.deadline.tzinfo is not None
    assert first.published == first.release_date == datetime(2026, 9, 18, tzinfo=UTC)
    assert first.procedure == "Open procedure"
    assert first.status == "active"
    assert first.release_id == "rls-1-SEP564850"
    assert first.merge_keys == ("pcs:843372",)
    assert first.problems == ()
    assert first.raw["id"] == "rls-1-SEP564850"


def test_pcs_lots_carry_their_own_text_cpv_and_value(recorded):
    notice = notice_from_release(recorded.releases(recorded.PCS_2026)[0])
    lot2, lot1 = notice.lots
    assert isinstance(lot1, Lot)
    assert (lot2.id, lot1.id) == ("2", "1")
    assert lot2.title == "Lot 2: Immersive Theater Audio Visual Installation"
    assert lot2.cpv == ("32321200", "51310000", "39154000", "72212520", "92521100")
    assert lot1.cpv == ("45453100", "45310000", "45331000", "39154000", "92521100")
    assert lot2.value == Money(150000.0, "GBP")
    assert lot1.description.startswith("Lot 1: Exhibition Alterations")


def test_short_pcs_description_is_extended_by_lot_text_once(recorded):
    notice = notice_from_release(recorded.releases(recorded.PCS_2026)[0])
    assert notice.description.startswith("The Scottish Seabird Centre (SSC) seeks")
    for lot in notice.lots:
        assert notice.description.count(lot.description) == 1
    # When the lot repeats the summary word for word, the summary is not repeated.
    release = recorded.releases(recorded.PCS_2019)[1]
    assert release["tender"]["lots"][0]["description"] == release["tender"]["description"]
    notice = notice_from_release(release)
    assert notice.description == notice.lots[0].description


def test_pcs_2019_sample_maps_every_release_and_finds_the_reserved_one(recorded):
    notices = [notice_from_release(r) for r in recorded.releases(recorded.PCS_2019)]
    assert len(notices) == 90
    assert all(n.deadline is not None and n.deadline.tzinfo is not None for n in notices)
    reserved = [n for n in notices if n.reserved]
    assert [n.source_id for n in reserved] == ["ocds-r6ebe6-0000580540"]
    fife = reserved[0]
    assert fife.reserved_kinds == ("shelteredWorkshop",)
    assert fife.buyer == "Fife Council"
    assert fife.cpv == ("33000000",)
    assert fife.regions == ("UKM72",)
    assert fife.place == "Fife"
    assert fife.merge_keys == ("pcs:580540",)
    assert fife.community_benefits
    # "sheltered housing complex" in free text is not a reservation.
    assert "sheltered" in recorded.releases(recorded.PCS_2019)[3]["tender"]["description"]
    assert not notices[3].reserved


def test_find_a_tender_copies_of_pcs_notices_carry_pcs_merge_keys(recorded):
    first, second = (notice_from_release(r) for r in load_payload(
        recorded.bytes(recorded.FTS_2026), where="fts").releases)  # fmt: skip
    assert first.source == second.source == "find_a_tender"
    assert first.merge_keys == ("pcs:842768",)
    assert second.merge_keys == ("pcs:833704",)
    assert first.url == "https://www.find-tender.service.gov.uk/Notice/086589-2026"
    assert first.title == "Peatland ACTION FW02 Field Ecologists Framework"
    assert first.buyer == "Scottish Natural Heritage"
    assert first.cpv[0] == "90700000"
    assert "09112000" in first.cpv and len(first.cpv) == len(set(first.cpv)) == 13
    assert first.regions == ("UKM",)
    assert second.regions == ("UKM8",)
    assert second.place == "Monklands University Hospital; North and South Lanarkshire"
    assert first.deadline == datetime(2026, 11, 6, 12, 0, tzinfo=UTC)
    assert second.deadline == datetime(2026, 10, 19, 16, 0, tzinfo=UTC)  # 17:00+01:00
    assert second.value == Money(4300000.0, "GBP")
    assert second.lots[0].title == ("University Hospital Monklands (works under GBP 5,000)")
    assert second.community_benefits and not first.community_benefits


def test_merge_key_from_sc_ref_text_when_there_is_no_canonical_link(recorded):
    release = recorded.releases(recorded.FTS_2026)[0]
    del release["links"]
    assert "(SC Ref:842768)" in release["description"]
    assert notice_from_release(release).merge_keys == ("pcs:842768",)
    release["description"] = release["description"].replace("(SC Ref:842768)", "(WA Ref:0123)")
    assert notice_from_release(release).merge_keys == ("s2w:123",)


def test_sell2wales_ocid_gives_its_own_merge_key_and_source(recorded):
    release = recorded.releases(recorded.PCS_2026)[0]
    release["ocid"] = "ocds-kuma6s-0000843372"
    notice = notice_from_release(release)
    assert notice.source == "sell2wales"
    assert notice.merge_keys[0] == "s2w:843372"


@pytest.mark.parametrize(
    ("end_date", "expected"),
    [
        ("2026-09-12", datetime(2026, 9, 12, 22, 59, 59, tzinfo=UTC)),  # BST
        ("2027-01-12", datetime(2027, 1, 12, 23, 59, 59, tzinfo=UTC)),  # GMT
        ("2026-11-06T12:00:00Z", datetime(2026, 11, 6, 12, 0, tzinfo=UTC)),
        ("2026-10-19T17:00:00+01:00", datetime(2026, 10, 19, 16, 0, tzinfo=UTC)),
    ],
)
def test_deadline_formats_seen_on_find_a_tender(recorded, end_date, expected):
    release = recorded.releases(recorded.FTS_2026)[0]
    release["tender"]["tenderPeriod"]["endDate"] = end_date
    notice = notice_from_release(release)
    assert notice.deadline == expected
    assert notice.deadline.tzinfo is not None


def test_unreadable_deadline_is_a_problem_not_a_rejection(recorded):
    release = recorded.releases(recorded.PCS_2026)[0]
    release["tender"]["tenderPeriod"]["endDate"] = "2026-02-30"
    notice = notice_from_release(release)
    assert notice.deadline is None
    assert notice.problems == ("tender.tenderPeriod.endDate '2026-02-30' is not a date",)


def test_1e9999_amount_from_find_a_tender_never_becomes_inf(recorded):
    raw = recorded.bytes(recorded.FTS_2026).replace(b'"amount": 450000', b'"amount": 1e9999', 1)
    assert b"1e9999" in raw.split(b'"maximumLotsBidPerSupplier"')[0]
    notices, _ = map_releases(load_payload(raw, where="fts").releases, source="x", where="p")
    first, second = notices
    assert first.value is None
    assert first.problems == ("tender.value.amount '1e9999' is not a usable amount",)
    assert second.raw["tender"]["lotDetails"]["maximumLotsBidPerSupplier"] == "1e9999"
    for notice in (first, second):
        numbers = [notice.value and notice.value.amount] + [
            lot.value.amount for lot in notice.lots if lot.value
        ]
        assert all(n is None or math.isfinite(n) for n in numbers)


@pytest.mark.parametrize("amount", [-5, "lots", float("nan"), True])
def test_unusable_amounts_are_dropped_with_a_problem(recorded, amount):
    release = recorded.releases(recorded.PCS_2026)[0]
    release["tender"]["value"]["amount"] = amount
    notice = notice_from_release(release)
    assert notice.value is None
    assert any(p.startswith("tender.value.amount") for p in notice.problems)


def test_contracts_finder_fields(recorded):
    notices = {r["id"]: notice_from_release(r) for r in recorded.releases(recorded.CF_2022)}
    peakon = notices["7d005747-1320-456e-b1fb-79919a74e44f-582356"]
    assert peakon.source == "contracts_finder"
    assert peakon.notice_type == "award"
    # A range is published as minValue .. value.
    assert peakon.value == Money(145017.8, "GBP", min=36254.4, max=145017.8)
    # Contracts Finder gives region names, not NUTS codes.
    assert peakon.regions == ()
    assert peakon.place == "London"
    assert (
        peakon.url
        == "https://www.contractsfinder.service.gov.uk/Notice/7d005747-1320-456e-b1fb-79919a74e44f"
    )
    assert peakon.deadline == datetime(2020, 10, 16, 22, 59, 59, tzinfo=UTC)
    assert peakon.merge_keys == ()
    types = {n.notice_type for n in notices.values()}
    assert types == {"pipeline", "tender", "amendment", "award"}


def test_contracts_finder_suitability_flags(recorded):
    notices = [notice_from_release(r) for r in recorded.releases(recorded.CF_2022)]
    assert sum(n.sme is True for n in notices) == 75
    assert sum(n.vcse is True for n in notices) == 19
    assert all(n.sme is not None and n.vcse is not None for n in notices)
    send = next(n for n in notices if n.title.startswith("Special Educational Needs"))
    assert (send.sme, send.vcse) == (True, True)
    assert send.cpv == ("73000000", "79000000")


def test_planning_release_takes_its_title_and_notice_url_from_planning(recorded):
    release = next(r for r in recorded.releases(recorded.CF_2022) if r["tag"] == ["planning"])
    del release["tender"]["title"]
    notice = notice_from_release(release)
    assert notice.notice_type == "pipeline"
    assert notice.title == release["title"]
    assert notice.url == release["planning"]["documents"][0]["url"]


def test_notice_type_argument_overrides_the_tag(recorded):
    release = recorded.releases(recorded.PCS_2026)[0]
    assert notice_from_release(release, notice_type="pipeline").notice_type == "pipeline"


def test_several_releases_of_one_ocid_on_a_page_make_one_notice_named_by_the_latest(recorded):
    page = recorded.releases(recorded.CF_2022)
    notices, rejections = map_releases(page, source="contracts_finder", where="page 1")
    assert rejections == ()
    assert len(notices) == 86 == len({r["ocid"] for r in page})
    by_ocid = {n.source_id: n for n in notices}
    amended = by_ocid[CF_THREE_AMENDMENTS]
    assert amended.release_id == "78c30ae8-867d-43af-8fe7-52d1ea8e16fa-582289"
    assert amended.release_date == datetime(2022, 10, 19, 16, 40, 16, tzinfo=UTC)
    updated = by_ocid[CF_AWARD_THEN_UPDATE]
    assert updated.notice_type == "award"
    assert updated.value == Money(4050.0, "GBP")  # the award update, not the award


def test_compile_releases_on_a_real_contracts_finder_ocid(recorded):
    group = [r for r in recorded.releases(recorded.CF_2022) if r["ocid"] == CF_AWARD_THEN_UPDATE]
    assert len(group) == 2
    compiled = compile_releases(group)
    assert compiled["tag"] == ["compiled"]
    assert compiled["ocid"] == CF_AWARD_THEN_UPDATE
    assert compiled["date"] == "2022-10-20T09:27:24+01:00"
    assert compiled["tender"]["value"] == {"amount": 4050, "currency": "GBP"}
    # Order of input does not matter: releases are merged oldest first by real instant.
    assert compile_releases(list(reversed(group))) == compiled
    assert compile_releases(group[:1]) is group[0]


def test_compiling_keeps_fields_a_later_partial_release_leaves_out(recorded):
    # PCS/FTS publish one release per notice; a corrigendum may carry only what changed.
    notice = recorded.releases(recorded.PCS_2026)[0]
    correction = {
        "ocid": notice["ocid"],
        "id": "rls-2-SEP999999",
        "date": "2026-09-25T00:00:00Z",
        "tag": ["tenderAmendment"],
        "tender": {
            "id": notice["tender"]["id"],
            "tenderPeriod": {"endDate": "2026-10-30T12:00:00Z"},
        },
    }
    merged = notice_from_releases([correction, notice])
    assert merged.title == notice["tender"]["title"]
    assert len(merged.lots) == 2
    assert merged.deadline == datetime(2026, 10, 30, 12, 0, tzinfo=UTC)
    assert merged.notice_type == "amendment"
    assert merged.release_id == "rls-2-SEP999999"
    # The raw payload is the releases themselves, oldest first, ready to compile again later.
    assert merged.raw == [notice, correction]
    assert merged.buyer == "Scottish Seabird Centre"


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (lambda r: r.pop("ocid"), "release has no ocid"),
        (lambda r: r["tender"].pop("title"), "release has no title (tender.title or title)"),
        (lambda r: r.update(tender=["not", "an", "object"]), "tender is a list, not an object"),
    ],
)
def test_unusable_release_raises_record_error_with_reason(recorded, change, reason):
    release = recorded.releases(recorded.PCS_2026)[0]
    change(release)
    with pytest.raises(RecordError, match=reason.replace("(", r"\(").replace(")", r"\)")):
        notice_from_release(release)


def test_bad_records_are_rejected_and_the_rest_of_the_page_kept(recorded):
    page = recorded.releases(recorded.CF_2022)
    ocids = [r["ocid"] for r in page]
    assert ocids.count(page[4]["ocid"]) == ocids.count(page[7]["ocid"]) == 1
    del page[4]["tender"]["title"]
    page[7] = "not a release"
    notices, rejections = map_releases(page, source="contracts_finder", where="page 3")
    assert len(notices) == 84
    assert [(r.position, r.reason, r.record_id, r.source) for r in rejections] == [
        ("page 3, release 5", "release has no title (tender.title or title)",
         page[4]["ocid"], "contracts_finder"),
        ("page 3, release 8", "release is a str, not an object", None, "contracts_finder"),
    ]  # fmt: skip


def test_structural_oddities_below_the_tender_are_problems(recorded):
    release = copy.deepcopy(recorded.releases(recorded.PCS_2026)[0])
    release["tender"]["items"] = {"id": "1"}
    notice = notice_from_release(release)
    assert isinstance(notice, Notice)
    assert notice.problems == ("tender.items is a dict, not a list",)


@pytest.mark.parametrize(
    ("ocid", "publisher"),
    [
        ("ocds-r6ebe6-0000843372", "pcs"),
        ("ocds-kuma6s-000012345", "sell2wales"),
        ("ocds-b5fd17-7d067852-1260-448e-b84a-186d028f9991", "contracts_finder"),
        ("ocds-h6vhtk-06f877", "find_a_tender"),
        ("ocds-0c46vo-0001-abc", "ocds:ocds-0c46vo"),
    ],
)
def test_publisher_for_ocid(ocid, publisher):
    assert publisher_for_ocid(ocid) == publisher
