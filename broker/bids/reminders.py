"""Reminders of what is due on open bids: each task, to its owner, and the tender
deadline, to the bid's members and the coordinator who started it.

Each is sent once: a reminder for (bid, task or deadline, due date, days before) is
recorded in the same transaction as its e-mails, under a unique key, so a repeated run,
a restart or a second process sends nothing twice. A due date that moves is a new date,
and is reminded of again. Where several reminder days have passed at once (a task added
two days before it is due), only the nearest is sent.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from broker.bids.messages import Due, due_words, queue_member_reminder, queue_user_reminder
from broker.formatting import LONDON
from broker.models import User
from broker.models.bids import OPEN_STAGES, Bid, BidMember, BidReminder, BidTask
from broker.outreach.compose import MailContext, can_email


@dataclass
class Reminded:
    """What a run sent: reminders (due things) and e-mails."""

    reminders: int = 0
    emails: int = 0

    def line(self) -> str:
        return f"{self.reminders} reminders in {self.emails} e-mails"


def reminder_day(due: date, today: date, remind_days: Sequence[int]) -> int | None:
    """Which of the reminder days applies today: the nearest one already reached, or
    None before the first and after the due date."""
    left = (due - today).days
    reached = [d for d in remind_days if 0 <= left <= d]
    return min(reached) if reached else None


def send_due(
    session: Session, context: MailContext, remind_days: Sequence[int], now: datetime
) -> Reminded:
    """Queue every reminder that is due and not yet sent; flushes only."""
    today = now.astimezone(LONDON).date()
    result = Reminded()
    bids = session.scalars(
        select(Bid)
        .where(Bid.stage.in_(OPEN_STAGES))
        .options(
            selectinload(Bid.members).selectinload(BidMember.member),
            selectinload(Bid.tasks).selectinload(BidTask.owner_user),
            selectinload(Bid.tasks).selectinload(BidTask.owner_member),
        )
        .order_by(Bid.id)
    )
    for bid in bids:
        owed = _owed(session, bid, today, remind_days)
        if not owed:
            continue
        to_members: dict[int, list[Due]] = defaultdict(list)
        to_users: dict[int, list[Due]] = defaultdict(list)
        for subject, due_on, days, item in owed:
            session.add(
                BidReminder(
                    bid_id=bid.id, subject=subject, due_on=due_on, days_before=days, sent_at=now
                )
            )
            result.reminders += 1
            words = Due(item, *due_words(due_on, now))
            for kind, who in _recipients(bid, subject):
                (to_members if kind == "member" else to_users)[who].append(words)
        places = {m.member_id: m for m in bid.members}
        for member_id, due in to_members.items():
            place = places[member_id]
            if can_email(place.member):
                result.emails += queue_member_reminder(session, bid, place, due, context, now)
        for user_id, due in to_users.items():
            user = session.get(User, user_id)
            if user is not None and user.active:
                result.emails += queue_user_reminder(session, bid, user, due, context, now)
        session.flush()
    return result


def _owed(
    session: Session, bid: Bid, today: date, remind_days: Sequence[int]
) -> list[tuple[str, date, int, str]]:
    """(subject, due date, days before, what) for the reminders this bid owes today."""
    candidates = []
    for task in bid.tasks:
        if task.status == "open" and task.due_on is not None:
            candidates.append((f"task:{task.id}", task.due_on, task.title))
    if bid.deadline is not None:
        candidates.append(
            ("deadline", bid.deadline.astimezone(LONDON).date(), "The tender deadline")
        )
    sent = {
        (r.subject, r.due_on, r.days_before)
        for r in session.scalars(select(BidReminder).where(BidReminder.bid_id == bid.id))
    }
    owed = []
    for subject, due_on, what in candidates:
        days = reminder_day(due_on, today, remind_days)
        if days is not None and (subject, due_on, days) not in sent:
            owed.append((subject, due_on, days, what))
    return owed


def _recipients(bid: Bid, subject: str) -> list[tuple[str, int]]:
    """Who hears of one due thing: a task's owner (else the bid's coordinator); for the
    tender deadline, every member in the bid and the coordinator."""
    members = [m.member_id for m in bid.members if m.status in ("added", "joined")]
    coordinator = [("user", bid.created_by)] if bid.created_by else []
    if subject == "deadline":
        return [("member", m) for m in members] + coordinator
    task = next(t for t in bid.tasks if f"task:{t.id}" == subject)
    if task.owner_member_id is not None and task.owner_member_id in members:
        return [("member", task.owner_member_id)]
    if task.owner_user_id is not None:
        return [("user", task.owner_user_id)]
    return coordinator
