"""The bids board: every bid by stage, with the tender deadline, the next task due, and
a warning for those with something due within a week."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from broker.formatting import LONDON
from broker.models.bids import BID_STAGES, OPEN_STAGES, Bid, BidMember, BidTask

WARN_DAYS = 7
# Bids that ended are listed for this long, newest first.
RECENT_OUTCOMES = timedelta(days=365)


@dataclass(frozen=True)
class BoardRow:
    """One bid on the board."""

    bid: Bid
    next_task: BidTask | None
    joined: int
    invited: int
    # What is due within WARN_DAYS: the tender deadline, the next task, or both.
    warnings: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Board:
    stages: list[tuple[str, list[BoardRow]]]

    @property
    def count(self) -> int:
        return sum(len(rows) for _stage, rows in self.stages)


def _row(bid: Bid, today: date) -> BoardRow:
    open_tasks = [t for t in bid.tasks if t.status == "open" and t.due_on is not None]
    next_task = min(open_tasks, key=lambda t: (t.due_on, t.position), default=None)
    warnings = []
    soon = today + timedelta(days=WARN_DAYS)
    if bid.open and bid.deadline is not None:
        due = bid.deadline.astimezone(LONDON).date()
        if today <= due <= soon:
            warnings.append("tender deadline within 7 days")
    if bid.open and next_task is not None and next_task.due_on <= soon:
        late = next_task.due_on < today
        warnings.append("a task is overdue" if late else "a task is due within 7 days")
    return BoardRow(
        bid=bid,
        next_task=next_task,
        joined=sum(m.status in ("added", "joined") for m in bid.members),
        invited=sum(m.status == "invited" for m in bid.members),
        warnings=warnings,
    )


def board(session: Session, now: datetime) -> Board:
    """Open bids by stage, soonest deadline first; then those won, lost or withdrawn in
    the last year, most recent first."""
    today = now.astimezone(LONDON).date()
    bids = session.scalars(
        select(Bid)
        .where(
            Bid.stage.in_(OPEN_STAGES)
            | (Bid.stage_changed_at >= now - RECENT_OUTCOMES)
            | (Bid.stage_changed_at.is_(None))
        )
        .options(
            selectinload(Bid.notice),
            selectinload(Bid.members).selectinload(BidMember.member),
            selectinload(Bid.tasks).selectinload(BidTask.owner_user),
            selectinload(Bid.tasks).selectinload(BidTask.owner_member),
        )
    )
    by_stage: dict[str, list[BoardRow]] = {stage: [] for stage in BID_STAGES}
    for bid in bids:
        by_stage[bid.stage].append(_row(bid, today))
    far = datetime.max.replace(tzinfo=LONDON)
    for stage, rows in by_stage.items():
        if stage in OPEN_STAGES:
            rows.sort(key=lambda r: (r.bid.deadline or far, r.bid.id))
        else:
            rows.sort(key=lambda r: r.bid.stage_changed_at or r.bid.updated_at, reverse=True)
    return Board([(stage, by_stage[stage]) for stage in BID_STAGES])
