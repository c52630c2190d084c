"""Friendly error pages; a failed request rolls back and never shows a traceback."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, current_app, g, render_template
from werkzeug.exceptions import HTTPException

logger = logging.getLogger(__name__)


def bad_link(reason: str, status: int, **context: Any):
    """The page for a member's signed link that can't be used ("expired", "tampered",
    "gone", "form_expired", "not_one_click"): what happened and how to get a new one,
    never an error page."""
    mail = current_app.config["SETTINGS"].mail
    return render_template(
        "errors/bad_link.html",
        reason=reason,
        network_name=mail.network_name,
        contact=mail.reply_to or mail.from_address,
        max_age_days=mail.link_max_age_days,
        **context,
    ), status


def init_app(app: Flask) -> None:
    """Register the 404/500 handlers."""
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _server_error)


def _http_error(exc: HTTPException):
    return render_template("errors/http.html", error=exc), exc.code or 500


def _server_error(exc: Exception):
    session = g.get("db_session")
    if session is not None:
        session.rollback()
    logger.exception("unhandled error")
    return render_template("errors/500.html"), 500
