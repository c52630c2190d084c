"""How notices and reasons are drawn on pages: badges, reasons, paragraphs, the navigation."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from flask import Flask, current_app
from flask_login import current_user
from markupsafe import Markup, escape
from sqlalchemy import select

from broker.db import get_session
from broker.formatting import days_left, london, money, source_name
from broker.models.runtime import DemoLoad

# (notice attribute, CSS class, words) for the badges a notice earns, in order.
BADGES = (
    ("reserved", "badge badge-reserved", "Reserved"),
    ("vcse", "badge", "VCSE"),
    ("community_benefits", "badge", "Community benefits"),
    ("changed_at", "badge badge-updated", "Updated"),
)


def badges(notice) -> Markup:
    """A notice's badges, each in words (never colour alone).

    Python rather than a Jinja macro: the triage page draws these on every row.
    """
    return Markup(
        " ".join(
            f'<span class="{css}">{words}</span>'
            for attribute, css, words in BADGES
            if getattr(notice, attribute)
        )
    )


# How a kind of reason is named where its sentence doesn't already say it.
REASON_KINDS = {"cpv": "CPV", "manual": "Added by hand"}


def reason_item(reason: Mapping[str, str] | Any) -> Markup:
    """One reason for a match as a list item, in words, naming its kind (CPV, Keywords...)
    only when the sentence doesn't start with it.

    A stored match's reasons are dicts, a trial's are matchers.Reason; Python rather than
    a Jinja macro, as a notice page lists every matched member's reasons.
    """
    if isinstance(reason, Mapping):
        kind, text = reason["kind"], reason["text"]
    else:
        kind, text = reason.kind, reason.text
    named = ""
    if kind != "manual" and not text.lower().startswith(kind):
        name = REASON_KINDS.get(kind, kind.capitalize())
        named = f'<span class="reason-kind">{escape(name)}:</span> '
    return Markup(f'<li class="reason reason-{escape(kind)}">{named}{escape(text)}</li>')


def paragraphs(text: str | None) -> Markup:
    """Plain text as escaped paragraphs, keeping its line breaks; never raw HTML."""
    blocks = [b.strip() for b in re.split(r"\n\s*\n", text or "") if b.strip()]
    return Markup(
        "".join(
            "<p>" + "<br>\n".join(escape(line) for line in block.splitlines()) + "</p>"
            for block in blocks
        )
    )


# (endpoint, label, admins only) for the main navigation, in order.
NAV = (
    ("triage.index", "Triage", False),
    ("members.index", "Members", False),
    ("notices.new", "Add a notice", False),
    ("bids.index", "Bids", False),
    ("harvest.index", "Sources", False),
    ("mail.index", "Outbox", False),
    ("dashboard.index", "Dashboard", False),
    ("accounts.user_list", "Users", True),
)


def nav_items() -> list[tuple[str, str]]:
    """The navigation links this user may follow (only endpoints that exist)."""
    admin = getattr(current_user, "is_admin", False)
    return [
        (endpoint, label)
        for endpoint, label, admin_only in NAV
        if endpoint in current_app.view_functions and (admin or not admin_only)
    ]


def is_demo() -> bool:
    """Whether `broker up --demo` made this database (for the banner on every page).

    Asked once per process: a database doesn't become a demo while a broker serves it.
    """
    app = current_app._get_current_object()
    if "broker.demo" not in app.extensions:
        try:
            found = get_session().scalar(select(DemoLoad.id).limit(1))
        except Exception:  # an error page for a database that is away: no banner
            get_session().rollback()
            return False
        app.extensions["broker.demo"] = found is not None
    return app.extensions["broker.demo"]


def init_app(app: Flask) -> None:
    """Register the filters and helpers with Jinja."""
    app.add_template_filter(london)
    app.add_template_filter(money)
    app.add_template_filter(source_name)
    app.add_template_filter(paragraphs)
    app.add_template_global(days_left)
    app.add_template_global(badges)
    app.add_template_global(reason_item)
    app.add_template_global(nav_items)
    app.add_template_global(is_demo)
