"""A coordinator forwards a notice: one e-mail per member and address, with the note."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from broker.models import Match, Member, Notice, User
from broker.models.triage import Forward
from broker.outreach.compose import MailContext, can_email, render
from broker.outreach.opportunities import opportunity, source_links
from broker.outreach.queueing import Told, email_context, queue_email
from broker.outreach.told import tell


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
            **email_context(context, member, why, subject),
            sender_name=sender_name,
            sender_email=sender.email if sender else "",
            note=note,
            note_paragraphs=[p.strip() for p in note.split("\n\n") if p.strip()],
            item=item,
        )
        result.add(queue_email(session, "forward", member, subject, parts, context, now, notice.id))
        tell(session, member.id, notice, now)
    return result
