"""Telling members about opportunities: forwards, instant alerts and change notices.

Everything here composes e-mails and adds them to the outbox in the caller's
transaction (broker.mail sends them after commit), and records what each member was
told (broker.told), so that a later change of deadline or a cancellation can be told
too. Digests are in broker.digests; members' answers in broker.answers.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from broker.emails import MailContext, can_email, footer, member_emails, render
from broker.formatting import london
from broker.models import Match, Member, Notice, ToldNotice, User
from broker.models.triage import Forward
from broker.opportunities import Opportunity, changes_since, opportunity, source_links
from broker.outbox import enqueue
from broker.told import changed_told, history_of, new_matches, subscribed, tell


@dataclass
class Told:
    """What a pass queued: e-mails, and how many members they went to."""

    emails: int = 0
    members: int = 0
    skipped: list[str] = field(default_factory=list)

    def add(self, emails: int) -> None:
        if emails:
            self.emails += emails
            self.members += 1


def _queue(
    session: Session,
    kind: str,
    member: Member,
    subject: str,
    parts: tuple[str, str],
    context: MailContext,
    now: datetime,
    notice_id: int | None = None,
) -> int:
    emails = member_emails(kind, member, subject, *parts, context, notice_id)
    for email in emails:
        enqueue(session, email, context.from_address, now)
    return len(emails)


def _common(context: MailContext, member: Member, why: str, subject: str) -> dict[str, Any]:
    return {
        "subject": subject,
        "network_name": context.network_name,
        "member_name": member.name,
        "footer": footer(context, member, why),
    }


# --- forwards ------------------------------------------------------------------------


def queue_forwards(
    session: Session,
    notice: Notice,
    forwards: Sequence[Forward],
    sender: User | None,
    context: MailContext,
    now: datetime,
) -> Told:
    """One "forward" e-mail per forwarded member and address, with the coordinator's note.

    Members who unsubscribed (or were deactivated) are left out and named in `skipped`.
    """
    result = Told()
    ids = [f.member_id for f in forwards]
    members = {m.id: m for m in session.scalars(select(Member).where(Member.id.in_(ids)))}
    matches = {
        m.member_id: m
        for m in session.scalars(
            select(Match).where(Match.notice_id == notice.id, Match.member_id.in_(ids))
        )
    }
    source = source_links(session, [notice.id]).get(notice.id)
    sender_name = sender.display_name if sender else f"A coordinator at {context.network_name}"
    for forward in forwards:
        member = members[forward.member_id]
        if not can_email(member):
            result.skipped.append(member.name)
            continue
        match = matches.get(member.id)
        item = opportunity(
            notice,
            member.id,
            context.links,
            now,
            source=source,
            score=match.score if match else None,
            reasons=match.reasons if match else (),
        )
        subject = f"Forwarded by {sender_name}: {item.title}"
        why = (
            f"{sender_name} forwarded this opportunity to {member.name} by hand; other "
            f"e-mails follow your choice of how often to hear ({member.frequency})."
        )
        note = forward.note.strip()
        parts = render(
            "forward",
            **_common(context, member, why, subject),
            sender_name=sender_name,
            sender_email=sender.email if sender else "",
            note=note,
            note_paragraphs=[p.strip() for p in note.split("\n\n") if p.strip()],
            item=item,
        )
        result.add(_queue(session, "forward", member, subject, parts, context, now, notice.id))
        tell(session, member.id, notice, now)
    return result


# --- new matches -----------------------------------------------------------------------


def opportunities_for(
    session: Session,
    member: Member,
    matches: Iterable[tuple[Match, Notice]],
    context: MailContext,
    now: datetime,
) -> list[Opportunity]:
    """New matches as the member reads them."""
    pairs = list(matches)
    sources = source_links(session, [n.id for _m, n in pairs])
    return [
        opportunity(
            notice,
            member.id,
            context.links,
            now,
            source=sources.get(notice.id),
            score=match.score,
            reasons=match.reasons,
        )
        for match, notice in pairs
    ]


def queue_alerts(session: Session, context: MailContext, now: datetime) -> Told:
    """One "alert" e-mail per "instant" member with new matches, listing them all."""
    result = Told()
    members = {m.id: m for m in session.scalars(select(Member).where(subscribed(["instant"])))}
    picks = new_matches(session, sorted(members), context.notify_threshold, now)
    for member_id, pick in sorted(picks.items()):
        member = members[member_id]
        if not can_email(member):
            continue
        items = opportunities_for(session, member, pick.matches, context, now)
        if len(items) == 1:
            subject = f"New opportunity: {items[0].title}"
        else:
            subject = f"{len(items)} new opportunities for {member.name}"
        why = (
            f"{member.name} asked to hear straight away when a new opportunity matches its profile."
        )
        parts = render(
            "alert", **_common(context, member, why, subject), items=items, more=pick.more
        )
        notice_id = items[0].notice_id if len(items) == 1 else None
        result.add(_queue(session, "alert", member, subject, parts, context, now, notice_id))
        for _match, notice in pick.matches:
            tell(session, member.id, notice, now)
    return result


# --- changes to told notices ---------------------------------------------------------------


def updated_opportunities(
    session: Session,
    member: Member,
    rows: Iterable[tuple[ToldNotice, Notice, int | None]],
    context: MailContext,
    now: datetime,
) -> list[Opportunity]:
    """Told notices that changed, as the member reads them, each saying what changed."""
    rows = list(rows)
    ids = [notice.id for _told, notice, _score in rows]
    sources = source_links(session, ids)
    history = history_of(session, ids)
    reasons = {
        m.notice_id: m.reasons
        for m in session.scalars(
            select(Match).where(Match.member_id == member.id, Match.notice_id.in_(ids))
        )
    }
    return [
        opportunity(
            notice,
            member.id,
            context.links,
            now,
            source=sources.get(notice.id),
            score=score,
            reasons=reasons.get(notice.id, ()),
            changes=changes_since(notice, told, history.get(notice.id, ()), now),
        )
        for told, notice, score in rows
    ]


def queue_changes(session: Session, context: MailContext, now: datetime) -> Told:
    """A "change" e-mail to each "instant" or forward-only member told about a notice
    whose deadline has since changed or which was cancelled; digest members hear of
    changes in their digest's Updated section instead."""
    result = Told()
    members = {
        m.id: m for m in session.scalars(select(Member).where(subscribed(["instant", "off"])))
    }
    rows = changed_told(session, sorted(members), now, amendments=False)
    for told, notice, score in rows:
        member = members[told.member_id]
        if not can_email(member):
            continue
        [item] = updated_opportunities(session, member, [(told, notice, score)], context, now)
        if item.cancelled:
            subject = f"Cancelled: {item.title}"
        elif notice.deadline != told.deadline:
            subject = f"Deadline changed: {item.title}"
        else:
            subject = f"Updated: {item.title}"
        why = (
            f"You hear when an opportunity {context.network_name} told {member.name} about "
            "has a new deadline or is cancelled."
        )
        parts = render(
            "change",
            **_common(context, member, why, subject),
            told_on=london(told.first_told_at, False),
            item=item,
        )
        result.add(_queue(session, "change", member, subject, parts, context, now, notice.id))
        tell(session, member.id, notice, now)
    return result


@dataclass(frozen=True)
class Notified:
    """What `tell_members` queued."""

    changes: Told
    alerts: Told

    def line(self) -> str:
        """One line for logs and the CLI."""
        return (
            f"e-mail: {self.alerts.emails} alerts to {self.alerts.members} members, "
            f"{self.changes.emails} change notices to {self.changes.members} members queued"
        )


def tell_members(session: Session, context: MailContext, now: datetime) -> Notified:
    """After matching: change notices, then instant alerts; flushes only.

    Safe to run at any time and as often as wanted: what was told is recorded, so
    nothing is told twice.
    """
    changes = queue_changes(session, context, now)
    alerts = queue_alerts(session, context, now)
    return Notified(changes, alerts)
