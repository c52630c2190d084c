"""`broker up --demo`: real notices moved to today, thirty example members, a history that
gives every page something to show, never mixed with real data, and loaded only once."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from broker.clock import utcnow
from broker.dashboard.funnel import build
from broker.models import (
    Base,
    Member,
    MemberResponse,
    Notice,
    NoticeSource,
    OutboxMessage,
)
from broker.models.bids import Bid
from broker.models.triage import Forward
from broker.outreach.compose import MailContext
from broker.runtime.demo import DEMO_USER, DemoRefused, demo_files, load_demo, shifts
from feeds import files

BANNER = "Demo data: real notices, with their dates moved"


@pytest.fixture
def demo(app, sessions):
    """Load the demo as `broker up --demo` does, with the real clock (the queue's "open"
    is about now)."""
    from broker.matching.cache import get_cache

    def load():
        return load_demo(
            sessions, app.config["SETTINGS"], utcnow, get_cache(app), MailContext.for_app(app)
        )

    return load


def everything(sessions) -> dict[str, int]:
    """How many rows each table holds."""
    with sessions() as s:
        return {
            table.name: s.scalar(select(func.count()).select_from(table))
            for table in Base.metadata.sorted_tables
        }


def log_in(client, csrf_token, password: str) -> None:
    page = client.get("/login")
    data = {"email": DEMO_USER, "password": password, "csrf_token": csrf_token(page)}
    assert client.post("/login", data=data).status_code == 302


@pytest.mark.slow
def test_the_demo_opens_on_a_living_network(demo, client, sessions, csrf_token, pages):
    loaded = demo()
    today = utcnow().date()
    assert loaded.today == today and not loaded.already
    assert len(loaded.members.created) == 30 and loaded.members.errors == []
    assert loaded.password

    log_in(client, csrf_token, loaded.password)
    triage = client.get("/").get_data(as_text=True)
    pages.assert_accessible(triage)
    found = int(re.search(r"Matched notices waiting for you: (\d+) found", triage).group(1))
    assert found >= 20
    assert BANNER in triage
    for page in ("/dashboard/", "/members/", "/outbox/", "/sources/", "/login"):
        assert BANNER in client.get(page).get_data(as_text=True), page

    with sessions() as s:
        funnel = {stage.info.key: stage for stage in build(s, utcnow()).stages}
        assert funnel["forwarded"].count > 0 and funnel["interested"].count > 0
        assert funnel["bid"].count == 2 and funnel["won"].count == 1
        # The weeks have shape: notices arrived over several weeks, not all today.
        harvested = [week.count for week in funnel["harvested"].weeks]
        assert sum(1 for count in harvested if count) >= 3
        assert s.scalar(select(func.count(Forward.id))) >= 10
        kinds = dict(
            s.execute(
                select(MemberResponse.kind, func.count(MemberResponse.id)).group_by(
                    MemberResponse.kind
                )
            ).all()
        )
        assert kinds["interested"] >= 3 and kinds["declined"] >= 3
        assert sorted(s.scalars(select(Bid.stage))) == ["preparing", "won"]
        # Every member's name says it is an example; no message left the machine.
        assert all(name.endswith("(example)") for name in s.scalars(select(Member.name)))
        statuses = set(s.scalars(select(OutboxMessage.status)))
        assert statuses == {"sent"}
        assert all("backend is" in note for note in s.scalars(select(OutboxMessage.last_error)))


@pytest.mark.slow
def test_the_demo_moves_every_date_by_whole_days_keeping_the_intervals(demo, sessions):
    demo()
    today = utcnow().date()
    moved = shifts(demo_files(), today)
    originals = {}
    for path in demo_files():
        for page in files.read_file(path):
            for notice in page.notices:
                originals[(notice.source, notice.source_id)] = (path, notice)
    with sessions() as s:
        rows = s.execute(
            select(
                NoticeSource.source, NoticeSource.source_id, Notice.published, Notice.deadline
            ).join(Notice, Notice.id == NoticeSource.notice_id)
        ).all()
    assert len(rows) == len(originals) == 181
    newest: dict[int, date] = {}
    for source, source_id, published, deadline in rows:
        path, original = originals[(source, source_id)]
        days = timedelta(days=moved[path])
        if original.published:
            assert published == original.published + days
            newest[moved[path]] = max(newest.get(moved[path], date.min), published.date())
        if original.deadline:
            assert deadline == original.deadline + days
    # Each group of recordings made at the same time ends with a notice published today.
    assert set(newest.values()) == {today}
    # PCS's and Find a Tender's September recordings move together, a week apart.
    by_name = {path.name: days for path, days in moved.items()}
    assert (
        by_name["fts_release_package_2026-09-11_trimmed.json"]
        == (by_name["pcs_ocds_notices_2026-09_nt102_trimmed.json"])
    )


@pytest.mark.slow
def test_loading_the_demo_twice_changes_nothing(demo, sessions):
    demo()
    before = everything(sessions)
    with sessions() as s:
        stamps = s.scalar(select(func.max(Notice.updated_at)))
    again = demo()
    assert again.already and again.summaries == [] and again.password is None
    assert everything(sessions) == before
    with sessions() as s:
        assert s.scalar(select(func.max(Notice.updated_at))) == stamps


def test_the_demo_refuses_a_database_with_other_data(demo, make_user, sessions):
    make_user()  # a real coordinator: this database is in use
    before = everything(sessions)
    with pytest.raises(DemoRefused) as refused:
        demo()
    assert "already holds data the demo didn't make (1 user)" in str(refused.value)
    assert "run `broker up --demo` in another directory" in str(refused.value)
    assert everything(sessions) == before  # nothing was written, not even the mark


def test_the_demo_lists_a_few_members_in_the_public_directory(demo, sessions, client):
    demo()
    with sessions() as s:
        listed = s.execute(select(Member.name, Member.website).where(Member.listed)).all()
        total = s.scalar(select(func.count(Member.id)))
    # A few, not all: the directory shows that listing is each member's choice.
    assert 5 <= len(listed) < total
    assert all(name.endswith("(example)") for name, _site in listed)
    assert {site for _name, site in listed} >= {"https://greenspace-growers.example.org", None}
    # Anyone sees them in the directory, without logging in.
    page = client.get("/network/").text
    assert all(name in page for name, _site in listed)
    assert "Borders Green Team (example)" not in page
