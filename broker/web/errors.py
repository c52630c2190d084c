"""Friendly error pages; a failed request rolls back and never shows a traceback."""

from __future__ import annotations

import logging

from flask import Flask, g, render_template
from werkzeug.exceptions import HTTPException

logger = logging.getLogger(__name__)


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
