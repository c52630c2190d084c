"""Notices as members read them in e-mails: plain `Opportunity` dataclasses.

Each one says what it is in a sentence or two, who is buying and where, the value and
the deadline with days left, why it matched, the reserved and VCSE flags in words, the
source link and the member's own one-click answer links. Templates see only these.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

import matchers
from broker.formatting import days_left, london, money, source_name
from broker.models import Notice, NoticeChange, NoticeSource, ToldNotice
from broker.models.notices import SOURCE_PRIORITY
from broker.outreach.links import Links

# A buyer's status meaning the opportunity is off.
CANCELLED_STATUSES = frozenset({"cancelled", "withdrawn"})
SUMMARY_LIMIT = 300
# Hyphen, en and em dash: what notices put between a heading and its text.
DASHES = "-\u2013\u2014"
MAX_REASONS = 5
# Amended fields worth naming to a member (deadline and status have sentences of their own).
AMENDED_FIELDS = {"title": "title", "description": "description", "value": "value"}


@dataclass(frozen=True)
class Opportunity:
    """One notice in one member's e-mail."""

    notice_id: int
    title: str
    summary: str
    buyer: str
    where: str | None
    value: str | None
    deadline: str | None
    days_left: str | None
    reasons: list[str]
    flags: list[str]
    source_name: str | None
    source_url: str | None
    interested_url: str
    decline_url: str
    score: int | None = None
    cancelled: bool = False
    # For updated notices: what changed since the member was told, in sentences.
    changes: list[str] = field(default_factory=list)


def is_cancelled(notice: Notice) -> bool:
    """Whether the buyer has called the opportunity off."""
    return (notice.status or "").lower() in CANCELLED_STATUSES


def still_open(now: datetime) -> Any:
    """SQL: notices worth telling a member about now (deadline ahead or unknown, not an award)."""
    return (
        or_(Notice.deadline.is_(None), Notice.deadline > now),
        Notice.notice_type != "award",
    )


def not_cancelled() -> Any:
    """SQL: notices the buyer has not called off."""
    return or_(Notice.status.is_(None), Notice.status.not_in(sorted(CANCELLED_STATUSES)))


def summarise(description: str, title: str = "", limit: int = SUMMARY_LIMIT) -> str:
    """What a notice is in one or two plain sentences, cut at a word if still too long."""
    text = " ".join((description or "").split())
    # Many notices open by repeating their title as a heading ("Title. The council..."):
    # say it once, but keep a sentence that merely starts with the same words.
    title = " ".join(title.split())
    rest = text[len(title) :]
    if title and text.lower().startswith(title.lower()) and re.match(rf"\s*[{DASHES}.:|]", rest):
        text = rest.lstrip(f" .:|{DASHES}").strip()
    if not text:
        return "No description was given: see the full notice."
    sentences = re.split(r"(?<=[.!?])\s+(?=[A-Z0-9(\"'“])", text)
    summary, used = sentences[0], 1
    if len(sentences) > 1 and len(summary) + 1 + len(sentences[1]) <= limit:
        summary, used = f"{summary} {sentences[1]}", 2
    if len(summary) > limit:
        summary = summary[:limit].rsplit(" ", 1)[0].rstrip(f",;:{DASHES}") + "…"
    elif used < len(sentences) and not summary.endswith((".", "!", "?")):
        summary += "…"
    return summary


def where(notice: Notice) -> str | None:
    """Where the work is: the notice's own words, else its regions by name."""
    if notice.place and notice.place.strip():
        return " ".join(notice.place.split())
    names = list(dict.fromkeys(matchers.region_label(code) for code in notice.regions or ()))
    if not names:
        return None
    return ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")


def value_text(notice: Notice) -> str | None:
    """The value in pounds (or a range), or None when the notice doesn't say."""
    if notice.value_amount is not None:
        return money(notice.value_amount, notice.value_currency)
    if notice.value_min is not None and notice.value_max is not None:
        low = money(notice.value_min, notice.value_currency)
        return f"{low} to {money(notice.value_max, notice.value_currency)}"
    return None


def flags(notice: Notice) -> list[str]:
    """The social-enterprise signals, in words."""
    found = []
    if notice.reserved:
        found.append("Reserved for supported businesses")
    if notice.vcse:
        found.append("Suitable for voluntary, community and social enterprises (VCSE)")
    if notice.sme:
        found.append("Suitable for small and medium-sized businesses (SME)")
    if notice.community_benefits:
        found.append("Includes community benefits")
    return found


# The engine explains a match to coordinators ("the member serves"); members read "you".
_TO_MEMBER = (
    (re.compile(r"\bthe member's\b"), "your"),
    (re.compile(r"\bthe member has\b"), "you have"),
    (re.compile(r"\bthe member is one\b"), "you are one"),
    (re.compile(r"\bthe member is\b"), "you are"),
    (re.compile(r"\bone the member serves\b"), "one you serve"),
    (re.compile(r"\bthe member\b"), "you"),
)


def reason_words(reasons: Iterable[dict[str, str]], limit: int = MAX_REASONS) -> list[str]:
    """Why it matched, as the notice page words it, addressed to the member."""
    words = []
    for reason in reasons:
        kind, text = reason.get("kind", ""), reason.get("text", "")
        if not text or kind == "manual":
            continue
        for pattern, replacement in _TO_MEMBER:
            text = pattern.sub(replacement, text)
        if not text.lower().startswith(kind):
            label = "CPV" if kind == "cpv" else kind.capitalize()
            text = f"{label}: {text}"
        words.append(text[:1].upper() + text[1:])
    return words[:limit]


def safe_url(url: str | None) -> str | None:
    """A link that is safe to put in an e-mail: http(s) only, never `javascript:`."""
    if not url:
        return None
    url = url.strip()
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return None
    if any(c in url for c in "\r\n\t <>\"'"):
        return None
    return url


def source_links(session: Session, notice_ids: Sequence[int]) -> dict[int, tuple[str, str | None]]:
    """Each notice's best source to link to: the original publication with a URL."""
    rows: dict[int, list[tuple[str, str | None]]] = {}
    for notice_id, source, url in session.execute(
        select(NoticeSource.notice_id, NoticeSource.source, NoticeSource.url)
        .where(NoticeSource.notice_id.in_(list(notice_ids)))
        .order_by(NoticeSource.id)
    ):
        rows.setdefault(notice_id, []).append((source, safe_url(url)))

    def rank(item: tuple[str, str | None]) -> tuple[bool, int]:
        source, url = item
        order = SOURCE_PRIORITY.index(source) if source in SOURCE_PRIORITY else 99
        return (url is None, order)

    return {notice_id: min(items, key=rank) for notice_id, items in rows.items()}


def changes_since(
    notice: Notice, told: ToldNotice, history: Sequence[NoticeChange], now: datetime
) -> list[str]:
    """What changed since the member was told, in sentences (empty: nothing to tell)."""
    # A cancellation needs no sentence: the opportunity says "Cancelled" in its place.
    sentences = []
    if notice.deadline != told.deadline:
        if notice.deadline is None:
            sentences.append("The deadline has been removed; check the notice for details.")
        elif told.deadline is None:
            sentences.append(f"The deadline is now {london(notice.deadline)}.")
        else:
            sentences.append(
                f"The deadline moved from {london(told.deadline)} "
                f"to {london(notice.deadline)} ({days_left(notice.deadline, now)})."
            )
    if notice.changed_at and (
        told.notice_changed_at is None or notice.changed_at > told.notice_changed_at
    ):
        since = told.notice_changed_at or told.last_told_at
        amended = sorted(
            {
                AMENDED_FIELDS[c.field]
                for c in history
                if c.field in AMENDED_FIELDS and c.changed_at > since
            }
        )
        if amended:
            sentences.append(f"The buyer amended the {_and(amended)}.")
        elif not sentences and not is_cancelled(notice):
            sentences.append("The buyer published an amendment.")
    return sentences


def _and(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def opportunity(
    notice: Notice,
    member_id: int,
    links: Links,
    now: datetime,
    *,
    source: tuple[str, str | None] | None = None,
    score: int | None = None,
    reasons: Iterable[dict[str, str]] = (),
    changes: Sequence[str] = (),
) -> Opportunity:
    """A notice as one member reads it, with that member's answer links."""
    return Opportunity(
        notice_id=notice.id,
        title=" ".join(notice.title.split()),
        summary=summarise(notice.description, notice.title),
        buyer=notice.buyer or "The buyer is not named",
        where=where(notice),
        value=value_text(notice),
        deadline=london(notice.deadline) if notice.deadline else None,
        days_left=days_left(notice.deadline, now) if notice.deadline else None,
        reasons=reason_words(reasons),
        flags=flags(notice),
        source_name=source_name(source[0]) if source else None,
        source_url=source[1] if source else None,
        interested_url=links.url(member_id, "interested", notice.id),
        decline_url=links.url(member_id, "decline", notice.id),
        score=score,
        cancelled=is_cancelled(notice),
        changes=list(changes),
    )
