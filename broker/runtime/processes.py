"""The scheduler in a process of its own, beside gunicorn's web workers.

Python runs one thread at a time per process, so one process can't keep a second CPU
core busy; with `[web] workers` above 1, gunicorn forks that many worker processes,
each building its own app (and database connections) after the fork. The scheduler
then runs in a process of its own, started fresh rather than forked, so no worker ever
inherits its threads, its lock or its database connections.
"""

from __future__ import annotations

import json
import logging
import os
import select
import subprocess
import sys
from typing import Any

# How often the scheduler process checks that `broker up` is still there.
PARENT_CHECK_SECONDS = 2.0


def start_scheduler_process(
    config_path: str | None, overrides: dict[str, Any] | None = None
) -> tuple[subprocess.Popen, str]:
    """Start the scheduler in a fresh process; its state: "started: NAMES" or "follower".

    The process takes the scheduler lock itself, and stops when `broker up` does. It is
    a plain subprocess, not a multiprocessing one, which forked workers would try to stop
    when they exit. `overrides` are `broker up`'s own settings (its --host and --port,
    which the links in e-mails use), so the scheduler's mail says what the web app does.
    """
    read_end, write_end = os.pipe()
    args = [config_path or "", str(write_end), str(os.getpid()), json.dumps(overrides or {})]
    process = subprocess.Popen(
        [sys.executable, "-m", "broker.runtime.processes", *args], pass_fds=[write_end]
    )
    os.close(write_end)
    with os.fdopen(read_end) as report:
        ready, _, _ = select.select([report], [], [], 120)
        state = report.readline().strip() if ready else ""
    return process, state or "failed: the scheduler process stopped"


def run_scheduler_process(
    config_path: str | None, report_fd: int, parent: int, overrides: dict[str, Any]
) -> None:
    """The scheduler process: hold the lock, run the jobs, stop with `broker up`."""
    from broker import create_app
    from broker.config import load_settings
    from broker.locks import exclusive
    from broker.runtime.scheduler import SCHEDULER_LOCK, build_scheduler, harvest_job_names
    from broker.runtime.stopping import stop_flag, stop_on_signals, wind_down

    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    app = create_app(load_settings(config_path or None, overrides=overrides))
    # `broker up` stops us with SIGTERM, a terminal's Ctrl+C reaches us directly: either
    # way the jobs are told, and a harvest stops at its next pause or page.
    stop_on_signals(app)
    engine = app.extensions["broker.engine"]
    with os.fdopen(report_fd, "w") as report, exclusive(engine, SCHEDULER_LOCK) as leader:
        if not leader:
            report.write("follower\n")
            return
        scheduler = build_scheduler(app)
        try:
            scheduler.start()
            names = ", ".join(harvest_job_names(scheduler))
            report.write(f"started: {names or 'none'}\n")
            report.flush()
            # Killed without a chance to stop us, `broker up` would leave a scheduler behind.
            flag = stop_flag(app)
            while os.getppid() == parent and not flag.wait(PARENT_CHECK_SECONDS):
                pass
        except SystemExit:
            pass  # a signal: wind down below
        finally:
            wind_down(app, scheduler)


def stop_process(process: subprocess.Popen, timeout: float = 5) -> None:
    """Stop a child process, politely first."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


if __name__ == "__main__":
    from broker.web.server import exit_at_once

    run_scheduler_process(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), json.loads(sys.argv[4]))
    exit_at_once(0)  # stopped and closed: skip the slow tidy-up of a large heap
