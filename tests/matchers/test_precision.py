"""What a keyword means: acronyms, generic words, partial keywords, word order, lot sizes.

Every notice here is real: recorded payloads in tests/data (copies of shared/fixtures),
and notices copied from shared/eval into tests/data/matchers_precision.jsonl.
"""

import dataclasses
import json
import os
import subprocess
import sys

import pytest

from matchers import (
    CorpusStats,
    Lot,
    Match,
    MatchConfig,
    Matcher,
    Notice,
    Profile,
    notice_from_json,
)

from .conftest import DATA

NOTIFY = MatchConfig().notify_threshold
VIVID = (
    "VIVID - Contract Provision For Building Security and Concierge Services at Totland Close "
    "Farnborough"
)


@pytest.fixture(scope="module")
def real() -> dict[str, Notice]:
    """Eval notices by title prefix (see tests/data/README.md)."""
    lines = (DATA / "matchers_precision.jsonl").read_text(encoding="utf-8").splitlines()
    return {r["title"]: notice_from_json(r) for r in map(json.loads, lines)}


def by_title(notices: dict[str, Notice], prefix: str) -> Notice:
    return next(n for t, n in notices.items() if t.startswith(prefix))


@pytest.fixture(scope="module")
def releases() -> dict[str, Notice]:
    """Tenders of the recorded OCDS payloads, with their lots, by title (the first of each)."""
    out = {}
    for name in ("pcs_ocds_releases_2019-04_apa999.json", "cf_ocds_search_2022-10-20.json"):
        data = json.loads((DATA / name).read_text(encoding="utf-8"))
        for r in data if isinstance(data, list) else data["releases"]:
            t = r.get("tender") or {}
            value = (t.get("value") or {}).get("amount")
            lots = tuple(
                Lot(
                    x.get("title") or "",
                    x.get("description") or "",
                    (),
                    (x.get("value") or {}).get("amount"),
                )
                for x in t.get("lots") or ()
            )
            out.setdefault(
                t["title"],
                Notice(
                    id=t.get("id") or t["title"],
                    title=t["title"],
                    description=t.get("description") or "",
                    value=value,
                    lots=lots,
                ),
            )
    return out


@pytest.fixture(scope="module")
def corpus(real, releases) -> CorpusStats:
    """Word rarity over every notice here, as the broker counts it over its store."""
    return CorpusStats.from_notices([*real.values(), *releases.values()])


@pytest.fixture
def explain(corpus):
    """explain(notice, keyword, **profile fields) -> Match, whatever the score."""

    def run(notice: Notice, keyword: str, **fields) -> Match:
        p = Profile(id="m", keywords=(keyword,), **fields)
        return Matcher([p], corpus=corpus).explain(notice, "m")

    return run


def keyword_texts(match) -> list[str]:
    return [r.text for r in match.reasons if r.kind == "keyword"]


# Acronyms -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("keyword", "title", "matched", "shown"),
    [
        # "it is therefore essential that a suitable support model": "it" is not IT.
        ("IT support", "Provision of IGOTM Support", False, None),
        ("IT repairs", "Provision of IGOTM Support", False, None),
        # In capitals in the description ("including CCTV, door entry system").
        (
            "CCTV",
            VIVID,
            True,
            '"CCTV" (description)',
        ),
        # A lower-case keyword is a word, and finds the acronym too.
        (
            "cctv",
            VIVID,
            True,
            '"cctv" (description)',
        ),
        # "vehicle MOT, road tax and Driving licence": MOT is there, testing is not.
        ("MOT testing", "Transport of Pupils with Additional Support Needs 2019-2022", False, None),
        (
            "NHS",
            "Mental Health Act Quality Improvement Programme",
            True,
            '"NHS" (description)',
        ),
    ],
)
def test_acronyms_match_whole_and_as_written(releases, keyword, title, matched, shown, explain):
    m = explain(releases[title], keyword)
    assert (m.score > 0) == matched, m
    if shown:
        assert any(shown in t for t in keyword_texts(m)), m.reasons


@pytest.mark.parametrize("keyword", ["IT support", "IT repairs", "ICT equipment"])
def test_a_lower_case_it_never_stands_for_the_acronym(releases, keyword, explain):
    # The same real notice, every word in lower case: "it" is a function word again.
    n = releases["Provision of IGOTM Support"]
    low = Notice(id="low", title=n.title.lower(), description=n.description.lower())
    assert explain(low, keyword).score == 0


@pytest.mark.parametrize(
    ("keyword", "prefix"),
    [
        ("IT support", "3rd Party IT Support"),
        ("IT hardware", "Further competition for IT Hardware"),
        ("IT hardware", "IT Hardware and maintenance"),
        ("HR support", "HR & Legal Advice Support Services"),
        ("PPE", "Covid 19 PPE Glove Club"),
        ("CCTV maintenance", "SPS 2158 - CCTV System Upgrade"),
    ],
)
def test_acronym_keywords_find_their_notices(real, keyword, prefix, explain):
    m = explain(by_title(real, prefix), keyword)
    assert m.score >= NOTIFY, m
    assert keyword_texts(m) and " in part" not in keyword_texts(m)[0]


def test_a_field_in_capitals_keeps_its_function_words(real, explain):
    n = by_title(real, "Provision of short term Care and Support at Home")
    shouted = Notice(id="x", title=n.title.upper(), description="")
    assert explain(shouted, "care at home").score >= NOTIFY
    # ... and its short words are words as well as acronyms.
    assert explain(shouted, "reablement").score >= NOTIFY


# Generic words --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("keyword", "title"),
    [
        ("PPE supply", "Supply & Distribution of Fresh Bread, Rolls & Bakery Products"),
        ("equipment supply", "Supply & Distribution of Fresh Bread, Rolls & Bakery Products"),
        (
            "HR support",
            "Provision of Accommodation Based Support Services for Victims of Domestic Abuse",
        ),
        (
            "IT support",
            "Provision of Accommodation Based Support Services for Victims of Domestic Abuse",
        ),
        (
            "MOT services",
            "Provision of Accommodation Based Support Services for Victims of Domestic Abuse",
        ),
    ],
)
def test_a_generic_word_alone_never_makes_a_match(releases, keyword, title, explain):
    assert explain(releases[title], keyword).score == 0


def test_generic_words_make_a_match_only_together(releases, explain):
    n = releases["Provision of Accommodation Based Support Services for Victims of Domestic Abuse"]
    whole = explain(n, "support services")
    assert whole.score > 0
    assert keyword_texts(whole)[0].startswith('keyword "support services" ≈')


@pytest.mark.parametrize(
    ("keyword", "reaches"),
    [
        # The one label that says IT is a whole division ("IT services: consulting,
        # software development, Internet and support"), and the many that say
        # "support" alone are never reached.
        ("IT support", set()),
        ("HR support", set()),  # no label says HR
        ("PPE supply", set()),
        ("IT repairs", set()),
        ("MOT testing", set()),
    ],
)
def test_cpv_labels_follow_the_same_rule(keyword, reaches):
    assert set(Matcher().keyword_codes(keyword)) == reaches


def test_a_label_is_reached_by_what_it_is_about():
    codes = Matcher().keyword_codes("catering")
    assert "55520000" in codes  # Catering services
    assert "50883000" not in codes  # Repair and maintenance services of catering equipment


def test_only_the_code_a_keyword_names_best_reaches_its_neighbours(real, explain):
    codes = Matcher().keyword_codes("cleaning services")
    assert max(codes, key=codes.__getitem__) == "90910000"  # Cleaning services
    assert {"90640000", "90680000"} <= set(codes)  # Gully cleaning, Beach cleaning
    cleaners = "cleaning services"

    def code_reasons(m: Match) -> list[str]:
        return [r.text for r in m.reasons if r.kind == "cpv"]

    # A narrower sense fits a notice coded with it...
    gully = explain(by_title(real, "Gully Cleansing"), cleaners)
    assert gully.score >= NOTIFY
    assert code_reasons(gully) == [
        'CPV 90640000 (Gully cleaning and emptying services) fits keyword "cleaning services"'
    ]
    # ...but its neighbours are not the member's: asbestos removal sits beside beach
    # cleaning in the tree, and the notice never says cleaning.
    asbestos = by_title(real, "United Kingdom-Prescot: Asbestos removal")
    assert "90650000" in asbestos.cpv
    assert code_reasons(explain(asbestos, cleaners)) == []
    assert explain(asbestos, cleaners).score == 0
    # The best code's own neighbours still count (the same notice, coded beside it).
    beside = explain(dataclasses.replace(asbestos, cpv=("90920000",)), cleaners)
    assert code_reasons(beside) == [
        "CPV 90920000 (Facility related sanitation services) is close to 90910000 "
        '(Cleaning services), which fits keyword "cleaning services"'
    ]
    assert beside.score >= NOTIFY


def test_a_main_code_naming_the_keyword_does_not_contradict_it(real, explain):
    # "Printed matter and related products" is what print services make: the keyword
    # in the title counts as text the codes don't back, not as text they contradict.
    dps = by_title(real, "Design Print and Related Services")
    assert dps.cpv[0] == "22000000" and "22000000" not in Matcher().keyword_codes("printing")
    printers = explain(dps, "print services")
    assert printers.score >= NOTIFY
    assert not [r for r in printers.reasons if r.kind == "cpv"]
    # Food is not what caterers sell: "Catering equipment" among the codes doesn't make
    # the main one ("Food, beverages, tobacco and related products") say catering.
    supplies = by_title(real, "Catering Supplies")
    assert supplies.cpv[0] == "15000000" and "39310000" in supplies.cpv
    caterers = explain(supplies, "catering")
    assert caterers.score < NOTIFY
    assert [r.text for r in caterers.reasons if r.kind == "cpv"] == [
        "CPV 15000000 (Food, beverages, tobacco and related products) does not fit keyword "
        '"catering"'
    ]


def test_labels_tied_for_a_keyword_rank_the_same_in_every_process():
    code = (
        "import json; from matchers import Matcher;"
        "print(json.dumps(list(Matcher().keyword_codes('Aircraft operating services'))))"
    )
    runs = {
        subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, "PYTHONHASHSEED": seed},
        ).stdout
        for seed in ("1", "2", "3")
    }
    assert len(runs) == 1


# Partial keywords ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("keyword", "prefix", "reason"),
    [
        (
            "office cleaning",
            "Cleaning of Educational and Other Establishments",
            'keyword "office cleaning" in part: "cleaning" only, not "office" (title)',
        ),
        (
            "IT hardware recycling",
            "IT Hardware and maintenance",
            'keyword "IT hardware recycling" in part: "IT hardware" only, not "recycling" (title)',
        ),
    ],
)
def test_a_partial_match_says_so_and_scores_less(real, keyword, prefix, reason, explain):
    n = by_title(real, prefix)
    part = explain(n, keyword)
    assert keyword_texts(part) == [reason]
    whole = explain(n, reason.split('"')[3])
    assert 0 < part.score < whole.score


def test_reasons_never_show_a_part_as_the_keyword(real, explain):
    m = explain(by_title(real, "3rd Party IT Support"), "IT equipment repairs")
    for text in keyword_texts(m):
        assert " in part: " in text or "≈" not in text, text


# Word order -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("keyword", "prefix", "matched"),
    [
        ("care at home", "Vivaldi 1 & 2 Care Home", False),  # residential, not at home
        ("care at home", "Care Home with Nursing", False),
        ("care at home", "HCC - 02/20 - The Provision of Reablement and Support at Home", False),
        ("care at home", "Provision of short term Care and Support at Home", True),
        ("support at home", "HCC - 02/20 - The Provision of Reablement and Support at Home", True),
        ("home care", "Provision of short term Care and Support at Home", True),
        ("home care", "Vivaldi 1 & 2 Care Home", False),  # a care home is a home
        ("care home", "Vivaldi 1 & 2 Care Home", True),
        # "Adults with a Learning Disability" is not adult learning; "Adult and
        # Community Learning" is.
        ("adult learning", "Cambridgeshire County Council Day Opportunities for Adults", False),
        ("adult learning", "Adult and Community Learning Framework Tender", True),
        # "Development of a North West Skills Mapping Plan": the skills are the plan's.
        ("skills development", "The Development of a North West Skills Mapping Plan", False),
        # Read backwards through a preposition, or a verb and its object.
        ("window cleaning", "Provision of Window Cleaning Services", True),
        ("establishments cleaning", "Cleaning of Educational and Other Establishments", True),
    ],
)
def test_word_order_counts_where_a_function_word_says_so(real, keyword, prefix, matched, explain):
    m = explain(by_title(real, prefix), keyword)
    assert bool(keyword_texts(m)) == matched, m


def test_care_at_home_reads_the_compound_the_other_way_round(real, explain):
    m = explain(by_title(real, "Provision of short term Care and Support at Home"), "care at home")
    assert keyword_texts(m)[0].startswith('keyword "care at home" ≈ "')


# Size fits the lot -------------------------------------------------------------------


def test_a_lot_that_fits_makes_the_notice_fit(releases, explain):
    # £500k in four lots of £40k to £200k; the member takes up to £100k.
    n = releases["External Marketing Services"]
    m = explain(n, "marketing", max_value=100_000)
    assert m.score == 100
    sizes = [r.text for r in m.reasons if r.kind == "value"]
    lot = 'lot 1 "Lot Three \u2013 Press Advertising"'
    assert sizes == [f"{lot}, value £40k, is within the member's range (£100k)"]
    whole = explain(Notice(id="w", title=n.title, description=n.description, value=n.value),
                    "marketing", max_value=100_000)  # fmt: skip
    assert whole.score < m.score
    assert "value £500k is above the member's maximum £100k" in [r.text for r in whole.reasons]


def test_the_lot_holding_the_keyword_decides_its_size(releases, explain):
    # £130m framework; lot 9, painting and decorating, is £960k.
    n = releases["Housing Property Capital Works Framework 2019 - 2023"]
    m = explain(n, "painting and decorating", max_value=1_000_000)
    assert m.score >= NOTIFY
    assert any(
        r.kind == "value" and r.text.startswith('lot 9 "Painting, Decorating') for r in m.reasons
    )


def test_batch_scores_and_reasons_agree_with_explain_on_lots(releases, explain):
    notices = list(releases.values())
    profiles = [
        Profile(id="a", keywords=("marketing", "advertising"), max_value=100_000),
        Profile(id="b", keywords=("painting and decorating",), min_value=500_000),
        Profile(id="c", keywords=("bakery products", "recovery"), max_value=2_000_000),
    ]
    m = Matcher(profiles)
    by_id = {n.id: n for n in notices}
    found = m.match(notices, threshold=1)
    assert {x.profile_id for x in found} == {"a", "b", "c"}
    for x in found:
        one = m.explain(by_id[x.notice_id], x.profile_id)
        assert (one.score, tuple(one.reasons)) == (x.score, tuple(x.reasons))


def test_the_adjective_of_a_subject_reaches_its_label(releases, explain):
    # "Horticultural services" is horticulture: a member who writes the noun reaches
    # the notice a buyer coded 77300000 without using either word.
    title = "Rhododendron Removal and Eradication, Eilean na Muice Duibhe SSSI, SAC, SPA"
    data = json.loads((DATA / "pcs_ocds_releases_2019-04_apa999.json").read_text("utf-8"))
    tender = next(r["tender"] for r in data if r.get("tender", {}).get("title") == title)
    codes = tuple(c["id"] for i in tender["items"] for c in i["additionalClassifications"])
    assert codes == ("77300000",)
    n = dataclasses.replace(releases[title], cpv=codes)
    assert "horticult" not in (n.title + n.description).lower()
    assert "77300000" in Matcher().keyword_codes("horticulture")
    m = explain(n, "horticulture")
    assert m.score >= MatchConfig().notify_threshold
    assert [r.text for r in m.reasons if r.kind == "cpv"] == [
        'CPV 77300000 (Horticultural services) fits keyword "horticulture"'
    ]


def test_a_code_far_above_a_keywords_code_never_matches_alone(real, corpus, explain):
    # Cornwall's housing for rough sleepers is coded "Accommodation services", which the
    # CPV tree puts two steps above "Janitorial services": a family of trades, saying a
    # notice may include a janitor's work, not that it does.
    star = real["Short Term Accommodation and Resettlement (STAR)"]
    assert star.cpv == ("98341000", "85311000")
    assert "98341130" in Matcher().keyword_codes("janitorial")
    alone = explain(star, "janitorial")
    assert (alone.score, alone.reasons) == (0, ())
    janitor = Profile(id="j", keywords=("janitorial",))
    assert Matcher([janitor], corpus=corpus).match([star], threshold=1) == []
    # Beside a keyword the notice does say, it counts, and the reason says how it relates.
    profile = Profile(id="m", keywords=("resettlement", "janitorial"))
    both = Matcher([profile], corpus=corpus).explain(star, "m")
    assert both.score > explain(star, "resettlement").score
    assert [r.text for r in both.reasons if r.kind == "cpv"] == [
        "CPV 98341000 (Accommodation services) is broader than 98341130 (Janitorial "
        'services), which fits keyword "janitorial"'
    ]


def test_a_code_one_step_above_is_the_same_trade_and_matches_alone(real, explain):
    housing = real["Housing Maintenance & Repair"]
    assert "clean" not in (housing.title + housing.description).lower()
    m = explain(housing, "cleaning services")
    assert m.score >= NOTIFY
    assert [r.text for r in m.reasons] == [
        "CPV 90900000 (Cleaning and sanitation services) is broader than 90910000 (Cleaning "
        'services), which fits keyword "cleaning services"'
    ]
    # The same rule for a member's own codes: one step below the notice's, or two.
    star = real["Short Term Accommodation and Resettlement (STAR)"]
    near = explain(star, "window cleaning", cpv=("98341100",))  # Accommodation management
    assert near.score >= NOTIFY
    assert [r.text for r in near.reasons] == [
        "CPV 98341000 (Accommodation services) is broader than the member's 983411"
    ]
    far = explain(star, "window cleaning", cpv=("98341130",))  # Janitorial services
    assert (far.score, far.reasons) == (0, ())
