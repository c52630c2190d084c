"""The home page: the latest notices and how each source is doing."""

from __future__ import annotations

from flask import Blueprint, current_app, render_template
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from ..db import get_session
from ..models import Notice
from ..sources import source_health

bp = Blueprint("notices", __name__)


@bp.get("/")
def index():
    """Latest published notices first, with the health of every configured source."""
    session = get_session()
    page_size = current_app.config["SETTINGS"].web.page_size
    notices = session.scalars(
        select(Notice)
        .options(selectinload(Notice.sources))
        .order_by(Notice.published.desc().nulls_last(), Notice.id.desc())
        .limit(page_size)
    ).all()
    total = session.scalar(select(func.count(Notice.id)))
    health = source_health(session)
    configured = current_app.config["SETTINGS"].sources
    return render_template(
        "notices/index.html", notices=notices, total=total, health=health, configured=configured
    )
