"""A bid's stages, from forming to the outcome, and the only moves between them.

forming -> go/no-go -> preparing -> submitted -> won, lost or withdrawn. A consortium can
withdraw at any open stage (at go/no-go that is the "no-go"). Lost and withdrawn ask for
a reason and the buyer's feedback; won asks for the contract's value.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from broker.bids.timeline import BidError, record
from broker.models.bids import Bid

STAGE_LABELS = {
    "forming": "Forming",
    "go_no_go": "Go/no-go",
    "preparing": "Preparing",
    "submitted": "Submitted",
    "won": "Won",
    "lost": "Lost",
    "withdrawn": "Withdrawn",
}
MOVES = {
    "forming": ("go_no_go", "withdrawn"),
    "go_no_go": ("preparing", "withdrawn"),
    "preparing": ("submitted", "withdrawn"),
    "submitted": ("won", "lost", "withdrawn"),
    "won": (),
    "lost": (),
    "withdrawn": (),
}
OUTCOMES = ("won", "lost", "withdrawn")


@dataclass(frozen=True)
class StageChange:
    """What a coordinator asks for: the new stage and what it needs."""

    stage: str
    note: str = ""
    value_won: float | None = None
    reason: str = ""
    feedback: str = ""
    lessons: str = ""


def allowed(bid: Bid) -> tuple[str, ...]:
    """The stages the bid may move to next."""
    return MOVES[bid.stage]


def change_stage(
    session: Session, bid: Bid, change: StageChange, user_id: int | None, now: datetime
) -> None:
    """Move the bid on, or refuse with a message saying which moves there are."""
    to = change.stage
    if to not in MOVES:
        raise BidError(f"There is no stage called “{to}”.")
    if to not in MOVES[bid.stage]:
        here = STAGE_LABELS[bid.stage]
        onward = [STAGE_LABELS[s] for s in MOVES[bid.stage]]
        if not onward:
            raise BidError(f"The bid is {here.lower()}: its stage can no longer change.")
        raise BidError(
            f"A bid can't go from {here.lower()} to {STAGE_LABELS[to].lower()}; "
            f"from {here.lower()} it can go to {' or '.join(s.lower() for s in onward)}."
        )
    if to == "won" and (change.value_won is None or change.value_won < 0):
        raise BidError("Give the contract's value (£) to mark the bid won.")
    if to in ("lost", "withdrawn") and not change.reason.strip():
        raise BidError(f"Say why the bid was {to}.")
    detail = change.note.strip()
    if to == "won":
        bid.value_won = change.value_won
    if to in ("lost", "withdrawn"):
        bid.outcome_reason = change.reason.strip()
        bid.buyer_feedback = change.feedback.strip()
        detail = "; ".join(filter(None, (f"why: {bid.outcome_reason}", detail)))
    if change.lessons.strip():
        bid.lessons = change.lessons.strip()
    record(
        session,
        bid,
        "stage",
        now,
        detail,
        user_id=user_id,
        from_stage=bid.stage,
        to_stage=to,
    )
    bid.stage = to
    bid.stage_changed_at = now
    session.flush()
