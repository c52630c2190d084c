"""Migration 0009 re-derives stored notices from their raw releases: the "rn" PCS sent for
a line break becomes one, each place is listed once, and nothing else changes."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

import feeds.tender
import feeds.text
from broker import migrate
from broker.db import make_engine, make_sessionmaker
from broker.harvest.running import import_file
from broker.models import Notice, NoticeChange, NoticeSource

PCS_2019 = "pcs_ocds_releases_2019-04_apa999.json"
LOST = re.compile(r"[.:;,)]rn(?![a-z])")


@pytest.fixture
def engine(database_url):
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


def texts(engine) -> dict[int, tuple[str, str | None, object]]:
    with make_sessionmaker(engine)() as s:
        return {
            row.id: (row.description, row.place, row.matched_at)
            for row in s.execute(
                select(Notice.id, Notice.description, Notice.place, Notice.matched_at)
            )
        }


def test_upgrading_re_derives_the_text_of_stored_notices_and_nothing_else(
    engine, settings, data_dir, clock, monkeypatch
):
    migrate.downgrade(engine, "0007")
    try:
        # Stored by the parser before this version: "rn" kept, places listed as sent.
        with monkeypatch.context() as old:
            old.setattr(feeds.text, "restore_line_breaks", lambda s: s)
            old.setattr(feeds.tender, "distinct_places", lambda places: list(dict.fromkeys(places)))
            import_file(make_sessionmaker(engine), settings, data_dir / PCS_2019, clock)
        with make_sessionmaker(engine).begin() as s:
            s.execute(Notice.__table__.update().values(matched_at=clock()))
        before = texts(engine)
        assert sum(bool(LOST.search(d)) for d, _, _ in before.values()) == 37
        highland = next(
            i for i, (_, p, _) in before.items() if p and "Throughout the Highland" in p
        )

        migrate.upgrade(engine)

        after = texts(engine)
        assert set(after) == set(before)
        assert not any(LOST.search(d) for d, _, _ in after.values())
        changed = {i for i in before if before[i][:2] != after[i][:2]}
        assert len(changed) >= 37
        limited = next(d for d, _, _ in after.values() if "be limited to;\nThe removal" in d)
        assert "be limited to;\nThe removal & safe disposal" in limited
        assert after[highland][1].endswith("Sutherland Area; Throughout Highland Council area.")
        # Changed notices wait to be matched again; the others keep their matches.
        assert all(after[i][2] is None for i in changed)
        assert all(after[i][2] == clock() for i in set(after) - changed)
        with make_sessionmaker(engine)() as s:
            sources = s.scalars(select(NoticeSource.data)).all()
            assert not any(LOST.search(d["description"]) for d in sources)
            assert s.scalars(select(NoticeChange)).all() == []  # re-deriving is no amendment
    finally:
        migrate.upgrade(engine)

    # The stored records are now exactly what this parser makes: importing the same
    # releases again changes nothing, and tells no member of a change.
    again = import_file(make_sessionmaker(engine), settings, data_dir / PCS_2019, clock)
    assert (again.new, again.updated, again.unchanged) == (0, 0, 90)
