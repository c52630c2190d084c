"""A bid's timeline: everything that happened on it, and notes, in one dated list."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from broker.errors import BrokerError
from broker.models.bids import Bid, BidEvent

NOTE_LIMIT = 4000


class BidError(BrokerError):
    """Raised by a bid action that can't be done, with a message for the person doing it."""


def record(
    session: Session,
    bid: Bid,
    kind: str,
    now: datetime,
    detail: str = "",
    *,
    user_id: int | None = None,
    member_id: int | None = None,
    from_stage: str | None = None,
    to_stage: str | None = None,
) -> BidEvent:
    """Add one event to the bid's timeline; flushes only."""
    event = BidEvent(
        bid_id=bid.id,
        at=now,
        kind=kind,
        user_id=user_id,
        member_id=member_id,
        from_stage=from_stage,
        to_stage=to_stage,
        detail=detail,
    )
    session.add(event)
    bid.updated_at = now
    session.flush()
    return event


def add_note(session: Session, bid: Bid, text: str, user_id: int | None, now: datetime) -> BidEvent:
    """A coordinator's note or comment on the bid."""
    text = text.strip()
    if not text:
        raise BidError("Write the note first.")
    return record(session, bid, "note", now, text[:NOTE_LIMIT], user_id=user_id)


def events(session: Session, bid: Bid) -> list[BidEvent]:
    """The bid's timeline, newest first, with who did each thing."""
    return list(
        session.scalars(
            select(BidEvent)
            .options(joinedload(BidEvent.user), joinedload(BidEvent.member))
            .where(BidEvent.bid_id == bid.id)
            .order_by(BidEvent.at.desc(), BidEvent.id.desc())
        )
    )
