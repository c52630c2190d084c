"""Run by test_engine in a fresh single-threaded process, where batches may fork.

(The test process itself runs server threads for other tests, so it never forks.)
Exits 0 when parallel scoring equals one-process scoring.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import sys
from pathlib import Path

from matchers import MatchConfig, Matcher, Profile, engine, notice_from_json, parallel

HERE = Path(__file__).resolve().parent


def main() -> None:
    spec = importlib.util.spec_from_file_location("engine_tests", HERE / "test_engine.py")
    engine_tests = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(engine_tests)
    profiles = engine_tests.PROFILES
    lines = (HERE.parent / "data" / "matchers_eval_sample.jsonl").read_text().splitlines()
    notices = [notice_from_json(json.loads(line)) for line in lines]
    many = [dataclasses.replace(n, id=f"{n.id}#{i}") for i in range(40) for n in notices]
    config = MatchConfig(workers=2, parallel_min_notices=2)
    assert parallel.workers_for(len(many), config) == 2, "expected to fork two workers"

    split = Matcher(profiles, config).rows(many, threshold=1)
    alone = Matcher(profiles, dataclasses.replace(config, workers=1)).rows(many, threshold=1)
    assert list(split) == list(alone), "parallel rows differ from one process"
    assert split.matches()[5].reasons == alone.matches()[5].reasons

    # Columns for storing: slices scored and explained by the workers, in order, each
    # notice covered once, the rows and reasons those of one process.
    engine.SLICE = 50
    pieces = list(Matcher(profiles, config).columns(many, threshold=1))
    assert len(pieces) == 8
    assert [n for piece in pieces for n in piece.covers] == [n.id for n in many]
    rows = [
        (p, n, s, piece.reason_sets[k])
        for piece in pieces
        for p, n, s, k in zip(
            piece.profiles, piece.notices, piece.scores, piece.reasons, strict=True
        )
    ]
    assert rows == list(alone.records()), "parallel columns differ from one process"

    # A profile arriving after a parallel batch must still find the words workers learnt.
    m = Matcher(profiles, config)
    m.rows(many)
    late_profile = Profile(id="late", keywords=("maintainance",))
    m.update(late_profile)
    late = Matcher([*profiles, late_profile], config)
    assert list(m.rows(notices, threshold=1)) == list(late.rows(notices, threshold=1))
    print("parallel ok", len(split))


if __name__ == "__main__":
    main()
    sys.exit(0)
