"""A bid's tasks: the standard checklist every bid starts with, and the coordinators' and
members' own, each with an owner and a due date; members mark theirs done from their page."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy.orm import Session

from broker.bids.timeline import BidError, record
from broker.models import Member, User
from broker.models.bids import Bid, BidTask

# The checklist each bid starts with, and how long before the tender deadline each is
# due (None: no date until the coordinator sets one). Internal deadlines are kept well
# ahead of the buyer's: a consortium needs time to agree.
CHECKLIST = (
    ("Consortium agreement", 21),
    ("Clarification questions deadline", 14),
    ("ESPD / SPD answers", 10),
    ("Pricing", 7),
    ("Insurance and policies", 7),
    ("Method statements", 5),
    ("Community benefits", 5),
    ("Final review and submission", 1),
)
TITLE_LIMIT = 300


@dataclass(frozen=True)
class TaskEntry:
    """A task as a coordinator enters it; the owner is "user:<id>", "member:<id>" or ""."""

    title: str
    owner: str = ""
    due_on: date | None = None


def checklist(bid: Bid, deadline: date | None, now: datetime) -> list[BidTask]:
    """The standard tasks for a new bid, dated back from the tender deadline if known."""
    tasks = []
    for position, (title, days_before) in enumerate(CHECKLIST):
        due = deadline - timedelta(days=days_before) if deadline else None
        # A deadline too close for the usual lead times: due as soon as possible instead.
        if due is not None and due < now.date():
            due = min(deadline, now.date())
        tasks.append(BidTask(title=title, position=position, due_on=due, created_at=now))
    return tasks


def _owner(session: Session, bid: Bid, owner: str) -> tuple[int | None, int | None]:
    """(user id, member id) for an owner field; the member must be in the bid."""
    kind, _, raw = owner.partition(":")
    if not owner:
        return None, None
    if not raw.isdigit():
        raise BidError("Choose the task's owner from the list.")
    if kind == "user":
        user = session.get(User, int(raw))
        if user is None or not user.active:
            raise BidError("That coordinator can't own tasks (no such active user).")
        return user.id, None
    if kind == "member":
        if int(raw) not in {m.member_id for m in bid.members if m.status != "declined"}:
            raise BidError("Only a member of this bid can own one of its tasks.")
        return None, int(raw)
    raise BidError("Choose the task's owner from the list.")


def add_task(
    session: Session, bid: Bid, entry: TaskEntry, user_id: int | None, now: datetime
) -> BidTask:
    """Add a task to the bid; flushes only."""
    title = " ".join(entry.title.split())
    if not title:
        raise BidError("Say what the task is.")
    owner_user, owner_member = _owner(session, bid, entry.owner)
    task = BidTask(
        bid_id=bid.id,
        title=title[:TITLE_LIMIT],
        owner_user_id=owner_user,
        owner_member_id=owner_member,
        due_on=entry.due_on,
        position=len(bid.tasks),
        created_at=now,
    )
    bid.tasks.append(task)
    session.flush()
    record(session, bid, "task_added", now, _described(task, session), user_id=user_id)
    return task


def update_task(
    session: Session,
    bid: Bid,
    task: BidTask,
    entry: TaskEntry,
    user_id: int | None,
    now: datetime,
) -> None:
    """Change a task's title, owner or due date."""
    title = " ".join(entry.title.split())
    if not title:
        raise BidError("Say what the task is.")
    task.title = title[:TITLE_LIMIT]
    task.owner_user_id, task.owner_member_id = _owner(session, bid, entry.owner)
    task.due_on = entry.due_on
    session.flush()
    session.refresh(task, ["owner_user", "owner_member"])
    record(session, bid, "task_changed", now, _described(task, session), user_id=user_id)


def delete_task(
    session: Session, bid: Bid, task: BidTask, user_id: int | None, now: datetime
) -> None:
    """Take a task off the bid's list."""
    bid.tasks.remove(task)
    session.flush()
    record(session, bid, "task_deleted", now, task.title, user_id=user_id)


def set_done(
    session: Session,
    bid: Bid,
    task: BidTask,
    done: bool,
    now: datetime,
    *,
    user: User | None = None,
    member: Member | None = None,
) -> None:
    """Mark a task done (or not done after all), saying who."""
    if task.bid_id != bid.id:
        raise BidError("That task belongs to another bid.")
    if member is not None and task.owner_member_id != member.id:
        raise BidError("Only the task's owner can mark it done from their page.")
    who = member.name if member is not None else (user.display_name if user else "")
    task.status = "done" if done else "open"
    task.done_at = now if done else None
    task.done_by = who if done else ""
    session.flush()
    record(
        session,
        bid,
        "task_done" if done else "task_reopened",
        now,
        task.title,
        user_id=user.id if user else None,
        member_id=member.id if member else None,
    )


def _described(task: BidTask, session: Session) -> str:
    session.refresh(task, ["owner_user", "owner_member"])
    parts = [task.title]
    if task.owner_name:
        parts.append(f"owner {task.owner_name}")
    if task.due_on:
        parts.append(f"due {task.due_on:%-d %b %Y}")
    return ", ".join(parts)
