"""Big batches over several processes: forked workers score contiguous shards.

Scoring a notice depends only on the notice and the compiled profiles, so shards
can be scored anywhere and joined in order: the result is the one a single
process gives. Workers are forked (they inherit the compiled profiles instead of
rebuilding them), and only from a single-threaded process, where forking is safe.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np

from .config import MatchConfig
from .scoring import Scored, concat
from .types import Notice

if TYPE_CHECKING:
    from .engine import Matcher

# The job a forked worker inherits: (matcher, notices, limit, wanted).
_JOB: tuple[Any, ...] | None = None
_SHARDS_PER_WORKER = 4
T = TypeVar("T")


def cpus() -> int:
    """CPUs this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def workers_for(notices: int, config: MatchConfig) -> int:
    """How many processes to use for a batch: 1 unless it is big and forking is safe."""
    if config.workers == 1 or notices < max(config.parallel_min_notices, 2):
        return 1
    if "fork" not in multiprocessing.get_all_start_methods():
        return 1
    # Forking a process with other threads can deadlock the child on a held lock.
    if threading.active_count() > 1:
        return 1
    wanted = config.workers if config.workers > 0 else cpus()
    return max(1, min(wanted, cpus()))


def pieces(make: Callable[[int], T], count: int, workers: int) -> Iterator[T]:
    """make(0), make(1), ... make(count - 1), made by forked workers, in order.

    Reasons are written this way for a big batch's output: what a piece says depends
    only on the batch and the compiled profiles, so any process makes the same piece.
    """
    global _JOB
    if workers <= 1 or count < 2:
        yield from map(make, range(count))
        return
    _JOB = (make,)
    try:
        with multiprocessing.get_context("fork").Pool(workers) as pool:
            # A few pieces ahead per worker, no more: the parent writes them out as
            # they come, and a slow reader must not leave the rest piling up in memory.
            pending: deque[Any] = deque()
            for i in range(count):
                pending.append(pool.apply_async(_piece, (i,)))
                if len(pending) >= 2 * workers:
                    yield pending.popleft().get()
            while pending:
                yield pending.popleft().get()
    finally:
        _JOB = None


def _piece(i: int) -> Any:
    """In a worker: one piece of output."""
    assert _JOB is not None
    return _JOB[0](i)


def run(
    matcher: Matcher,
    notices: Sequence[Notice],
    limit: float | None,
    wanted: np.ndarray | None,
    workers: int,
) -> Scored:
    """Score `notices` over `workers` forked processes; the same result as one process."""
    global _JOB
    matcher._state()
    matcher._vocab.arrays()
    step = -(-len(notices) // (workers * _SHARDS_PER_WORKER))
    shards = [(a, min(a + step, len(notices))) for a in range(0, len(notices), step)]
    _JOB = (matcher, notices, limit, wanted)
    try:
        with multiprocessing.get_context("fork").Pool(workers) as pool:
            results = pool.map(_shard, shards, chunksize=1)
    finally:
        _JOB = None
    parts = []
    for (a, _), (scored, words, expansions, tokens) in zip(shards, results, strict=True):
        scored.notice += a
        parts.append(scored)
        # The parent keeps what the workers learnt, so its next batch starts warm.
        matcher._vocab.merge(words, expansions, tokens)
    return concat(parts)


def _shard(
    bounds: tuple[int, int],
) -> tuple[Scored, list[str], dict[int, dict[int, float]], list[str]]:
    """In a worker: score one shard, and hand back the words and tokens learnt on the way."""
    assert _JOB is not None
    matcher, notices, limit, wanted = _JOB
    first, first_token = len(matcher._vocab.words), len(matcher._vocab.tokens)
    scored = matcher._score(notices[bounds[0] : bounds[1]], limit, wanted)
    return (scored, *matcher._vocab.export(first, first_token))
