"""SQLite's full-text index (migration 0007) holds exactly the matched notices' text, as
notices are matched, edited, unmatched and deleted; and the migration fills it so."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import delete, select, text, update

from broker import migrate
from broker.db import make_engine, make_sessionmaker
from broker.matching.store import refresh_match_summary
from broker.models import Match, Member, Notice

AT = datetime(2026, 11, 20, 9, tzinfo=UTC)
TOKENIZER = "porter unicode61 remove_diacritics 2"


def indexed(conn) -> list[tuple]:
    """Every (word, notice, column, position) the triage search's index holds."""
    conn.exec_driver_sql(
        "CREATE VIRTUAL TABLE IF NOT EXISTS temp.held USING fts5vocab(main, notices_fts, instance)"
    )
    return conn.exec_driver_sql("SELECT * FROM temp.held ORDER BY 1, 2, 3, 4").all()


def expected(conn, where: str = "best_score IS NOT NULL") -> list[tuple]:
    """The same, for an index built afresh from the notices `where` says."""
    conn.exec_driver_sql("DROP TABLE IF EXISTS temp.fresh")
    conn.exec_driver_sql(
        f"CREATE VIRTUAL TABLE temp.fresh USING fts5(title, description, buyer, "
        f"tokenize='{TOKENIZER}')"
    )
    conn.exec_driver_sql(
        "INSERT INTO temp.fresh(rowid, title, description, buyer) "
        f"SELECT id, title, description, buyer FROM main.notices WHERE {where}"
    )
    conn.exec_driver_sql(
        "CREATE VIRTUAL TABLE IF NOT EXISTS temp.fresh_held USING fts5vocab(temp, fresh, instance)"
    )
    return conn.exec_driver_sql("SELECT * FROM temp.fresh_held ORDER BY 1, 2, 3, 4").all()


def searched(sessions, word: str) -> set[int]:
    with sessions() as s:
        return set(
            s.scalars(text("SELECT rowid FROM notices_fts WHERE notices_fts MATCH :w"), {"w": word})
        )


@pytest.fixture
def engine(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'search.sqlite3'}")
    migrate.upgrade(engine)
    yield engine
    engine.dispose()


def add_notice(s, title: str, description: str, buyer: str = "Fife Council") -> Notice:
    notice = Notice(
        title=title, description=description, buyer=buyer, primary_source="pcs",
        first_seen_at=AT, updated_at=AT,
    )  # fmt: skip
    s.add(notice)
    s.flush()
    return notice


def match(s, notice: Notice, member: Member, score: int = 60) -> None:
    s.add(
        Match(member_id=member.id, notice_id=notice.id, score=score, reasons=[],
              created_at=AT, updated_at=AT)
    )  # fmt: skip
    s.flush()
    refresh_match_summary(s, [notice.id])


def test_the_index_follows_matching_edits_and_deletes(engine):
    sessions = make_sessionmaker(engine)
    with sessions.begin() as s:
        member = Member(name="Green Routes", created_at=AT, updated_at=AT, profile_changed_at=AT)
        s.add(member)
        grounds = add_notice(s, "Grounds maintenance", "Grass cutting and hedge work")
        catering = add_notice(s, "School catering", "Meals for grounds staff")
        cleaning = add_notice(s, "Office cleaning", "Cleaning of council offices", buyer="")
        s.flush()
        ids = grounds.id, catering.id, cleaning.id
        member_id = member.id

    def check(word: str, found: set[int]) -> None:
        with engine.connect() as conn:
            assert indexed(conn) == expected(conn)
        assert searched(sessions, f'"{word}"') == found

    # Stored but not matched: not searchable.
    check("grounds", set())
    with sessions.begin() as s:
        match(s, s.get(Notice, ids[0]), s.get(Member, member_id))
        match(s, s.get(Notice, ids[1]), s.get(Member, member_id), 40)
    check("grounds", {ids[0], ids[1]})
    # A new score changes nothing in the index; a new text replaces the old, shared
    # words kept (FTS5 must see the old text out before the new in).
    with sessions.begin() as s:
        s.execute(update(Notice).where(Notice.id == ids[1]).values(best_score=70))
        s.execute(
            update(Notice)
            .where(Notice.id == ids[0])
            .values(title="Grounds and parks maintenance", description="Grass cutting")
        )
    check("hedge", set())
    check("parks", {ids[0]})
    check("grass", {ids[0]})
    # An unmatched notice's edit stays out; its first match brings the edited text in.
    with sessions.begin() as s:
        s.execute(update(Notice).where(Notice.id == ids[2]).values(description="Deep cleaning"))
    check("deep", set())
    with sessions.begin() as s:
        match(s, s.get(Notice, ids[2]), s.get(Member, member_id))
    check("deep", {ids[2]})
    # Its last match gone, a notice leaves the search; deleted, it leaves the index.
    with sessions.begin() as s:
        s.execute(delete(Match).where(Match.notice_id == ids[1]))
        refresh_match_summary(s, [ids[1]])
        s.execute(delete(Notice).where(Notice.id == ids[0]))
    check("grounds", set())
    check("cleaning", {ids[2]})


def test_the_migration_indexes_matched_notices_only_and_back(engine):
    sessions = make_sessionmaker(engine)
    with sessions.begin() as s:
        member = Member(name="Green Routes", created_at=AT, updated_at=AT, profile_changed_at=AT)
        s.add(member)
        s.flush()
        matched = add_notice(s, "Grounds maintenance", "Grass cutting")
        add_notice(s, "Grounds survey", "Tree survey")
        match(s, matched, member)
        matched_id = matched.id
    migrate.downgrade(engine, "0006")
    # Before 0007 every notice is searchable.
    with engine.connect() as conn:
        assert indexed(conn) == expected(conn, where="1")
    assert len(searched(sessions, '"grounds"')) == 2
    migrate.upgrade(engine)
    with engine.connect() as conn:
        assert indexed(conn) == expected(conn)
        triggers = conn.execute(
            select(text("name")).select_from(text("sqlite_master")).where(text("type = 'trigger'"))
        ).scalars()
        assert set(triggers) >= {"notices_fts_insert", "notices_fts_update", "notices_fts_delete"}
    assert searched(sessions, '"grounds"') == {matched_id}
