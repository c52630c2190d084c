"""The scheduler in a process of its own, beside gunicorn's web workers.

Python runs one thread at a time per process, so one process can't keep a second CPU
core busy; with `[web] workers` above 1, gunicorn forks that many worker processes,
each building its own app (and database connections) after the fork. The scheduler
then runs in a process of its own, started fresh rather than forked, so no worker ever
inherits its threads, its lock or its database connections.
"""

from __future__ import annotations

import contextlib
import logging
import os
import select
import signal
import subprocess
import sys
import time

# How often the scheduler process checks that `broker up` is still there.
PARENT_CHECK_SECONDS = 2.0


def start_scheduler_process(config_path: str | None) -> tuple[subprocess.Popen, str]:
    """Start the scheduler in a fresh process; its state: "started: NAMES" or "follower".

    The process takes the scheduler lock itself, and stops when `broker up` does. It is
    a plain subprocess, not a multiprocessing one, which forked workers would try to stop
    when they exit.
    """
    read_end, write_end = os.pipe()
    args = [config_path or "", str(write_end), str(os.getpid())]
    process = subprocess.Popen(
        [sys.executable, "-m", "broker.runtime.processes", *args], pass_fds=[write_end]
    )
    os.close(write_end)
    with os.fdopen(read_end) as report:
        ready, _, _ = select.select([report], [], [], 120)
        state = report.readline().strip() if ready else ""
    return process, state or "failed: the scheduler process stopped"


def run_scheduler_process(config_path: str | None, report_fd: int, parent: int) -> None:
    """The scheduler process: hold the lock, run the jobs, stop with `broker up`."""
    from broker import create_app
    from broker.config import load_settings
    from broker.locks import exclusive
    from broker.runtime.scheduler import SCHEDULER_LOCK, build_scheduler, harvest_job_names

    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    # `broker up` stops us with SIGTERM: leave the lock and the scheduler tidily.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    app = create_app(load_settings(config_path or None))
    engine = app.extensions["broker.engine"]
    with (
        os.fdopen(report_fd, "w") as report,
        contextlib.suppress(KeyboardInterrupt),
        exclusive(engine, SCHEDULER_LOCK) as leader,
    ):
        if not leader:
            report.write("follower\n")
            return
        scheduler = build_scheduler(app)
        scheduler.start()
        try:
            names = ", ".join(harvest_job_names(scheduler))
            report.write(f"started: {names or 'none'}\n")
            report.flush()
            # Killed without a chance to stop us, `broker up` would leave a scheduler behind.
            while os.getppid() == parent:
                time.sleep(PARENT_CHECK_SECONDS)
        finally:
            scheduler.shutdown(wait=False)


def stop_process(process: subprocess.Popen, timeout: float = 10) -> None:
    """Stop a child process, politely first."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


if __name__ == "__main__":
    run_scheduler_process(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]))
