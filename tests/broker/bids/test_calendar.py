"""Each coordinator's calendar feed: valid iCalendar with stable UIDs, behind a secret
address they can renew and revoke."""

from __future__ import annotations

from datetime import timedelta

import icalendar
from sqlalchemy import select

from broker.bids import calendar, stages
from broker.formatting import LONDON
from broker.models import User
from broker.models.bids import Bid


def feed_of(client, url: str) -> icalendar.Calendar:
    response = client.get(url)
    assert response.status_code == 200, response.status_code
    assert response.mimetype == "text/calendar"
    return icalendar.Calendar.from_ical(response.get_data())


def feed_url(app, sessions, user_id: int) -> str:
    with sessions() as s:
        return f"/bids/calendar/{calendar.token(app.secret_key, s.get(User, user_id))}.ics"


def test_the_feed_holds_the_open_bids_deadlines_and_tasks_with_stable_uids(
    app, client, sessions, kitchens, make_bid, coordinator, csrf_token, clock
):
    open_id = make_bid(kitchens, user_id=coordinator.id)
    closed_id = make_bid(None, title="An older bid", user_id=coordinator.id)
    with sessions.begin() as s:
        closed = s.get(Bid, closed_id)
        stages.change_stage(s, closed, stages.StageChange("withdrawn", reason="no"), None, clock())
    # The coordinator makes their feed on the board (a logged-in POST with the form token).
    board = client.get("/bids/")
    assert "Make my calendar address" in board.get_data(as_text=True)
    response = client.post("/bids/calendar/renew", data={"feed-csrf_token": csrf_token(board)})
    assert response.status_code == 302
    url = feed_url(app, sessions, coordinator.id)
    assert url in client.get("/bids/").get_data(as_text=True)
    client.post("/logout", data={"csrf_token": csrf_token(client.get("/bids/"))})

    # A calendar program has no login: the address is the key.
    calendar_ = feed_of(client, url)
    assert calendar_["VERSION"] == "2.0"
    events = {str(e["UID"]): e for e in calendar_.walk("VEVENT")}
    with sessions() as s:
        bid = s.get(Bid, open_id)
        deadline_day = bid.deadline.astimezone(LONDON).date()
        open_tasks = [t for t in bid.tasks if t.due_on]
        host = "127.0.0.1"
        assert set(events) == {f"bid-{open_id}-deadline@{host}"} | {
            f"bid-{open_id}-task-{t.id}@{host}" for t in open_tasks
        }
        deadline = events[f"bid-{open_id}-deadline@{host}"]
        assert deadline["DTSTART"].dt == deadline_day
        assert deadline["DTEND"].dt == deadline_day + timedelta(days=1)
        assert str(deadline["SUMMARY"]) == f"Tender deadline: {bid.title}"
        pricing = next(t for t in open_tasks if t.title == "Pricing")
        event = events[f"bid-{open_id}-task-{pricing.id}@{host}"]
        assert event["DTSTART"].dt == pricing.due_on
        assert str(event["URL"]).endswith(f"/bids/{open_id}")
    # Nothing of the withdrawn bid; and the same UIDs the next time it is read.
    assert not [u for u in events if f"bid-{closed_id}-" in u]
    assert set(str(e["UID"]) for e in feed_of(client, url).walk("VEVENT")) == set(events)


def test_long_lines_are_folded_and_text_escaped(sessions, make_bid, clock):
    title = "Grounds; verges, and parks — Lot 1: " + "ÀÉÎ" * 40
    make_bid(None, title=title, tender_deadline=clock() + timedelta(days=9))
    with sessions() as s:
        body = calendar.feed(s, "https://broker.example.org", clock())
    lines = body.split("\r\n")
    assert all(len(line.encode()) <= 75 for line in lines)
    parsed = icalendar.Calendar.from_ical(body)
    # The deadline, and the checklist's tasks dated back from it.
    summaries = [str(e["SUMMARY"]) for e in parsed.walk("VEVENT")]
    assert f"Tender deadline: {title}" in summaries
    assert f"Pricing: {title}" in summaries
    assert "SUMMARY:Tender deadline: Grounds\\; verges\\, and parks" in body


def test_renewing_or_revoking_the_address_stops_the_old_one(app, client, sessions, coordinator):
    with sessions.begin() as s:
        user = s.scalars(select(User).where(User.id == coordinator.id)).one()
        calendar.renew(user)
    first = feed_url(app, sessions, coordinator.id)
    assert client.get(first).status_code == 200
    with sessions.begin() as s:
        calendar.renew(s.get(User, coordinator.id))
    second = feed_url(app, sessions, coordinator.id)
    assert client.get(first).status_code == 404
    assert client.get(second).status_code == 200
    with sessions.begin() as s:
        user = s.get(User, coordinator.id)
        calendar.revoke(user)
        assert calendar.token(app.secret_key, user) is None
    assert client.get(second).status_code == 404
    # A renewal after revoking makes a new address; the revoked one stays dead.
    with sessions.begin() as s:
        calendar.renew(s.get(User, coordinator.id))
    assert client.get(second).status_code == 404
    assert client.get(feed_url(app, sessions, coordinator.id)).status_code == 200
    assert client.get("/bids/calendar/not-a-token.ics").status_code == 404
