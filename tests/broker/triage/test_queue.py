"""The triage queue at the service level: paging, the capped count, sort order, what
counts as open, whole-word search, and that SQLite reads the queue from its index."""

from __future__ import annotations

import dataclasses
import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, text, update

from broker.matching.store import refresh_match_summary
from broker.models import Match, Member, Notice, NoticeRegion, NoticeSource
from broker.triage import queue as triage
from broker.triage.queue import Filters, queue_page, queue_query

NOW = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


@pytest.fixture
def make_notice(sessions):
    """Store a notice from one source, matched to one member at `score` (None: unmatched)."""
    counter = iter(range(1, 10_000))

    def make(
        title: str = "Grounds maintenance",
        score: int | None = 60,
        deadline: datetime | None = NOW + timedelta(days=20),
        source: str = "pcs",
        regions: tuple[str, ...] = (),
        value: float | None = None,
        description: str = "",
        status: str = "new",
    ) -> int:
        n = next(counter)
        with sessions.begin() as s:
            notice = Notice(
                title=title,
                description=description,
                buyer="Fife Council",
                deadline=deadline,
                value_amount=value,
                regions=list(regions),
                primary_source=source,
                first_seen_at=NOW - timedelta(hours=n),
                updated_at=NOW,
                triage_status=status,
            )
            s.add(notice)
            s.flush()
            s.add(
                NoticeSource(
                    notice_id=notice.id, source=source, source_id=f"{source}-{n}",
                    content_hash="x", data={}, first_seen_at=NOW, updated_at=NOW,
                )
            )  # fmt: skip
            s.add_all(NoticeRegion(notice_id=notice.id, code=code) for code in regions)
            if score is not None:
                member = Member(
                    name=f"Member {n}", created_at=NOW, updated_at=NOW, profile_changed_at=NOW
                )
                s.add(member)
                s.flush()
                s.add(
                    Match(
                        member_id=member.id, notice_id=notice.id, score=score, reasons=[],
                        created_at=NOW, updated_at=NOW,
                    )
                )  # fmt: skip
                s.flush()
                refresh_match_summary(s, [notice.id])
            return notice.id

    return make


def page_ids(sessions, filters: Filters | None = None, page_size: int = 50) -> list[int]:
    with sessions() as s:
        return [n.id for n in queue_page(s, filters or Filters(), NOW, page_size).notices]


def test_count_stops_at_the_cap_and_says_there_are_more(sessions, make_notice):
    for score in range(40, 48):
        make_notice(score=score)
    with sessions() as s:
        first = queue_page(s, Filters(), NOW, 3, count_cap=5)
        assert (first.total, first.capped, first.has_next, first.pages) == (5, True, True, None)
        exact = queue_page(s, Filters(), NOW, 3, count_cap=20)
        assert (exact.total, exact.capped, exact.pages) == (8, False, 3)
        last = queue_page(s, Filters(page=3), NOW, 3, count_cap=5)
        # Past the cap the page is still found, and the count is what was seen.
        assert [n.best_score for n in last.notices] == [41, 40]
        assert (last.total, last.capped, last.has_next) == (8, False, False)
        beyond = queue_page(s, Filters(page=9), NOW, 3, count_cap=5)
        assert beyond.notices == [] and beyond.total == 8


def test_pages_walk_the_queue_best_first_soonest_first_unknown_deadline_last(sessions, make_notice):
    late = make_notice(score=70, deadline=NOW + timedelta(days=30))
    unknown = make_notice(score=70, deadline=None)
    soon = make_notice(score=70, deadline=NOW + timedelta(days=2))
    best = make_notice(score=90, deadline=None)
    low = make_notice(score=35)
    expected = [best, soon, late, unknown, low]
    seen = []
    for page in (1, 2, 3):
        seen += page_ids(sessions, Filters(page=page), page_size=2)
    assert seen == expected
    by_deadline = page_ids(sessions, Filters(sort="deadline"))
    assert by_deadline[-2:] == sorted([unknown, best])
    assert by_deadline[0] == soon


def test_no_deadline_is_kept_by_the_database(sessions, make_notice):
    notice_id = make_notice(deadline=None)
    with sessions.begin() as s:
        assert s.get(Notice, notice_id).no_deadline is True
        s.execute(update(Notice).where(Notice.id == notice_id).values(deadline=NOW))
    with sessions() as s:
        assert s.scalar(select(Notice.no_deadline).where(Notice.id == notice_id)) is False


def test_open_means_matched_not_dealt_with_and_not_yet_due(sessions, make_notice):
    open_id = make_notice()
    make_notice(score=None)  # never listed
    dismissed = make_notice(status="dismissed")
    forwarded = make_notice(status="forwarded")
    closed = make_notice(deadline=NOW - timedelta(minutes=1))
    assert set(page_ids(sessions)) == {open_id, forwarded}
    assert set(page_ids(sessions, Filters(status="all"))) == {
        open_id, dismissed, forwarded, closed
    }  # fmt: skip
    # Matching that finds nobody any more takes a notice out; a deadline passing does too.
    with sessions.begin() as s:
        s.execute(text("DELETE FROM matches WHERE notice_id = :n"), {"n": open_id})
        refresh_match_summary(s, [open_id])
    assert page_ids(sessions) == [forwarded]
    with sessions() as s:
        later = queue_page(s, Filters(), NOW + timedelta(days=21), 50)
    assert later.notices == []


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        (Filters(source="contracts_finder"), {"cf"}),
        (Filters(region="UKM75"), {"edinburgh"}),
        (Filters(region="UKM7"), {"edinburgh", "fife"}),
        (Filters(region="Fife"), {"fife"}),
        (Filters(deadline_within="7"), {"soon"}),
        (Filters(deadline_within="90", min_value=50_000), {"fife"}),
        (Filters(q="hedges"), {"cf"}),  # stemmed: "hedge trimming"
        (Filters(q="trimm"), set()),  # whole words only, as on PostgreSQL
        (Filters(q="Fife Council"), {"cf", "edinburgh", "fife", "soon"}),
    ],
)
def test_filters_and_search(sessions, make_notice, filters, expected):
    ids = {
        make_notice(title="Hedge trimming", source="contracts_finder"): "cf",
        make_notice(regions=("UKM75",)): "edinburgh",
        make_notice(regions=("UKM72",), value=80_000, deadline=NOW + timedelta(days=60)): "fife",
        make_notice(deadline=NOW + timedelta(days=3)): "soon",
    }
    assert {ids[i] for i in page_ids(sessions, filters)} == expected


def test_a_common_word_walks_the_queue_and_finds_the_same(sessions, make_notice, monkeypatch):
    wanted = [make_notice(title="Catering services", score=s) for s in (50, 80, 65)]
    make_notice(title="Grounds maintenance", score=99)
    rare = page_ids(sessions, Filters(q="catering"))
    monkeypatch.setattr(triage, "FTS_LOOKUP_LIMIT", 1)
    common = page_ids(sessions, Filters(q="catering"))
    assert rare == common == [wanted[1], wanted[2], wanted[0]]


def sqlite_plan(sessions, filters: Filters) -> str:
    with sessions() as s:
        query = (
            queue_query(s, filters, NOW)
            .with_only_columns(Notice.id)
            .order_by(*triage._order(filters.sort))
            .limit(501)
        )
        sql = str(query.compile(s.get_bind(), compile_kwargs={"literal_binds": True}))
        return "\n".join(row[3] for row in s.execute(text("EXPLAIN QUERY PLAN " + sql)))


@pytest.mark.parametrize(
    ("filters", "index"),
    [
        (Filters(), "ix_notices_queue_score"),
        (Filters(source="pcs", region="UKM8", deadline_within="90"), "ix_notices_queue_score"),
        (Filters(status="dismissed", min_value=10_000), "ix_notices_queue_score"),
        (Filters(sort="deadline", reserved=True), "ix_notices_queue_deadline"),
        (Filters(sort="newest", vcse=True), "ix_notices_queue_newest"),
        # A short window: the notices due in it, then sorted.
        (Filters(deadline_within="30"), "ix_notices_queue_deadline"),
    ],
)
def test_sqlite_reads_the_queue_from_its_index(backend, sessions, filters, index):
    if backend != "sqlite":
        pytest.skip("PostgreSQL plans by its statistics")
    plan = sqlite_plan(sessions, filters)
    assert f"INDEX {index}" in plan, plan
    if filters.deadline_within != "30":
        assert "TEMP B-TREE" not in plan, plan


def test_postgresql_plans_each_queue_query_for_its_own_values(backend, sessions, make_notice):
    """psycopg prepares a query run often; PostgreSQL's generic plan for it then ignored the
    values (a month's deadlines, one region) and read the queue 10x slower."""
    if backend != "postgres":
        pytest.skip("psycopg's prepared statements are PostgreSQL's")
    make_notice(regions=("UKM82",), value=60_000)
    filters = Filters(deadline_within="30", min_value=50_000, region="Glasgow City")
    with sessions() as s:
        # On a table this small PostgreSQL would keep planning afresh anyway: the setting
        # is what makes it so on 100,000 notices.
        assert s.scalar(text("SHOW plan_cache_mode")) == "force_custom_plan"
        for _ in range(15):
            assert queue_page(s, filters, NOW, 50).total == 1
        plans = s.execute(
            text("SELECT statement, generic_plans, custom_plans FROM pg_prepared_statements")
        ).all()
    queue = [p for p in plans if "notice_regions" in p.statement]
    assert queue, plans  # psycopg did prepare it
    assert [p.generic_plans for p in queue] == [0] * len(queue)
    assert max(p.custom_plans for p in queue) >= 5


def test_the_queue_page_says_how_many_and_pages_on(
    app, client, coordinator, make_notice, monkeypatch
):
    for score in range(40, 100, 5):
        make_notice(score=score, title=f"Notice scored {score}")
    settings = app.config["SETTINGS"]
    web = dataclasses.replace(settings.web, page_size=3)
    monkeypatch.setitem(app.config, "SETTINGS", dataclasses.replace(settings, web=web))
    monkeypatch.setattr(triage, "COUNT_CAP", 5)
    page = client.get("/").get_data(as_text=True)
    assert "5+ found" in page
    assert "<span>Page 1</span>" in page
    assert 'rel="next"' in page and 'rel="prev"' not in page
    assert "Notice scored 95" in page and "Notice scored 80" not in page
    page = client.get("/?page=4").get_data(as_text=True)
    assert "12 found" in page and "<span>Page 4 of 4</span>" in page
    assert 'rel="next"' not in page and "Notice scored 40" in page
    monkeypatch.setattr(triage, "COUNT_CAP", 500)
    page = client.get("/").get_data(as_text=True)
    assert "12 found" in page and "<span>Page 1 of 4</span>" in page


def test_a_member_is_added_by_hand_by_typing_their_name(
    client, coordinator, make_notice, sessions, csrf_token
):
    notice_id = make_notice()
    names = [
        "Zed <b>Works</b>",
        "Abbey Care",
        "Abbey Care Plus",
        "Gone",
        "Bay Gardens",
        "Cove Gardens",
        "Dale Gardens",
        "East Gardens",
        "Fell Gardens",
        "Glen Gardens",
    ]
    with sessions.begin() as s:
        s.add_all(
            Member(
                name=name, keywords=["home care"], created_at=NOW, updated_at=NOW,
                profile_changed_at=NOW, active=name != "Gone",
            )
            for name in names
        )  # fmt: skip
    with sessions() as s:
        listed = s.get(
            Member, s.scalar(select(Match.member_id).where(Match.notice_id == notice_id))
        )
        listed_name = listed.name
    url = f"/notices/{notice_id}"
    page = client.get(url).get_data(as_text=True)
    # A text field with its label and hint, not a list of every member.
    assert '<label for="add-member">Member</label>' in page
    assert re.search(r'<input [^>]*id="add-member" [^>]*type="text"', page)
    assert "Type the member&#39;s name, or part of it" in page
    assert '<select id="add-member"' not in page and "Abbey Care" not in page

    def add(text: str):
        token = csrf_token(client.get(url).get_data(as_text=True))
        return client.post(f"{url}/members", data={"add-member": text, "csrf_token": token})

    def refused(text: str) -> str:
        response = add(text)
        assert response.status_code == 400, text
        body = response.get_data(as_text=True)
        assert 'id="add-member-error"' in body
        return body

    def added() -> list[str]:
        with sessions() as s:
            return sorted(
                s.scalars(
                    select(Member.name)
                    .join(Match, Match.member_id == Member.id)
                    .where(Match.notice_id == notice_id, Match.added_by.is_not(None))
                )
            )

    assert "No active member&#39;s name contains “Gone”." in refused("Gone")
    assert "No active member&#39;s name contains “Nobody”." in refused("  Nobody ")
    body = refused("abbey")
    assert "2 members&#39; names contain “abbey”: Abbey Care, Abbey Care Plus — type" in body
    body = refused("gardens")
    assert (
        "6 members&#39; names contain “gardens”: Bay Gardens, Cove Gardens, Dale Gardens, "
        "East Gardens, Fell Gardens… — type more of the name."
    ) in body
    assert f"{listed_name} is already listed for this notice." in refused(listed_name.upper())
    assert added() == []
    # A whole name wins over longer names that contain it; case doesn't matter.
    assert add("abbey care").status_code == 302
    assert added() == ["Abbey Care"]
    assert "Abbey Care is already listed for this notice." in refused("Abbey Care")
    # Part of exactly one name.
    assert add("care plus").status_code == 302
    # Names and what was typed are escaped, in errors and in the field.
    body = refused("<i>")
    assert "No active member&#39;s name contains “&lt;i&gt;”." in body
    assert 'value="&lt;i&gt;"' in body and "<i>" not in body
    assert add("works</b>").status_code == 302
    assert added() == ["Abbey Care", "Abbey Care Plus", "Zed <b>Works</b>"]
    assert "Added Zed &lt;b&gt;Works&lt;/b&gt;." in client.get(url).get_data(as_text=True)
    body = refused("zed <b>works</b>")
    assert "Zed &lt;b&gt;Works&lt;/b&gt; is already listed for this notice." in body
