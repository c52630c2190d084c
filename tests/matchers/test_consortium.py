"""Partner suggestions for a consortium bid, on real multi-lot notices.

The notices are the recorded ones in tests/data, read with the harvesters' own parsers:
the TED kitchen and bathroom framework in seven regional lots, and PCS notices with
lots (composting in two halves of East Ayrshire, an immersive theatre in two lots with
their own values, medical aids reserved for supported businesses).
"""

from __future__ import annotations

from pathlib import Path

import pytest

import matchers
from feeds.files import read_file
from matchers import MatchConfig, Matcher, Profile
from matchers.consortium import coverage, lot_label, places_named, suggest, suggest_partners

DATA = Path(__file__).resolve().parent.parent / "data"
TED_KITCHENS = ("ted_r209_f02_cn_scotland_20-156983.xml", "Kitchen and Bathroom Framework")
COMPOSTING = ("pcs_ocds_releases_2019-04_apa999.json", "Composting of Organic Green Waste")
MEDICAL_AIDS = ("pcs_ocds_releases_2019-04_apa999.json", "Supply of Medical Aids to Fife")
THEATRE = ("pcs_ocds_notices_2026-09_nt102_trimmed.json", "Immersive Theater Installation")
CIRCULAR = ("pcs_ocds_releases_2019-04_apa999.json", "Circular Economy Cities")
STORE_THRESHOLD = 30


def real_notice(where: tuple[str, str]) -> matchers.Notice:
    """A recorded notice, by file and title, as the engine reads it."""
    name, title = where
    for page in read_file(DATA / name):
        for n in page.notices:
            if n.title.startswith(title):
                return matchers.Notice(
                    id=n.source_id,
                    title=n.title,
                    description=n.description,
                    cpv=n.cpv,
                    regions=n.regions,
                    place=n.place,
                    value=n.value.amount if n.value else None,
                    reserved=n.reserved,
                    lots=tuple(
                        matchers.Lot(
                            title=lot.title,
                            description=lot.description,
                            cpv=lot.cpv,
                            value=lot.value.amount if lot.value else None,
                        )
                        for lot in n.lots
                    ),
                )
    raise LookupError(title)


def partners(where, profiles, **kw):
    notice = real_notice(where)
    return suggest_partners(
        notice, Matcher(profiles, MatchConfig()), profiles, STORE_THRESHOLD, **kw
    )


GRANITE = Profile(
    id="granite",
    name="Granite Kitchens",
    keywords=("kitchen installation", "bathroom installation"),
    regions=("Aberdeen City", "Aberdeenshire"),
)
MORAY = Profile(
    id="moray",
    name="Moray Joinery",
    keywords=("kitchens", "bathrooms", "joinery"),
    regions=("Moray",),
)
TAY = Profile(
    id="tay",
    name="Tay Trades",
    keywords=("bathrooms", "kitchens"),
    regions=("Dundee City", "Angus"),
    supported_business=True,
)
# Kitchens anywhere in Scotland, but no contract over £50k: not a £12m framework's lot.
SMALL = Profile(id="small", keywords=("kitchens",), regions=("Scotland",), max_value=50_000)
PRINT = Profile(id="print", keywords=("printing", "leaflets"), regions=("Glasgow City",))


@pytest.mark.parametrize(
    ("text", "areas"),
    [
        ("Lot 6: Angus West and Dundee", {"UKM71"}),
        ("Lot 5: Moray", {"UKM62"}),
        ("Lot 1: Aberdeen City", {"UKM50"}),
        ("Lot 2 - South of the Authority", set()),
        ("Air Tools (further detail within the pricing matrix attachment)", set()),
        ("Fire Systems Maintenance Contract - North Scotland", set()),
    ],
)
def test_the_places_a_lot_title_names(text, areas):
    assert places_named(text) == areas


@pytest.mark.parametrize(
    ("index", "title", "label"),
    [
        (1, "Lot 2: Aberdeenshire North", "Lot 2: Aberdeenshire North"),
        (0, "Guarding and Key Holding", "Lot 1: Guarding and Key Holding"),
        (0, "", "Lot 1"),
    ],
)
def test_a_lot_is_named_as_the_notice_names_it(index, title, label):
    assert lot_label(index, title) == label


def test_the_kitchen_framework_s_seven_lots_are_covered_by_three_regional_members():
    [best] = partners(TED_KITCHENS, [GRANITE, MORAY, TAY, SMALL, PRINT])
    assert best.complete
    assert best.members == ("granite", "moray", "tay")
    lots = {part.member: part.lots for part in best.parts}
    # Lots in the notice's order: 2, 1, 3 and 4 (Aberdeen), 5 (Moray), 6 and 7 (Angus).
    assert lots == {"granite": (0, 1, 2, 3), "moray": (4,), "tay": (5, 6)}
    words = {part.member: part.words for part in best.parts}
    assert words["moray"][0] == "Lot 5: Moray, bathrooms"
    assert "Lot 6: Angus West and Dundee, bathrooms" in words["tay"]


def test_what_nobody_covers_is_said_in_words():
    [best] = partners(TED_KITCHENS, [GRANITE, TAY, PRINT])
    assert best.members == ("granite", "tay")
    assert best.missing[0] == "no member covers Lot 5: Moray"


def test_a_member_too_small_for_a_lot_covers_none_of_it():
    # £12m in seven lots is about £1.7m a lot: over the small member's £50k.
    cover = coverage(
        real_notice(TED_KITCHENS), Matcher([SMALL, TAY], MatchConfig()), [SMALL, TAY], 30
    )
    assert "small" not in cover.parts
    assert cover.parts["tay"].lots == (5, 6)


def test_a_lot_s_own_value_decides_who_can_take_it():
    av_small = Profile(id="av-small", keywords=("audio visual",), max_value=100_000)
    av = Profile(id="av", keywords=("audio visual",), max_value=200_000)
    builder = Profile(
        id="builder", keywords=("exhibition", "shell construction"), max_value=120_000
    )
    [best] = partners(THEATRE, [av_small, av, builder])
    # The audio-visual lot is £150k: the member whose range ends at £100k is left out.
    assert best.members == ("av", "builder")
    assert {p.member: p.lots for p in best.parts} == {"av": (0,), "builder": (1,)}


def test_a_reserved_contract_needs_a_supported_business():
    plain = Profile(id="plain", keywords=("medical aids", "community equipment"), regions=("Fife",))
    supported = Profile(
        id="supported", keywords=("medical aids",), regions=("Fife",), supported_business=True
    )
    best, other = partners(MEDICAL_AIDS, [plain, supported])
    assert (best.members, best.missing) == (("supported",), ())
    assert "supported business" in best.parts[0].words
    assert other.members == ("plain",)
    assert other.missing == ("no member covers a supported business (the contract is reserved)",)


def test_each_member_in_a_set_adds_something_and_sets_are_best_first():
    ayr = Profile(id="ayr", keywords=("composting", "green waste"), regions=("East Ayrshire",))
    glasgow = Profile(id="glasgow", keywords=("composting",), regions=("Glasgow City",))
    suggestions = partners(COMPOSTING, [ayr, glasgow])
    # One member does it all; adding the other would add nothing.
    assert suggestions[0].members == ("ayr",)
    assert suggestions[0].complete
    assert all("ayr" not in s.members for s in suggestions[1:])


def test_a_lot_s_place_is_read_inside_the_notice_s_area():
    # "North East Scotland" begins with the name of England's North East; in a Scottish
    # notice it must not send the lot to England.
    tyneside = Profile(id="tyneside", keywords=("circular economy",), regions=("UKC",))
    edinburgh = Profile(id="edinburgh", keywords=("circular economy",), regions=("UKM75",))
    both = [tyneside, edinburgh]
    cover = coverage(real_notice(CIRCULAR), Matcher(both, MatchConfig()), both, 30)
    assert "tyneside" not in cover.parts
    # Lot 1 is Edinburgh's; lots 3 and 4 name no place it can tell, so they fall back on
    # the notice's own area (Scotland), which Edinburgh is in.
    assert cover.parts["edinburgh"].lots == (0, 2, 3)


def test_no_members_no_suggestions():
    assert partners(TED_KITCHENS, [PRINT]) == []
    assert suggest(coverage(real_notice(TED_KITCHENS), Matcher([], MatchConfig()), [], 30)) == []


def test_a_notice_coded_only_by_a_whole_division_does_not_contradict_its_keywords():
    # The framework's one code is 45000000 "Construction work": it holds kitchen
    # installation (45421151), so it doesn't say the notice is about something else.
    notice = real_notice(TED_KITCHENS)
    assert notice.cpv == ("45000000",)
    match = Matcher([GRANITE], MatchConfig()).explain(notice, "granite")
    assert match.score >= STORE_THRESHOLD
    assert not [r for r in match.reasons if "does not fit keyword" in r.text]
