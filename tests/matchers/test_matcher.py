"""The reusable Matcher: thresholds, updates, batches and determinism."""

import dataclasses

import pytest

from matchers import Match, MatchConfig, Matcher, Profile, ProfileError, Reason

GROUNDS = Profile(id="grounds", name="G", keywords=("grounds maintenance",), regions=("Fife",))
CLEANING = Profile(id="cleaning", name="C", keywords=("window cleaning",))


def test_default_threshold_is_the_notify_threshold(eval_sample):
    notices = list(eval_sample.values())
    m = Matcher([GROUNDS, CLEANING])
    found = m.match(notices)
    assert found and all(x.score >= MatchConfig().notify_threshold for x in found)
    assert len(m.match(notices, threshold=1)) >= len(found)


def test_store_threshold_can_be_lower_than_notify(eval_sample):
    notices = list(eval_sample.values())
    low = Matcher([GROUNDS], MatchConfig(notify_threshold=90)).match(notices, threshold=20)
    assert any(x.score < 90 for x in low)


def test_update_replaces_one_profile_and_remove_forgets_it(eval_sample):
    notices = list(eval_sample.values())
    m = Matcher([GROUNDS, CLEANING])
    assert {x.profile_id for x in m.match(notices)} == {"grounds", "cleaning"}
    m.update(dataclasses.replace(CLEANING, keywords=("catering",)))
    titles = {x.notice_id for x in m.match(notices, profile_ids=["cleaning"])}
    assert "ted:185502-2020" in titles  # Corporate Catering Services
    assert "ocds-b5fd17-4f47a6f9-70d2-4eee-b111-21939da6d89b" not in titles  # grounds
    m.remove("grounds")
    assert m.profile_ids == ["cleaning"]


def test_results_are_deterministic_and_ordered(eval_sample):
    notices = list(eval_sample.values())
    a = Matcher([GROUNDS, CLEANING]).match(notices, threshold=1)
    b = Matcher([CLEANING, GROUNDS]).match(notices, threshold=1)
    assert a == b
    for n in {x.notice_id for x in a}:
        scores = [x.score for x in a if x.notice_id == n]
        assert scores == sorted(scores, reverse=True)


def test_reasons_read_like_a_tuple(eval_sample):
    found = Matcher([GROUNDS]).match(list(eval_sample.values()))
    first = found[0]
    assert isinstance(first.reasons[0], Reason)
    assert first.reasons == tuple(first.reasons)
    assert first == Match(first.profile_id, first.notice_id, first.score, tuple(first.reasons))
    assert all(0 <= x.score <= 100 for x in found)


@pytest.mark.parametrize(
    "bad",
    [
        Profile(id="x", keywords=("the of and",)),
        Profile(id="x", keywords=("a",), regions=("Narnia",)),
        Profile(id="", keywords=("cleaning",)),
    ],
)
def test_unusable_profiles_are_rejected(bad):
    with pytest.raises(ProfileError):
        Matcher([bad])
