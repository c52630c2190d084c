"""APScheduler 3 wiring: one interval job per enabled source, and the outbox sender."""

from __future__ import annotations

from datetime import timedelta

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.schedulers.blocking import BlockingScheduler
from flask import Flask

from . import jobs
from .clock import utcnow
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
    # `broker.mail.kick` finds it here to send freshly queued mail at once.
    app.extensions["broker.scheduler"] = scheduler
    return scheduler
