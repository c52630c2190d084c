"""Benchmark: the web app's latency under 20 concurrent clients, on SQLite and PostgreSQL.

Builds a realistic store, then serves it with `broker up --no-scheduler` in a child
process (the README's own command, with the workers and threads of config.toml's [web])
and drives it with wrk, one page type at a time:

- triage: the home page, the open queue by best score;
- filtered: the queue with a source, deadline, value and region filter;
- search, common word / rare word: full-text search of the queue;
- notice: notice pages, a random one of 5,000 notices per request;
- the network's public directory, anonymously (every member listed): its pages a random
  one of 100 at a time; filtered by council area, kind of work or supported business;
  a listed member's page; and "What do you need?" searches in the members' own words
  and places (the search limit per address is lifted for the run: wrk is one address);

and, not under load, the dashboard's 12-week funnel: the median of ten requests.

The store: N notices (default 100,000) imported through `broker import` from a release
package that replicates the real recorded releases in tests/data (as bench/harvest.py
does) with publication dates over the last four months and deadlines spread so that
most are still open; M members (default 2,000) with bench/synthetic.py's profiles; the
real engine's matches of every notice against every member at the store threshold,
of which K (default 300,000) are kept, drawn at random so the scores, reasons and
per-notice counts stay as the engine made them; forwards, dismissals, bids, member
answers and a coordinator to log in as. Building is not timed.

    python bench/web.py [--postgres postgresql://postgres@127.0.0.1:5432/postgres]
                        [--backends sqlite,postgres] [--duration 20] [--keep DIR]

Each page type prints p50, p95 and p99 latency (wrk's own percentiles, reported by a Lua
done() hook), requests per second and errors: socket errors, timeouts and any
4xx or 5xx response (each page type is also checked for a 200, logged-in page before
and after its run).
"""

from __future__ import annotations

import argparse
import dataclasses
import http.client
import json
import os
import random
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import harvest  # noqa: E402
import synthetic  # noqa: E402

PASSWORD = "bench password for the web benchmark"
USER = "coordinator@bench.example.org"
SUFFIXES = ("CIC", "Trust", "Enterprises", "Co-operative", "Social Enterprise", "Ltd", "Works")
# Filter combinations a coordinator would use; each returns notices on the bench's data.
FILTERED = (
    "/?source=contracts_finder&deadline_within=30&min_value=10000",
    "/?source=pcs&deadline_within=90&region=UKM8",
    "/?deadline_within=30&min_value=50000&region=Glasgow+City",
    "/?source=pcs&min_value=100000&sort=deadline",
)
# A word in a large share of notices, and one in a small share (the figures print both).
COMMON_WORD = "services"
RARE_WORD = "asbestos"


# --- the data ----------------------------------------------------------------------


def iso(moment: datetime) -> str:
    """The shape the recorded releases use: 2026-11-27T12:00:00Z."""
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def release(template: dict[str, Any], n: int, now: datetime, rng: random.Random) -> dict:
    """A real release replicated as another notice, published lately, due soon or lately."""
    out = harvest.replicate(template, n)
    out["date"] = iso(now - timedelta(days=rng.uniform(0, 120)))
    tender = out.get("tender") or {}
    period = tender.get("tenderPeriod")
    if isinstance(period, dict) and period.get("endDate"):
        # Most are still open: due within five months; one in seven closed in the last three.
        days = rng.uniform(-90, 0) if rng.random() < 0.15 else rng.uniform(0.2, 150)
        period["endDate"] = iso(now + timedelta(days=days))
    return out


def build_file(path: Path, count: int, now: datetime) -> int:
    """Write a release package of `count` releases; returns its size in bytes."""
    base = harvest.templates()
    rng = random.Random(7)
    with path.open("w", encoding="utf-8") as out:
        out.write('{"uri": "bench", "version": "1.1", "releases": [\n')
        for n in range(count):
            if n:
                out.write(",\n")
            text = json.dumps(release(base[n % len(base)], n, now, rng), ensure_ascii=False)
            out.write(text.replace("Infinity", "1e9999"))
        out.write("\n]}\n")
    return path.stat().st_size


def broker(args: list[str], env: dict[str, str]) -> str:
    """Run a broker command in a child process; its output."""
    done = subprocess.run(
        [sys.executable, "-m", "broker", *args], env=env, capture_output=True, text=True
    )
    if done.returncode != 0:
        raise SystemExit(f"broker {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    return done.stdout


def add_members_and_matches(url: str, members: int, matches: int, now: datetime) -> dict:
    """Members, the engine's matches (a random K of them), triage history and a user."""
    import numpy as np
    from sqlalchemy import func, insert, select, text, update

    import matchers
    from broker.accounts.users import create_user
    from broker.config import load_settings
    from broker.db import make_engine, make_sessionmaker
    from broker.matching.inputs import notice_for
    from broker.matching.store import matchable
    from broker.models import (
        Bid,
        BidMember,
        Forward,
        Match,
        Member,
        MemberResponse,
        Notice,
        NoticeAction,
    )

    settings = load_settings(ROOT / "config.toml", environ={})
    engine = make_engine(url)
    sessions = make_sessionmaker(engine)
    rng = random.Random(11)
    started = time.perf_counter()

    # Members: the matching benchmark's profiles, named and described as members write.
    profiles = synthetic.profiles(members)
    names: set[str] = set()
    rows = []
    for i, p in enumerate(profiles):
        name = f"{rng.choice(synthetic.PLACES)} {p.keywords[0].title()} {rng.choice(SUFFIXES)}"
        while name in names:
            name = f"{name} {i}"
        names.add(name)
        rows.append(
            {
                "name": name,
                "emails": [f"hello@member{i}.example.org"],
                "description": f"We offer {', '.join(p.keywords[:4])}.",
                "keywords": list(p.keywords),
                "exclude": list(p.exclude),
                "cpv": [],
                "regions": list(p.regions),
                "min_value": p.min_value,
                "max_value": p.max_value,
                "supported_business": p.supported_business,
                "vcse": True,
                "sme": True,
                "frequency": rng.choice(["instant", "daily", "weekly", "weekly"]),
                "active": True,
                # Every member listed: the directory at its largest.
                "listed": True,
                "website": f"https://member{i}.example.org" if i % 2 else None,
                "created_at": now,
                "updated_at": now,
                "profile_changed_at": now,
                "matched_at": now,
            }
        )
    with sessions.begin() as s:
        s.execute(insert(Member.__table__), rows)
        member_ids = dict(s.execute(select(Member.name, Member.id)).all())
        user = create_user(s, USER, PASSWORD, "coordinator", now, name="Bench Coordinator")
        user_id = user.id
    ids = [member_ids[r["name"]] for r in rows]
    profiles = [
        dataclasses.replace(p, id=str(mid), name=r["name"])
        for p, mid, r in zip(profiles, ids, rows, strict=True)
    ]

    # The engine over every matchable notice, as `broker match --all` runs it.
    columns = [
        Notice.id, Notice.title, Notice.description, Notice.buyer, Notice.cpv, Notice.regions,
        Notice.place, Notice.value_amount, Notice.reserved, Notice.lots, Notice.published,
        Notice.deadline,
    ]  # fmt: skip
    with sessions() as s:
        rows = s.execute(matchable(select(*columns)).order_by(Notice.id))
        notices = [notice_for(r) for r in rows]
    corpus = matchers.CorpusStats.from_notices(notices)
    matcher = matchers.Matcher(profiles, settings.matching.engine, corpus=corpus)
    found = matcher.rows(notices, threshold=settings.matching.store_threshold)
    keep = np.sort(np.random.default_rng(3).choice(len(found), min(matches, len(found)), False))
    print(
        f"  engine: {len(found):,} matches at the store threshold over {len(notices):,} "
        f"notices; keeping {len(keep):,}"
    )
    with sessions.begin() as s:
        batch = []
        for i in keep.tolist():
            m = found.match(i)
            batch.append(
                {
                    "member_id": int(m.profile_id),
                    "notice_id": m.notice_id,
                    "score": m.score,
                    "reasons": [{"kind": r.kind, "text": r.text} for r in m.reasons],
                    "created_at": now,
                    "updated_at": now,
                }
            )
            if len(batch) == 5000:
                s.execute(insert(Match.__table__), batch)
                batch = []
        if batch:
            s.execute(insert(Match.__table__), batch)
        # The match summary the queue sorts on, as broker.matching.refresh_match_summary
        # keeps it, for every notice at once.
        best = select(func.max(Match.score)).where(Match.notice_id == Notice.id)
        count = select(func.count(Match.id)).where(Match.notice_id == Notice.id)
        first = select(func.min(Match.created_at)).where(Match.notice_id == Notice.id)
        s.execute(
            update(Notice).values(
                best_score=best.scalar_subquery(), match_count=count.scalar_subquery(),
                first_matched_at=first.scalar_subquery(), matched_at=now,
            )
        )  # fmt: skip

    # Triage history: a coordinator's last four months on the matched notices.
    with sessions.begin() as s:
        matched = s.execute(
            select(Notice.id, Notice.title).where(Notice.match_count > 0).order_by(Notice.id)
        ).all()
        by_notice: dict[int, list[int]] = {}
        for notice_id, member_id in s.execute(select(Match.notice_id, Match.member_id)):
            by_notice.setdefault(notice_id, []).append(member_id)
        forwards, actions, responses, bids = [], [], [], []
        statuses: dict[str, list[int]] = {"forwarded": [], "dismissed": [], "bid": []}
        for notice_id, title in matched:
            roll = rng.random()
            when = now - timedelta(days=rng.uniform(0, 100))
            if roll < 0.10:
                chosen = rng.sample(by_notice[notice_id], min(len(by_notice[notice_id]), 3))
                for member_id in chosen:
                    forwards.append(
                        {"notice_id": notice_id, "member_id": member_id, "user_id": user_id,
                         "note": "Worth a look.", "created_at": when}
                    )  # fmt: skip
                    if rng.random() < 0.4:
                        declined = rng.random() < 0.5
                        responses.append(
                            {"notice_id": notice_id, "member_id": member_id,
                             "kind": "declined" if declined else "interested",
                             "reason": rng.choice(["too_big", "too_far", "timescale"])
                             if declined else None,
                             "note": "", "channel": "email", "created_at": when}
                        )  # fmt: skip
                actions.append((notice_id, "forward", f"to {len(chosen)} members", when))
                statuses["forwarded"].append(notice_id)
            elif roll < 0.18:
                actions.append((notice_id, "dismiss", "Not relevant to any member", when))
                statuses["dismissed"].append(notice_id)
            elif roll < 0.185 and len(by_notice[notice_id]) >= 2:
                bids.append((notice_id, title, by_notice[notice_id][:2], when))
                actions.append((notice_id, "start_bid", "2 members", when))
                statuses["bid"].append(notice_id)
        if forwards:
            s.execute(insert(Forward.__table__), forwards)
        if responses:
            s.execute(insert(MemberResponse.__table__), responses)
        s.execute(
            insert(NoticeAction.__table__),
            [
                {"notice_id": n, "user_id": user_id, "action": a, "detail": d, "created_at": w}
                for n, a, d, w in actions
            ],
        )
        for notice_id, title, pair, when in bids:
            bid = Bid(
                notice_id=notice_id, title=title[:300], model="lead_contractor",
                stage="forming", created_by=user_id, created_at=when, updated_at=when,
            )  # fmt: skip
            bid.members = [BidMember(member_id=pair[0], role="lead"),
                           BidMember(member_id=pair[1], role="partner")]  # fmt: skip
            s.add(bid)
        for status, notice_ids in statuses.items():
            for start in range(0, len(notice_ids), 1000):
                s.execute(
                    update(Notice)
                    .where(Notice.id.in_(notice_ids[start : start + 1000]))
                    .values(triage_status=status, triage_changed_at=now)
                )
        totals = {
            "notices": s.scalar(select(func.count(Notice.id))),
            "matched": len(matched),
            "members": len(ids),
            "matches": s.scalar(select(func.count(Match.id))),
            "forwarded": len(statuses["forwarded"]),
            "dismissed": len(statuses["dismissed"]),
            "bids": len(statuses["bid"]),
        }
    if engine.dialect.name == "postgresql":
        # What autovacuum does soon after a bulk load: statistics for the planner, and the
        # visibility map that lets index-only scans skip the table.
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))
    engine.dispose()
    print(f"  members, matches and triage history in {time.perf_counter() - started:.0f} s")
    return totals


def build(url: str, package: Path, options: argparse.Namespace, now: datetime) -> None:
    """Migrate, import the package with `broker import`, add members and matches."""
    env = server_env(url)
    broker(["db", "upgrade"], env)
    started = time.perf_counter()
    summary = broker(["import", str(package)], env)
    done = [line for line in summary.splitlines() if line.startswith("Done:")]
    print(f"  broker import: {time.perf_counter() - started:.0f} s; {done[0] if done else ''}")
    totals = add_members_and_matches(url, options.members, options.matches, now)
    print("  " + ", ".join(f"{k} {v:,}" for k, v in totals.items()))


def sample_paths(url: str) -> tuple[list[str], dict[str, int]]:
    """5,000 notice pages to request at random, and how many notices each query finds."""
    from sqlalchemy import select

    from broker.clock import utcnow
    from broker.db import make_engine, make_sessionmaker
    from broker.models import Notice
    from broker.triage.queue import Filters, queue_query

    engine = make_engine(url)
    with make_sessionmaker(engine)() as s:
        ids = list(s.scalars(select(Notice.id)))
        hits = {}
        for label, filters in (
            ("open queue", Filters()),
            (f"q={COMMON_WORD}", Filters(q=COMMON_WORD)),
            (f"q={RARE_WORD}", Filters(q=RARE_WORD)),
            *((path, filters_from(path)) for path in FILTERED),
        ):
            query = queue_query(s, filters, utcnow()).with_only_columns(Notice.id)
            hits[label] = len(s.scalars(query).all())
    engine.dispose()
    picked = random.Random(5).sample(ids, min(5000, len(ids)))
    return [f"/notices/{i}" for i in picked], hits


def filters_from(path: str) -> Any:
    """The triage Filters a query string asks for (numbers as floats)."""
    from broker.triage.queue import Filters

    args = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(path).query))
    for key in ("min_value", "max_value"):
        if key in args:
            args[key] = float(args[key])
    return Filters(**args)


# --- the server and the load -------------------------------------------------------


def server_env(url: str) -> dict[str, str]:
    return {
        **os.environ,
        "BROKER_DATABASE__URL": url,
        "BROKER_WEB__SECRET_KEY": "bench-secret",
        "BROKER_CONFIG": str(ROOT / "config.toml"),
        # wrk's 20 clients are one address: the search limit would answer 429.
        "BROKER_NETWORK__SEARCH_PER_MINUTE": "100000000",
    }


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(url: str, port: int, log: Path) -> subprocess.Popen:
    """`broker up --no-scheduler` in its own process group; waits until it answers."""
    process = subprocess.Popen(
        [sys.executable, "-m", "broker", "up", "--no-scheduler", "--port", str(port)],
        env=server_env(url),
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"broker up exited:\n{log.read_text()}")
        try:
            status, _headers, _body = fetch(port, "GET", "/login")
            if status == 200:
                return process
        except OSError:
            pass
        time.sleep(0.3)
    stop_server(process)
    raise SystemExit(f"broker up did not answer in time:\n{log.read_text()}")


def stop_server(process: subprocess.Popen) -> None:
    """Stop the server and the workers it started."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def fetch(
    port: int, method: str, path: str, body: str | None = None, cookie: str = ""
) -> tuple[int, http.client.HTTPMessage, str]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    headers = {"Cookie": cookie} if cookie else {}
    if body is not None:
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    conn.request(method, path, body=body, headers=headers)
    response = conn.getresponse()
    text = response.read().decode()
    conn.close()
    return response.status, response.headers, text


def session_cookie(headers: http.client.HTTPMessage) -> str:
    for value in headers.get_all("Set-Cookie") or []:
        if value.startswith("session="):
            return value.split(";", 1)[0]
    raise SystemExit("no session cookie")


def log_in(port: int) -> str:
    """Log in through the real form (CSRF token and all); the session cookie."""
    status, headers, page = fetch(port, "GET", "/login")
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    cookie = session_cookie(headers)
    form = urllib.parse.urlencode({"email": USER, "password": PASSWORD, "csrf_token": token})
    status, headers, _ = fetch(port, "POST", "/login", form, cookie)
    if status != 302:
        raise SystemExit(f"login failed: {status}")
    cookie = session_cookie(headers)
    status, _, page = fetch(port, "GET", "/", cookie=cookie)
    if status != 200 or "Triage" not in page:
        raise SystemExit(f"logged in but the queue answered {status}")
    return cookie


# No response() hook: with one, wrk copies every body into Lua, which for 140 kB notice
# pages takes CPU from the server under test. wrk counts 4xx and 5xx itself (errors.status);
# redirects (a lost login) are caught by checking each page type before and after its run.
LUA = """
paths = %(paths)s
wrk.headers["Cookie"] = "%(cookie)s"
local threads = {}
local counter = 0

function setup(thread)
  counter = counter + 1
  thread:set("seed", counter)
  table.insert(threads, thread)
end

function init(args)
  math.randomseed(seed * 7919 + os.time())
end

function request()
  return wrk.format("GET", paths[math.random(#paths)])
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'RESULT {"p50": %%.3f, "p95": %%.3f, "p99": %%.3f, "max": %%.3f, "requests": %%d, '
    .. '"seconds": %%.3f, "non2xx": %%d, "socket": %%d, "timeout": %%d}\\n',
    latency:percentile(50) / 1000, latency:percentile(95) / 1000,
    latency:percentile(99) / 1000, latency.max / 1000, summary.requests,
    summary.duration / 1e6, e.status, e.connect + e.read + e.write, e.timeout))
end
"""


def check_pages(port: int, cookie: str, paths: list[str]) -> None:
    """Every path answers 200 with a page, logged in (not a redirect to the login form);
    without a cookie, a public page of the directory."""
    marker = "Log out" if cookie else "Find a social enterprise"
    for path in paths[:20]:
        status, _headers, page = fetch(port, "GET", path, cookie=cookie)
        if status != 200 or marker not in page:
            raise SystemExit(f"{path} answered {status} (or not logged in): the run is void")


def run_wrk(
    port: int, cookie: str, paths: list[str], seconds: float, connections: int, work: Path
) -> dict[str, float]:
    """Drive GETs of `paths` (picked at random) for `seconds`; wrk's figures."""
    script = work / "load.lua"
    lua_paths = "{" + ", ".join(json.dumps(p) for p in paths) + "}"
    script.write_text(LUA % {"paths": lua_paths, "cookie": cookie})
    done = subprocess.run(
        [
            "wrk", "-t2", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--timeout", "10s",
            "-s", str(script), f"http://127.0.0.1:{port}",
        ],
        capture_output=True,
        text=True,
    )  # fmt: skip
    line = next((ln for ln in done.stdout.splitlines() if ln.startswith("RESULT ")), None)
    if line is None:
        raise SystemExit(f"wrk failed:\n{done.stdout}\n{done.stderr}")
    result = json.loads(line[len("RESULT ") :])
    result["rps"] = result["requests"] / result["seconds"]
    result["errors"] = result["non2xx"] + result["socket"] + result["timeout"]
    return result


def network_paths(url: str) -> dict[str, list[str]]:
    """The directory's pages as buyers would open them: each page of it, filters,
    members' pages, and "What do you need?" in the members' own words and places."""
    from sqlalchemy import select

    from broker.db import make_engine
    from broker.models import Member
    from broker.network.listing import LISTED, councils_served

    engine = make_engine(url)
    with engine.connect() as conn:
        members = conn.execute(
            select(Member.id, Member.keywords, Member.regions).where(*LISTED)
        ).all()
    engine.dispose()
    rng = random.Random(13)
    pages = -(-len(members) // 20)
    councils = sorted({c for m in members for c in councils_served(m.regions) or ()})
    filtered = [f"/network/?area={c}" for c in councils]
    filtered += [f"/network/?area={c}&supported=y" for c in councils[:8]]
    filtered += ["/network/?supported=y", "/network/?supported=y&page=2"]
    searches = []
    for m in rng.sample(members, min(200, len(members))):
        what = urllib.parse.quote_plus(rng.choice(m.keywords))
        where = urllib.parse.quote_plus(rng.choice([*synthetic.COUNCILS, ""]))
        searches.append(f"/network/find?what={what}&where={where}")
    return {
        "directory": [f"/network/?page={n}" for n in range(1, pages + 1)],
        "directory, filtered": filtered,
        "directory, member page": [f"/network/members/{m.id}" for m in members],
        "what do you need? (search)": searches,
    }


# p95 targets, in ms: the directory's own; every other page's.
TARGETS = {
    "what do you need? (search)": 300,
    "directory": 100,
    "directory, filtered": 100,
    "directory, member page": 100,
}
TARGET = 150


def bench_backend(label: str, url: str, options: argparse.Namespace, work: Path) -> list[tuple]:
    """Serve one database and load each page type in turn; rows for the table."""
    notice_paths, hits = sample_paths(url)
    print("  notices found: " + "; ".join(f"{k}: {v:,}" for k, v in hits.items()))
    pages = {
        "triage": ["/"],
        "filtered": list(FILTERED),
        f"search, common ({COMMON_WORD})": [f"/?q={COMMON_WORD}"],
        f"search, rare ({RARE_WORD})": [f"/?q={RARE_WORD}"],
        "notice": notice_paths,
        **network_paths(url),
    }
    public = set(network_paths(url))
    if options.only:
        wanted = [w.strip() for w in options.only.split(",")]
        pages = {k: v for k, v in pages.items() if any(k.startswith(w) for w in wanted)}
    port = free_port()
    server = start_server(url, port, work / f"server-{label}.log")
    rows = []
    try:
        cookie = log_in(port)
        for name, paths in pages.items():
            # The directory is public: its visitors send no login.
            who = "" if name in public else cookie
            # A short warm-up: every page type starts with the server's caches as a
            # minute of use leaves them, not cold.
            check_pages(port, who, paths)
            run_wrk(port, who, paths, options.warmup, options.connections, work)
            r = run_wrk(port, who, paths, options.duration, options.connections, work)
            check_pages(port, who, paths)
            rows.append((label, name, r))
            print(
                f"  {name:<28} p50 {r['p50']:7.1f} ms  p95 {r['p95']:7.1f} ms  "
                f"p99 {r['p99']:7.1f} ms  {r['rps']:7.1f} req/s  errors {r['errors']}"
                + (f" (4xx/5xx {r['non2xx']}, socket {r['socket']}, timeout {r['timeout']})"
                   if r["errors"] else "")
            )  # fmt: skip
        # The dashboard is opened now and then, not by 20 people at once: one at a time.
        took = []
        for _ in range(10):
            started = time.perf_counter()
            check_pages(port, cookie, ["/dashboard/"])
            took.append((time.perf_counter() - started) * 1000)
        print(f"  {'dashboard, one client':<28} median {statistics.median(took):7.1f} ms")
    finally:
        stop_server(server)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--notices", type=int, default=100_000)
    parser.add_argument("--members", type=int, default=2_000)
    parser.add_argument("--matches", type=int, default=300_000)
    parser.add_argument(
        "--postgres",
        default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres",
        help="a PostgreSQL server to create the bench database on",
    )
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument("--duration", type=float, default=20, help="seconds per page type")
    parser.add_argument("--warmup", type=float, default=3, help="seconds before each")
    parser.add_argument("--connections", type=int, default=20)
    parser.add_argument(
        "--keep", type=Path, help="keep the databases in DIR (and reuse them if there)"
    )
    parser.add_argument("--build-only", action="store_true", help="build the data, don't load it")
    parser.add_argument(
        "--only", help="load only these page types (comma-separated starts of their names)"
    )
    options = parser.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("wrk is needed: apt-get install wrk")

    work = options.keep or Path(tempfile.mkdtemp(prefix="bench-web-"))
    work.mkdir(parents=True, exist_ok=True)
    now = datetime.now(UTC)
    package = work / "releases.json"
    backends = [b.strip() for b in options.backends.split(",") if b.strip()]
    urls = {
        "sqlite": f"sqlite:///{work / 'bench.sqlite3'}",
        "postgres": pg_database(options.postgres, "bench_web", fresh=False),
    }
    rows = []
    for backend in backends:
        url = urls[backend]
        label = "SQLite" if backend == "sqlite" else "PostgreSQL"
        print(f"{label}:")
        if not (options.keep and is_built(url)):
            if backend == "postgres":
                url = urls[backend] = pg_database(options.postgres, "bench_web", fresh=True)
            if not package.exists():
                started = time.perf_counter()
                size = build_file(package, options.notices, now)
                print(
                    f"  built {options.notices:,} releases ({size / 1e6:.0f} MB) in "
                    f"{time.perf_counter() - started:.0f} s"
                )
            build(url, package, options, now)
        if options.build_only:
            continue
        rows.extend(bench_backend(label, url, options, work))
    print()
    print("| Page | Backend | p50 ms | p95 ms | p99 ms | req/s | errors |")
    print("|---|---|---|---|---|---|---|")
    for label, name, r in rows:
        print(
            f"| {name} | {label} | {r['p50']:.1f} | {r['p95']:.1f} | {r['p99']:.1f} | "
            f"{r['rps']:.0f} | {r['errors']} |"
        )
    if rows:
        met = all(r["p95"] < TARGETS.get(n, TARGET) and r["errors"] == 0 for _l, n, r in rows)
        verdict = "met" if met else "NOT met"
        print(
            "\ntarget (p95 < 150 ms; the directory's pages < 100 ms and its search < 300 ms;"
            f" no errors, every page and backend): {verdict}"
        )
    if not options.keep:
        if "postgres" in backends:
            drop_pg_database(options.postgres, "bench_web")
        shutil.rmtree(work, ignore_errors=True)


def pg_database(server: str, name: str, fresh: bool) -> str:
    """The URL of database `name` on `server`; `fresh` drops and creates it."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    base = make_url(server).set(drivername="postgresql+psycopg")
    if fresh:
        admin = create_engine(base, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        admin.dispose()
    return base.set(database=name).render_as_string(hide_password=False)


def drop_pg_database(server: str, name: str) -> None:
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    admin = create_engine(
        make_url(server).set(drivername="postgresql+psycopg"), isolation_level="AUTOCOMMIT"
    )
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def is_built(url: str) -> bool:
    """Whether a kept database already holds the bench's data."""
    from sqlalchemy import create_engine, text

    try:
        engine = create_engine(url)
        with engine.connect() as conn:
            built = conn.execute(text("SELECT count(*) FROM users")).scalar() > 0
        engine.dispose()
        return bool(built)
    except Exception:
        return False


if __name__ == "__main__":
    main()
