"""Running the scheduled send soon: `kick` after a commit that queued mail."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

from broker.clock import utcnow

if TYPE_CHECKING:
    from flask import Flask

# The scheduler's id for the send job, which `kick` moves forward.
SEND_JOB_ID = "mail:send"


class SendRuns:
    """The scheduled send's runs in this process, so that a kick is never lost.

    A kick between runs brings the next run forward to now; a kick during a run (which
    the scheduler would skip, one run at a time) makes that run go round once more.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._running = False
        self._again = False

    def run(self, send: Callable[[], object]) -> None:
        """Call `send`, and again for as long as kicks came in while it ran."""
        with self._lock:
            self._running = True
        try:
            while True:
                send()
                with self._lock:
                    # Decided under the lock, so a kick is either seen here or finds
                    # no run going and schedules one.
                    if not self._again:
                        self._running = False
                        return
                    self._again = False
        except BaseException:
            with self._lock:
                self._running = False
            raise

    def kick_running(self) -> bool:
        """Ask a run that is going to go round once more; False when none is going."""
        with self._lock:
            if self._running:
                self._again = True
            return self._running


def send_runs(app: Flask) -> SendRuns:
    """This app's SendRuns, made on first use."""
    return app.extensions.setdefault("broker.mail_runs", SendRuns())


def kick(app: Flask) -> bool:
    """Ask this process's scheduler to send the outbox now; False when it has none.

    Views call this after committing mail. Under `broker up` with one web process the
    scheduler runs beside the web app and sends at once; with several web processes
    the scheduler is in a process of its own, and its next run, at most
    `send_interval_seconds` away, sends the mail instead.
    """
    scheduler = app.extensions.get("broker.scheduler")
    if scheduler is None or not scheduler.running or scheduler.get_job(SEND_JOB_ID) is None:
        return False
    if not send_runs(app).kick_running():
        scheduler.modify_job(SEND_JOB_ID, next_run_time=utcnow())
    return True
