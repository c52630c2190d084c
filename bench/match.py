"""Matching speed and memory: the engine against naive RapidFuzz on synthetic data.

Run: .venv/bin/python bench/match.py [--notices 100000] [--profiles 2000]
Prints figures; it is not a timed test. The naive baseline needs numpy (rapidfuzz cdist).

The engine's time is the whole process: compiling the profiles, then reading,
indexing and scoring every notice, ending with every (profile, notice, score) row
at the notify threshold. Word rarity comes from CorpusStats built over the same
notices (as the broker builds it over its store); its build is timed on its own
and with the engine.
"""

from __future__ import annotations

import argparse
import gc
import json
import resource
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import synthetic  # noqa: E402
from rapidfuzz import fuzz, process, utils  # noqa: E402

from matchers import CorpusStats, MatchConfig, Matcher  # noqa: E402


def peak_rss_mb(who: int = resource.RUSAGE_SELF) -> float:
    """Peak resident set size so far (Linux reports KiB); RUSAGE_CHILDREN: the largest child."""
    return resource.getrusage(who).ru_maxrss / 1024


def run_engine(
    notices: list, profiles: list, corpus: CorpusStats | None, config: MatchConfig
) -> tuple[float, int, Matcher]:
    """Build a matcher and match every notice: the whole process, timed."""
    t = time.perf_counter()
    matcher = Matcher(profiles, config, corpus=corpus)
    rows = matcher.rows(notices)
    return time.perf_counter() - t, len(rows), matcher


def naive(notices: list, keywords: list[str]) -> float:
    """cdist of every distinct keyword against every notice text, partial_ratio >= 90."""
    texts = [f"{n.title}\n{n.description}" for n in notices]
    t = time.perf_counter()
    process.cdist(
        keywords,
        texts,
        scorer=fuzz.partial_ratio,
        processor=utils.default_process,
        score_cutoff=90,
        workers=-1,
    )
    return time.perf_counter() - t


def main(argv: list[str] | None = None) -> int:
    """Print engine time, naive extrapolation, ratio, peak RSS, incremental and doubling costs."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--notices", type=int, default=100_000)
    ap.add_argument("--profiles", type=int, default=2_000)
    ap.add_argument("--naive-subset", type=int, default=1_000)
    ap.add_argument("--doubling-notices", type=int, default=25_000)
    ap.add_argument("--workers", type=int, default=0, help="MatchConfig.workers (0: all CPUs)")
    args = ap.parse_args(argv)
    config = MatchConfig(workers=args.workers)

    t = time.perf_counter()
    rows = synthetic.load_eval()
    notices = synthetic.notices(args.notices, seed=1, rows=rows)
    profiles = synthetic.profiles(args.profiles, seed=2, rows=rows)
    fresh = synthetic.notices(1_000, seed=3, rows=rows, prefix="new")
    keywords = sorted({k for p in profiles for k in p.keywords})
    vocab = {w for n in notices[:20_000] for w in f"{n.title} {n.description}".lower().split()}
    print(
        f"data: {len(notices):,} notices, {len(profiles):,} profiles, "
        f"{len(keywords):,} distinct keywords, {len(vocab):,} words in the first 20k notices "
        f"(built in {time.perf_counter() - t:.1f}s, not timed)"
    )
    gc.collect()

    t = time.perf_counter()
    corpus = CorpusStats.from_notices(notices)
    corpus_took = time.perf_counter() - t
    saved = json.dumps(corpus.to_json())
    t = time.perf_counter()
    corpus = CorpusStats.from_json(json.loads(saved))
    load_took = time.perf_counter() - t
    print(
        f"corpus statistics: built in {corpus_took:.1f}s from {corpus.docs:,} notices "
        f"({len(corpus.df):,} stems, {len(saved) / 1e6:.1f} MB of JSON, loaded in "
        f"{load_took:.2f}s)"
    )

    took, count, matcher = run_engine(notices, profiles, corpus, config)
    print(
        f"engine: {took:.1f}s for {len(notices):,} x {len(profiles):,} "
        f"(build + read + index + match), {count:,} matches at the notify threshold "
        f"({config.notify_threshold})"
    )
    total = took + load_took
    print(
        f"engine with the corpus statistics loaded from JSON: {total:.1f}s; "
        f"with them built in the same run instead: {took + corpus_took:.1f}s"
    )
    rss = peak_rss_mb()
    child_rss = peak_rss_mb(resource.RUSAGE_CHILDREN)

    found = matcher.rows(notices[:5_000])
    t = time.perf_counter()
    stored = sum(1 for _ in found)
    per_row = (time.perf_counter() - t) / max(stored, 1)
    sample = found.matches()
    t = time.perf_counter()
    written = sum(len(m.reasons) for m in sample)
    per_match = (time.perf_counter() - t) / max(len(sample), 1)
    print(
        f"rows: {per_row * 1e6:.2f}us per (profile, notice, score) row to iterate; "
        f"reasons are written on first read: {per_match * 1e6:.0f}us per match "
        f"({written:,} reasons for {len(sample):,} matches)"
    )

    t = time.perf_counter()
    new = matcher.rows(fresh)
    warm = time.perf_counter() - t
    print(
        f"incremental: {warm:.2f}s for 1,000 new notices x {len(profiles):,} profiles with "
        f"the index warm ({len(new):,} matches)"
    )
    del matcher, found, sample, new
    gc.collect()
    t = time.perf_counter()
    cold = Matcher(profiles, config, corpus=corpus)
    cold.rows([])  # compiles the profiles
    built = time.perf_counter() - t
    t = time.perf_counter()
    new = cold.rows(fresh)
    matched = time.perf_counter() - t
    t = time.perf_counter()
    written = sum(len(m.reasons) for m in new.matches())
    explained = time.perf_counter() - t
    print(
        f"incremental in a fresh process (a harvest job): profiles compiled in {built:.2f}s, "
        f"then {matched:.2f}s for the 1,000 notices ({len(new):,} matches), "
        f"{explained:.2f}s more to write all {written:,} reasons"
    )
    del cold, new
    gc.collect()

    subset = notices[: args.naive_subset]
    naive_took = naive(subset, keywords)
    naive_full = naive_took * len(notices) / len(subset)
    print(
        f"naive: {naive_took:.2f}s for {len(subset):,} notices x {len(keywords):,} keywords "
        f"-> {naive_full:.0f}s ({naive_full / 60:.1f} min) extrapolated to {len(notices):,}"
    )
    print(
        f"ratio: engine is {naive_full / took:.0f}x faster than naive "
        f"({naive_full / (took + corpus_took):.0f}x with the corpus statistics built in the "
        f"same run; target >= 100x)"
    )
    print(
        f"peak RSS after the full run: {rss:.0f} MB in the main process, {child_rss:.0f} MB in "
        f"the largest worker (forked: most of it shared with the main process; target <= "
        f"1536 MB)"
    )

    store = 30
    t = time.perf_counter()
    m30 = Matcher(profiles, config, corpus=corpus)
    n30 = len(m30.rows(notices, threshold=store))
    print(
        f"engine at the broker's store threshold ({store}): {time.perf_counter() - t:.1f}s, "
        f"{n30:,} matches"
    )
    del m30
    gc.collect()

    half = args.doubling_notices
    a, _, _ = run_engine(notices[:half], profiles, corpus, config)
    b, _, _ = run_engine(notices[: 2 * half], profiles, corpus, config)
    print(
        f"notices double ({half:,} -> {2 * half:,}, {len(profiles):,} profiles): "
        f"{a:.1f}s -> {b:.1f}s (x{b / a:.2f})"
    )
    small = profiles[: len(profiles) // 2]
    c, _, _ = run_engine(notices[:half], small, corpus, config)
    print(
        f"profiles double ({len(small):,} -> {len(profiles):,}, {half:,} notices): "
        f"{c:.1f}s -> {a:.1f}s (x{a / c:.2f})"
    )
    serial = MatchConfig(workers=1)
    s_a, _, _ = run_engine(notices[:half], profiles, corpus, serial)
    s_b, _, _ = run_engine(notices[: 2 * half], profiles, corpus, serial)
    s_c, _, _ = run_engine(notices[:half], small, corpus, serial)
    print(
        f"in one process: notices double {s_a:.1f}s -> {s_b:.1f}s (x{s_b / s_a:.2f}), "
        f"profiles double {s_c:.1f}s -> {s_a:.1f}s (x{s_a / s_c:.2f})"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
