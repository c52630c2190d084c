"""The bids pages: starting a bid from a notice, the bid page's forms, the board, and the
members' pages from their signed links."""

from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import select

from broker.bids.links import BidLinks
from broker.models import OutboxMessage
from broker.models.bids import Bid, BidEvent, BidMember
from broker.outreach.links import for_app

LINK = re.compile(r"https?://[^\s\"'<>]+(/bids/m/[A-Za-z0-9_.\-]+)")


def start_from_the_notice_page(client, csrf_token, notice_id: int) -> int:
    page = client.get(f"/notices/{notice_id}")
    assert "Start a consortium bid" in page.get_data(as_text=True)
    response = client.post(
        f"/bids/start/{notice_id}",
        data={"bid-csrf_token": csrf_token(page), "bid-model": "lead_contractor"},
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    return int(response.headers["Location"].rstrip("/").rsplit("/", 1)[1])


def test_a_bid_started_on_a_notice_page_suggests_partners_and_invites_them(
    pages, client, coordinator, csrf_token, sessions, kitchens, member_ids
):
    bid_id = start_from_the_notice_page(client, csrf_token, kitchens)
    page = pages.text(client.get(f"/bids/{bid_id}"))
    pages.assert_accessible(page)
    assert '<h2 id="suggestions-heading">Suggested partners</h2>' in page
    assert "Use these partners" in page
    assert "<strong>Moray Joinery</strong>: Lot 5: Moray, bathrooms" in page
    ids = member_ids()
    # "Use these partners" ticks the suggestion's members in the invitation form.
    chosen = [ids[n] for n in ("Granite Kitchens", "Moray Joinery", "Tay Trades")]
    query = "&".join(f"use={i}" for i in chosen)
    page = pages.text(client.get(f"/bids/{bid_id}?{query}"))
    for member_id in chosen:
        ticked = r'checked id="invite-members-\d+" name="invite-members" type="checkbox" '
        assert re.search(ticked + rf'value="{member_id}"', page), member_id
    for name in ("Granite Kitchens", "Moray Joinery", "Tay Trades"):
        assert re.search(rf'<label for="invite-members-\d+">{name}</label>', page), name
    response = client.post(
        f"/bids/{bid_id}/invite",
        data={
            "invite-csrf_token": csrf_token(page),
            "invite-members": chosen,
            "invite-role": "partner",
        },
    )
    assert response.status_code == 302
    assert "Invited 3 members." in pages.text(client.get(f"/bids/{bid_id}"))
    with sessions() as s:
        invites = s.scalars(select(OutboxMessage).where(OutboxMessage.kind == "bid_invite")).all()
        assert len(invites) == 3
        assert {m.status for m in s.get(Bid, bid_id).members} == {"invited"}


def test_the_member_joins_or_declines_through_their_links_confirmed_by_a_button(
    pages, client, coordinator, csrf_token, sessions, kitchens, make_bid, member_ids, app
):
    bid_id = make_bid(kitchens)
    ids = member_ids()
    page = client.get(f"/bids/{bid_id}")
    client.post(
        f"/bids/{bid_id}/invite",
        data={
            "invite-csrf_token": csrf_token(page),
            "invite-members": [ids["Moray Joinery"], ids["Tay Trades"]],
            "invite-role": "subcontractor",
        },
    )
    client.post("/logout", data={"csrf_token": csrf_token(client.get("/bids/"))})
    with sessions() as s:
        mails = {
            m.to_address: m
            for m in s.scalars(select(OutboxMessage).where(OutboxMessage.kind == "bid_invite"))
        }
    join, _decline = LINK.findall(mails["office@morayjoinery.example.org"].text_body)
    # Opening the link changes nothing: it shows the bid and the button.
    page = pages.text(client.get(join))
    assert '<button type="submit" class="button">Join</button>' in page
    assert "Lot 5: Moray" in page and "Subcontractor" in page
    pages.assert_accessible(page)
    with sessions() as s:
        assert s.get(BidMember, (bid_id, ids["Moray Joinery"])).status == "invited"
    joined = client.post(join, data={"csrf_token": csrf_token(page)})
    assert joined.status_code == 302
    member_page = pages.text(client.get(joined.headers["Location"]))
    assert "Thank you: you are in the bid." in member_page
    assert "Your tasks" in member_page
    _join, decline = LINK.findall(mails["hello@taytrades.example.org"].text_body)
    page = pages.text(client.get(decline))
    assert '<label for="reason">Why can&#39;t you join? (optional)</label>' in page
    client.post(decline, data={"csrf_token": csrf_token(page), "reason": "Fully booked in spring"})
    with sessions() as s:
        places = {m.member.name: m for m in s.get(Bid, bid_id).members}
        assert places["Moray Joinery"].status == "joined"
        assert places["Tay Trades"].status == "declined"
        assert places["Tay Trades"].decline_reason == "Fully booked in spring"
        kinds = [e.kind for e in s.scalars(select(BidEvent).where(BidEvent.bid_id == bid_id))]
        assert "joined" in kinds and "declined" in kinds
    # A link altered on the way (its signature's first character) gets the friendly page.
    token = join.rsplit("/", 1)[1]
    head, _, signature = token.rpartition(".")
    changed = head + "." + ("A" if signature[0] != "A" else "B") + signature[1:]
    page = pages.text(client.get(f"/bids/m/{changed}"), 400)
    assert "<h1>This link doesn't work</h1>" in page and "Nothing has been changed." in page


def test_a_member_marks_their_task_done_from_their_page(
    pages, client, sessions, kitchens, make_bid, member_ids, app, cache, clock
):
    from broker.bids import forming, tasks

    bid_id = make_bid(kitchens)
    moray = member_ids()["Moray Joinery"]
    with sessions.begin() as s:
        bid = s.get(Bid, bid_id)
        forming.add_members(s, bid, [moray], "partner", cache, clock(), "added")
        task = tasks.add_task(
            s, bid, tasks.TaskEntry("Method statement for Moray", f"member:{moray}"), None, clock()
        )
        task_id = task.id
    url = BidLinks(for_app(app)).url(moray, bid_id, "page")
    path = url.split("://", 1)[1].split("/", 1)[1]
    page = pages.text(client.get("/" + path))
    assert "Method statement for Moray" in page
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    response = client.post(f"/{path}/tasks/{task_id}", data={"csrf_token": token})
    assert response.status_code == 302
    assert "Marked done: Method statement for Moray." in pages.text(client.get("/" + path))
    with sessions() as s:
        from broker.models.bids import BidTask

        done = s.get(BidTask, task_id)
        assert (done.status, done.done_by) == ("done", "Moray Joinery")


def test_the_stage_form_refuses_an_illegal_move_and_needs_a_value_to_win(
    pages, client, coordinator, csrf_token, sessions, make_bid
):
    bid_id = make_bid()
    page = client.get(f"/bids/{bid_id}")
    refused = client.post(
        f"/bids/{bid_id}/stage",
        data={"stage-csrf_token": csrf_token(page), "stage-stage": "won"},
    )
    # "won" is not offered from forming: the form refuses it as a choice.
    assert refused.status_code == 400
    for stage in ("go_no_go", "preparing", "submitted"):
        response = client.post(
            f"/bids/{bid_id}/stage",
            data={"stage-csrf_token": csrf_token(page), "stage-stage": stage, "stage-note": stage},
        )
        assert response.status_code == 302
    missing = client.post(
        f"/bids/{bid_id}/stage",
        data={"stage-csrf_token": csrf_token(page), "stage-stage": "won"},
    )
    assert "Give the contract&#39;s value (£) to mark the bid won." in pages.text(missing, 400)
    won = client.post(
        f"/bids/{bid_id}/stage",
        data={
            "stage-csrf_token": csrf_token(page),
            "stage-stage": "won",
            "stage-value_won": "250000",
        },
    )
    assert won.status_code == 302
    page = pages.text(client.get(f"/bids/{bid_id}"))
    assert "The bid is now won." in page and "Contract value: £250,000." in page


def test_the_board_lists_bids_by_stage_with_what_is_due_this_week(
    pages, client, coordinator, sessions, make_bid, clock
):
    from broker.clock import utcnow

    soon = make_bid(None, title="Due soon", tender_deadline=utcnow() + timedelta(days=3))
    later = make_bid(None, title="Later", tender_deadline=utcnow() + timedelta(days=60))
    page = pages.text(client.get("/bids/"))
    pages.assert_accessible(page)
    forming_section = page[page.index('id="stage-forming"') : page.index('id="stage-go_no_go"')]
    assert forming_section.index("Due soon") < forming_section.index("Later")
    row = forming_section[forming_section.index(f"/bids/{soon}") :]
    assert "Attention: tender deadline within 7 days" in row[: row.index("</tr>")]
    row = forming_section[forming_section.index(f"/bids/{later}") :]
    assert "Attention" not in row[: row.index("</tr>")]
    assert '<a class="button" href="/bids/new">New bid</a>' in page
    assert "Calendar feed" in page


def test_a_new_bid_from_scratch(pages, client, coordinator, csrf_token, sessions):
    page = pages.text(client.get("/bids/new"))
    pages.assert_accessible(page)
    response = client.post(
        "/bids/new",
        data={
            "csrf_token": csrf_token(page),
            "title": "Parks re-tender 2027",
            "model": "joint_entity",
            "deadline_date": "2027-03-01",
            "estimated_value": "750000",
        },
    )
    assert response.status_code == 302
    with sessions() as s:
        bid = s.scalars(select(Bid).where(Bid.title == "Parks re-tender 2027")).one()
        assert (bid.model, bid.estimated_value, bid.notice_id) == ("joint_entity", 750_000, None)
        assert bid.deadline.isoformat() == "2027-03-01T12:00:00+00:00"
    empty = client.post("/bids/new", data={"csrf_token": csrf_token(page), "title": ""})
    assert "Give the bid a title" in pages.text(empty, 400)


def test_bid_pages_need_a_login_but_members_links_and_the_feed_do_not(client, make_bid):
    bid_id = make_bid()
    for url in ("/bids/", f"/bids/{bid_id}", "/bids/new"):
        response = client.get(url)
        assert response.status_code == 302 and "/login" in response.headers["Location"]
    assert client.get("/bids/m/not-a-token").status_code == 400
    assert client.get("/bids/calendar/not-a-token.ics").status_code == 404
