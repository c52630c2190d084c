"""The outbox: member e-mail waiting, sent and failed, and an admin's retry."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user

from broker import mail_status
from broker.clock import utcnow
from broker.db import get_session
from broker.mail import kick

bp = Blueprint("outbox", __name__, url_prefix="/outbox")

# (status filter, tab label); "" is every message.
TABS = (("", "All"), ("queued", "Waiting"), ("failed", "Failed"), ("sent", "Sent"))


@bp.get("/")
def index():
    """Messages by status, with why each failed one failed."""
    status = request.args.get("status", "")
    status = status if status in dict(TABS) else ""
    page = max(1, request.args.get("page", 1, type=int) or 1)
    session = get_session()
    settings = current_app.config["SETTINGS"]
    messages = mail_status.page_of_messages(session, status or None, page, settings.web.page_size)
    members, notices = mail_status.names_for(session, messages.items)
    return render_template(
        "outbox/index.html",
        tabs=TABS,
        status=status,
        counts=mail_status.counts(session),
        messages=messages,
        members=members,
        notices=notices,
        mail=settings.mail,
        page_url=lambda n: url_for("outbox.index", status=status or None, page=n),
        now=utcnow(),
    )


@bp.post("/<int:outbox_id>/retry")
def retry(outbox_id: int):
    """Queue a failed message again (admins only)."""
    if not current_user.is_admin:
        abort(403)
    session = get_session()
    try:
        message = mail_status.retry(session, outbox_id, utcnow())
    except mail_status.NotRetryable as exc:
        flash(f"Can't retry: {exc}.", "error")
    else:
        session.commit()
        kick(current_app._get_current_object())
        flash(
            f"Message to {message.to_address} queued again; it goes with the next send.", "success"
        )
    status = request.form.get("status", "")
    return redirect(url_for("outbox.index", status=status if status in dict(TABS) else None))
