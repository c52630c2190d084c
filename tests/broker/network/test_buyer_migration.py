"""Migration 0011: buyers' submissions, on top of the directory's 0010."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import inspect, text

from broker import migrate
from broker.db import make_engine


def test_upgrading_to_0011_adds_buyer_submissions_and_keeps_members(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'buyers.sqlite3'}")
    migrate.upgrade(engine, "0010")
    moment = datetime(2026, 9, 1, 8)
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO members (id, name, emails, description, keywords, exclude, cpv,"
                " regions, supported_business, vcse, sme, frequency, active, created_at,"
                " updated_at, profile_changed_at, listed)"
                " VALUES (1, 'Greenspace Growers', '[\"hello@greenspace.example\"]',"
                " 'Grounds maintenance', '[]', '[]', '[]', '[]', 1, 1, 1, 'weekly', 1,"
                " :t, :t, :t, 1)"
            ),
            {"t": moment},
        )
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
