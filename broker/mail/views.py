"""The outbox: member e-mail waiting, sent and failed, and an admin's retry."""

from __future__ import annotations

import re

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)

from broker.clock import utcnow
from broker.db import get_session, unit_of_work
from broker.mail import status
from broker.models.mail import OutboxMessage
from broker.web.security import admin_only

bp = Blueprint("mail", __name__, url_prefix="/outbox")

# (status filter, tab label); "" is every message.
TABS = (("", "All"), ("queued", "Waiting"), ("failed", "Failed"), ("sent", "Sent"))

# The HTML part of a message, shown in a frame on its page: nothing in it runs (no
# scripts, no forms, no plugins; `sandbox` even when opened on its own), it loads nothing
# from elsewhere but images, it styles itself as mail programs let it (inline), only this
# site may frame it, and its links open in a new tab, outside the sandbox.
HTML_PART_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src https: data:; "
    "form-action 'none'; base-uri 'none'; frame-ancestors 'self'; "
    "sandbox allow-popups allow-popups-to-escape-sandbox"
)
_HEAD = re.compile(r"<head(\s[^>]*)?>", re.IGNORECASE)


@bp.get("/")
def index():
    """Messages by status, with why each failed one failed."""
    tab = request.args.get("status", "")
    tab = tab if tab in dict(TABS) else ""
    page = max(1, request.args.get("page", 1, type=int) or 1)
    session = get_session()
    settings = current_app.config["SETTINGS"]
    messages = status.page_of_messages(session, tab or None, page, settings.web.page_size)
    members, notices = status.names_for(session, messages.items)
    return render_template(
        "mail/index.html",
        tabs=TABS,
        status=tab,
        counts=status.counts(session),
        messages=messages,
        members=members,
        notices=notices,
        mail=settings.mail,
        page_url=lambda n: url_for("mail.index", status=tab or None, page=n),
        now=utcnow(),
    )


@bp.get("/<int:outbox_id>")
def message(outbox_id: int):
    """One message as the member gets it: its headers, both parts and its links."""
    session = get_session()
    outbox = session.get(OutboxMessage, outbox_id) or abort(404)
    settings = current_app.config["SETTINGS"]
    try:
        received, problem = status.as_received(outbox, settings.mail), ""
    except (ValueError, TypeError) as exc:
        received, problem = None, str(exc)
    members, notices = status.names_for(session, [outbox])
    return render_template(
        "mail/message.html",
        message=outbox,
        received=received,
        problem=problem,
        members=members,
        notices=notices,
        mail=settings.mail,
    )


@bp.get("/<int:outbox_id>/html")
def message_html(outbox_id: int):
    """The HTML part alone, for the frame on the message's page (see HTML_PART_CSP)."""
    outbox = get_session().get(OutboxMessage, outbox_id) or abort(404)
    try:
        html = status.as_received(outbox, current_app.config["SETTINGS"].mail).html
    except (ValueError, TypeError):
        html = outbox.html_body
    # Links open in a new tab rather than inside the frame.
    base = '<base target="_blank">'
    html, found = _HEAD.subn(lambda m: m.group(0) + base, html, count=1)
    response = Response(html if found else base + html, mimetype="text/html")
    response.headers["Content-Security-Policy"] = HTML_PART_CSP
    response.headers["X-Frame-Options"] = "SAMEORIGIN"
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.post("/<int:outbox_id>/retry")
@admin_only
def retry(outbox_id: int):
    """Queue a failed message again (admins only)."""
    try:
        with unit_of_work() as session:
            message = status.retry(session, outbox_id, utcnow())
    except status.NotRetryable as exc:
        flash(f"Can't retry: {exc}.", "error")
    else:
        flash(
            f"Message to {message.to_address} queued again; it goes with the next send.", "success"
        )
    tab = request.form.get("status", "")
    return redirect(url_for("mail.index", status=tab if tab in dict(TABS) else None))
