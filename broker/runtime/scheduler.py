"""APScheduler 3 wiring: one interval job per enabled source, a job that keeps the
jobs of the sources stored on the Sources page in step with the database, the outbox
sender and the digests; and, once at start, the matcher's warm-up.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from apscheduler.events import EVENT_SCHEDULER_SHUTDOWN, EVENT_SCHEDULER_STARTED
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.triggers.cron import CronTrigger
from flask import Flask

from broker.clock import utcnow
from broker.config import Settings, SourceSettings
from broker.db import Checkpointer, get_sessions
from broker.formatting import LONDON
from broker.harvest.catalogue import stored_sources
from broker.mail.runs import SEND_JOB_ID
from broker.runtime import jobs

logger = logging.getLogger(__name__)

# Spread the first runs out so that sources don't all start in the same second.
STAGGER = timedelta(seconds=20)
FIRST_RUN_DELAY = timedelta(seconds=5)
SCHEDULER_LOCK = "broker-scheduler"
# How soon a source added, changed or removed on the Sources page reaches the schedule.
SYNC_INTERVAL = timedelta(minutes=1)
SYNC_JOB = "sources:sync"
HARVEST_PREFIX = "harvest:"
BID_REMINDERS_JOB = "bids:remind"
FORGET_BUYERS_JOB = "network:forget"
# How often the scheduler says it is alive; /healthz calls it stale after three misses.
HEARTBEAT_INTERVAL = timedelta(seconds=30)
HEARTBEAT_JOB = "scheduler:heartbeat"
WARM_JOB = "matching:warm"


def build_scheduler(app: Flask) -> BaseScheduler:
    """A scheduler with a harvest job per enabled source and, unless mail is off, the
    outbox sender and the digests; never the same job twice at once.

    config.toml's sources are fixed for the life of the process; the stored ones are
    read now and then again every SYNC_INTERVAL.
    """
    settings = app.config["SETTINGS"]
    # In the background: the main thread waits for a signal (broker.runtime.stopping).
    scheduler = BackgroundScheduler(
        timezone=settings.scheduler.timezone,
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 3600},
    )
    first = utcnow() + FIRST_RUN_DELAY
    sources = [s for s in settings.sources.values() if s.enabled]
    try:
        sources += list(_wanted_stored(app).values())
    except Exception:  # the database may not be there yet; the sync job tries again
        logger.exception("could not read the sources stored on the Sources page")
    for index, source in enumerate(sources):
        _add_harvest_job(scheduler, app, source, first + STAGGER * index)
    scheduler.add_job(
        sync_jobs,
        "interval",
        seconds=SYNC_INTERVAL.total_seconds(),
        args=[app, scheduler],
        id=SYNC_JOB,
        name="sync the Sources page's sources",
    )
    # Once, at start: before the first harvest (FIRST_RUN_DELAY), which would otherwise
    # build the matcher and learn new words while it holds its transaction open.
    scheduler.add_job(
        jobs.warm_matcher_job,
        "date",
        run_date=utcnow(),
        args=[app],
        id=WARM_JOB,
        name="build the matcher and read the newest notices",
    )
    scheduler.add_job(
        jobs.heartbeat_job,
        "interval",
        seconds=HEARTBEAT_INTERVAL.total_seconds(),
        args=[app, utcnow()],
        id=HEARTBEAT_JOB,
        name="say the scheduler is alive",
        next_run_time=utcnow(),
    )
    if settings.mail.enabled:
        # Each run first recovers what a sender that died had handed over, so the run at
        # start is the recovery; a separate recovery job would only race it for the lock.
        scheduler.add_job(
            jobs.send_mail_job,
            "interval",
            seconds=settings.mail.send_interval_seconds,
            args=[app],
            id=SEND_JOB_ID,
            name="send the outbox",
            next_run_time=utcnow(),
        )
        # Digests only when mail goes out: queued unsent, they would pile up stale.
        add_digest_jobs(scheduler, app, settings)
        # Reminders are sent once each whenever they run; hourly, so a restart or a
        # reminder day reached overnight waits at most an hour.
        scheduler.add_job(
            jobs.bid_reminders_job,
            "interval",
            hours=1,
            args=[app],
            id=BID_REMINDERS_JOB,
            name="remind bids' members and owners of what is due",
            next_run_time=utcnow() + FIRST_RUN_DELAY,
        )
    # Whether or not mail goes out: what buyers never confirmed is deleted on time.
    scheduler.add_job(
        jobs.forget_buyers_job,
        "interval",
        hours=1,
        args=[app],
        id=FORGET_BUYERS_JOB,
        name="delete what buyers sent and never confirmed",
        next_run_time=utcnow() + FIRST_RUN_DELAY,
    )
    # The harvests' commits leave SQLite's write-ahead log to a thread of its own.
    checkpointer = Checkpointer(app.extensions["broker.engine"])
    scheduler.add_listener(lambda _event: checkpointer.start(), EVENT_SCHEDULER_STARTED)
    scheduler.add_listener(lambda _event: checkpointer.stop(), EVENT_SCHEDULER_SHUTDOWN)
    # `broker.mail.kick` finds it here to send freshly queued mail at once.
    app.extensions["broker.scheduler"] = scheduler
    return scheduler


def harvest_job_names(scheduler: BaseScheduler) -> list[str]:
    """The sources the scheduler harvests, in the order their jobs were added."""
    return [
        job.id.removeprefix(HARVEST_PREFIX)
        for job in scheduler.get_jobs()
        if job.id.startswith(HARVEST_PREFIX)
    ]


def sync_jobs(app: Flask, scheduler: BaseScheduler) -> None:
    """Add, reschedule or remove the jobs of the stored sources to match the database.

    A new or re-enabled source gets a job whose first run is a few seconds away; a new
    interval reschedules the job; a disabled or deleted source loses its job. Other
    changes (the URL, selectors...) need nothing here: each run reads them afresh.
    """
    settings = app.config["SETTINGS"]
    try:
        wanted = _wanted_stored(app)
    except Exception:  # a database hiccup must not stop the scheduler
        logger.exception("could not sync the stored sources' jobs")
        return
    scheduled = {
        job.id.removeprefix(HARVEST_PREFIX): job
        for job in scheduler.get_jobs()
        if job.id.startswith(HARVEST_PREFIX)
    }
    for name, job in scheduled.items():
        if name in settings.sources:
            continue  # config.toml's jobs stay as they started
        source = wanted.get(name)
        if source is None:
            scheduler.remove_job(job.id)
            logger.info("stopped harvesting %s: removed or disabled on the Sources page", name)
        elif job.trigger.interval != timedelta(minutes=source.interval_minutes):
            scheduler.reschedule_job(job.id, trigger="interval", minutes=source.interval_minutes)
            logger.info("%s now runs every %d minutes", name, source.interval_minutes)
    first = utcnow() + FIRST_RUN_DELAY
    for index, name in enumerate(n for n in wanted if n not in scheduled):
        _add_harvest_job(scheduler, app, wanted[name], first + STAGGER * index)
        logger.info("started harvesting %s, added on the Sources page", name)


def _wanted_stored(app: Flask) -> dict[str, SourceSettings]:
    """The enabled stored sources whose names config.toml doesn't use."""
    settings = app.config["SETTINGS"]
    with app.app_context(), get_sessions(app)() as session:
        stored = stored_sources(session)
    return {
        name: source
        for name, source in stored.items()
        if source.enabled and name not in settings.sources
    }


def _add_harvest_job(
    scheduler: BaseScheduler, app: Flask, source: SourceSettings, first_run: datetime
) -> None:
    scheduler.add_job(
        jobs.harvest_job,
        "interval",
        minutes=source.interval_minutes,
        args=[app, source.name],
        id=f"{HARVEST_PREFIX}{source.name}",
        name=f"harvest {source.name}",
        next_run_time=first_run,
    )


def digest_triggers(settings: Settings) -> dict[str, CronTrigger]:
    """When digests go out: every day, and weekly on one day, at `mail.digest_time`
    London time (so 07:30 stays 07:30 through the change to and from summer time)."""
    hour, minute = (int(part) for part in settings.mail.digest_time.split(":"))
    return {
        "daily": CronTrigger(hour=hour, minute=minute, timezone=LONDON),
        "weekly": CronTrigger(
            day_of_week=settings.mail.digest_weekday, hour=hour, minute=minute, timezone=LONDON
        ),
    }


def add_digest_jobs(scheduler: BaseScheduler, app: Flask, settings: Settings) -> None:
    """The daily and the weekly digest job."""
    for period, trigger in digest_triggers(settings).items():
        scheduler.add_job(
            jobs.digest_job,
            trigger,
            args=[app, period],
            id=f"digest:{period}",
            name=f"{period} digests",
        )
