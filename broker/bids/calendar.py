"""Each coordinator's calendar feed (iCalendar, RFC 5545) of the open bids' deadlines
and tasks, behind a secret address a calendar program can subscribe to.

The address carries the user and a version number, signed with the app's secret key;
renewing or revoking the feed changes the number, so an old address stops working. Every
event's UID is made from the bid and task ids, so an updated feed updates events in
place rather than adding copies.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from urllib.parse import urlsplit

from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from broker.bids.stages import STAGE_LABELS
from broker.formatting import LONDON, london
from broker.models import User
from broker.models.bids import OPEN_STAGES, Bid, BidTask

SALT = "sen-broker.calendar"
PRODUCT = "-//SEN Opportunity Broker//Consortium bids//EN"


def _serializer(secret_key: str) -> URLSafeSerializer:
    return URLSafeSerializer(secret_key, salt=SALT)


def token(secret_key: str, user: User) -> str | None:
    """The user's feed token, or None when they have no feed (never made, or revoked)."""
    if not user.calendar_version or user.calendar_version < 0:
        return None
    return _serializer(secret_key).dumps([user.id, user.calendar_version])


def renew(user: User) -> None:
    """Make a new feed address; any earlier one stops working."""
    user.calendar_version = abs(user.calendar_version or 0) + 1


def revoke(user: User) -> None:
    """Stop the feed; a later renewal never brings back a revoked address."""
    if user.calendar_version and user.calendar_version > 0:
        user.calendar_version = -user.calendar_version


def user_for(session: Session, secret_key: str, feed_token: str) -> User | None:
    """The active user a feed token belongs to, if it is their current one."""
    try:
        user_id, version = _serializer(secret_key).loads(feed_token)
    except (BadSignature, ValueError, TypeError):
        return None
    if not isinstance(user_id, int) or not isinstance(version, int):
        return None
    user = session.get(User, user_id)
    if user is None or not user.active or user.calendar_version != version or version < 1:
        return None
    return user


def _escape(text: str) -> str:
    return (
        text.replace("\\", "\\\\")
        .replace(";", "\\;")
        .replace(",", "\\,")
        .replace("\r\n", "\\n")
        .replace("\n", "\\n")
    )


def _fold(line: str) -> str:
    """A content line folded at 75 octets, never inside a UTF-8 character (RFC 5545 3.1)."""
    out, current = [], b""
    for char in line:
        encoded = char.encode()
        if len(current) + len(encoded) > (75 if not out else 74):
            out.append(current.decode())
            current = b""
        current += encoded
    out.append(current.decode())
    return "\r\n ".join(out)


def _event(uid: str, day: date, summary: str, description: str, url: str, stamp: str) -> list[str]:
    return [
        "BEGIN:VEVENT",
        f"UID:{uid}",
        f"DTSTAMP:{stamp}",
        f"DTSTART;VALUE=DATE:{day:%Y%m%d}",
        f"DTEND;VALUE=DATE:{day + timedelta(days=1):%Y%m%d}",
        f"SUMMARY:{_escape(summary)}",
        f"DESCRIPTION:{_escape(description)}",
        f"URL:{url}",
        "TRANSP:TRANSPARENT",
        "END:VEVENT",
    ]


def feed(session: Session, base_url: str, now: datetime) -> str:
    """The calendar of every open bid's tender deadline, own deadline and open tasks."""
    host = urlsplit(base_url).hostname or "sen-broker"
    stamp = now.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    bids = session.scalars(
        select(Bid)
        .where(Bid.stage.in_(OPEN_STAGES))
        .options(
            selectinload(Bid.notice),
            selectinload(Bid.tasks).selectinload(BidTask.owner_user),
            selectinload(Bid.tasks).selectinload(BidTask.owner_member),
        )
        .order_by(Bid.id)
    )
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        f"PRODID:{PRODUCT}",
        "CALSCALE:GREGORIAN",
        "METHOD:PUBLISH",
        "X-WR-CALNAME:Consortium bids",
    ]
    for bid in bids:
        url = f"{base_url.rstrip('/')}/bids/{bid.id}"
        stage = STAGE_LABELS[bid.stage].lower()
        if bid.deadline is not None:
            lines += _event(
                f"bid-{bid.id}-deadline@{host}",
                bid.deadline.astimezone(LONDON).date(),
                f"Tender deadline: {bid.title}",
                f"The buyer's deadline is {london(bid.deadline)}. The bid is {stage}.",
                url,
                stamp,
            )
        if bid.internal_deadline is not None:
            lines += _event(
                f"bid-{bid.id}-internal@{host}",
                bid.internal_deadline.astimezone(LONDON).date(),
                f"Our deadline: {bid.title}",
                "The consortium's own deadline for a final draft, "
                f"{london(bid.internal_deadline)}.",
                url,
                stamp,
            )
        for task in bid.tasks:
            if task.status != "open" or task.due_on is None:
                continue
            owner = f" (owner: {task.owner_name})" if task.owner_name else ""
            lines += _event(
                f"bid-{bid.id}-task-{task.id}@{host}",
                task.due_on,
                f"{task.title}: {bid.title}",
                f"A task of the consortium bid “{bid.title}”{owner}.",
                url,
                stamp,
            )
    lines.append("END:VCALENDAR")
    return "".join(_fold(line) + "\r\n" for line in lines)
