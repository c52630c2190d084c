"""Reminders of what is due on a bid: to the task's owner, and before the tender deadline
to the bid's members; each sent exactly once across repeated runs and a restart."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import select

from broker.bids import forming, reminders, tasks
from broker.bids.messages import queue_invitation
from broker.bids.reminders import reminder_day
from broker.formatting import LONDON
from broker.models import OutboxMessage
from broker.models.bids import Bid, BidReminder, BidTask
from broker.runtime.jobs import bid_reminders_job

REMIND_DAYS = (7, 2)


@pytest.mark.parametrize(
    ("left", "day"),
    [(10, None), (8, None), (7, 7), (5, 7), (2, 2), (1, 2), (0, 2), (-1, None)],
)
def test_the_nearest_reminder_day_reached_applies(left, day):
    today = date(2026, 11, 20)
    assert reminder_day(today + timedelta(days=left), today, REMIND_DAYS) == day


def reminders_sent(sessions) -> list[OutboxMessage]:
    with sessions() as s:
        return list(
            s.scalars(
                select(OutboxMessage)
                .where(OutboxMessage.kind == "bid_reminder")
                .order_by(OutboxMessage.id)
            )
        )


@pytest.fixture
def running_bid(sessions, kitchens, make_bid, make_user, member_ids, cache, context, clock):
    """A bid in the kitchen framework: Granite Kitchens joined and owns the pricing task;
    the coordinator who started it owns the final review. Deadline in 30 days."""
    user = make_user()
    bid_id = make_bid(kitchens, user_id=user.id)
    granite = member_ids()["Granite Kitchens"]
    with sessions.begin() as s:
        bid = s.get(Bid, bid_id)
        [place] = forming.add_members(s, bid, [granite], "lead", cache, clock())
        queue_invitation(s, bid, place, context, user.display_name, clock())
        forming.answer(s, place, True, "", clock())
        for task in bid.tasks:
            owner = {
                "Pricing": f"member:{granite}",
                "Final review and submission": f"user:{user.id}",
            }
            tasks.update_task(
                s,
                bid,
                task,
                tasks.TaskEntry(task.title, owner.get(task.title, ""), task.due_on),
                user.id,
                clock(),
            )
    return bid_id, user


def test_a_task_owner_is_reminded_once_whatever_runs_the_reminders(
    app, sessions, running_bid, context, clock
):
    bid_id, _user = running_bid
    # Pricing is due 7 days before the deadline: 23 days from now. Nothing yet.
    with sessions.begin() as s:
        assert reminders.send_due(s, context, REMIND_DAYS, clock()).reminders == 0
    clock.advance(days=16)  # 7 days before pricing is due
    with sessions.begin() as s:
        first = reminders.send_due(s, context, REMIND_DAYS, clock())
    assert first.reminders >= 1
    [pricing] = [m for m in reminders_sent(sessions) if "Pricing" in m.subject]
    assert pricing.to_address == "bids@granite.example.org"
    assert pricing.subject.startswith("Reminder: Pricing is due ")
    assert "/bids/m/" in pricing.text_body  # the member's own page for the bid
    count = len(reminders_sent(sessions))
    # Run again, and again through the scheduler's job: nothing new.
    with sessions.begin() as s:
        assert reminders.send_due(s, context, REMIND_DAYS, clock()).reminders == 0
    assert bid_reminders_job(app, clock).reminders == 0
    assert len(reminders_sent(sessions)) == count
    # Five days on, the 2-day reminder is due: once.
    clock.advance(days=5)
    with sessions.begin() as s:
        reminders.send_due(s, context, REMIND_DAYS, clock())
    with sessions.begin() as s:
        reminders.send_due(s, context, REMIND_DAYS, clock())
    pricing_mail = [m for m in reminders_sent(sessions) if "Pricing" in m.subject]
    assert len(pricing_mail) == 2
    with sessions() as s:
        sent = s.scalars(
            select(BidReminder.subject, BidReminder.days_before).where(BidReminder.bid_id == bid_id)
        ).all()
    assert sent.count("task:" + str(_task_id(sessions, bid_id, "Pricing"))) == 2


def _task_id(sessions, bid_id, title) -> int:
    with sessions() as s:
        return s.scalar(select(BidTask.id).where(BidTask.bid_id == bid_id, BidTask.title == title))


def test_a_restart_sends_nothing_twice(app, make_settings, sessions, running_bid, clock):
    """A new process (a new app, a cold cache) finds the reminders already sent."""
    from broker import create_app

    clock.advance(days=28)  # two days before the tender deadline
    assert bid_reminders_job(app, clock).reminders > 0
    before = len(reminders_sent(sessions))
    restarted = create_app(make_settings())
    try:
        again = bid_reminders_job(restarted, clock)
    finally:
        restarted.extensions["broker.engine"].dispose()
    assert again.reminders == 0
    assert len(reminders_sent(sessions)) == before


def test_the_tender_deadline_reminds_the_members_and_the_coordinator(
    sessions, running_bid, context, clock
):
    bid_id, user = running_bid
    with sessions.begin() as s:
        # Done tasks are not reminded of.
        for task in s.get(Bid, bid_id).tasks:
            task.status = "done"
    clock.advance(days=23)  # 7 days before the deadline
    with sessions.begin() as s:
        reminded = reminders.send_due(s, context, REMIND_DAYS, clock())
    assert reminded.reminders == 1
    sent = reminders_sent(sessions)
    assert sorted(m.to_address for m in sent) == sorted(["bids@granite.example.org", user.email])
    assert all("The tender deadline is due" in m.subject for m in sent)
    coordinator = next(m for m in sent if m.to_address == user.email)
    assert f"/bids/{bid_id}" in coordinator.text_body


def test_a_moved_due_date_is_reminded_of_again(sessions, running_bid, context, clock):
    bid_id, _user = running_bid
    clock.advance(days=16)
    with sessions.begin() as s:
        reminders.send_due(s, context, REMIND_DAYS, clock())
    pricing = _task_id(sessions, bid_id, "Pricing")
    before = len([m for m in reminders_sent(sessions) if "Pricing" in m.subject])
    with sessions.begin() as s:
        task = s.get(BidTask, pricing)
        task.due_on = clock().astimezone(LONDON).date() + timedelta(days=3)
        reminders.send_due(s, context, REMIND_DAYS, clock())
    after = len([m for m in reminders_sent(sessions) if "Pricing" in m.subject])
    assert after == before + 1


def test_broker_bids_remind_runs_the_reminders(cli_runner, sessions, make_bid):
    # A bid with nothing dated: the command runs and says what it queued (none).
    make_bid(None, title="A bid with no dates yet")
    result = cli_runner("bids", "remind")
    assert result.exit_code == 0, result.output
    assert "Done: 0 reminders in 0 e-mails queued." in result.output
