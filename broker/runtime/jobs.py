"""Scheduled jobs: thin wrappers that open the app context and call one service."""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable
from datetime import datetime, timedelta

from flask import Flask

from broker.bids import changes, reminders
from broker.clock import utcnow
from broker.db import get_sessions, unit_of_work
from broker.harvest.catalogue import find_source
from broker.harvest.health import backing_off
from broker.harvest.running import harvest_source
from broker.locks import exclusive
from broker.matching.cache import get_cache
from broker.matching.store import store_hook
from broker.models import SourceState
from broker.models.runtime import Heartbeat
from broker.network import buyers
from broker.outreach import alerts, digests
from broker.outreach.compose import MailContext
from broker.runtime.stopping import busy, harvesting, stop_flag

logger = logging.getLogger(__name__)

# Held while members are told about new matches and changes, so that two harvests
# finishing together never tell one member the same thing twice.
TELL_LOCK = "broker-tell-members"
BID_REMINDERS_LOCK = "broker-bid-reminders"


def harvest_job(app: Flask, name: str, *, trigger: str = "schedule", force: bool = False) -> None:
    """Harvest one source, unless it is backing off after repeated failures (and not forced).

    A scheduled run of a source that was disabled or deleted on the Sources page since
    the scheduler last synced its jobs does nothing.
    """
    with app.app_context(), busy(app):
        settings = app.config["SETTINGS"]
        sessions = get_sessions(app)
        now = utcnow()
        try:
            with unit_of_work(app) as session:
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
        stop = stop_flag(app)
        if stop.is_set():
            return
        running = harvesting(app)
        running.add(name)
        try:
            summary = harvest_source(
                sessions,
                settings,
                name,
                utcnow,
                trigger=trigger,
                after_store=store_hook(app),
                stop=stop,
            )
        except Exception:  # the scheduler must survive anything one source does
            logger.exception("harvest job for %s failed", name)
            return
        finally:
            running.discard(name)
        logger.info("%s", summary.line())
        if stop.is_set():
            return  # the broker is stopping: members hear of it from the next run
        try:
            tell_members(app)
        except Exception:  # a mail problem must not stop the next harvest
            logger.exception("telling members after harvesting %s failed", name)


def warm_matcher_job(app: Flask) -> None:
    """At start: build the matcher and have it read the newest notices, so that the first
    harvest stores its matches as fast as the ones after it (MatcherCache.warm)."""
    with app.app_context():
        try:
            with get_sessions(app)() as session:
                read = get_cache(app).warm(session)
        except Exception:  # the first harvest builds it instead
            logger.exception("could not warm the matcher")
            return
    logger.info("matcher ready: read the newest %d notices", read)


def start_harvest(app: Flask, name: str) -> threading.Thread:
    """Harvest a source now, in a background thread with the job's own sessions (an
    admin's "Run now" on the Sources page)."""
    # An admin asked for it: run even if the source is backing off after failures.
    thread = threading.Thread(
        target=harvest_job,
        args=(app, name),
        kwargs={"trigger": "manual", "force": True},
        name=f"harvest-{name}",
        daemon=True,
    )
    thread.start()
    return thread


def tell_members(app: Flask) -> alerts.Notified | None:
    """After matching, in a transaction of its own: instant alerts and change notices.

    None when another process is doing it right now (whatever it leaves is told the
    next time, since what each member was told is recorded).
    """
    with exclusive(get_sessions(app).kw["bind"], TELL_LOCK) as acquired:
        if not acquired:
            logger.info("another process is telling members; leaving it to that one")
            return None
        with unit_of_work(app) as session:
            context, now = MailContext.for_app(app), utcnow()
            notified = alerts.tell_members(session, context, now)
            # A consortium bid's members hear of its notice's changes too.
            changed = changes.tell_changes(session, context, now)
    if changed:
        logger.info("told the members of %d bids that their notice changed", changed)
    logger.info("%s", notified.line())
    return notified


HEARTBEAT = "scheduler"


def heartbeat_job(app: Flask, started_at: datetime) -> None:
    """Say the scheduler is alive (for /healthz and `broker check`), with where it runs."""
    try:
        with unit_of_work(app) as session:
            beat = session.get(Heartbeat, HEARTBEAT)
            if beat is None:
                beat = Heartbeat(name=HEARTBEAT)
                session.add(beat)
            beat.beat_at = utcnow()
            beat.host, beat.pid, beat.started_at = socket.gethostname(), os.getpid(), started_at
    except Exception:  # a database hiccup: the next beat tries again
        logger.exception("the scheduler's heartbeat could not be written")


def digest_job(app: Flask, period: str) -> None:
    """Queue the daily or weekly digests."""
    with app.app_context(), busy(app):
        try:
            with unit_of_work(app) as session:
                told = digests.queue_digests(session, period, MailContext.for_app(app), utcnow())
        except Exception:  # the scheduler must survive it; tomorrow's digest carries it all
            logger.exception("the %s digests failed", period)
            return
        logger.info(
            "%s digests: %d e-mails to %d members queued", period, told.emails, told.members
        )


def bid_reminders_job(
    app: Flask, clock: Callable[[], datetime] = utcnow
) -> reminders.Reminded | None:
    """Queue the reminders of what is due on open bids, each once.

    None when another process is doing it right now; the reminders it leaves are sent
    at the next run (each is recorded when sent, so none goes twice).
    """
    bind = get_sessions(app).kw["bind"]
    with app.app_context(), busy(app), exclusive(bind, BID_REMINDERS_LOCK) as acquired:
        if not acquired:
            logger.info("another process is sending the bids' reminders")
            return None
        try:
            with unit_of_work(app) as session:
                reminded = reminders.send_due(
                    session,
                    MailContext.for_app(app),
                    app.config["SETTINGS"].bids.remind_days,
                    clock(),
                )
        except Exception:  # the scheduler must survive it; the next run sends what is due
            logger.exception("the bids' reminders failed")
            return None
    if reminded.reminders:
        logger.info("bids: %s", reminded.line())
    return reminded


def forget_buyers_job(app: Flask, clock: Callable[[], datetime] = utcnow) -> int | None:
    """Delete what buyers sent and never confirmed in `network.confirm_hours`; returns
    how many, or None when it failed (the next run tries again)."""
    hours = app.config["SETTINGS"].network.confirm_hours
    with app.app_context(), busy(app):
        try:
            with unit_of_work(app) as session:
                forgotten = buyers.forget_unconfirmed(session, timedelta(hours=hours), clock())
        except Exception:  # the scheduler must survive it; the next run deletes them
            logger.exception("deleting buyers' unconfirmed submissions failed")
            return None
    if forgotten:
        logger.info("network: %d unconfirmed buyers' submissions deleted", forgotten)
    return forgotten


def send_mail_job(app: Flask) -> None:
    """Send what is due in the outbox, after recovering what a dead sender handed over."""
    from broker.mail.runs import send_runs
    from broker.mail.sender import send_outbox

    def send() -> None:
        with app.app_context(), busy(app):
            try:
                report = send_outbox(get_sessions(app), app.config["SETTINGS"], utcnow)
            except Exception:  # the scheduler must survive a database or mail server hiccup
                logger.exception("sending the outbox failed")
                return
        if report.sent or report.kept or report.recovered or report.deferred or report.failed:
            logger.info("outbox: %s", report.line())
        elif report.stopped:
            logger.debug("outbox: %s", report.line())

    send_runs(app).run(send)
