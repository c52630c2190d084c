"""Keywords reach CPV codes through labels; explicit codes follow the hierarchy."""

import pytest

from matchers import MatchConfig

PARKS = "Parks upkeep across the borough"


def test_keyword_reaches_cpv_through_labels(notice, profile, explain, kinds):
    m = explain(notice(PARKS, cpv=("77314000",)), profile("grounds maintenance"))
    assert m.score >= MatchConfig().notify_threshold
    assert kinds(m) == ["cpv"]
    assert m.reasons[0].text == (
        'CPV 77314000 (Grounds maintenance services) fits keyword "grounds maintenance"'
    )


def test_keyword_reaches_nearby_codes_for_less(notice, profile, explain):
    exact = explain(notice(PARKS, cpv=("77314000",)), profile("grounds maintenance"))
    sibling = explain(notice(PARKS, cpv=("77313000",)), profile("grounds maintenance"))
    assert exact.score > sibling.score > 0
    assert "is close to 77314000" in sibling.reasons[0].text


@pytest.mark.parametrize(
    ("member", "code", "phrase"),
    [
        ("77310000", "77310000", "is one of the member's codes"),
        ("773", "77310000", "is under the member's 773"),
        ("773", "77314100", "is under the member's 773"),
        ("77314000", "77310000", "is broader than the member's 77314"),
        ("77314000", "77313000", "is close to the member's 77314"),
    ],
)
def test_explicit_cpv_follows_the_hierarchy(member, code, phrase, notice, profile, explain):
    m = explain(notice(PARKS, cpv=(code,)), profile(cpv=(member,)))
    assert phrase in m.reasons[0].text


def test_explicit_cpv_decays_with_distance(notice, profile, explain):
    scores = [
        explain(notice(PARKS, cpv=(code,)), profile(cpv=("773",))).score
        for code in ("77300000", "77310000", "77314000", "77314100")
    ]
    assert scores == sorted(scores, reverse=True) and scores[-1] > 0


def test_unrelated_division_does_not_match(notice, profile, explain):
    assert explain(notice(PARKS, cpv=("90910000",)), profile(cpv=("773",))).score == 0


def test_gaps_in_the_tree_cost_no_extra_steps(notice, profile, explain):
    # 45112710's parent 4511271x does not exist: it hangs straight from 45112700.
    one_step = explain(notice(PARKS, cpv=("45112710",)), profile(cpv=("45112700",)))
    direct = explain(notice(PARKS, cpv=("45112700",)), profile(cpv=("45112000",)))
    assert one_step.score == direct.score > 0


def test_unknown_code_still_matches_by_prefix(notice, profile, explain):
    m = explain(notice(PARKS, cpv=("77319999",)), profile(cpv=("7731",)))
    assert m.score > 0
