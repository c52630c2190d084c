"""A bid's notice amended: a moved deadline or a cancellation is put at the top of the
bid and told once to its members.

What the members were told is kept on the bid (`notice_known`), changed in the same
transaction as the e-mails, so each change is told once whatever runs it.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from broker.bids.forming import known_state
from broker.bids.messages import queue_change
from broker.bids.timeline import record
from broker.formatting import london
from broker.models.bids import OPEN_STAGES, Bid, BidMember
from broker.outreach.compose import MailContext, can_email


def what_changed(known: dict | None, now_state: dict) -> list[str]:
    """The changes between what the members know of a notice and how it is, in words."""
    known = known or {}
    changes = []
    if now_state["cancelled"] and not known.get("cancelled"):
        changes.append("The buyer cancelled the notice.")
    before, after = known.get("deadline"), now_state["deadline"]
    if before != after and (before or after):
        old = london(datetime.fromisoformat(before)) if before else "not given"
        new = london(datetime.fromisoformat(after)) if after else "not given"
        changes.append(f"The deadline moved from {old} to {new}.")
    return changes


def tell_changes(session: Session, context: MailContext, now: datetime) -> int:
    """For every open bid whose notice changed since its members were told: note it on
    the bid and e-mail its members; returns how many bids changed. Flushes only."""
    bids = session.scalars(
        select(Bid)
        .where(Bid.stage.in_(OPEN_STAGES), Bid.notice_id.is_not(None))
        .options(
            selectinload(Bid.notice),
            selectinload(Bid.members).selectinload(BidMember.member),
        )
        .order_by(Bid.id)
    )
    told = 0
    for bid in bids:
        state = known_state(bid.notice)
        changes = what_changed(bid.notice_known, state)
        if not changes:
            continue
        bid.notice_known = state
        record(session, bid, "notice_changed", now, " ".join(changes))
        for place in bid.members:
            if place.status in ("added", "joined") and can_email(place.member):
                queue_change(session, bid, place, changes, context, now)
        told += 1
    session.flush()
    return told
