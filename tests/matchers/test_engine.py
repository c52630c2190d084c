"""Bulk rows, lazy reasons, parallel batches, corpus statistics and stable scores."""

import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import pytest

from matchers import (
    CorpusError,
    CorpusStats,
    MatchConfig,
    Matcher,
    MatchRows,
    Profile,
    ProfileError,
    results,
)

# Profiles exercising every factor: places, sizes, reserved, feedback, exclusions, codes.
PROFILES = [
    Profile(
        id="grounds",
        keywords=("grounds maintenance", "grass cutting", "hedge trimming"),
        regions=("Fife", "UKK"),
        max_value=500_000,
        feedback={"too_big": 2},
    ),
    Profile(
        id="cleaning",
        keywords=("window cleaning", "office cleaning"),
        regions=("UK",),
        supported_business=True,
        feedback={"no_accreditation": 3},
    ),
    Profile(
        id="catering",
        keywords=("catering", "school meals"),
        min_value=50_000,
        feedback={"too_far": 4},
        regions=("Glasgow City",),
    ),
    Profile(
        id="builder",
        keywords=("refurbishment", "door entry"),
        exclude=("car park",),
        cpv=("452",),
        feedback={"timescale": 2},
    ),
    Profile(id="waste", keywords=("waste collection", "recycling"), cpv=("905",)),
]


@pytest.fixture
def notices(eval_sample):
    return list(eval_sample.values())


def triples(matches):
    return [(m.profile_id, m.notice_id, m.score) for m in matches]


def test_rows_are_the_matches_as_columns(notices):
    m = Matcher(PROFILES)
    rows = m.rows(notices, threshold=1)
    assert isinstance(rows, MatchRows)
    assert list(rows) == triples(m.match(notices, threshold=1))
    assert len(rows) == len(rows.score) == len(rows.notice_index) == len(rows.profile_index)
    assert rows[0] == (
        rows.profile_ids[rows.profile_index[0]],
        notices[rows.notice_index[0]].id,
        int(rows.score[0]),
    )
    assert rows[-2:] == list(rows)[-2:]


def test_lazy_reasons_are_the_ones_explain_writes(notices):
    m = Matcher(PROFILES)
    found = m.match(notices, threshold=1)
    assert {x.profile_id for x in found} == {p.id for p in PROFILES}
    by_id = {n.id: n for n in notices}
    for x in found:
        eager = m.explain(by_id[x.notice_id], x.profile_id)
        assert (eager.score, tuple(eager.reasons)) == (x.score, tuple(x.reasons)), x
    kinds = {r.kind for x in found for r in x.reasons}
    assert {"keyword", "cpv", "region", "value", "feedback"} <= kinds


def test_reasons_stay_those_of_the_profiles_that_scored(notices):
    m = Matcher(PROFILES)
    found = m.match(notices)
    before = [
        m.explain(next(n for n in notices if n.id == x.notice_id), x.profile_id) for x in found
    ]
    m.update(dataclasses.replace(PROFILES[0], keywords=("catering",), regions=()))
    m.remove("cleaning")
    assert [tuple(x.reasons) for x in found] == [tuple(b.reasons) for b in before]


@pytest.mark.parametrize(
    "config",
    [
        MatchConfig(),
        MatchConfig(keyword_weight=1.3, region_outside_factor=0.6, reserved_boost=2.0),
        MatchConfig(too_far_penalty=-0.5, value_floor=1.2),  # odd, but no pair is lost
    ],
)
def test_a_threshold_only_drops_pairs(notices, config):
    m = Matcher(PROFILES, config)
    everything = triples(m.match(notices, threshold=0))
    assert triples(m.match(notices, threshold=40)) == [t for t in everything if t[2] >= 40]
    some = triples(m.match(notices, threshold=25, profile_ids=["grounds", "builder"]))
    assert some == [t for t in everything if t[2] >= 25 and t[0] in {"grounds", "builder"}]


def test_parallel_batches_equal_one_process_and_hand_back_what_they_learnt():
    # Forking needs a single-threaded process; this one runs other tests' servers.
    script = Path(__file__).resolve().parent / "parallel_check.py"
    result = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "parallel ok" in result.stdout


def test_a_notice_scores_the_same_alone_or_in_any_batch(notices):
    corpus = CorpusStats.from_notices(notices)
    together = Matcher(PROFILES, corpus=corpus).match(notices, threshold=1)
    one_by_one = []
    fresh = Matcher(PROFILES, corpus=corpus)
    for n in reversed(notices):
        one_by_one = fresh.match([n], threshold=1) + one_by_one
    assert sorted(triples(together)) == sorted(triples(one_by_one))


def test_profiles_added_after_notices_see_every_word(notices):
    early = Matcher(PROFILES[:2])
    early.match(notices)
    for p in PROFILES[2:]:
        early.update(p)
    early.update(Profile(id="typo", keywords=("maintainance", "cleening")))
    late = Matcher([*PROFILES, Profile(id="typo", keywords=("maintainance", "cleening"))])
    assert triples(early.match(notices, threshold=1)) == triples(late.match(notices, threshold=1))


def test_corpus_statistics_round_trip_through_json(notices):
    corpus = CorpusStats.from_notices(notices + notices[:3])  # repeated ids count once
    assert corpus.docs == len(notices)
    assert corpus.df["ground"] >= 2 and "the" not in corpus.df
    again = CorpusStats.from_json(json.loads(json.dumps(corpus.to_json())))
    assert again == corpus
    a = Matcher(PROFILES, corpus=corpus).match(notices, threshold=1)
    b = Matcher(PROFILES, corpus=again).match(notices, threshold=1)
    assert triples(a) == triples(b)


def test_corpus_statistics_say_which_stemmer_counted_them(notices):
    corpus = CorpusStats.from_notices(notices)
    assert corpus.current
    saved = corpus.to_json()
    assert CorpusStats.from_json(saved).current
    # Saved before the stemmer had a version: its stems may not be today's.
    del saved["stemmer"]
    older = CorpusStats.from_json(saved)
    assert not older.current and older.df == corpus.df


def test_corpus_statistics_make_common_words_weigh_less(notices):
    corpus = CorpusStats.from_notices(notices)
    assert corpus.idf("ground") < CorpusStats().idf("ground")
    assert corpus.idf("befriend") > corpus.idf("servic")


@pytest.mark.parametrize(
    "bad",
    [
        None,
        [],
        {"docs": 1, "df": {}},
        {"format": "matchers.corpus/1", "docs": -1, "df": {}},
        {"format": "matchers.corpus/1", "docs": 2, "df": {"x": 3}},
        {"format": "matchers.corpus/1", "docs": 2, "df": {"x": True}},
        {"format": "matchers.corpus/1", "stemmer": "2", "docs": 2, "df": {"x": 1}},
    ],
)
def test_corpus_statistics_reject_anything_else(bad):
    with pytest.raises(CorpusError):
        CorpusStats.from_json(bad)


def test_explain_needs_a_known_profile(notices):
    with pytest.raises(ProfileError):
        Matcher(PROFILES).explain(notices[0], "nobody")


def test_same_inputs_same_scores_whatever_the_profile_order(notices):
    a = Matcher(PROFILES).match(notices, threshold=1)
    b = Matcher(list(reversed(PROFILES))).match(notices, threshold=1)
    assert triples(a) == triples(b)
    assert [tuple(x.reasons) for x in a] == [tuple(x.reasons) for x in b]


def test_another_process_gives_the_same_scores(notices, data_dir):
    import subprocess
    import sys

    code = (
        "import json, sys; from pathlib import Path;"
        "from matchers import CorpusStats, Matcher, notice_from_json;"
        "from tests.matchers.test_engine import PROFILES;"
        f"rows = Path({str(data_dir / 'matchers_eval_sample.jsonl')!r}).read_text().splitlines();"
        "ns = [notice_from_json(json.loads(r)) for r in rows];"
        "m = Matcher(list(reversed(PROFILES)), corpus=CorpusStats.from_notices(ns[::-1]));"
        "print(json.dumps(sorted(m.rows(ns[::-1], threshold=1))))"
    )
    root = data_dir.parent.parent
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=root,
        check=True,
        env={"PYTHONHASHSEED": "12345", "PATH": "/usr/bin:/bin"},
    ).stdout
    here = Matcher(PROFILES, corpus=CorpusStats.from_notices(notices)).rows(notices, threshold=1)
    assert [tuple(x) for x in json.loads(out)] == sorted(here)


def test_records_and_json_lines_are_the_matches_with_their_reasons(notices, monkeypatch):
    # Blocks of three notices, so the ten notices span several.
    monkeypatch.setattr(results, "BLOCK", 3)
    m = Matcher(PROFILES)
    rows = m.rows(notices, threshold=1)
    found = rows.matches()
    records = list(rows.records())
    assert records == [(x.profile_id, x.notice_id, x.score, tuple(x.reasons)) for x in found]
    blocks = list(rows.columns())
    assert len(blocks) == 4
    assert [
        (p, n, s, block.reason_sets[k])
        for block in blocks
        for p, n, s, k in zip(
            block.profiles, block.notices, block.scores, block.reasons, strict=True
        )
    ] == records
    lines = "".join(rows.jsonl()).splitlines()
    assert lines == [
        json.dumps(
            {
                "profile": p,
                "notice": n,
                "score": s,
                "reasons": [{"kind": r.kind, "text": r.text} for r in reasons],
            },
            ensure_ascii=False,
        )
        for p, n, s, reasons in records
    ]
    assert "".join(m.jsonl(notices, threshold=1)) == "".join(rows.jsonl())
