"""Serving the web app for `broker up` in gunicorn worker processes, one per CPU core.

waitress serves in-process when `[web] workers` is 1 (runtime.cli); the scheduler
beside gunicorn's workers is runtime.processes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Flask
from gunicorn.app.base import BaseApplication


class WebServer(BaseApplication):
    """gunicorn, configured in code: `load_app` runs in each worker after the fork."""

    def __init__(self, load_app: Callable[[], Flask], options: dict[str, Any]):
        self.load_app = load_app
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            # Settings newer than the installed gunicorn are left out.
            if key in self.cfg.settings:
                self.cfg.set(key, value)

    def load(self) -> Flask:
        return self.load_app()


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
        "graceful_timeout": 10,
        "keepalive": 5,
        # Two brokers on one machine would fight over one control socket; it isn't used.
        "control_socket_disable": True,
    }
