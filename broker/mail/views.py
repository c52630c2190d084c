"""The outbox: member e-mail waiting, sent and failed, and an admin's retry."""

from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for

from broker.clock import utcnow
from broker.db import get_session, unit_of_work
from broker.mail import status
from broker.web.security import admin_only

bp = Blueprint("mail", __name__, url_prefix="/outbox")

# (status filter, tab label); "" is every message.
TABS = (("", "All"), ("queued", "Waiting"), ("failed", "Failed"), ("sent", "Sent"))


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
