"""APScheduler 3 wiring: one interval job per enabled source, the outbox sender and
the digests."""

from __future__ import annotations

from datetime import timedelta

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.cron import CronTrigger
from flask import Flask

from . import jobs
from .clock import utcnow
from .config import Settings
from .formatting import LONDON
from .mail import SEND_JOB_ID

# Spread the first runs out so that sources don't all start in the same second.
STAGGER = timedelta(seconds=20)
FIRST_RUN_DELAY = timedelta(seconds=5)
SCHEDULER_LOCK = "broker-scheduler"


def build_scheduler(app: Flask, blocking: bool = False) -> BaseScheduler:
    """A scheduler with a harvest job per enabled source and, unless mail is off, the
    outbox sender; never the same job twice at once.
    """
    settings = app.config["SETTINGS"]
    cls = BlockingScheduler if blocking else BackgroundScheduler
    scheduler = cls(
        timezone=settings.scheduler.timezone,
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 3600},
    )
    first = utcnow() + FIRST_RUN_DELAY
    for index, source in enumerate(settings.enabled_sources()):
        scheduler.add_job(
            jobs.harvest_job,
            "interval",
            minutes=source.interval_minutes,
            args=[app, source.name],
            id=f"harvest:{source.name}",
            name=f"harvest {source.name}",
            next_run_time=first + STAGGER * index,
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
    # `broker.mail.kick` finds it here to send freshly queued mail at once.
    app.extensions["broker.scheduler"] = scheduler
    return scheduler


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
