"""Matching in the broker: stored matches with reasons, incremental, and member feedback."""

from __future__ import annotations

import gc
import zlib

import orjson
import pytest
from sqlalchemy import delete, func, insert, inspect, select, text
from sqlalchemy.exc import IntegrityError

from broker.matching import store as store_module
from broker.matching.cache import MatcherCache, get_cache
from broker.matching.corpus import latest_corpus
from broker.matching.inputs import notice_for, profile_for
from broker.matching.store import match_all, match_members, match_notices, match_pending
from broker.members.profiles import parse_profile, save_member
from broker.models import CorpusSnapshot, Match, Member, MemberResponse, Notice

PCS_2019 = "pcs_ocds_releases_2019-04_apa999.json"
LANDSCAPE = (
    "Caledonia Housing Association - Landscape Maintenance 2019 - 2023 (West Dunbartonshire)"
)
END_OF_LEASE = "EC0849 ACE End of Lease Cleaning Services"


def match_of(session, member_name: str, title: str) -> Match | None:
    return session.scalars(
        select(Match)
        .join(Member, Member.id == Match.member_id)
        .join(Notice, Notice.id == Match.notice_id)
        .where(Member.name == member_name, Notice.title == title)
    ).first()


def texts(match: Match, kind: str) -> list[str]:
    return [r["text"] for r in match.reasons if r["kind"] == kind]


def test_end_to_end_import_notices_then_members_then_match(cli_runner, data_dir, sessions, app):
    assert cli_runner("import", str(data_dir / PCS_2019)).exit_code == 0
    with sessions() as s:
        # No members yet: the notices wait to be matched.
        assert s.scalar(select(func.count()).select_from(Match)) == 0
        assert s.scalar(select(func.count()).where(Notice.matched_at.is_(None))) == 90
    result = cli_runner("members", "import", str(data_dir / "members.csv"))
    assert result.exit_code == 0, result.output
    matched = cli_runner("match")
    assert matched.exit_code == 0, matched.output
    assert "Done: matched 90 notices" in matched.output
    notify = app.config["SETTINGS"].matching.engine.notify_threshold
    with sessions() as s:
        landscape = match_of(s, "Greenspace Growers", LANDSCAPE)
        assert landscape is not None and landscape.score >= notify
        assert any(
            '"landscape maintenance"' in t and "(title)" in t for t in texts(landscape, "keyword")
        )
        assert any("77314000" in t for t in texts(landscape, "cpv"))
        assert any("UKM81" in t and "serves" in t for t in texts(landscape, "region"))
        cleaning = match_of(s, "Clean Start Services", END_OF_LEASE)
        assert cleaning is not None and cleaning.score >= notify
        assert any('"cleaning services"' in t for t in texts(cleaning, "keyword"))
        assert any("UKM75" in t for t in texts(cleaning, "region"))
        # Nothing is stored for a member below the store threshold.
        store = app.config["SETTINGS"].matching.store_threshold
        assert s.scalar(select(func.min(Match.score))) >= store
        assert s.scalar(select(func.count()).where(Notice.matched_at.is_(None))) == 0


def test_new_notices_are_matched_as_they_are_stored(cli_runner, data_dir, sessions):
    assert cli_runner("members", "import", str(data_dir / "members.csv")).exit_code == 0
    assert cli_runner("import", str(data_dir / PCS_2019)).exit_code == 0
    with sessions() as s:
        assert match_of(s, "Greenspace Growers", LANDSCAPE) is not None
        assert s.scalar(select(func.count()).where(Notice.matched_at.is_(None))) == 0


@pytest.fixture
def matched(cli_runner, data_dir, app):
    assert cli_runner("members", "import", str(data_dir / "members.csv")).exit_code == 0
    assert cli_runner("import", str(data_dir / PCS_2019)).exit_code == 0
    return get_cache(app)


def test_editing_a_profile_re_matches_that_member(matched, sessions, clock):
    with sessions.begin() as s:
        member = s.scalars(select(Member).where(Member.name == "Clean Start Services")).one()
        fields = {
            "name": member.name,
            "email": member.emails[0],
            "keywords": "office cleaning;cleaning services",
            "exclude": "end of lease",
            "cpv": "909",
            "regions": "City of Edinburgh",
            "supported_business": "yes",
        }
        before = match_of(s, "Clean Start Services", END_OF_LEASE)
        assert before is not None
        _, changed = save_member(s, parse_profile(fields), clock(), member)
        assert changed
        match_members(s, [member.id], matched, clock())
    with sessions() as s:
        # The new exclusion vetoes the notice it names.
        assert match_of(s, "Clean Start Services", END_OF_LEASE) is None
        # Other members' matches are untouched.
        assert match_of(s, "Greenspace Growers", LANDSCAPE) is not None


def test_a_declined_notice_does_not_come_back(matched, sessions, clock):
    with sessions.begin() as s:
        landscape = match_of(s, "Greenspace Growers", LANDSCAPE)
        s.add(
            MemberResponse(
                member_id=landscape.member_id,
                notice_id=landscape.notice_id,
                kind="declined",
                reason="too_far",
                note="",
                created_at=clock(),
            )
        )
    with sessions.begin() as s:
        match_all(s, matched, clock())
    with sessions() as s:
        assert match_of(s, "Greenspace Growers", LANDSCAPE) is None


def test_repeated_too_big_answers_lower_that_members_scores(matched, sessions, clock):
    with sessions() as s:
        wheels = s.scalars(select(Member).where(Member.name == "Shared Wheels Transport")).one()
        rows = s.execute(
            select(Match.notice_id, Match.score, Notice.value_amount, Notice.title)
            .join(Notice, Notice.id == Match.notice_id)
            .where(Match.member_id == wheels.id, Notice.value_amount.is_not(None))
            .order_by(Notice.value_amount)
        ).all()
    assert len(rows) >= 4
    # They turn down the three smallest as too big: anything bigger should now rank lower.
    declined, kept = rows[:3], rows[3:]
    with sessions.begin() as s:
        for notice_id, *_ in declined:
            s.add(
                MemberResponse(
                    member_id=wheels.id,
                    notice_id=notice_id,
                    kind="declined",
                    reason="too_big",
                    note="",
                    created_at=clock(),
                )
            )
    with sessions.begin() as s:
        match_all(s, matched, clock())
    with sessions() as s:
        after = {
            n: m
            for n, m in s.execute(
                select(Match.notice_id, Match).where(Match.member_id == wheels.id)
            )
        }
    assert not {n for n, *_ in declined} & set(after)
    lowered = [(title, score, after[n].score) for n, score, _v, title in kept if n in after]
    assert lowered, "the bigger notices should still match, lower down"
    assert all(new <= old for _t, old, new in lowered)
    assert any(new < old for _t, old, new in lowered)
    assert any(texts(after[n], "feedback") for n, *_ in kept if n in after)


def test_match_all_is_idempotent_and_keeps_when_a_match_was_first_made(matched, sessions, clock):
    with sessions.begin() as s:
        match_all(s, matched, clock())
    with sessions() as s:
        first = {
            (m.member_id, m.notice_id): (m.score, m.created_at) for m in s.scalars(select(Match))
        }
    clock.advance(days=1)
    with sessions.begin() as s:
        result = match_all(s, matched, clock())
    assert result.new == 0 and result.removed == 0
    with sessions() as s:
        again = {
            (m.member_id, m.notice_id): (m.score, m.created_at) for m in s.scalars(select(Match))
        }
    assert again == first


def test_a_notice_keeps_when_it_was_first_matched(matched, sessions, clock):
    """The dashboard counts a notice as matched in the week it first was, even if its
    matches later go (every member declined) and come back."""
    with sessions() as s:
        notice_id = match_of(s, "Greenspace Growers", LANDSCAPE).notice_id
        notice = s.get(Notice, notice_id)
        matches = list(s.scalars(select(Match).where(Match.notice_id == notice_id)))
        first = notice.first_matched_at
        # Matched when imported (by the CLI, on the real clock).
        assert first == min(m.created_at for m in matches)
    clock.advance(days=8)
    with sessions.begin() as s:
        s.add_all(
            MemberResponse(
                member_id=m.member_id, notice_id=notice_id, kind="declined",
                reason="too_far", note="", created_at=clock(),
            )
            for m in matches
        )  # fmt: skip
    with sessions.begin() as s:
        match_all(s, matched, clock())
    with sessions() as s:
        notice = s.get(Notice, notice_id)
        assert (notice.match_count, notice.best_score) == (0, None)
        assert notice.first_matched_at == first
    clock.advance(days=8)
    with sessions.begin() as s:
        s.execute(delete(MemberResponse).where(MemberResponse.notice_id == notice_id))
        match_all(s, matched, clock())
    with sessions() as s:
        notice = s.get(Notice, notice_id)
        assert notice.match_count == len(matches)
        assert (
            s.scalar(select(func.min(Match.created_at)).where(Match.notice_id == notice_id))
            == clock()
        )
        assert notice.first_matched_at == first


def summary(session, notice_id: int) -> tuple:
    """(match count, best score, first matched) as the notice holds them, and as its
    stored matches say."""
    notice = session.get(Notice, notice_id)
    rows = session.execute(
        select(func.count(Match.id), func.max(Match.score), func.min(Match.created_at)).where(
            Match.notice_id == notice_id
        )
    ).one()
    return (notice.match_count, notice.best_score, notice.first_matched_at), tuple(rows)


@pytest.fixture
def crowded(cli_runner, data_dir, app, tmp_path):
    """members.csv and two more grounds members who fit the landscape notice less well
    (so a notice has several matches with different scores), then the notices."""
    members = tmp_path / "members.csv"
    members.write_text(
        (data_dir / "members.csv").read_text(encoding="utf-8")
        + "Parkside Gardeners,parks@parkside.example.org,Grass and hedges.,"
        "grass cutting;hedge trimming;grounds maintenance,,,West Dunbartonshire,,,no,weekly\n"
        + "Green Routes,routes@greenroutes.example.org,Paths and verges.,"
        "landscape maintenance,,,Highland,1000,20000,no,weekly\n",
        encoding="utf-8",
    )
    assert cli_runner("members", "import", str(members)).exit_code == 0
    assert cli_runner("import", str(data_dir / PCS_2019)).exit_code == 0
    return get_cache(app)


def test_a_notice_holds_its_matches_summary(crowded, sessions, clock):
    """The best score, match count and first match the triage queue reads off a notice
    say what its stored matches do, through a first match, every match going and their
    coming back."""
    matched = crowded
    with sessions() as s:
        ids = list(s.scalars(select(Notice.id)))
        assert len(ids) == 90
        with_matches = 0
        for notice_id in ids:
            held, stored = summary(s, notice_id)
            if stored[0]:
                with_matches += 1
                assert held == stored
            else:
                assert held[:2] in ((0, None), (None, None)) and held[2] is None
        assert with_matches > 10
        notice_id = match_of(s, "Greenspace Growers", LANDSCAPE).notice_id
        first = summary(s, notice_id)[0][2]
        scores = list(s.scalars(select(Match.score).where(Match.notice_id == notice_id)))
        assert len(set(scores)) >= 2, scores
        members = list(s.scalars(select(Match.member_id).where(Match.notice_id == notice_id)))
    # Every member declines: the matches go (read back), then come back as new rows.
    clock.advance(days=3)
    with sessions.begin() as s:
        s.add_all(
            MemberResponse(
                member_id=m, notice_id=notice_id, kind="declined",
                reason="too_far", note="", created_at=clock(),
            )
            for m in members
        )  # fmt: skip
    with sessions.begin() as s:
        match_notices(s, [notice_id], matched, clock())
    with sessions() as s:
        assert summary(s, notice_id) == ((0, None, first), (0, None, None))
    clock.advance(days=3)
    with sessions.begin() as s:
        s.execute(delete(MemberResponse).where(MemberResponse.notice_id == notice_id))
    with sessions.begin() as s:
        match_notices(s, [notice_id], matched, clock())
    with sessions() as s:
        held, stored = summary(s, notice_id)
        assert stored[0] == len(members) and stored[2] == clock()
        # When it was first matched stays the first time.
        assert held == (stored[0], stored[1], first)


def test_postgresql_plans_the_rows_of_a_pass_once(backend, crowded, sessions, clock):
    """The connections plan every statement for its values (for the triage queue); the
    rows a pass writes are by key, and planning each afresh doubled the insert."""
    if backend != "postgres":
        pytest.skip("plan_cache_mode is PostgreSQL's")
    with sessions.begin() as s:
        s.execute(delete(Match))
        match_all(s, crowded, clock())
        plans = s.execute(
            text(
                "SELECT generic_plans, custom_plans FROM pg_prepared_statements "
                "WHERE statement LIKE 'INSERT INTO matches%'"
            )
        ).all()
        assert plans and all(generic > 0 and custom == 0 for generic, custom in plans), plans
        # The rest of the transaction plans for its values again.
        assert s.scalar(text("SHOW plan_cache_mode")) == "force_custom_plan"


def test_match_all_leaves_postgresql_statistics_for_the_matches(
    backend, crowded, cli_runner, sessions
):
    """Without them (autovacuum off, or not yet round) the planner reads every match to
    find one notice's."""
    if backend != "postgres":
        pytest.skip("planner statistics are PostgreSQL's here")
    assert cli_runner("match", "--all").exit_code == 0
    with sessions() as s:
        stored = s.scalar(select(func.count()).select_from(Match))
        counted = s.scalar(text("SELECT reltuples FROM pg_class WHERE relname = 'matches'"))
    # Fewer rows than autovacuum's own threshold (50): only the pass's ANALYZE counts them.
    assert 0 < stored < 50
    assert counted == stored


def test_every_process_scores_with_the_same_word_statistics(matched, sessions, clock, app):
    with sessions.begin() as s:
        match_all(s, matched, clock())
        stored = {(m.member_id, m.notice_id): m.score for m in s.scalars(select(Match))}
        snapshot_id, corpus = latest_corpus(s)
    assert snapshot_id is not None and corpus.docs == 90
    # A fresh process (a new cache) loads the same snapshot and scores the same.
    fresh = MatcherCache(app.config["SETTINGS"].matching)
    with sessions.begin() as s:
        match_notices(s, s.scalars(select(Notice.id)).all(), fresh, clock())
        again = {(m.member_id, m.notice_id): m.score for m in s.scalars(select(Match))}
    assert again == stored


def test_a_member_added_by_hand_stays_when_the_engine_later_finds_them(
    matched, sessions, clock, make_user
):
    """Re-matching keeps the coordinator's row (and its "added by" mark) instead of
    storing the pair a second time."""
    from broker.triage.actions import add_member

    user = make_user()
    with sessions.begin() as s:
        member = s.scalars(select(Member).where(Member.name == "Clean Start Services")).one()
        notice = s.scalars(select(Notice).where(Notice.title == LANDSCAPE)).one()
        assert match_of(s, member.name, LANDSCAPE) is None
        added = add_member(s, notice, member, matched, user.id, clock())
        hand_reasons = list(added.reasons)
        fields = {
            "name": member.name,
            "email": member.emails[0],
            "keywords": "landscape maintenance;cleaning services",
            "cpv": "77314000",
            "regions": "West Dunbartonshire",
            "supported_business": "yes",
        }
        save_member(s, parse_profile(fields), clock(), member)
    clock.advance(days=1)
    with sessions.begin() as s:
        # The engine now finds this pair on its own.
        engine_found = matched.engine(
            [profile_for(s.scalars(select(Member).where(Member.name == member.name)).one())]
        ).match([notice_for(s.get(Notice, notice.id))], threshold=0)
        assert engine_found and engine_found[0].score >= 20
        match_members(s, [member.id], matched, clock())
        match_all(s, matched, clock())
    with sessions() as s:
        rows = s.scalars(
            select(Match).where(Match.member_id == member.id, Match.notice_id == notice.id)
        ).all()
        assert len(rows) == 1
        assert (rows[0].added_by, rows[0].reasons) == (user.id, hand_reasons)
        assert s.get(Notice, notice.id).match_count == s.scalar(
            select(func.count()).where(Match.notice_id == notice.id)
        )


def test_a_changed_match_is_updated_in_place(matched, sessions, clock):
    """A match whose reasons change is rewritten, keeping when it was first made."""
    with sessions() as s:
        before = match_of(s, "Greenspace Growers", LANDSCAPE)
        first = (before.id, before.created_at)
        s.expunge(before)
        member_id = before.member_id
    clock.advance(days=1)
    with sessions.begin() as s:
        member = s.get(Member, member_id)
        fields = {
            "name": member.name,
            "email": member.emails[0],
            # The same trade with no value range: the value reason goes.
            "keywords": "grounds maintenance;landscape maintenance;grass cutting;tree work",
            "regions": "Glasgow City;West Dunbartonshire;Renfrewshire",
            "supported_business": "no",
        }
        save_member(s, parse_profile(fields), clock(), member)
        match_members(s, [member_id], matched, clock())
    with sessions() as s:
        after = match_of(s, "Greenspace Growers", LANDSCAPE)
        assert after is not None
        assert (after.id, after.created_at) == first
        assert after.updated_at == clock()
        assert texts(before, "value") and not texts(after, "value")
        assert texts(after, "keyword") == texts(before, "keyword")


def _match_indexes(session) -> set[str]:
    return {i["name"] for i in inspect(session.connection()).get_indexes("matches")}


def _scores_and_reasons(session) -> dict[tuple[int, int], tuple[int, list]]:
    matches = session.scalars(select(Match))
    return {(m.member_id, m.notice_id): (m.score, m.reasons) for m in matches}


def test_a_first_match_all_builds_the_by_member_index_at_its_end(
    backend, cli_runner, data_dir, sessions, app, clock, monkeypatch
):
    """On SQLite the first pass writes without the index led by member and builds it once
    it is done, the unique index (led by notice) kept throughout; a pass that fails
    leaves the table and its indexes as they were."""
    assert cli_runner("import", str(data_dir / PCS_2019)).exit_code == 0
    assert cli_runner("members", "import", str(data_dir / "members.csv")).exit_code == 0
    cache = get_cache(app)
    with sessions.begin() as s:
        indexes = _match_indexes(s)
        # Importing the members matched them: start with none, as a first pass does.
        s.execute(delete(Match))
    assert indexes == {"uq_matches_notice_member", "ix_matches_member_notice"}

    def fail(*args, **kwargs):
        raise RuntimeError("the disk is full")

    with monkeypatch.context() as patch:
        patch.setattr("broker.matching.store._store_piece", fail)
        with pytest.raises(RuntimeError), sessions.begin() as s:
            match_all(s, cache, clock())
    with sessions() as s:
        assert _match_indexes(s) == indexes
        assert _scores_and_reasons(s) == {}

    during: list[set[str]] = []
    store_piece = store_module._store_piece

    def watched(session, *args, **kwargs):
        during.append(_match_indexes(session))
        return store_piece(session, *args, **kwargs)

    with monkeypatch.context() as patch:
        patch.setattr("broker.matching.store._store_piece", watched)
        with sessions.begin() as s:
            first = match_all(s, cache, clock())
    assert first.new == first.stored > 0
    # PostgreSQL keeps both (dropping one would lock out the web pages' reads).
    kept = {"uq_matches_notice_member"} if backend == "sqlite" else indexes
    assert during and all(d == kept for d in during)
    with sessions() as s:
        assert _match_indexes(s) == indexes
        stored = _scores_and_reasons(s)
        # The unique index holds.
        member_id, notice_id = next(iter(stored))
        with pytest.raises(IntegrityError):
            s.execute(
                insert(Match).values(
                    member_id=member_id, notice_id=notice_id, score=50, reasons=[],
                    created_at=clock(), updated_at=clock(),
                )
            )  # fmt: skip
    # A pass with the index in place (the table full now) finds the same.
    with sessions.begin() as s:
        again = match_all(s, cache, clock())
    assert (again.new, again.removed, again.stored) == (0, 0, first.stored)
    with sessions() as s:
        assert _scores_and_reasons(s) == stored


def test_new_notices_are_stored_with_the_cycle_collector_held_off(
    cli_runner, data_dir, sessions, app, clock, monkeypatch
):
    """Matching new notices pauses Python's cycle collector (its passes over the warm
    matcher cost a fifth of the batch) and turns it back on, even when storing fails."""
    assert cli_runner("members", "import", str(data_dir / "members.csv")).exit_code == 0
    assert cli_runner("import", str(data_dir / PCS_2019)).exit_code == 0
    with sessions.begin() as s:
        ids = list(s.scalars(select(Notice.id)))
        s.execute(delete(Match))
    cache = get_cache(app)
    collecting: list[bool] = []
    store_piece = store_module._store_piece

    def watched(*args, **kwargs):
        collecting.append(gc.isenabled())
        return store_piece(*args, **kwargs)

    assert gc.isenabled()
    with monkeypatch.context() as patch:
        patch.setattr("broker.matching.store._store_piece", watched)
        with sessions.begin() as s:
            result = match_notices(s, ids, cache, clock())
    assert result.stored > 0 and collecting and not any(collecting)
    assert gc.isenabled()

    def fail(*args, **kwargs):
        raise RuntimeError("the disk is full")

    with monkeypatch.context() as patch:
        patch.setattr("broker.matching.store._store_piece", fail)
        with pytest.raises(RuntimeError), sessions.begin() as s:
            match_notices(s, ids, cache, clock())
    assert gc.isenabled()


def test_word_statistics_of_an_older_stemmer_are_counted_again(matched, sessions, clock, app):
    with sessions.begin() as s:
        match_all(s, matched, clock())
        first_id, corpus = latest_corpus(s)
        assert corpus.current
        # As saved before the stemmer's version was noted: "horticultural" counted apart.
        old = corpus.to_json()
        del old["stemmer"]
        snapshot = s.get(CorpusSnapshot, first_id)
        snapshot.data = zlib.compress(orjson.dumps(old))
    fresh = MatcherCache(app.config["SETTINGS"].matching)
    with sessions.begin() as s:
        assert fresh.corpus_out_of_date(s)
        match_pending(s, fresh, clock())
        newer_id, corpus = latest_corpus(s)
    assert newer_id > first_id and corpus.current
    with sessions.begin() as s:
        assert not fresh.corpus_out_of_date(s)
        match_pending(s, fresh, clock())  # current statistics are left alone
        assert latest_corpus(s)[0] == newer_id
