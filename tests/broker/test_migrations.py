"""Migrations build exactly the schema the models describe, on both backends."""

from __future__ import annotations

from datetime import UTC, datetime

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, select, text

from broker import migrate
from broker.db import make_engine
from broker.models import Base


def include_object(obj, name, type_, reflected, compare_to):
    # Full-text search objects are made by hand in migration 0003, for one backend each.
    return not (name or "").startswith(("notices_fts", "search_vector", "ix_notices_search"))


def add_member(conn, moment, member_id=1, name="Greenspace Growers", **columns) -> None:
    """A member row as an older schema holds it; `columns` sets (or adds) columns."""
    row = {
        "id": member_id,
        "name": name,
        "emails": "[]",
        "description": "",
        "keywords": "[]",
        "exclude": "[]",
        "cpv": "[]",
        "regions": "[]",
        "supported_business": 0,
        "vcse": 1,
        "sme": 1,
        "frequency": "weekly",
        "active": 1,
        "created_at": moment,
        "updated_at": moment,
        "profile_changed_at": moment,
        **columns,
    }
    names = ", ".join(row)
    values = ", ".join(f":{k}" for k in row)
    conn.execute(text(f"INSERT INTO members ({names}) VALUES ({values})"), row)


def test_migrated_schema_matches_the_models(database_url):
    engine = make_engine(database_url)
    with engine.connect() as conn:
        context = MigrationContext.configure(
            conn, opts={"compare_type": True, "include_object": include_object}
        )
        diff = compare_metadata(context, Base.metadata)
    engine.dispose()
    assert diff == []


def test_database_is_at_the_newest_revision(database_url):
    engine = make_engine(database_url)
    assert migrate.current_revision(engine) == migrate.head_revision()
    engine.dispose()


def test_sqlite_runs_in_wal_mode(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'wal.sqlite3'}")
    with engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
        # Bulk writers (imports, harvests) read the file without a memory map, so pages
        # they touch don't swell their resident memory; the web workers map it.
        assert conn.execute(text("PRAGMA mmap_size")).scalar() == 0
    engine.dispose()
    web = make_engine(f"sqlite:///{tmp_path / 'wal.sqlite3'}", memory_map=True)
    with web.connect() as conn:
        assert conn.execute(text("PRAGMA mmap_size")).scalar() == 1024**3
    web.dispose()


def test_upgrade_from_the_first_revision_keeps_existing_data(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'old.sqlite3'}")
    migrate.upgrade(engine, "0001")
    moment = datetime(2026, 9, 18, tzinfo=UTC).replace(tzinfo=None)
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO notices (title, description, cpv, regions, notice_type, reserved,"
                " community_benefits, lots, primary_source, first_seen_at, updated_at)"
                " VALUES ('Grounds maintenance', 'Grass cutting', '[\"77314000\"]', '[]',"
                " 'tender', 0, 0, '[]', 'pcs', :t, :t)"
            ),
            {"t": moment},
        )
    migrate.upgrade(engine)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT title FROM notices")).scalar() == "Grounds maintenance"
    assert migrate.current_revision(engine) == migrate.head_revision()
    engine.dispose()


def test_downgrade_to_nothing_and_back(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'cycle.sqlite3'}")
    migrate.upgrade(engine)
    migrate.downgrade(engine, "base")
    assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    migrate.upgrade(engine)
    assert "notices" in inspect(engine).get_table_names()
    engine.dispose()


def test_upgrading_to_0006_notes_when_stored_notices_were_first_matched(tmp_path):
    """Notices matched before 0006 get their first match's time, for the dashboard."""
    from broker.db import make_sessionmaker
    from broker.matching.store import refresh_match_summary
    from broker.models import Match, Member, Notice

    engine = make_engine(f"sqlite:///{tmp_path / 'matched.sqlite3'}")
    migrate.upgrade(engine)
    early, late = datetime(2026, 9, 1, 8, tzinfo=UTC), datetime(2026, 10, 6, 9, tzinfo=UTC)
    with make_sessionmaker(engine).begin() as s:
        seen = {"first_seen_at": early, "updated_at": early, "primary_source": "pcs"}
        matched, unmatched = Notice(title="Matched", **seen), Notice(title="Not", **seen)
        members = [
            Member(name=n, created_at=early, updated_at=early, profile_changed_at=early)
            for n in ("A", "B")
        ]
        s.add_all([matched, unmatched, *members])
        s.flush()
        s.add_all(
            Match(member_id=m.id, notice_id=matched.id, score=50, reasons=[],
                  created_at=at, updated_at=at)
            for m, at in zip(members, (late, early), strict=True)
        )  # fmt: skip
        s.flush()
        refresh_match_summary(s, [matched.id, unmatched.id])
    # Back to before the column, and up again: the upgrade fills it from the matches.
    migrate.downgrade(engine, "0005")
    assert "first_matched_at" not in {c["name"] for c in inspect(engine).get_columns("notices")}
    migrate.upgrade(engine)
    with make_sessionmaker(engine)() as s:
        firsts = dict(s.execute(select(Notice.title, Notice.first_matched_at)).all())
    assert firsts == {"Matched": early, "Not": None}
    engine.dispose()


def test_upgrading_to_0008_keeps_bids_and_their_members_and_dates_their_stages(tmp_path):
    """0008 copies the bids table on SQLite (its notice becomes optional): the members of
    each bid must survive it, and a bid already won is counted as won when it was."""
    engine = make_engine(f"sqlite:///{tmp_path / 'bids.sqlite3'}")
    migrate.upgrade(engine, "0007")
    started, won = datetime(2026, 9, 1, 8), datetime(2026, 10, 20, 16)
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO notices (id, title, description, cpv, regions, notice_type, reserved,"
                " community_benefits, lots, primary_source, first_seen_at, updated_at,"
                " triage_status, match_count)"
                " VALUES (1, 'Grounds maintenance', '', '[]', '[]', 'tender', 0, 0, '[]', 'pcs',"
                " :t, :t, 'bid', 0)"
            ),
            {"t": started},
        )
        for member_id, name in ((1, "Greenspace Growers"), (2, "Clean Start Services")):
            add_member(conn, started, member_id, name)
        conn.execute(
            text(
                "INSERT INTO bids (id, notice_id, title, model, stage, note, value_won, created_at,"
                " updated_at) VALUES (1, 1, 'Grounds maintenance', 'lead_contractor', 'won', '',"
                " 120000, :started, :won)"
            ),
            {"started": started, "won": won},
        )
        conn.execute(
            text(
                "INSERT INTO bid_members (bid_id, member_id, role) VALUES (1, 1, 'lead'),"
                " (1, 2, 'partner')"
            )
        )
    migrate.upgrade(engine)
    with engine.connect() as conn:
        members = conn.execute(
            text("SELECT member_id, role, status FROM bid_members ORDER BY member_id")
        ).all()
        assert members == [(1, "lead", "added"), (2, "partner", "added")]
        events = conn.execute(
            text("SELECT kind, from_stage, to_stage, at FROM bid_events ORDER BY at")
        ).all()
        assert [e[:3] for e in events] == [
            ("created", None, "forming"),
            ("stage", "forming", "won"),
        ]
        assert events[1][3] == won.isoformat(sep=" ")
        # A bid may now be formed before its notice is known.
        conn.execute(text("UPDATE bids SET notice_id = NULL WHERE id = 1"))
    engine.dispose()


def test_upgrading_to_0010_keeps_members_and_lists_none_of_them(tmp_path):
    """Existing members stay, unlisted: nobody appears in public without choosing to."""
    engine = make_engine(f"sqlite:///{tmp_path / 'listed.sqlite3'}")
    migrate.upgrade(engine, "0009")
    moment = datetime(2026, 9, 1, 8)
    with engine.begin() as conn:
        add_member(
            conn,
            moment,
            emails='["hello@greenspace.example"]',
            description="Grounds maintenance",
            cpv='["77314000"]',
            regions='["West Dunbartonshire"]',
            supported_business=1,
        )
    migrate.upgrade(engine, "0010")
    with engine.begin() as conn:
        row = conn.execute(
            text("SELECT name, emails, supported_business, listed, website FROM members")
        ).one()
        assert row == ("Greenspace Growers", '["hello@greenspace.example"]', 1, 0, None)
        conn.execute(text("UPDATE members SET listed = 1, website = 'https://g.example'"))
    migrate.downgrade(engine, "0009")
    assert "listed" not in {c["name"] for c in inspect(engine).get_columns("members")}
    migrate.upgrade(engine)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT name, listed FROM members")).one() == (
            "Greenspace Growers",
            0,
        )
    engine.dispose()


def test_upgrading_to_0011_adds_buyer_submissions_and_keeps_members(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'buyers.sqlite3'}")
    migrate.upgrade(engine, "0010")
    moment = datetime(2026, 9, 1, 8)
    with engine.begin() as conn:
        add_member(conn, moment, emails='["hello@greenspace.example"]', listed=1)
    migrate.upgrade(engine, "0011")
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO buyer_submissions (kind, nonce, member_id, name, email,"
                " organisation, message, title, needed, place, ip_hash, email_hash,"
                " created_at, mail_ids)"
                " VALUES ('contact', 'n', 1, 'Olu Officer', 'olu@council.example',"
                " 'A Council', 'Hello', '', '', '', 'i', 'e', :t, '[]')"
            ),
            {"t": moment},
        )
        # A member who leaves takes the messages waiting for them.
        conn.execute(text("DELETE FROM members WHERE id = 1"))
        assert conn.execute(text("SELECT count(*) FROM buyer_submissions")).scalar() == 0
    migrate.downgrade(engine, "0010")
    assert "buyer_submissions" not in inspect(engine).get_table_names()
    migrate.upgrade(engine)
    assert "buyer_submissions" in inspect(engine).get_table_names()
    engine.dispose()


def test_0012_reindexes_matches_in_arrival_order_and_keeps_them_on_both_backends(database_url):
    """Down to 0011 and up again with matches stored: they stay, and a pair stored twice
    is refused by either migration's unique index."""
    from sqlalchemy.exc import IntegrityError

    from broker.db import make_sessionmaker
    from broker.models import Match, Member, Notice

    engine = make_engine(database_url)
    moment = datetime(2026, 9, 1, 8, tzinfo=UTC)
    with make_sessionmaker(engine).begin() as s:
        seen = {"first_seen_at": moment, "updated_at": moment, "primary_source": "pcs"}
        notices = [Notice(title=t, **seen) for t in ("Grounds", "Catering")]
        members = [
            Member(name=n, created_at=moment, updated_at=moment, profile_changed_at=moment)
            for n in ("A", "B")
        ]
        s.add_all([*notices, *members])
        s.flush()
        s.add_all(
            Match(member_id=m.id, notice_id=n.id, score=40 + i, reasons=[],
                  created_at=moment, updated_at=moment)
            for i, (m, n) in enumerate((m, n) for m in members for n in notices)
        )  # fmt: skip
    pairs = {(m.id, n.id) for m in members for n in notices}

    def indexes() -> set[str]:
        return {i["name"] for i in inspect(engine).get_indexes("matches")}

    def stored_and_refused() -> set[tuple[int, int]]:
        with engine.connect() as conn:
            held = set(conn.execute(select(Match.member_id, Match.notice_id)).all())
            member_id, notice_id = next(iter(held))
            try:
                conn.execute(
                    text(
                        "INSERT INTO matches (member_id, notice_id, score, reasons,"
                        " created_at, updated_at) VALUES (:m, :n, 1, '[]', :t, :t)"
                    ),
                    {"m": member_id, "n": notice_id, "t": moment},
                )
            except IntegrityError:
                conn.rollback()
            else:  # pragma: no cover - the failure this test is for
                raise AssertionError("a pair was stored twice")
        return held

    assert indexes() == {"uq_matches_notice_member", "ix_matches_member_notice"}
    migrate.downgrade(engine, "0011")
    assert indexes() == {
        "ix_matches_notice_score", "ix_matches_member_score", "uq_matches_member_notice",
    }  # fmt: skip
    assert stored_and_refused() == pairs
    migrate.upgrade(engine)
    assert indexes() == {"uq_matches_notice_member", "ix_matches_member_notice"}
    assert stored_and_refused() == pairs
    engine.dispose()
