"""/healthz, for a process manager or a load balancer: is the database reachable, and
when did the scheduler last say it was alive? No login: it shows nothing private."""

from __future__ import annotations

from datetime import timedelta

from flask import Blueprint, current_app, jsonify
from sqlalchemy import select, text

from broker.clock import utcnow
from broker.db import get_session
from broker.models.runtime import Heartbeat

bp = Blueprint("health", __name__)

# The scheduler beats every 30 seconds (broker.runtime.scheduler); three missed is stale.
STALE_AFTER = timedelta(seconds=90)


@bp.get("/healthz")
def healthz():
    """200 while the database answers (the web app can serve), else 503; the scheduler's
    state is reported either way, as it may run on another machine."""
    session = get_session()
    try:
        session.execute(text("SELECT 1"))
        beat = session.scalar(select(Heartbeat).where(Heartbeat.name == "scheduler"))
    except Exception as exc:  # down, or not set up: the load balancer should look elsewhere
        session.rollback()
        current_app.logger.warning("health check: the database is unreachable: %s", exc)
        return jsonify(status="unavailable", database="unreachable"), 503
    scheduler: dict[str, object] = {"state": "no heartbeat yet"}
    if beat is not None:
        age = utcnow() - beat.beat_at
        scheduler = {
            "state": "stale" if age > STALE_AFTER else "running",
            "last_heartbeat": beat.beat_at.isoformat(),
            "seconds_ago": round(age.total_seconds()),
            "host": beat.host,
            "pid": beat.pid,
        }
    if not current_app.config["SETTINGS"].scheduler.enabled:
        scheduler["enabled"] = False
    response = jsonify(status="ok", database="ok", scheduler=scheduler)
    response.headers["Cache-Control"] = "no-store"
    return response
