"""Keyword rules, on real titles and descriptions from shared/eval."""

import pytest

from matchers import MatchConfig

# Real notice text (shared/eval/notices.jsonl), trimmed.
GROUNDS = "Invitation to Tender for Grounds Maintenance Contract/s"
CLEANING = "Provision of Window Cleaning Services for Swindon Borough Council"
VERGE = (
    "The Council requires a contractor to carry out highway verge grass cutting and "
    "hedge cutting with tractor and flail."
)


@pytest.mark.parametrize(
    ("keyword", "title"),
    [
        ("cleaning", "Cleaners required for council offices"),  # word forms
        ("cleaners", CLEANING),
        ("office cleaning", "Offices cleaned weekly - Cleaning of offices"),
        ("grounds maintenance", "Ground maintenance for housing estates"),  # plural
        ("maintainance", GROUNDS),  # typo in the keyword
        ("grounds maintenance", "Grounds maintainance of parks"),  # typo in the notice
        ("grass cutting", "Grass-cutting services 2020"),  # hyphenation
        ("grass cutting", "Grasscutting services 2020"),  # spacing
        ("grasscutting", "Grass cutting services 2020"),
        ("grounds maintenance", "Maintenance of grounds at Martock"),  # word order
        ("WINDOW CLEANING!", "provision of window-cleaning services"),  # case and punctuation
        ("home to school transport", "Home to School Transport Summer 2020"),  # three words
        ("job search support", "Job Search Support Programme"),
    ],
)
def test_keyword_matches_variants(keyword, title, notice, profile, explain, kinds):
    m = explain(notice(title), profile(keyword))
    assert m.score >= MatchConfig().notify_threshold, m
    assert kinds(m)[0] == "keyword"


def test_a_phrase_with_no_dominant_word_is_still_found_when_all_there(notice, profile, explain):
    # No single word of "job search support" carries half of it: all three open it.
    whole = explain(
        notice("Employment support", "Support for people with their job search and CV writing."),
        profile("job search support"),
    )
    part = explain(
        notice("Employment support", "Help with CV writing."), profile("job search support")
    )
    assert whole.score > part.score


def test_half_points_round_up(notice, profile, explain):
    # Half of "grass cutting" strength (a description) in a wider region: 42.5 points.
    m = explain(
        notice("Highway verge contract", VERGE, regions=("UKM",)),
        profile("grass cutting", regions=("Fife",)),
    )
    assert m.score == 43


def test_reason_names_keyword_words_and_field(notice, profile, explain):
    m = explain(notice(GROUNDS, cpv=("77314000",)), profile("grounds maintenance"))
    assert m.reasons[0].text == 'keyword "grounds maintenance" ≈ "grounds maintenance" (title)'


@pytest.mark.parametrize(
    ("keyword", "title"),
    [
        ("arts", "Supply of vehicle parts and spares"),
        ("MOT", "Campaign to promote healthy eating"),
        ("printing", "Painting and decorating of council houses"),
        ("reuse", "Purchase of 11 x 26T Refuse Vehicles"),
    ],
)
def test_short_or_real_words_do_not_fire_inside_others(keyword, title, notice, profile, explain):
    assert explain(notice(title), profile(keyword)).score == 0


def test_title_counts_more_than_description(notice, profile, explain):
    in_title = explain(
        notice("Grass cutting contract", "Works across the district."), profile("grass cutting")
    )
    in_description = explain(notice("Highway verge contract", VERGE), profile("grass cutting"))
    assert in_title.score > in_description.score > 0
    assert "(description)" in in_description.reasons[0].text


def test_specific_words_count_more_than_common_ones(notice, profile):
    batch = [
        notice(
            f"Provision of support services lot {i}", "Support services for the council.", id=str(i)
        )
        for i in range(30)
    ]
    batch.append(
        notice("Provision of befriending services", "Befriending for older people.", id="rare")
    )
    from matchers import CorpusStats, Matcher

    # Rarity comes from the stored notices' statistics, here the batch itself.
    m = Matcher(
        [profile("befriending services", id="a"), profile("support services", id="b")],
        corpus=CorpusStats.from_notices(batch),
    )
    scores = {(x.profile_id, x.notice_id): x.score for x in m.match(batch, threshold=1)}
    assert scores[("a", "rare")] > scores.get(("b", "0"), 0)
    # "services" alone is common: it does not make a match.
    assert ("a", "0") not in scores


def test_exclusion_vetoes_and_says_why(notice, profile, explain, kinds):
    n = notice(
        "Refurbishment of Princess Alice and Flamstead Court",
        "Refurbishment works including asbestos removal.",
    )
    vetoed = explain(n, profile("refurbishment", exclude=("asbestos",)))
    assert vetoed.score == 0
    assert kinds(vetoed) == ["exclude"]
    assert "asbestos" in vetoed.reasons[0].text
    from matchers import Matcher

    assert Matcher([profile("refurbishment", exclude=("asbestos",))]).match([n]) == []


@pytest.mark.parametrize(
    ("keyword", "scattered"),
    [
        ("broadstairs traders", True),  # nine words apart in the description
        ("grass maintenance", False),  # "Grass cutting and maintenance"
        ("amenity land", False),
    ],
)
def test_words_far_apart_count_less(keyword, scattered, eval_sample, profile):
    from matchers import Matcher

    n = eval_sample["Invitation to Tender for Grounds Maintenance Contract/s"]
    strict, lenient = (
        Matcher([profile(keyword)], MatchConfig(scattered_phrase_factor=f)).explain(n, "member")
        for f in (0.75, 1.0)
    )
    assert strict.score > 0
    assert (strict.score < lenient.score) == scattered
