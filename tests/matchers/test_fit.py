"""Place, size, reserved contracts, lots and feedback."""

import pytest

from matchers import Lot

TITLE = "Invitation to Tender for Grounds Maintenance Contract/s"


@pytest.fixture
def score(notice, profile, explain):
    """score(p_field=..., n_field=...) -> Match for a grounds notice and member."""

    def run(**kw):
        p_kw = {k[2:]: v for k, v in kw.items() if k.startswith("p_")}
        n_kw = {k[2:]: v for k, v in kw.items() if k.startswith("n_")}
        return explain(
            notice(TITLE, cpv=("77314000",), **n_kw), profile("grounds maintenance", **p_kw)
        )

    return run


@pytest.mark.parametrize(
    ("areas", "regions", "place", "expect", "text"),
    [
        (("Glasgow City",), ("UKM82",), None, 100, "region UKM82 (Glasgow City) is one the member"),
        (("Scotland",), ("UKM82",), None, 100, "region UKM82 (Glasgow City) is one the member"),
        (("Glasgow City",), ("UKM",), None, 85, "region UKM (Scotland) takes in the member's area"),
        (
            ("Glasgow City",),
            ("UKI",),
            None,
            30,
            "region UKI (London) is outside the member's areas",
        ),
        (("Glasgow City",), (), "Glasgow", 100, "one the member serves"),
        (("Glasgow City",), (), "Somewhere vague", 100, None),
        ((), ("UKI",), None, 100, None),
    ],
)
def test_place(areas, regions, place, expect, text, score):
    m = score(p_regions=areas, n_regions=regions, n_place=place)
    assert m.score == expect
    region = [r.text for r in m.reasons if r.kind == "region"]
    assert text in region[0] if text else region == []


@pytest.mark.parametrize(
    ("value", "low", "high", "lower", "text"),
    [
        (60000, 10000, 100000, False, "value £60k is within the member's range (£10k to £100k)"),
        (5_000_000, None, 100000, True, "value £5m is above the member's maximum £100k"),
        (500, 10000, None, True, "value £500 is below the member's minimum £10k"),
        (None, 10000, 100000, False, None),
    ],
)
def test_size(value, low, high, lower, text, score):
    m = score(n_value=value, p_min_value=low, p_max_value=high)
    assert (m.score < 100) == lower
    got = [r.text for r in m.reasons if r.kind == "value"]
    assert got == ([text] if text else [])


def test_further_outside_the_range_lowers_more(score):
    near, far = (score(n_value=v, p_max_value=100000).score for v in (200000, 20_000_000))
    assert 100 > near > far


def test_reserved_contracts_rank_higher_for_supported_businesses(notice, profile, explain, kinds):
    n = notice(
        "Provision of Recycling Services", "Collection and recycling of office waste", reserved=True
    )
    plain = explain(n, profile("office recycling"))
    supported = explain(n, profile("office recycling", supported_business=True))
    assert supported.score > plain.score
    assert "reserved" in kinds(supported) and "reserved" not in kinds(plain)


def test_each_lot_is_matched_on_its_own_and_named(notice, profile, explain):
    n = notice(
        "WP3380 - Hard Landscaping (lot 1), Soft Landscaping (lot 2)",
        "",
        lots=(
            Lot("Hard landscaping", "Paving and kerbs", ("45233222",)),
            Lot("Soft landscaping", "Tree surgery and planting", ("77211400",)),
        ),
    )
    m = explain(n, profile("tree surgery", cpv=("772",)))
    assert 'lot 2 "Soft landscaping", description' in m.reasons[0].text
    assert any("(lot 2)" in r.text for r in m.reasons if r.kind == "cpv")


@pytest.mark.parametrize(
    ("feedback", "extra", "phrase"),
    [
        ({"too_big": 3}, {"n_value": 900000, "p_max_value": 1_000_000}, "'too big' 3 time(s)"),
        (
            {"too_big": 3},
            {"n_value": 900000, "p_declined_value": 500000},
            "near or above the £500k",
        ),
        ({"too_far": 2}, {"n_regions": ("UKI",), "p_regions": ("Fife",)}, "outside their areas"),
        ({"too_far": 2}, {}, "in an unknown place"),
        (
            {"timescale": 4},
            {"n_published": "2020-01-01", "n_deadline": "2020-01-10"},
            "allows 9 days",
        ),
    ],
)
def test_feedback_adjusts_and_explains(feedback, extra, phrase, score):
    before = score(**extra)
    after = score(p_feedback=feedback, **extra)
    assert after.score < before.score
    fb = [r.text for r in after.reasons if r.kind == "feedback"]
    assert len(fb) == 1 and phrase in fb[0]


def test_more_feedback_means_a_stronger_penalty(score):
    scores = [
        score(p_feedback={"too_far": k}, n_regions=("UKI",), p_regions=("Fife",)).score
        for k in (1, 2, 4)
    ]
    assert scores[0] > scores[1] > scores[2]


def test_feedback_without_a_matching_fact_changes_nothing(score):
    assert score(p_feedback={"too_big": 5}).score == score().score


@pytest.mark.parametrize(
    "text",
    [
        "Suppliers must hold ISO 9001 and CHAS accreditation.",
        "iso14001 certified",
        "Registered with the CQC",
        "SIA licensed door supervisors",
        "Staff will be certificated",
        "Constructionline Gold members only",
        "Isolation works across Asia and the supervisor's office",
        "Provision of window cleaning services",
    ],
)
def test_quick_accreditation_check_agrees_with_the_pattern(text):
    from matchers.fit import ACCREDITATION, asks_accreditation

    assert asks_accreditation(text) == bool(ACCREDITATION.search(text))
