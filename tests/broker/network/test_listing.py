"""The directory's words and filters, and the per-key limit, without the web."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

from broker.network.export import directory_csv
from broker.network.finding import plain_reasons, split_words
from broker.network.limits import RateLimiter
from broker.network.listing import PublicMember, area_words, councils_served, slug
from matchers import Reason

GLASGOW, WEST_DUNBARTONSHIRE, EAST_DUNBARTONSHIRE = "S12000049", "S12000039", "S12000045"


def test_areas_read_in_words_however_the_member_wrote_them():
    assert area_words("UKM82") == "Glasgow City"
    assert area_words("glasgow") == "Glasgow City"
    assert area_words("S12000039") == "West Dunbartonshire"
    assert area_words("all of Scotland") == "All of Scotland"
    assert area_words("UK") == "Anywhere in the UK"
    assert area_words("UKM8") == "West Central Scotland"


def test_a_council_named_serves_that_council_and_a_region_every_council_in_it():
    # West and East Dunbartonshire share a NUTS 3 region, but naming one isn't the other.
    assert councils_served(["West Dunbartonshire"]) == {WEST_DUNBARTONSHIRE}
    assert councils_served(["UKM82", "Glasgow"]) == {GLASGOW}
    west_central = councils_served(["UKM8"])
    assert {GLASGOW, WEST_DUNBARTONSHIRE, EAST_DUNBARTONSHIRE} <= west_central
    assert len(councils_served(["all of Scotland"])) == 32 == len(councils_served(["UK"]))
    assert councils_served(["England"]) == frozenset()
    assert councils_served([]) is None  # no areas given: anywhere


def test_slugs_are_plain_and_stable():
    assert slug("Clean Start Services") == "clean-start-services"
    assert slug("Café & Co. (Leith)") == "cafe-and-co-leith"
    assert slug("!!!") == "member"


def test_the_engines_reasons_in_the_coordinators_plain_words():
    reasons = [
        Reason("keyword", 'keyword "grounds maintenance" ≈ "grounds maintenance" (title)'),
        Reason("keyword", 'keyword "cleaning services" in part: "cleaning" only (title)'),
        Reason("region", "region UKM81 (East Dunbartonshire, West Dunbartonshire and "
               "Helensburgh & Lomond) is one the member serves"),
    ]  # fmt: skip
    assert plain_reasons(reasons, "west dunbartonshire") == (
        "does grounds maintenance",
        "serves West Dunbartonshire",
    )
    outside = Reason("region", "region UKM82 (Glasgow City) is outside the member's areas")
    assert plain_reasons([outside], "Glasgow") == ("doesn't list Glasgow City among its areas",)


def test_the_officers_first_line_is_the_title():
    assert split_words("Grass cutting\nThree parks, weekly.") == (
        "Grass cutting",
        "Three parks, weekly.",
    )
    long = "Word " * 50 + "end. " + "More " * 40
    title, rest = split_words(long)
    assert title.endswith("end.") and rest.startswith("More")


def test_the_limit_counts_each_key_in_a_sliding_window():
    limit = RateLimiter(2, timedelta(minutes=1))
    start = datetime(2026, 12, 1, 9, tzinfo=UTC)
    assert limit.allow("a", start) and limit.allow("a", start + timedelta(seconds=10))
    assert not limit.allow("a", start + timedelta(seconds=20))
    assert limit.allow("b", start + timedelta(seconds=20))
    assert limit.allow("a", start + timedelta(seconds=61))


def test_the_csv_cells_never_run_as_spreadsheet_formulas():
    member = PublicMember(
        id=1, slug="x", name="=HYPERLINK(\"http://evil.example\")", description="+1 cleaning",
        keywords=("cleaning",), areas=(), kinds=(), min_value=None, max_value=None,
        supported_business=False, vcse=True, sme=True, website=None,
    )  # fmt: skip
    rows = list(csv.reader(io.StringIO(directory_csv([member], lambda m: "/network/members/x"))))
    assert rows[1][:4] == ["'=HYPERLINK(\"http://evil.example\")", "'+1 cleaning", "Anywhere",
                           "cleaning"]  # fmt: skip
