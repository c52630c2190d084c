"""A bid's stages: only the listed moves, each recorded with who, when and a note."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from broker.bids.stages import MOVES, STAGE_LABELS, StageChange, change_stage
from broker.bids.timeline import BidError
from broker.models.bids import BID_STAGES, OPEN_STAGES, Bid, BidEvent


def test_every_stage_has_its_words_and_its_moves():
    assert set(MOVES) == set(BID_STAGES) == set(STAGE_LABELS)
    for stage, onward in MOVES.items():
        assert set(onward) <= set(BID_STAGES)
        # Only an open bid moves on; an outcome is final.
        assert bool(onward) == (stage in OPEN_STAGES)


def move(sessions, bid_id, clock, user_id=None, **change):
    with sessions.begin() as s:
        bid = s.get(Bid, bid_id)
        change_stage(s, bid, StageChange(**change), user_id, clock())


@pytest.mark.parametrize(
    ("path", "refused", "message"),
    [
        (
            (),
            "submitted",
            "A bid can't go from forming to submitted; "
            "from forming it can go to go/no-go or withdrawn.",
        ),
        ((), "won", "A bid can't go from forming to won;"),
        (("go_no_go",), "forming", "A bid can't go from go/no-go to forming;"),
        (("go_no_go", "preparing"), "lost", "from preparing it can go to submitted or withdrawn."),
        (("go_no_go", "preparing", "submitted"), "preparing", "from submitted to preparing"),
        (("withdrawn",), "go_no_go", "The bid is withdrawn: its stage can no longer change."),
        ((), "nonsense", "There is no stage called “nonsense”."),
    ],
)  # fmt: skip
def test_illegal_moves_are_refused_with_a_clear_message(
    sessions, make_bid, clock, path, refused, message
):
    bid_id = make_bid()
    for stage in path:
        move(sessions, bid_id, clock, stage=stage, reason="no capacity this year")
    with pytest.raises(BidError) as refusal:
        move(sessions, bid_id, clock, stage=refused, value_won=1.0, reason="x")
    assert message in str(refusal.value)
    with sessions() as s:
        assert s.get(Bid, bid_id).stage == (path[-1] if path else "forming")


def test_a_bid_goes_from_forming_to_won_and_every_move_is_recorded(
    sessions, make_bid, make_user, clock
):
    user = make_user()
    bid_id = make_bid(user_id=user.id)
    for stage, note in (
        ("go_no_go", ""),
        ("preparing", "We go: three partners"),
        ("submitted", ""),
    ):
        clock.advance(days=3)
        move(sessions, bid_id, clock, user.id, stage=stage, note=note)
    with pytest.raises(BidError, match="Give the contract's value"):
        move(sessions, bid_id, clock, user.id, stage="won")
    clock.advance(days=20)
    move(sessions, bid_id, clock, user.id, stage="won", value_won=480_000.0, lessons="Start early")
    with sessions() as s:
        bid = s.get(Bid, bid_id)
        assert (bid.stage, bid.value_won, bid.lessons) == ("won", 480_000.0, "Start early")
        assert bid.stage_changed_at == clock()
        events = s.scalars(
            select(BidEvent).where(BidEvent.bid_id == bid_id).order_by(BidEvent.id)
        ).all()
        assert [(e.kind, e.from_stage, e.to_stage) for e in events] == [
            ("created", None, "forming"),
            ("stage", "forming", "go_no_go"),
            ("stage", "go_no_go", "preparing"),
            ("stage", "preparing", "submitted"),
            ("stage", "submitted", "won"),
        ]
        assert events[2].detail == "We go: three partners"
        assert all(e.user_id == user.id for e in events)
        assert events[-1].at == clock()


@pytest.mark.parametrize("outcome", ["lost", "withdrawn"])
def test_lost_and_withdrawn_ask_why_and_keep_the_buyer_s_feedback(
    sessions, make_bid, clock, outcome
):
    bid_id = make_bid()
    for stage in ("go_no_go", "preparing", "submitted"):
        move(sessions, bid_id, clock, stage=stage)
    with pytest.raises(BidError, match=f"Say why the bid was {outcome}"):
        move(sessions, bid_id, clock, stage=outcome)
    move(
        sessions,
        bid_id,
        clock,
        stage=outcome,
        reason="Price: 8% above the winner",
        feedback="Strong on community benefits, weak on pricing",
    )
    with sessions() as s:
        bid = s.get(Bid, bid_id)
        assert bid.stage == outcome
        assert bid.outcome_reason == "Price: 8% above the winner"
        assert bid.buyer_feedback == "Strong on community benefits, weak on pricing"
        last = s.scalars(select(BidEvent).order_by(BidEvent.id.desc())).first()
        assert last.detail == "why: Price: 8% above the winner"
