"""Benchmark: matching in the broker on the realistic national load.

Builds a database holding N notices of bench/realistic.py's load (default 100,000: real
titles with other real notices' descriptions) and M members (default 2,000) with its
profiles (5 to 15 keywords each from real profiles, trades and CPV labels), then:

- runs `broker match --all` in a fresh process, as an operator would: word statistics
  recounted, every notice matched against every member, the matches stored; its time and
  the peak resident memory of it and every process it starts, sampled from /proc;
- stores 1,000 new notices and matches them against every member with the app's warm
  matcher (built and warmed as `broker up`'s scheduler does at start), as a harvest
  does in `broker up`, twice (and, for comparison, the whole of `broker
  match` in a fresh process, which first builds the matcher).

    python bench/match_all.py [--notices 100000] [--members 2000] [--postgres URL] [--keep]

Members are set to get no e-mail, so `broker match` only matches.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import harvest  # noqa: E402  (its process runner and memory sampler)
import realistic  # noqa: E402
from sqlalchemy import create_engine, func, insert, select, text  # noqa: E402

NOW = datetime.now(UTC)


def notice_rows(count: int, seed: int, first_seen: datetime) -> list[dict]:
    rows = []
    for n in realistic.notices(count, seed=seed):
        rows.append(
            {
                "title": n.title,
                "description": n.description,
                "buyer": n.buyer,
                "cpv": list(n.cpv),
                "regions": list(n.regions),
                "place": n.place,
                "value_amount": n.value,
                "value_currency": "GBP" if n.value is not None else None,
                "notice_type": "tender",
                "reserved": n.reserved,
                "community_benefits": False,
                "lots": [],
                "primary_source": "bench",
                "first_seen_at": first_seen,
                "updated_at": first_seen,
                "triage_status": "new",
                "match_count": 0,
            }
        )
    return rows


def build(url: str, notices: int, members: int) -> None:
    from broker import migrate
    from broker.db import make_engine, make_sessionmaker
    from broker.models import Member, Notice

    engine = make_engine(url)
    migrate.upgrade(engine)
    sessions = make_sessionmaker(engine)
    started = time.perf_counter()
    rows = notice_rows(notices, seed=7, first_seen=NOW - timedelta(days=60))
    with sessions.begin() as s:
        for lo in range(0, len(rows), 5000):
            s.execute(insert(Notice.__table__), rows[lo : lo + 5000])
        s.execute(
            insert(Member.__table__),
            [
                {
                    "name": f"{p.name or 'Member'} {i}",
                    "emails": [f"member{i}@bench.example.org"],
                    "description": "",
                    "keywords": list(p.keywords),
                    "exclude": list(p.exclude),
                    "cpv": list(p.cpv),
                    "regions": list(p.regions),
                    "min_value": p.min_value,
                    "max_value": p.max_value,
                    "supported_business": p.supported_business,
                    "vcse": True,
                    "sme": True,
                    "frequency": "off",
                    "active": True,
                    "created_at": NOW,
                    "updated_at": NOW,
                    "profile_changed_at": NOW,
                }
                for i, p in enumerate(realistic.profiles(members))
            ],
        )
    took = time.perf_counter() - started
    print(f"  built {notices:,} notices and {members:,} members in {took:.0f} s")
    engine.dispose()


def incremental(url: str, config: Path) -> list[tuple[str, float, float, int]]:
    """Match 1,000 new notices twice in one app, as harvests in `broker up` do: the first
    batch after start (the matcher built and warmed on the newest stored notices, as
    the scheduler does), then a later one. (label, wall seconds, CPU seconds, matches
    stored) for each step."""
    from broker import create_app
    from broker.config import load_settings
    from broker.db import Checkpointer
    from broker.matching.cache import get_cache
    from broker.matching.store import match_notices

    app = create_app(
        load_settings(config, overrides={"database": {"url": url}, "web": {"secret_key": "b"}})
    )
    sessions = app.extensions["broker.sessions"]
    cache = get_cache(app)
    # As in `broker up`'s scheduler, which harvests: SQLite's log copied by a thread.
    checkpointer = Checkpointer(app.extensions["broker.engine"])
    checkpointer.start()
    steps = []
    wall, cpu = time.perf_counter(), time.process_time()
    with sessions() as s:
        read = cache.warm(s)  # as the scheduler does at start
    steps.append(
        (
            f"building the matcher and reading the newest {read:,} notices (at start)",
            time.perf_counter() - wall,
            time.process_time() - cpu,
            0,
        )
    )
    for label, seed in (("the first 1,000 new notices", 99), ("the next 1,000", 97)):
        ids = add_notices(url, 1000, seed=seed)
        wall, cpu = time.perf_counter(), time.process_time()
        with sessions.begin() as s:
            result = match_notices(s, ids, cache, NOW)
        steps.append((label, time.perf_counter() - wall, time.process_time() - cpu, result.stored))
    checkpointer.stop()
    app.extensions["broker.engine"].dispose()
    return steps


def add_notices(url: str, count: int, seed: int) -> list[int]:
    """Store `count` new notices, not yet matched; their ids."""
    from broker.db import make_engine, make_sessionmaker
    from broker.models import Notice

    engine = make_engine(url)
    with make_sessionmaker(engine).begin() as s:
        rows = notice_rows(count, seed=seed, first_seen=NOW)
        table = Notice.__table__
        ids = [s.scalar(insert(table).values(**row).returning(table.c.id)) for row in rows]
    engine.dispose()
    return ids


def children_cpu() -> float:
    """CPU seconds of the finished child processes (and theirs) so far."""
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return used.ru_utime + used.ru_stime


def count(url: str, table: str) -> int:
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
    with engine.connect() as conn:
        found = conn.execute(select(func.count()).select_from(text(table))).scalar()
    engine.dispose()
    return int(found)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--notices", type=int, default=100_000)
    parser.add_argument("--members", type=int, default=2_000)
    parser.add_argument("--postgres", help="a PostgreSQL database to use (emptied first)")
    parser.add_argument("--keep", action="store_true", help="keep the SQLite database")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-match-all-"))
    config = work / "config.toml"
    config.write_text("")
    url = args.postgres or f"sqlite:///{work / 'broker.sqlite3'}"
    if args.postgres:
        from broker.models import Base

        engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
        with engine.begin() as conn:
            conn.execute(text("DROP TABLE IF EXISTS alembic_version"))
            Base.metadata.drop_all(conn)
        engine.dispose()
    try:
        print(f"database: {'PostgreSQL' if args.postgres else 'SQLite'}")
        build(url, args.notices, args.members)
        env = {
            **os.environ,
            "BROKER_CONFIG": str(config),
            "BROKER_DATABASE__URL": url,
            "BROKER_WEB__SECRET_KEY": "bench",
        }
        cpu = children_cpu()
        ran = harvest.run(["match", "--all"], env)
        cpu = children_cpu() - cpu
        stored = count(url, "matches")
        print(
            f"broker match --all: {ran.seconds:.1f} s ({cpu:.0f} s CPU, its workers' too); "
            f"peak memory {ran.peak_pss_kb / 1024:.0f} MB PSS, "
            f"{ran.peak_rss_kb / 1024:.0f} MB RSS summed over its processes"
        )
        print(f"  {ran.output.strip().splitlines()[-1]}")
        print(f"  {stored:,} matches stored, {stored / args.notices:.1f} a notice")
        print(f"matching new notices against {args.members:,} members in a running broker:")
        for label, wall, cpu, stored in incremental(url, config):
            found = f", {stored:,} matches stored" if stored else ""
            print(f"  {label}: {wall:.2f} s ({cpu:.2f} s CPU){found}")
        add_notices(url, 1000, seed=98)
        ran = harvest.run(["match"], env)
        print(
            f"broker match of 1,000 new notices in a fresh process (building the matcher "
            f"first): {ran.seconds:.1f} s, peak memory {ran.peak_pss_kb / 1024:.0f} MB PSS"
        )
    finally:
        if args.keep and not args.postgres:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
