"""Rendering e-mails from templates/email/: a plain-text part and an HTML part for each.

The HTML templates are autoescaped and the text ones are not (a text part has no markup
to break), so one environment picks by file extension. Notice text reaches the HTML
only escaped, and links only when they are http(s).
"""

from __future__ import annotations

import functools
import re
import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask import Flask
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from broker.clock import utcnow
from broker.config import Settings, resource
from broker.formatting import london, money
from broker.mail.outbox import Email
from broker.models import Member
from broker.outreach.links import Links, base_url

TEMPLATES = resource("templates") / "email"
SUBJECT_LIMIT = 200
TEXT_WIDTH = 72


@dataclass(frozen=True)
class MailContext:
    """What composing needs besides the database: links and the [mail] wording."""

    links: Links
    network_name: str
    from_address: str
    # Where a member can write to: reply_to, else the from address.
    contact_address: str
    notify_address: str
    notify_threshold: int

    @classmethod
    def from_settings(
        cls, settings: Settings, secret_key: str, clock: Callable[[], datetime] = utcnow
    ) -> MailContext:
        """A context for these settings, signing links with `secret_key`."""
        mail = settings.mail
        return cls(
            links=Links(secret_key, base_url(settings), mail.link_max_age_days, clock),
            network_name=mail.network_name,
            from_address=mail.from_address,
            contact_address=mail.reply_to or mail.from_address,
            notify_address=mail.notify_address,
            notify_threshold=settings.matching.engine.notify_threshold,
        )

    @classmethod
    def for_app(cls, app: Flask, clock: Callable[[], datetime] = utcnow) -> MailContext:
        """The app's context (its settings and secret key)."""
        return cls.from_settings(app.config["SETTINGS"], app.secret_key, clock)


@dataclass(frozen=True)
class Footer:
    """Who sent a member's e-mail, why they get it, and the links to change that."""

    network_name: str
    why: str
    profile_url: str
    unsubscribe_url: str
    contact_address: str


def footer(context: MailContext, member: Member, why: str) -> Footer:
    """The footer of every member e-mail."""
    return Footer(
        network_name=context.network_name,
        why=why,
        profile_url=context.links.url(member.id, "profile"),
        unsubscribe_url=context.links.url(member.id, "unsubscribe"),
        contact_address=context.contact_address,
    )


@functools.cache
def environment() -> Environment:
    """The e-mail templates' environment: HTML autoescaped, text left as written."""
    env = Environment(
        loader=FileSystemLoader(str(TEMPLATES)),
        autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["london"] = london
    env.filters["money"] = money
    env.filters["wrap"] = wrap
    env.filters["quote"] = quote
    env.filters["upper_first"] = upper_first
    return env


def wrap(text: str, width: int = TEXT_WIDTH, indent: str = "") -> str:
    """Plain text wrapped for a text part, never breaking a word or a URL; `indent`
    starts the first line (e.g. "- " for a bullet) and spaces line up the rest."""
    return "\n".join(
        textwrap.fill(
            " ".join(paragraph.split()),
            width=width,
            initial_indent=indent,
            subsequent_indent=" " * len(indent),
            break_long_words=False,
            break_on_hyphens=False,
        )
        for paragraph in re.split(r"\n\s*\n", text or "")
        if paragraph.strip()
    )


def upper_first(text: str) -> str:
    """Text with its first letter a capital, for a name that starts a sentence or a
    heading ("your Social Enterprise Network" -> "Your Social Enterprise Network")."""
    return text[:1].upper() + text[1:]


def quote(text: str) -> str:
    """Text quoted as a reply quotes it, each line starting "> "."""
    return "\n>\n".join(
        wrap(paragraph, TEXT_WIDTH - 2).replace("\n", "\n> ").join(("> ", ""))
        for paragraph in re.split(r"\n\s*\n", text or "")
        if paragraph.strip()
    )


def render(kind: str, **context: Any) -> tuple[str, str]:
    """The text and HTML parts of one kind of e-mail."""
    env = environment()
    text = env.get_template(f"{kind}.txt").render(**context)
    html = env.get_template(f"{kind}.html").render(**context)
    # Blank lines left by template tags: at most one in a row.
    text = re.sub(r"\n{3,}", "\n\n", text).strip() + "\n"
    return text, html


def subject_line(text: str) -> str:
    """One header-safe line: no line breaks (they would start new headers), not too long."""
    line = " ".join(text.split())
    if len(line) > SUBJECT_LIMIT:
        line = line[: SUBJECT_LIMIT - 1].rsplit(" ", 1)[0] + "…"
    return line


def member_emails(
    kind: str,
    member: Member,
    subject: str,
    text: str,
    html: str,
    context: MailContext,
    notice_id: int | None = None,
) -> list[Email]:
    """One e-mail per address of a member, each with one-click unsubscribe headers."""
    headers = {
        "List-Unsubscribe": f"<{context.links.one_click_unsubscribe_url(member.id)}>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }
    return [
        Email(
            kind=kind,
            to_address=address,
            subject=subject_line(subject),
            text_body=text,
            html_body=html,
            member_id=member.id,
            notice_id=notice_id,
            headers=dict(headers),
        )
        for address in dict.fromkeys(member.emails or ())
    ]


def can_email(member: Member) -> bool:
    """Whether a member may be e-mailed at all: active, subscribed, with an address."""
    return bool(member.active and member.unsubscribed_at is None and member.emails)
