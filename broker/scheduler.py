"""APScheduler 3 wiring: one interval job per enabled source."""

from __future__ import annotations

from datetime import timedelta

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.schedulers.blocking import BlockingScheduler
from flask import Flask

from . import jobs
from .clock import utcnow

# Spread the first runs out so that sources don't all start in the same second.
STAGGER = timedelta(seconds=20)
FIRST_RUN_DELAY = timedelta(seconds=5)
SCHEDULER_LOCK = "broker-scheduler"


def build_scheduler(app: Flask, blocking: bool = False) -> BaseScheduler:
    """A scheduler with one harvest job per enabled source; never the same job twice at once."""
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
    return scheduler
