"""Serving the web app for `broker up` in gunicorn worker processes, one per CPU core.

waitress serves in-process when `[web] workers` is 1 (runtime.cli); the scheduler
beside gunicorn's workers is runtime.processes.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
from collections.abc import Callable
from typing import Any

from flask import Flask
from gunicorn.app.base import BaseApplication
from gunicorn.arbiter import Arbiter

# Seconds the workers have to finish the requests in progress when the broker stops (a
# page takes milliseconds); within the five seconds a stop may take.
GRACEFUL_SECONDS = 3


class _Arbiter(Arbiter):
    """gunicorn's master, but Ctrl+C stops it as SIGTERM does: gracefully, letting the
    requests in progress finish (gunicorn's own Ctrl+C drops them); and what else must
    stop (the scheduler's process) is told at once, to stop alongside the workers."""

    def handle_term(self) -> None:
        self.app.on_stop()
        super().handle_term()

    def handle_int(self) -> None:
        self.handle_term()


def _leave_ctrl_c_to_the_master(worker: Any) -> None:
    """A terminal's Ctrl+C reaches every process; a worker leaves it to the master, which
    then stops it gracefully (gunicorn's post_worker_init hook)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def exit_at_once(code: int = 0) -> None:
    """End this process now, once its output is flushed.

    A process that forked from, or built, a large app spends seconds at exit tidying up
    its heap (in a forked worker, copying every page it touches); everything that matters
    (requests, transactions, locks) is over by now, and the system frees the rest.
    """
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    os._exit(code)


def _leave_at_once(arbiter: Any, worker: Any) -> None:
    """gunicorn's worker_exit hook: a worker that has finished leaves with the code it was
    leaving with, without the slow tidy-up (see exit_at_once). The master calls the hook
    too, for a worker already gone: it goes on."""
    if os.getpid() != worker.pid:
        return
    leaving = sys.exc_info()[1]
    code = leaving.code if isinstance(leaving, SystemExit) else (1 if leaving else 0)
    if isinstance(code, int):
        exit_at_once(code)


class WebServer(BaseApplication):
    """gunicorn, configured in code: `load_app` runs in each worker after the fork."""

    def __init__(
        self,
        load_app: Callable[[], Flask],
        options: dict[str, Any],
        on_stop: Callable[[], object] = lambda: None,
    ):
        self.load_app = load_app
        self.options = options
        self.on_stop = on_stop
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            # Settings newer than the installed gunicorn are left out.
            if key in self.cfg.settings:
                self.cfg.set(key, value)

    def load(self) -> Flask:
        return self.load_app()

    def run(self) -> None:
        """As BaseApplication.run, with the graceful Ctrl+C of _Arbiter."""
        try:
            _Arbiter(self).run()
        except RuntimeError as exc:
            print(f"\nError: {exc}\n", file=sys.stderr)
            sys.stderr.flush()
            sys.exit(1)


def gunicorn_options(host: str, port: int, workers: int, threads: int) -> dict[str, Any]:
    """gunicorn settings for `broker up`: threaded workers, errors to stderr, no access log."""
    return {
        "bind": f"{host}:{port}",
        "workers": workers,
        "threads": threads,
        "worker_class": "gthread" if threads > 1 else "sync",
        "proc_name": "sen-broker",
        "errorlog": "-",
        "accesslog": None,
        # A slow harvest never runs in a worker, so a request this long is stuck.
        "timeout": 120,
        "graceful_timeout": GRACEFUL_SECONDS,
        "post_worker_init": _leave_ctrl_c_to_the_master,
        "worker_exit": _leave_at_once,
        "keepalive": 5,
        # Two brokers on one machine would fight over one control socket; it isn't used.
        "control_socket_disable": True,
    }
