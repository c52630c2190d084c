"""Scheduled jobs: thin wrappers that open the app context and call one service."""

from __future__ import annotations

import logging

from flask import Flask

from .clock import utcnow
from .db import get_sessions
from .harvesting import harvest_source
from .matching import store_hook
from .models import SourceState
from .sources import backing_off
from .stored_sources import find_source

logger = logging.getLogger(__name__)


def harvest_job(app: Flask, name: str, *, trigger: str = "schedule", force: bool = False) -> None:
    """Harvest one source, unless it is backing off after repeated failures (and not forced).

    A scheduled run of a source that was disabled or deleted on the Sources page since
    the scheduler last synced its jobs does nothing.
    """
    with app.app_context():
        settings = app.config["SETTINGS"]
        sessions = get_sessions(app)
        now = utcnow()
        try:
            with sessions.begin() as session:
                source = find_source(session, settings, name)
                state = session.get(SourceState, name)
                wait_until = state.next_attempt_at if state else None
        except Exception:  # the database may be away for a moment; try at the next run
            logger.exception("harvest job for %s could not read its state", name)
            return
        if source is None:
            logger.info("skipping %s: it is no longer configured", name)
            return
        if not force and trigger == "schedule" and not source.enabled:
            logger.info("skipping %s: it is disabled", name)
            return
        if backing_off(wait_until, now) and not force:
            logger.info("skipping %s: backing off until %s", name, wait_until.isoformat())
            return
        try:
            summary = harvest_source(
                sessions,
                settings,
                name,
                utcnow,
                trigger=trigger,
                after_store=store_hook(app),
            )
        except Exception:  # the scheduler must survive anything one source does
            logger.exception("harvest job for %s failed", name)
            return
        logger.info("%s", summary.line())
