"""Areas, NUTS codes and free-text places."""

import csv

import pytest

from matchers import AreaError, region_label, resolve_area
from matchers.regions import DATA, council_areas, nuts, place_regions


@pytest.mark.parametrize(
    ("area", "codes"),
    [
        ("Glasgow City", {"UKM82"}),
        ("glasgow", {"UKM82"}),
        ("S12000049", {"UKM82"}),
        ("Highland", {"UKM61", "UKM62", "UKM63"}),
        ("Argyll and Bute", {"UKM63", "UKM81"}),
        ("North Ayrshire", {"UKM93", "UKM63"}),
        ("Moray", {"UKM62"}),
        ("Eilean Siar", {"UKM64"}),
        ("Perth & Kinross", {"UKM77"}),
        ("City of Edinburgh", {"UKM75"}),
        ("all of Scotland", {"UKM"}),
        ("Scotland", {"UKM"}),
        ("UK", {"UK"}),
        ("ukm8", {"UKM8"}),
    ],
)
def test_resolve_area(area, codes):
    assert resolve_area(area) == codes


@pytest.mark.parametrize("bad", ["Narnia", "", "UKX99", "S12999999"])
def test_unknown_area_raises(bad):
    with pytest.raises(AreaError):
        resolve_area(bad)


def test_every_council_maps_to_nuts3_codes_that_exist():
    with open(DATA / "scotland_council_areas_and_health_boards.csv", encoding="utf-8") as f:
        councils = {r["gss_code"] for r in csv.DictReader(f) if r["type"] == "council_area"}
    assert set(council_areas()) == councils and len(councils) == 32
    for area in council_areas().values():
        assert all(nuts()[c][0] == 3 and c.startswith("UKM") for c in area.nuts3), area


@pytest.mark.parametrize(
    ("place", "codes"),
    [
        ("UKM50", {"UKM50"}),
        ("Scotland", {"UKM"}),
        ("London, England", {"UKI"}),
        ("Any region", {"UK"}),
        ("South East,South West", {"UKJ", "UKK"}),
        ("West Midlands", {"UKG"}),
        ("Glasgow", {"UKM82"}),
        ("Oslo, Norway", set()),
        (None, set()),
    ],
)
def test_place_text_maps_to_nuts_where_unambiguous(place, codes):
    assert place_regions(place) == codes


@pytest.mark.parametrize(
    ("code", "label"),
    [
        ("UKM82", "Glasgow City"),
        ("UKM", "Scotland"),
        ("UK", "United Kingdom"),
        ("UKE", "Yorkshire and the Humber"),
        ("XX1", "XX1"),
    ],
)
def test_region_label(code, label):
    assert region_label(code) == label
