"""Telling members without a coordinator: instant alerts of new matches, and change notices.

Everything here composes e-mails and adds them to the outbox in the caller's
transaction (broker.mail sends them after commit), and records what each member was
told (outreach.told), so that a later change of deadline or a cancellation can be told
too. Digests are in outreach.digests; members' answers in outreach.answers.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from broker.formatting import london
from broker.models import Match, Member, Notice, ToldNotice
from broker.outreach.compose import MailContext, can_email, render
from broker.outreach.opportunities import Opportunity, changes_since, opportunity, source_links
from broker.outreach.queueing import Told, email_context, queue_email
from broker.outreach.told import changed_told, history_of, new_matches, subscribed, tell


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
            "alert", **email_context(context, member, why, subject), items=items, more=pick.more
        )
        notice_id = items[0].notice_id if len(items) == 1 else None
        result.add(queue_email(session, "alert", member, subject, parts, context, now, notice_id))
        for _match, notice in pick.matches:
            tell(session, member.id, notice, now)
    return result


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
            **email_context(context, member, why, subject),
            told_on=london(told.first_told_at, False),
            item=item,
        )
        result.add(queue_email(session, "change", member, subject, parts, context, now, notice.id))
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
