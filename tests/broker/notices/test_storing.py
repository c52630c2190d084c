"""Storing notices: idempotent upsert, merged duplicates, amendments and their history."""

from __future__ import annotations

import copy
import json
from datetime import datetime

import pytest
from sqlalchemy import func, select

from broker.models import Notice, NoticeChange, NoticeSource
from broker.notices.dedupe import Thresholds, same_opportunity
from broker.notices.records import unpack_raw
from broker.notices.storing import store_notices
from feeds.ocds import notice_from_release


def releases(data_dir, name):
    payload = json.loads((data_dir / name).read_text())
    return payload["releases"] if isinstance(payload, dict) else payload


def notices_of(data_dir, name):
    return [notice_from_release(r) for r in releases(data_dir, name)]


def count(session, model):
    return session.scalar(select(func.count()).select_from(model))


def pcs_twin_of(fts_release: dict) -> dict:
    """The PCS original of a Find a Tender republication, rebuilt from its canonical link."""
    canonical = next(link["href"] for link in fts_release["links"] if link["rel"] == "canonical")
    ocid = canonical.split("id=")[1]
    twin = copy.deepcopy(fts_release)
    twin.pop("links")
    twin["ocid"] = ocid
    twin["id"] = f"rls-1-{ocid[-6:]}"
    twin["date"] = "2026-09-10T00:00:00Z"
    return twin


def test_storing_a_page_creates_one_notice_per_ocid(sessions, data_dir, clock):
    with sessions.begin() as s:
        result = store_notices(
            s, notices_of(data_dir, "pcs_ocds_notices_2026-09_nt102_trimmed.json"), clock()
        )
    assert len(result.new) == 3
    with sessions() as s:
        titles = set(s.scalars(select(Notice.title)))
        assert "Immersive Theater Installation and Exhibition Alterations" in titles
        assert count(s, NoticeSource) == 3


def test_storing_the_same_notices_again_changes_nothing(sessions, data_dir, clock):
    items = notices_of(data_dir, "pcs_ocds_releases_2019-04_apa999.json")
    stored_at = clock()
    with sessions.begin() as s:
        first = store_notices(s, items, stored_at)
    clock.advance(hours=1)
    with sessions.begin() as s:
        again = store_notices(
            s, notices_of(data_dir, "pcs_ocds_releases_2019-04_apa999.json"), clock()
        )
    assert len(first.new) == 90
    assert again.new == [] and again.updated == [] and again.merged == 0
    assert again.unchanged == 90
    with sessions() as s:
        # Every source record hangs off the notice built from it.
        for source in s.scalars(select(NoticeSource)):
            assert source.notice.title == source.data["title"]
            assert source.notice.deadline.isoformat() == source.data["deadline"]
        assert count(s, Notice) == 90
        assert count(s, NoticeChange) == 0
        assert s.scalar(select(func.max(Notice.updated_at))) == stored_at


def test_raw_release_is_kept_compressed(sessions, data_dir, clock):
    raw = releases(data_dir, "pcs_ocds_notices_2026-09_nt102_trimmed.json")[0]
    with sessions.begin() as s:
        store_notices(s, [notice_from_release(raw)], clock())
    with sessions() as s:
        row = s.scalars(select(NoticeSource)).one()
        assert len(row.raw) < len(json.dumps(raw))
        assert unpack_raw(row.raw) == [raw]


@pytest.mark.parametrize("pcs_first", [True, False], ids=["pcs-first", "fts-first"])
def test_find_a_tender_copy_merges_with_its_pcs_original(sessions, data_dir, clock, pcs_first):
    fts = releases(data_dir, "fts_release_package_2026-09-11_trimmed.json")
    pcs = [pcs_twin_of(r) for r in fts]
    batches = [pcs, fts] if pcs_first else [fts, pcs]
    for batch in batches:
        with sessions.begin() as s:
            store_notices(s, [notice_from_release(r) for r in batch], clock())
        clock.advance(minutes=5)
    with sessions() as s:
        assert count(s, Notice) == 2
        for notice in s.scalars(select(Notice)):
            assert sorted(src.source for src in notice.sources) == ["find_a_tender", "pcs"]
            # The PCS original is the primary publication whichever arrived first.
            assert notice.primary_source == "pcs"
        joinery = s.scalars(
            select(Notice).where(Notice.title == "Joinery Contractors Framework")
        ).one()
        assert {src.source_id for src in joinery.sources} == {
            "ocds-h6vhtk-06f872",
            "ocds-r6ebe6-0000833704",
        }
        assert any(c.field == "source" for c in joinery.changes)


def test_sc_ref_in_the_description_merges_without_a_canonical_link(sessions, data_dir, clock):
    fts = releases(data_dir, "fts_release_package_2026-09-11_trimmed.json")[0]
    pcs = pcs_twin_of(fts)
    unlinked = copy.deepcopy(fts)
    unlinked.pop("links")
    assert "(SC Ref:842768)" in unlinked["description"]
    with sessions.begin() as s:
        store_notices(s, [notice_from_release(pcs)], clock())
    with sessions.begin() as s:
        result = store_notices(s, [notice_from_release(unlinked)], clock())
    assert result.merged == 1 and result.new == []
    with sessions() as s:
        assert count(s, Notice) == 1


def amended(release: dict, *, new_deadline: str, when: str) -> dict:
    """A tenderAmendment of a real release that moves its deadline."""
    change = copy.deepcopy(release)
    change["id"] = release["id"] + "-amendment"
    change["date"] = when
    change["tag"] = ["tenderAmendment"]
    change["tender"]["tenderPeriod"] = {"endDate": new_deadline}
    return change


def test_an_amendment_updates_the_deadline_and_records_the_change(sessions, data_dir, clock):
    tender = releases(data_dir, "cf_ocds_search_2022-10-20.json")[83]
    assert tender["tag"] == ["tender"]
    with sessions.begin() as s:
        store_notices(s, [notice_from_release(tender)], clock())
    clock.advance(days=2)
    change = amended(tender, new_deadline="2022-11-25T23:59:59Z", when="2022-10-21T10:00:00+01:00")
    with sessions.begin() as s:
        result = store_notices(s, [notice_from_release(change)], clock())
    assert len(result.updated) == 1
    assert "deadline" in result.changes[result.updated[0]]
    with sessions() as s:
        notice = s.scalars(select(Notice)).one()
        assert notice.deadline == datetime.fromisoformat("2022-11-25T23:59:59+00:00")
        assert notice.notice_type == "amendment"
        assert notice.changed_at == clock.now
        deadline_change = next(c for c in notice.changes if c.field == "deadline")
        assert deadline_change.old.startswith("2022-11-18T23:59:59")
        assert deadline_change.new.startswith("2022-11-25T23:59:59")
        source = notice.sources[0]
        assert sorted(source.release_ids) == sorted([tender["id"], change["id"]])
        assert len(unpack_raw(source.raw)) == 2


def test_a_partial_later_release_keeps_fields_it_does_not_carry(sessions, data_dir, clock):
    # PCS and Find a Tender publish one release per notice; a corrigendum may carry only
    # the changed parts, so the releases are compiled rather than "latest wins".
    tender = releases(data_dir, "pcs_ocds_notices_2026-09_nt102_trimmed.json")[0]
    corrigendum = {
        "ocid": tender["ocid"],
        "id": "rls-2-corrigendum",
        "date": "2026-09-25T00:00:00Z",
        "tag": ["tenderAmendment"],
        "tender": {
            "id": tender["tender"]["id"],
            "tenderPeriod": {"endDate": "2026-10-23T09:00:00Z"},
        },
    }
    with sessions.begin() as s:
        store_notices(s, [notice_from_release(tender)], clock())
    with sessions.begin() as s:
        result = store_notices(
            s,
            [
                notice_from_release(
                    {
                        **corrigendum,
                        "tender": {**corrigendum["tender"], "title": tender["tender"]["title"]},
                    }
                )
            ],
            clock(),
        )
    assert len(result.updated) == 1
    with sessions() as s:
        notice = s.scalars(select(Notice)).one()
        assert notice.deadline == datetime.fromisoformat("2026-10-23T09:00:00+00:00")
        assert notice.buyer == "Scottish Seabird Centre"
        assert notice.value_amount == 265000.0
        assert len(notice.lots) == 2


def test_several_releases_of_one_ocid_in_a_batch_become_one_notice(sessions, data_dir, clock):
    page = releases(data_dir, "cf_ocds_search_2022-10-20.json")
    ocid = "ocds-b5fd17-4336529a-8781-49a7-af7f-1293827c28f6"
    with sessions.begin() as s:
        result = store_notices(
            s, [notice_from_release(r) for r in page if r["ocid"] == ocid], clock()
        )
    assert len(result.new) == 1
    with sessions() as s:
        notice = s.scalars(select(Notice)).one()
        # The tenderAmendment (16:51) is later than the tender (16:39), so it names the notice.
        assert notice.notice_type == "amendment"
        assert sorted(notice.sources[0].release_ids) == sorted(
            r["id"] for r in page if r["ocid"] == ocid
        )


def fts_copy_of(cf_release: dict, *, title: str | None = None) -> dict:
    """A Find a Tender publication of a Contracts Finder notice: new ocid, same facts."""
    fts = copy.deepcopy(cf_release)
    fts["ocid"] = "ocds-h6vhtk-0" + cf_release["ocid"][-5:]
    fts["id"] = "012345-2022"
    if title is not None:
        fts["tender"]["title"] = title
    return fts


def test_contracts_finder_and_find_a_tender_copies_merge_on_title_buyer_deadline(
    sessions, data_dir, clock
):
    cf = releases(data_dir, "cf_ocds_search_2022-10-20.json")[24]
    fts = fts_copy_of(cf, title=cf["tender"]["title"].upper() + ".")
    with sessions.begin() as s:
        store_notices(s, [notice_from_release(cf)], clock())
    with sessions.begin() as s:
        result = store_notices(s, [notice_from_release(fts)], clock())
    assert result.merged == 1
    with sessions() as s:
        assert count(s, Notice) == 1
        assert count(s, NoticeSource) == 2


def test_a_different_notice_from_the_same_buyer_on_the_same_day_is_not_merged(
    sessions, data_dir, clock
):
    cf = releases(data_dir, "cf_ocds_search_2022-10-20.json")[24]
    fts = fts_copy_of(cf, title="Provision of Occupational Health Services")
    with sessions.begin() as s:
        store_notices(s, [notice_from_release(cf), notice_from_release(fts)], clock())
    with sessions() as s:
        assert count(s, Notice) == 2


# Real title pairs: (Contracts Finder title, a title another notice could carry, same?)
TITLE_PAIRS = [
    ("Joinery Contractors Framework", "Joinery Contractors Framework", True),
    ("Joinery Contractors Framework", "JOINERY CONTRACTORS FRAMEWORK.", True),
    (
        "Peatland ACTION FW02 Field Ecologists Framework",
        "Peatland ACTION - FW02 - Field Ecologists Framework",
        True,
    ),
    (
        "Peatland ACTION FW02 Field Ecologists Framework",
        "Peatland ACTION FW03 Contractors Framework",
        False,
    ),
    (
        "Immersive Theater Installation and Exhibition Alterations",
        "Exhibition Alterations and Immersive Theater Installation",
        True,
    ),
    (
        "Lot 1: Exhibition Alterations and Immersive Theater Shell Construction",
        "Lot 2: Immersive Theater Audio Visual Installation",
        False,
    ),
]


@pytest.mark.parametrize(("a", "b", "same"), TITLE_PAIRS)
def test_title_threshold_separates_copies_from_neighbours(a, b, same):
    assert (
        same_opportunity(a, "Scottish Seabird Centre", b, "SCOTTISH SEABIRD CENTRE", Thresholds())
        is same
    )


def test_different_buyers_never_merge():
    assert not same_opportunity(
        "Joinery Contractors Framework",
        "Wheatley Group",
        "Joinery Contractors Framework",
        "Fife Council",
        Thresholds(),
    )
