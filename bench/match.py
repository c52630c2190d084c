"""Matching speed and memory on two loads: the engine against naive RapidFuzz.

Run: .venv/bin/python bench/match.py [--load synthetic|realistic|both] [--notices 100000]
     [--profiles 2000] [--naive-subset 1000] [--doubling]

Prints figures; it is not a timed test. The loads (both deterministic):

- synthetic (bench/synthetic.py): eval notices recombined sentence by sentence, and
  profiles from a vocabulary of trades (about 4,300 distinct keywords);
- realistic (bench/realistic.py): a real title with another notice's real
  description and a random reference; profiles of real profile keywords, trades as
  members write them (acronyms, function words) and CPV labels of up to four words
  (about 7,000 distinct keywords), with no areas or sizes to rule anything out.

Per load, each in a fresh process so its peak memory is its own:

- engine: compile the profiles, read, index and score every notice, ending with every
  (profile, notice, score) row at the notify threshold; peak RSS of the process and of
  its largest forked worker (forked: mostly the same pages);
- output: `python -m matchers score --out FILE`, every match written with its reasons
  as a JSON line, streamed (its own process, timed from start to exit);
- incremental: 1,000 new notices with the profiles compiled, and in a fresh process;
- naive: RapidFuzz cdist (partial_ratio, default_process, score_cutoff=90, all CPUs) of
  every distinct keyword against a sample of the notices, timed in this same run and
  extrapolated linearly to all of them.

Word rarity comes from CorpusStats over the same notices, loaded from JSON as the
broker loads it (its build is timed on its own).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import realistic  # noqa: E402
import synthetic  # noqa: E402
from rapidfuzz import fuzz, process, utils  # noqa: E402

from matchers import CorpusStats, MatchConfig, Matcher, Notice, Profile  # noqa: E402

TARGET_RATIO = 100
TARGET_RSS_MB = 1536


def peak_rss_mb(who: int = resource.RUSAGE_SELF) -> float:
    """Peak resident set size so far (Linux reports KiB); RUSAGE_CHILDREN: the largest child."""
    return resource.getrusage(who).ru_maxrss / 1024


def cpu_s() -> float:
    """CPU seconds used so far by this process (all threads) and its waited-for children.

    Other jobs on a shared machine stretch wall times, the engine's and the naive
    run's alike but not at the same moments; CPU time is not stretched.
    """
    me, kids = (
        resource.getrusage(resource.RUSAGE_SELF),
        resource.getrusage(resource.RUSAGE_CHILDREN),
    )
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def load(name: str, count: int, members: int) -> tuple[list[Notice], list[Profile], list[Notice]]:
    """(notices, profiles, 1,000 fresh notices) of a load; the same every run."""
    if name == "synthetic":
        rows = synthetic.load_eval()
        return (
            synthetic.notices(count, seed=1, rows=rows),
            synthetic.profiles(members, seed=2, rows=rows),
            synthetic.notices(1_000, seed=3, rows=rows, prefix="new"),
        )
    rows = realistic.load_rows()
    return (
        realistic.notices(count, seed=11, rows=rows),
        realistic.profiles(members, seed=12),
        realistic.notices(1_000, seed=13, rows=rows, prefix="new"),
    )


def measure(args: argparse.Namespace) -> dict:
    """In a fresh process: the engine on one load (see the module docstring)."""
    notices, profiles, fresh = load(args.load, args.notices, args.profiles)
    corpus = CorpusStats.from_json(json.loads(Path(args.corpus).read_text(encoding="utf-8")))
    config = MatchConfig(workers=args.workers)
    gc.collect()
    t, cpu = time.perf_counter(), cpu_s()
    matcher = Matcher(profiles, config, corpus=corpus)
    rows = matcher.rows(notices)
    took = time.perf_counter() - t
    out = {
        "engine_s": took,
        "engine_cpu_s": cpu_s() - cpu,
        "load": os.getloadavg()[0],
        "matches": len(rows),
        "rss_mb": peak_rss_mb(),
        "worker_rss_mb": peak_rss_mb(resource.RUSAGE_CHILDREN),
    }
    sample = matcher.rows(notices[:5_000])
    t = time.perf_counter()
    count = sum(1 for _ in sample)
    out["row_us"] = (time.perf_counter() - t) / max(count, 1) * 1e6
    t = time.perf_counter()
    reasons = sum(len(r[3]) for r in sample.records())
    out["record_us"] = (time.perf_counter() - t) / max(count, 1) * 1e6
    out["reasons_per_match"] = reasons / max(count, 1)
    t = time.perf_counter()
    new = matcher.rows(fresh)
    out["incremental_s"] = time.perf_counter() - t
    out["incremental_matches"] = len(new)
    t = time.perf_counter()
    written = sum(len(r[3]) for r in new.records())
    out["incremental_reasons_s"] = time.perf_counter() - t
    out["incremental_reasons"] = written
    del matcher, rows, sample, new
    gc.collect()
    t = time.perf_counter()
    cold = Matcher(profiles, config, corpus=corpus)
    cold.rows([])  # compiles the profiles
    out["compile_s"] = time.perf_counter() - t
    t = time.perf_counter()
    out["cold_matches"] = len(cold.rows(fresh))
    out["cold_s"] = time.perf_counter() - t
    if args.doubling:
        half = args.notices // 4
        out["doubling"] = {}
        for label, part, who in (
            ("quarter", notices[:half], profiles),
            ("half", notices[: 2 * half], profiles),
            ("quarter_half_profiles", notices[:half], profiles[: len(profiles) // 2]),
        ):
            gc.collect()
            t = time.perf_counter()
            Matcher(who, config, corpus=corpus).rows(part)
            out["doubling"][label] = time.perf_counter() - t
    return out


def child(argv: list[str]) -> tuple[dict, float]:
    """Run this script on `argv` in a fresh process; (what it printed as JSON, wall time)."""
    t = time.perf_counter()
    result = subprocess.run(
        [sys.executable, __file__, *argv], capture_output=True, text=True, check=True
    )
    return json.loads(result.stdout.strip().splitlines()[-1]), time.perf_counter() - t


def cli(notices: list[Notice], profiles: list[Profile], corpus: Path, tmp: Path) -> dict:
    """`python -m matchers score --out`: wall time, peak RSS and bytes written."""
    src, people, out = tmp / "notices.jsonl", tmp / "profiles.json", tmp / "out.jsonl"
    with src.open("w", encoding="utf-8") as f:
        for n in notices:
            record = {
                "id": n.id,
                "title": n.title,
                "description": n.description,
                "cpv": list(n.cpv),
                "regions": list(n.regions),
                "place": n.place,
                "value": n.value,
                "reserved": n.reserved,
                "lots": [
                    {"title": x.title, "description": x.description, "cpv": list(x.cpv),
                     "value": x.value}
                    for x in n.lots
                ],
            }  # fmt: skip
            f.write(json.dumps(record) + "\n")
    people.write_text(
        json.dumps(
            [
                {"id": p.id, "name": p.name, "keywords": list(p.keywords),
                 "exclude": list(p.exclude), "regions": list(p.regions),
                 "min_value": p.min_value, "max_value": p.max_value,
                 "supported_business": p.supported_business, "feedback": dict(p.feedback),
                 "declined_value": p.declined_value}
                for p in profiles
            ]
        ),
        encoding="utf-8",
    )  # fmt: skip
    argv = [sys.executable, "-m", "matchers", "score", "--notices", str(src)]
    argv += ["--profiles", str(people), "--corpus", str(corpus), "--out", str(out)]
    t = time.perf_counter()
    proc = subprocess.Popen(argv, cwd=ROOT)
    _, status, usage = os.wait4(proc.pid, 0)
    took = time.perf_counter() - t
    # wait4 counts the process and the workers it waited for.
    cpu = usage.ru_utime + usage.ru_stime
    if status != 0:
        raise SystemExit(f"python -m matchers score failed ({status})")
    lines = sum(1 for _ in out.open(encoding="utf-8"))
    size = out.stat().st_size
    for p in (src, people, out):
        p.unlink()
    return {
        "s": took,
        "cpu_s": cpu,
        "rss_mb": usage.ru_maxrss / 1024,
        "lines": lines,
        "bytes": size,
        "load": os.getloadavg()[0],
    }


def naive(notices: list[Notice], keywords: list[str]) -> tuple[float, float]:
    """cdist of every distinct keyword against every notice text, partial_ratio >= 90:
    (wall seconds, CPU seconds of all its threads)."""
    texts = [f"{n.title}\n{n.description}" for n in notices]
    t, cpu = time.perf_counter(), time.process_time()
    process.cdist(
        keywords,
        texts,
        scorer=fuzz.partial_ratio,
        processor=utils.default_process,
        score_cutoff=90,
        workers=-1,
    )
    return time.perf_counter() - t, time.process_time() - cpu


def run(name: str, args: argparse.Namespace) -> None:
    """Every figure for one load."""
    t = time.perf_counter()
    notices, profiles, _ = load(name, args.notices, args.profiles)
    keywords = sorted({k for p in profiles for k in p.keywords})
    print(
        f"\n== {name} load: {len(notices):,} notices x {len(profiles):,} profiles, "
        f"{len(keywords):,} distinct keywords ({sum(len(p.keywords) for p in profiles):,} in "
        f"all), built in {time.perf_counter() - t:.1f}s (not timed)"
    )
    with tempfile.TemporaryDirectory(prefix="bench-match-") as d:
        tmp = Path(d)
        t = time.perf_counter()
        corpus = CorpusStats.from_notices(notices)
        built = time.perf_counter() - t
        path = tmp / "corpus.json"
        path.write_text(json.dumps(corpus.to_json()), encoding="utf-8")
        t = time.perf_counter()
        CorpusStats.from_json(json.loads(path.read_text(encoding="utf-8")))
        loaded = time.perf_counter() - t
        print(
            f"corpus statistics: built in {built:.1f}s ({len(corpus.df):,} stems, "
            f"{path.stat().st_size / 1e6:.1f} MB of JSON), loaded in {loaded:.2f}s"
        )
        common = ["--load", name, "--notices", str(args.notices)]
        common += ["--profiles", str(args.profiles), "--corpus", str(path)]
        common += ["--workers", str(args.workers)] + (["--doubling"] if args.doubling else [])
        e, _ = child(["--measure", *common])
        engine = e["engine_s"] + loaded
        engine_cpu = e["engine_cpu_s"] + loaded
        print(
            f"engine: {engine:.1f}s, {engine_cpu:.1f} CPU-s (compile + read + index + score, "
            f"every row at the notify threshold, statistics loaded; load average "
            f"{e['load']:.1f}); {e['matches']:,} matches, "
            f"{e['matches'] / len(notices):.1f} per notice"
        )
        print(
            f"peak RSS: {e['rss_mb']:.0f} MB in the process, {e['worker_rss_mb']:.0f} MB in "
            f"its largest forked worker (target <= {TARGET_RSS_MB} MB)"
        )
        print(
            f"rows: {e['row_us']:.2f}us each to iterate; reasons written in bulk (records): "
            f"{e['record_us']:.1f}us a match ({e['reasons_per_match']:.1f} reasons each)"
        )
        print(
            f"incremental: 1,000 new notices x {len(profiles):,} profiles with the profiles "
            f"compiled: {e['incremental_s']:.2f}s ({e['incremental_matches']:,} matches), "
            f"{e['incremental_reasons_s']:.2f}s more for all {e['incremental_reasons']:,} "
            f"reasons; in a fresh process: compile {e['compile_s']:.2f}s, then "
            f"{e['cold_s']:.2f}s (target < 1s)"
        )
        gc.collect()
        o = cli(notices, profiles, path, tmp)
        print(
            f"python -m matchers score --out: {o['s']:.1f}s, {o['cpu_s']:.1f} CPU-s from start "
            f"to exit (load average {o['load']:.1f}), peak RSS {o['rss_mb']:.0f} MB, "
            f"{o['lines']:,} JSON lines with their reasons ({o['bytes'] / 1e9:.2f} GB), streamed"
        )
    subset = notices[: args.naive_subset]
    took, cpu = naive(subset, keywords)
    full, full_cpu = (x * len(notices) / len(subset) for x in (took, cpu))
    print(
        f"naive: {took:.1f}s, {cpu:.1f} CPU-s for {len(subset):,} notices x {len(keywords):,} "
        f"keywords, in this run (load average {os.getloadavg()[0]:.1f}) -> {full:.0f}s "
        f"({full / 60:.1f} min), {full_cpu:.0f} CPU-s extrapolated to {len(notices):,}"
    )
    print(
        f"ratio: engine {full / engine:.0f}x faster than naive by the clock, "
        f"{full_cpu / engine_cpu:.0f}x by CPU time (target >= {TARGET_RATIO}x); "
        f"{full / (engine + built):.0f}x with the statistics built in the same run; "
        f"the JSON-lines output {full / o['s']:.0f}x ({full_cpu / o['cpu_s']:.0f}x by CPU time)"
    )
    if args.doubling:
        d = e["doubling"]
        print(
            f"doubling: notices x{d['half'] / d['quarter']:.2f} "
            f"({args.notices // 4:,} -> {args.notices // 2:,}), profiles "
            f"x{d['quarter'] / d['quarter_half_profiles']:.2f} "
            f"({args.profiles // 2:,} -> {args.profiles:,})"
        )


def main(argv: list[str] | None = None) -> int:
    """Print the figures of each load asked for."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--load", choices=("synthetic", "realistic", "both"), default="both")
    ap.add_argument("--notices", type=int, default=100_000)
    ap.add_argument("--profiles", type=int, default=2_000)
    ap.add_argument("--naive-subset", type=int, default=1_000)
    ap.add_argument("--workers", type=int, default=0, help="MatchConfig.workers (0: all CPUs)")
    ap.add_argument("--doubling", action="store_true", help="also time a quarter and a half")
    ap.add_argument("--measure", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--corpus", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.measure:
        print(json.dumps(measure(args)))
        return 0
    print(f"{os.cpu_count()} CPUs; load average {os.getloadavg()[0]:.2f} at the start")
    for name in ("synthetic", "realistic") if args.load == "both" else (args.load,):
        run(name, args)
    print(f"load average {os.getloadavg()[0]:.2f} at the end")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
