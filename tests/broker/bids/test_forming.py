"""Forming a bid on the real kitchen framework: the checklist, partner suggestions,
invitations by e-mail, members' answers through their links, roles and shares, and the
notice's changes told once."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from broker.bids import changes, forming, tasks
from broker.bids.links import BidLinks
from broker.bids.messages import queue_invitation
from broker.bids.timeline import BidError
from broker.models import Member, MemberResponse, Notice, NoticeAction, OutboxMessage
from broker.models.bids import Bid, BidEvent

LINK = re.compile(r"https?://[^\s\"'<>]+/bids/m/[A-Za-z0-9_.\-]+")


def outbox(sessions, kind: str) -> list[OutboxMessage]:
    with sessions() as s:
        return list(
            s.scalars(
                select(OutboxMessage).where(OutboxMessage.kind == kind).order_by(OutboxMessage.id)
            )
        )


def test_a_bid_from_a_notice_starts_forming_with_the_checklist_dated_from_the_deadline(
    sessions, kitchens, make_bid, make_user, clock
):
    user = make_user()
    bid_id = make_bid(kitchens, user_id=user.id, model="managing_agent")
    with sessions() as s:
        bid = s.get(Bid, bid_id)
        notice = s.get(Notice, kitchens)
        assert (bid.stage, bid.model, bid.title) == ("forming", "managing_agent", notice.title)
        assert bid.deadline == notice.deadline
        titles = [t.title for t in sorted(bid.tasks, key=lambda t: t.position)]
        assert titles == [title for title, _days in tasks.CHECKLIST]
        due = {t.title: t.due_on for t in bid.tasks}
        deadline_day = (clock() + timedelta(days=30)).date()
        assert due["Final review and submission"] == deadline_day - timedelta(days=1)
        assert due["Consortium agreement"] == deadline_day - timedelta(days=21)
        # The notice says members are bidding, in its status and its log.
        assert notice.triage_status == "bid"
        action = s.scalars(select(NoticeAction).where(NoticeAction.notice_id == kitchens)).one()
        assert (action.action, action.user_id) == ("start_bid", user.id)


def test_suggested_partners_cover_the_seven_lots_and_leave_out_who_said_no(
    sessions, kitchens, make_bid, cache, member_ids, clock
):
    bid_id = make_bid(kitchens)
    with sessions() as s:
        [best, *_] = forming.suggestions(s, s.get(Bid, bid_id), cache)
    names = [m.name for m, _words in best.members]
    assert names == ["Granite Kitchens", "Moray Joinery", "Tay Trades"]
    assert best.missing == ()
    words = dict((m.name, w) for m, w in best.members)
    assert "Lot 5: Moray, bathrooms" in words["Moray Joinery"]
    # Moray Joinery says "not for us" to the notice: no suggestion holds it any more, and
    # Lot 5 is then said to be uncovered.
    with sessions.begin() as s:
        s.add(
            MemberResponse(
                member_id=member_ids()["Moray Joinery"],
                notice_id=kitchens,
                kind="declined",
                reason="too_far",
                created_at=clock(),
            )
        )
    with sessions() as s:
        found = forming.suggestions(s, s.get(Bid, bid_id), cache)
    assert all("Moray Joinery" not in [m.name for m, _w in f.members] for f in found)
    assert "no member covers Lot 5: Moray" in found[0].missing
    # Unsubscribed members are left out too.
    with sessions.begin() as s:
        s.execute(update(Member).where(Member.name == "Tay Trades").values(unsubscribed_at=clock()))
    with sessions() as s:
        found = forming.suggestions(s, s.get(Bid, bid_id), cache)
        assert all("Tay Trades" not in [m.name for m, _w in f.members] for f in found)
        invitable = [m.name for m in forming.invitable(s, s.get(Bid, bid_id))]
    assert invitable == ["Granite Kitchens"]


def invite(sessions, bid_id, names, member_ids, cache, context, clock, role="partner"):
    ids = member_ids()
    with sessions.begin() as s:
        bid = s.get(Bid, bid_id)
        placed = forming.add_members(s, bid, [ids[n] for n in names], role, cache, clock())
        for place in placed:
            queue_invitation(s, bid, place, context, "Casey Coordinator", clock())


def test_an_invitation_says_what_the_bid_is_and_carries_join_and_can_t_join_links(
    sessions, kitchens, make_bid, member_ids, cache, context, clock
):
    bid_id = make_bid(kitchens, note="Kitchens across the north-east, shared by region.")
    invite(
        sessions, bid_id, ["Moray Joinery", "Granite Kitchens"], member_ids, cache, context, clock
    )
    messages = outbox(sessions, "bid_invite")
    assert sorted(m.to_address for m in messages) == [
        "bids@granite.example.org",
        "office@morayjoinery.example.org",
    ]
    moray = next(m for m in messages if m.to_address.startswith("office@moray"))
    assert moray.subject == "Join a consortium bid: Kitchen and Bathroom Framework 2020-2024"
    text = moray.text_body
    assert "Kitchens across the north-east, shared by region." in text
    assert "Your part: Partner" in text and "Lots: Lot 5: Moray" in text
    assert "Deadline: " in text and "(30 days left)" in text
    assert "Join this bid:" in text and "Can't join:" in text
    assert ">Join this bid</a>" in moray.html_body and ">Can&#39;t join</a>" in moray.html_body
    join, decline = LINK.findall(text)
    links = BidLinks(context.links)
    token = join.rsplit("/", 1)[1]
    assert links.read(token).action == "join"
    assert links.read(decline.rsplit("/", 1)[1]).action == "decline"
    with sessions() as s:
        places = {m.member.name: m for m in s.get(Bid, bid_id).members}
        assert places["Moray Joinery"].status == "invited"
        assert places["Moray Joinery"].lots == [4]
        assert places["Granite Kitchens"].lots == [0, 1, 2, 3]


def test_shares_add_up_to_100_at_most_and_a_bid_has_one_lead(
    sessions, kitchens, make_bid, member_ids, cache, context, clock
):
    bid_id = make_bid(kitchens)
    invite(
        sessions, bid_id, ["Granite Kitchens", "Moray Joinery"], member_ids, cache, context, clock
    )
    ids = member_ids()

    def set_part(name, role, share, lots=()):
        with sessions.begin() as s:
            forming.set_part(
                s,
                s.get(Bid, bid_id),
                forming.PartEntry(ids[name], role, share, lots),
                None,
                clock(),
            )

    set_part("Granite Kitchens", "lead", 70, (0, 1, 2, 3))
    with pytest.raises(BidError) as too_much:
        set_part("Moray Joinery", "partner", 40)
    assert str(too_much.value) == (
        "The shares would add up to 110%: the other members already have 70%, "
        "so this one can have at most 30%."
    )
    with pytest.raises(BidError, match="Granite Kitchens is the lead; a bid has one"):
        set_part("Moray Joinery", "lead", 30)
    with pytest.raises(BidError, match="Choose lots the notice has"):
        set_part("Moray Joinery", "partner", 30, (7,))
    set_part("Moray Joinery", "subcontractor", 30, (4,))
    with sessions() as s:
        parts = {
            m.member.name: (m.role, m.share_percent, m.lots) for m in s.get(Bid, bid_id).members
        }
        assert parts == {
            "Granite Kitchens": ("lead", 70, [0, 1, 2, 3]),
            "Moray Joinery": ("subcontractor", 30, [4]),
        }
        last = s.scalars(select(BidEvent).order_by(BidEvent.id.desc())).first()
        assert last.detail == "Moray Joinery: subcontractor; 30% of the work; Lot 5: Moray"


def test_a_bid_for_an_expected_re_tender_is_linked_to_its_notice_later(
    sessions, kitchens, make_bid, cache, clock
):
    bid_id = make_bid(None, title="Kitchen framework re-tender", estimated_value=12_000_000.0)
    with sessions() as s:
        bid = s.get(Bid, bid_id)
        assert bid.notice is None and bid.value == 12_000_000.0
        assert forming.suggestions(s, bid, cache) == []
    with sessions.begin() as s:
        forming.link_notice(s, s.get(Bid, bid_id), s.get(Notice, kitchens), None, clock())
    with sessions() as s:
        bid = s.get(Bid, bid_id)
        assert bid.notice_id == kitchens and bid.notice.triage_status == "bid"
        assert forming.suggestions(s, bid, cache)[0].missing == ()


def test_the_notice_s_changes_reach_the_bid_s_members_once(
    sessions, kitchens, make_bid, member_ids, cache, context, clock
):
    bid_id = make_bid(kitchens)
    invite(sessions, bid_id, ["Granite Kitchens", "Tay Trades"], member_ids, cache, context, clock)
    with sessions.begin() as s:
        for place in s.get(Bid, bid_id).members:
            forming.answer(s, place, place.member.name == "Granite Kitchens", "", clock())
    # Nothing changed: nothing to tell.
    with sessions.begin() as s:
        assert changes.tell_changes(s, context, clock()) == 0
    moved = clock() + timedelta(days=44)
    with sessions.begin() as s:
        s.execute(update(Notice).where(Notice.id == kitchens).values(deadline=moved))
    for _ in range(2):  # a second run (or another process) tells nobody again
        with sessions.begin() as s:
            changes.tell_changes(s, context, clock())
    [told] = outbox(sessions, "bid_change")
    # Only the member who joined; the one who said no hears nothing.
    assert told.to_address == "bids@granite.example.org"
    assert (
        told.subject
        == "Changed: the notice for your bid “Kitchen and Bathroom Framework 2020-2024”"
    )
    assert "The deadline moved from" in told.text_body
    with sessions.begin() as s:
        s.execute(update(Notice).where(Notice.id == kitchens).values(status="cancelled"))
        changes.tell_changes(s, context, clock())
    latest = outbox(sessions, "bid_change")[-1]
    assert latest.subject.startswith("Cancelled: ")
    with sessions() as s:
        events = s.scalars(
            select(BidEvent).where(BidEvent.bid_id == bid_id, BidEvent.kind == "notice_changed")
        ).all()
        assert [e.detail for e in events][1] == "The buyer cancelled the notice."
