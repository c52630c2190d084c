"""Scheduled jobs: thin wrappers that open the app context and call one service."""

from __future__ import annotations

import logging

from flask import Flask

from .clock import utcnow
from .db import get_sessions
from .harvesting import harvest_source
from .matching import store_hook
from .models import SourceState

logger = logging.getLogger(__name__)


def harvest_job(app: Flask, name: str, *, trigger: str = "schedule", force: bool = False) -> None:
    """Harvest one source, unless it is backing off after repeated failures (and not forced)."""
    with app.app_context():
        sessions = get_sessions(app)
        now = utcnow()
        with sessions.begin() as session:
            state = session.get(SourceState, name)
            wait_until = state.next_attempt_at if state else None
        if wait_until and wait_until > now and not force:
            logger.info("skipping %s: backing off until %s", name, wait_until.isoformat())
            return
        try:
            summary = harvest_source(
                sessions,
                app.config["SETTINGS"],
                name,
                utcnow,
                trigger=trigger,
                after_store=store_hook(app),
            )
        except Exception:  # the scheduler must survive anything one source does
            logger.exception("harvest job for %s failed", name)
            return
        logger.info("%s", summary.line())


def send_mail_job(app: Flask) -> None:
    """Send what is due in the outbox, after recovering what a dead sender handed over."""
    from .mail import send_outbox, send_runs

    def send() -> None:
        with app.app_context():
            try:
                report = send_outbox(get_sessions(app), app.config["SETTINGS"], utcnow)
            except Exception:  # the scheduler must survive a database or mail server hiccup
                logger.exception("sending the outbox failed")
                return
        if report.sent or report.recovered or report.deferred or report.failed:
            logger.info("outbox: %s", report.line())
        elif report.stopped:
            logger.debug("outbox: %s", report.line())

    send_runs(app).run(send)
