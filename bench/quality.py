"""Matching quality on the shared eval set: the engine against three baselines.

Run: .venv/bin/python bench/quality.py [--eval DIR] [--threshold T] [--no-corpus]

The baselines: an exact whole-word search for any keyword (as portal keyword alerts
do), RapidFuzz partial_ratio >= 90 of any keyword, and CPV-only matching as portal
code alerts do (a notice code under one of the member's codes, or under a code one
of their keywords reaches through the CPV labels). The engine takes word rarity from
CorpusStats counted over the notices, as the broker counts it over its store;
--no-corpus uses the CPV-label prior alone.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from pathlib import Path

from rapidfuzz import fuzz, utils

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from matchers import (  # noqa: E402
    CorpusStats,
    MatchConfig,
    Matcher,
    notice_from_json,
    profile_from_json,
)
from matchers.cpv import normalise_code, significant  # noqa: E402

DEFAULT_EVAL = ROOT.parent / "shared" / "eval"


def relevant(notices: list[dict], truth: list[str]) -> set:
    """Ids of notices with a CPV code under one of the truth prefixes."""
    return {n["id"] for n in notices if any(c.startswith(t) for c in n["cpv"] for t in truth)}


def exact_baseline(notices: list[dict], keywords: list[str]) -> set:
    """Case-insensitive whole-word search, as portal keyword alerts do."""
    pats = [re.compile(r"(?<!\w)" + re.escape(k) + r"(?!\w)", re.I) for k in keywords]
    return {
        n["id"]
        for n in notices
        if any(p.search(n["title"] + "\n" + n["description"]) for p in pats)
    }


def fuzzy_baseline(notices: list[dict], keywords: list[str]) -> set:
    """Plain rapidfuzz partial_ratio >= 90 of any keyword against title + description."""
    return {
        n["id"]
        for n in notices
        if any(
            fuzz.partial_ratio(
                k,
                n["title"] + "\n" + n["description"],
                processor=utils.default_process,
                score_cutoff=90,
            )
            for k in keywords
        )
    }


def cpv_baseline(notices: list[dict], profile: dict, matcher: Matcher) -> set:
    """A notice code under one of the member's codes or of the codes its keywords reach."""
    codes = {normalise_code(c) for c in profile.get("cpv", ())}
    for k in profile["keywords"]:
        codes |= set(matcher.keyword_codes(k))
    prefixes = tuple(significant(c) for c in codes)
    return {n["id"] for n in notices if prefixes and any(c.startswith(prefixes) for c in n["cpv"])}


def prf(predicted: set, truth: set) -> tuple[float, float, float]:
    """Precision, recall and F1."""
    tp = len(predicted & truth)
    p = tp / len(predicted) if predicted else 0.0
    r = tp / len(truth) if truth else 0.0
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


def main(argv: list[str] | None = None) -> int:
    """Print per-profile and macro P/R/F1 for the engine and both baselines."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--eval", type=Path, default=DEFAULT_EVAL)
    ap.add_argument("--threshold", type=float, default=None)
    ap.add_argument("--no-corpus", action="store_true", help="CPV-label rarity only")
    args = ap.parse_args(argv)
    rows = [json.loads(line) for line in (args.eval / "notices.jsonl").open(encoding="utf-8")]
    raw_profiles = json.loads((args.eval / "profiles.json").read_text(encoding="utf-8"))
    # The truth prefixes are the yardstick only: the engine never sees them.
    profiles = [
        profile_from_json({k: v for k, v in p.items() if k != "truth"}) for p in raw_profiles
    ]
    notices = [notice_from_json(r) for r in rows]
    config = MatchConfig()
    threshold = config.notify_threshold if args.threshold is None else args.threshold
    t0 = time.perf_counter()
    corpus = None if args.no_corpus else CorpusStats.from_notices(notices)
    matcher = Matcher(profiles, config, corpus=corpus)
    matches = matcher.match(notices, threshold=threshold)
    took = time.perf_counter() - t0
    predicted: dict[str, set] = {p.id: set() for p in profiles}
    for m in matches:
        predicted[m.profile_id].add(m.notice_id)
    methods = {
        "engine": lambda p: predicted[p["id"]],
        "exact": lambda p: exact_baseline(rows, p["keywords"]),
        "fuzzy90": lambda p: fuzzy_baseline(rows, p["keywords"]),
        "cpv-only": lambda p: cpv_baseline(rows, p, matcher),
    }
    rarity = "CPV labels only" if corpus is None else "corpus statistics of these notices"
    print(
        f"{len(notices)} notices, {len(profiles)} profiles, threshold {threshold:g}, "
        f"engine {took:.2f}s (word rarity: {rarity})"
    )
    print(f"{'profile':<15}{'rel':>5} " + "".join(f"{m:>24}" for m in methods))
    print(f"{'':<21}" + "".join(f"{'n    P     R     F1':>24}" for _ in methods))
    macro = {m: [0.0, 0.0, 0.0] for m in methods}
    behind = []
    for p in raw_profiles:
        truth = relevant(rows, p["truth"])
        cells = []
        f1 = {}
        for name, fn in methods.items():
            got = fn(p)
            scores = prf(got, truth)
            f1[name] = scores[2]
            for i in range(3):
                macro[name][i] += scores[i] / len(raw_profiles)
            cells.append(f"{len(got):>6} {scores[0]:.3f} {scores[1]:.3f} {scores[2]:.3f}")
        print(f"{p['id']:<15}{len(truth):>5} " + "".join(f"{c:>24}" for c in cells))
        # Compared as the table shows them, to three places.
        worse = [m for m in methods if m != "engine" and round(f1[m], 3) > round(f1["engine"], 3)]
        behind += [f"{p['id']} ({', '.join(worse)})"] if worse else []
    print(
        f"{'macro':<21}"
        + "".join(f"{'':>6} {v[0]:.3f} {v[1]:.3f} {v[2]:.3f}".rjust(24) for v in macro.values())
    )
    best = max((m for m in methods if m != "engine"), key=lambda m: macro[m][2])
    ratio = macro["engine"][2] / macro[best][2] if macro[best][2] else float("inf")
    print(
        f"engine macro-F1 / best baseline ({best}) = {ratio:.2f}x; "
        f"precision {macro['engine'][0]:.3f} vs {macro[best][0]:.3f}"
    )
    print(
        "profiles where a baseline beats the engine: "
        + ("; ".join(behind) if behind else "none (target: none)")
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
