"""Daily and weekly digests: everything new since the last one, and what changed.

A digest has a "New" section (new matches: see broker.told) and an "Updated" section
(notices the member was told about whose deadline changed, that were amended or that
were cancelled), each with the best score first; notices whose deadline has passed are
left out. An empty digest is never queued, and `last_digest_at` then stays where it
was, so it always says when the member last received one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from broker.formatting import london
from broker.mail.outbox import enqueue
from broker.models import Member, Notice, ToldNotice
from broker.outreach.alerts import opportunities_for, updated_opportunities
from broker.outreach.compose import MailContext, can_email, footer, member_emails, render
from broker.outreach.opportunities import Opportunity
from broker.outreach.queueing import Told
from broker.outreach.told import Pick, changed_told, new_matches, subscribed, tell

PERIODS = ("daily", "weekly")


@dataclass
class Digest:
    """One member's next digest."""

    member: Member
    new: list[Opportunity] = field(default_factory=list)
    updated: list[Opportunity] = field(default_factory=list)
    # New matches left for the next digest (past MAX_ITEMS).
    more: int = 0
    notices: list[Notice] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        """Nothing new and nothing changed: such a digest is never sent."""
        return not (self.new or self.updated)

    @property
    def period(self) -> str:
        """ "daily" or "weekly" (a digest previewed for another member says "next")."""
        return self.member.frequency if self.member.frequency in PERIODS else "next"

    def subject(self) -> str:
        """The subject line: how many new and updated."""
        counts = [f"{len(self.new)} new"] if self.new else []
        if self.updated:
            counts.append(f"{len(self.updated)} updated")
        return f"Your {self.period} opportunities: {', '.join(counts)}"


def build(
    session: Session,
    member: Member,
    context: MailContext,
    now: datetime,
    pick: Pick | None = None,
    changed: list[tuple[ToldNotice, Notice, int | None]] | None = None,
) -> Digest:
    """What the member's next digest holds; reads only, changes nothing.

    `pick` and `changed` are the member's new matches and changed told notices when the
    caller has read them for many members at once.
    """
    if pick is None:
        pick = new_matches(session, [member.id], context.notify_threshold, now).get(
            member.id, Pick([], 0)
        )
    if changed is None:
        changed = changed_told(session, [member.id], now, amendments=True)
    return Digest(
        member=member,
        new=opportunities_for(session, member, pick.matches, context, now),
        updated=updated_opportunities(session, member, changed, context, now),
        more=pick.more,
        notices=[n for _m, n in pick.matches] + [n for _t, n, _s in changed],
    )


def render_digest(digest: Digest, context: MailContext) -> tuple[str, str]:
    """The digest's text and HTML parts."""
    member = digest.member
    why = (
        f"{member.name} asked {context.network_name} for a {digest.period} digest of the "
        "opportunities that match its profile."
        if digest.period in PERIODS
        else f"{member.name} is a member of {context.network_name}."
    )
    return render(
        "digest",
        subject=digest.subject(),
        network_name=context.network_name,
        member_name=member.name,
        footer=footer(context, member, why),
        period=digest.period,
        since=london(member.last_digest_at, False) if member.last_digest_at else None,
        new=digest.new,
        updated=digest.updated,
        more=digest.more,
    )


def queue(session: Session, digest: Digest, context: MailContext, now: datetime) -> int:
    """Queue a digest (never an empty one) and record it as told; returns e-mails queued."""
    member = digest.member
    if digest.empty or not can_email(member):
        return 0
    text, html = render_digest(digest, context)
    emails = member_emails("digest", member, digest.subject(), text, html, context)
    for email in emails:
        enqueue(session, email, context.from_address, now)
    for notice in digest.notices:
        tell(session, member.id, notice, now)
    member.last_digest_at = now
    session.flush()
    return len(emails)


def queue_digests(session: Session, period: str, context: MailContext, now: datetime) -> Told:
    """Queue the digest of every subscribed member with this frequency; flushes only."""
    if period not in PERIODS:
        raise ValueError(f"unknown digest period {period!r}")
    result = Told()
    members = list(session.scalars(select(Member).where(subscribed([period])).order_by(Member.id)))
    ids = [m.id for m in members]
    picks = new_matches(session, ids, context.notify_threshold, now)
    changed: dict[int, list[tuple[ToldNotice, Notice, int | None]]] = {}
    for row in changed_told(session, ids, now, amendments=True):
        changed.setdefault(row[0].member_id, []).append(row)
    for member in members:
        if member.id not in picks and member.id not in changed:
            continue
        digest = build(
            session,
            member,
            context,
            now,
            pick=picks.get(member.id, Pick([], 0)),
            changed=changed.get(member.id, []),
        )
        result.add(queue(session, digest, context, now))
    return result


def preview(session: Session, member: Member, context: MailContext, now: datetime) -> str:
    """The text of the member's next digest, or a line saying there is nothing new."""
    digest = build(session, member, context, now)
    if digest.empty:
        since = member.last_digest_at or member.created_at
        what = "its last digest" if member.last_digest_at else "it was added"
        return f"Nothing new for {member.name} since {what} on {london(since, False)}.\n"
    text, _html = render_digest(digest, context)
    return f"Subject: {digest.subject()}\n\n{text}"
