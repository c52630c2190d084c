"""Stopping promptly: Ctrl+C or SIGTERM ends `broker up` and `broker scheduler` within a
few seconds.

- Web requests in progress finish: waitress and gunicorn each wait for theirs.
- A harvest in flight sees the stop flag at its next pause (a polite delay, a retry's
  backoff) or page, and ends its run as "interrupted"; the next run resumes from the
  state saved with its last page (broker.harvest.running).
- A job still busy after GRACE_SECONDS (a harvest blocked in a slow read) is left behind:
  its run is marked interrupted, and the process ends without waiting for it. Each page
  is committed with its state, so the next run loses nothing and stores nothing twice.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from flask import Flask

from broker.clock import utcnow
from broker.db import unit_of_work
from broker.harvest.running import STOPPED, close_interrupted_runs
from broker.web.server import exit_at_once

logger = logging.getLogger(__name__)

GRACE_SECONDS = 2.0
# How long marking the runs left behind may take before the process ends anyway.
MARK_SECONDS = 1.0
# app.extensions keys: the stop flag jobs watch, the threads running a job, and the
# sources this process harvests.
STOP = "broker.stop"
BUSY = "broker.busy"
HARVESTING = "broker.harvesting"


def stop_flag(app: Flask) -> threading.Event:
    """The flag this process's jobs watch; set when it is told to stop."""
    return app.extensions.setdefault(STOP, threading.Event())


def harvesting(app: Flask) -> set[str]:
    """The sources this process is harvesting right now."""
    return app.extensions.setdefault(HARVESTING, set())


@contextmanager
def busy(app: Flask) -> Iterator[None]:
    """Mark this thread as running a job, which a stop waits for (for GRACE_SECONDS).

    Job threads are the scheduler's pool's, which are daemons: nothing else waits for them.
    """
    threads: set[threading.Thread] = app.extensions.setdefault(BUSY, set())
    me = threading.current_thread()
    threads.add(me)
    try:
        yield
    finally:
        threads.discard(me)


def stop_on_signals(app: Flask) -> None:
    """SIGTERM and Ctrl+C (SIGINT) set the stop flag and end the main thread's wait once
    (as SystemExit, which waitress, like Ctrl+C, takes as "finish the requests, stop")."""
    flag = stop_flag(app)

    def handler(signum: int, _frame: Any) -> None:
        if flag.is_set():
            return  # already stopping; a second Ctrl+C changes nothing
        flag.set()
        logger.info("%s: stopping", signal.Signals(signum).name)
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)


def wind_down(app: Flask, scheduler: Any | None) -> None:
    """Stop the scheduler and give its running jobs GRACE_SECONDS to end; if one won't,
    mark its harvest interrupted and end the process without it."""
    stop_flag(app).set()
    if scheduler is not None and scheduler.running:
        scheduler.shutdown(wait=False)
    deadline = time.monotonic() + GRACE_SECONDS
    for thread in _busy_threads(app):
        thread.join(max(0.0, deadline - time.monotonic()))
    if not _busy_threads(app):
        return
    names = sorted(harvesting(app))
    logger.warning(
        "stopping without waiting for %s: the next run resumes from the last page stored",
        ", ".join(names) or "a job",
    )
    marker = threading.Thread(target=_mark_left_behind, args=(app, names), daemon=True)
    marker.start()
    marker.join(MARK_SECONDS)
    # A thread blocked in a read can't be interrupted, and the interpreter would wait
    # for it at exit: leave now; the operating system closes its connections.
    exit_at_once(0)


def _busy_threads(app: Flask) -> list[threading.Thread]:
    """The threads still running a job."""
    return [t for t in list(app.extensions.get(BUSY, ())) if t.is_alive()]


def _mark_left_behind(app: Flask, names: list[str]) -> None:
    try:
        with unit_of_work(app) as session:
            for name in names:
                close_interrupted_runs(session, name, utcnow(), reason=STOPPED)
    except Exception:  # the next run marks them instead
        logger.exception("could not mark the harvests left behind as interrupted")
