"""A coordinator's day in a real browser: log in, triage, forward, dismiss, edit a profile."""

from __future__ import annotations

import re

from playwright.sync_api import expect
from sqlalchemy import select

from broker.models import Forward, Match, Notice, NoticeAction

from .conftest import (
    CARE,
    CLEAN_START,
    COORDINATOR,
    END_OF_LEASE,
    GREENSPACE,
    LANDSCAPE,
    MEDICAL_AIDS,
    PASSWORD,
    SHARED_WHEELS,
)

BUS = "Lewis and Harris School and Public Bus Service 2019-26"  # forwarded
CONFIDENTIAL = "EC0853 The University of Edinburgh Confidential Waste"  # re-matched
NOTE = "Worth a look: you both run routes on Lewis. Call me before Friday."


def heading(page):
    return page.get_by_role("heading", level=1)


def flash(page):
    return page.locator(".flash")


def background(locator) -> str:
    return locator.evaluate("el => getComputedStyle(el).backgroundColor")


def test_log_in_through_the_form(browse, live_server):
    page = browse.page(role=None)
    page.goto("/")
    # Every page but this one needs a login; the browser is sent here and back after.
    expect(page).to_have_url(re.compile(r"/login\?next=(/|%2F)$"))
    expect(heading(page)).to_have_text("Log in")

    page.get_by_label("Email").fill(COORDINATOR)
    page.get_by_label("Password").fill("not the password at all")
    page.get_by_role("button", name="Log in").click()
    expect(heading(page)).to_have_text("Log in")
    error = page.locator(".field-error .error")
    expect(error).to_have_count(1)
    # The message is in words and tied to the field for screen readers.
    expect(error).not_to_be_empty()
    password = page.get_by_label("Password")
    expect(password).to_have_attribute("aria-describedby", re.compile(r"\bpassword-error\b"))
    expect(page.get_by_label("Email")).to_have_value(COORDINATOR)
    browse.screenshot(page, "login-failed")

    password.fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(f"{live_server.url}/")
    expect(heading(page)).to_have_text("Triage")
    expect(page.locator("header .who")).to_have_text("Casey Coordinator")
    expect(
        page.get_by_role("navigation", name="Main").get_by_role("link", name="Triage")
    ).to_have_attribute("aria-current", "page")
    # Coordinators don't manage users.
    expect(page.get_by_role("link", name="Users")).to_have_count(0)

    page.get_by_role("button", name="Log out").click()
    expect(heading(page)).to_have_text("Log in")
    expect(flash(page)).to_have_text("You have logged out.")
    page.goto("/members/")
    expect(heading(page)).to_have_text("Log in")


def test_triage_then_a_notice(browse, live_server):
    page = browse.page()
    page.goto("/")
    expect(heading(page)).to_have_text("Triage")
    rows = page.locator("table.queue tbody tr")
    expect(rows.first).to_be_visible()
    scores = [int(s) for s in page.locator("table.queue .score").all_inner_texts()]
    assert len(scores) >= 10
    assert scores == sorted(scores, reverse=True), "the best matches come first"
    medical = rows.filter(has_text=MEDICAL_AIDS)
    # Reserved for supported businesses: said in words, not with a colour.
    expect(medical.locator(".badge").filter(has_text="Reserved")).to_have_count(1)
    expect(medical).to_contain_text(re.compile(r"\d+ days? left"))

    # Filters are a labelled form; the search covers the buyer's name.
    page.get_by_label("Search title, description and buyer").fill("Caledonia")
    page.get_by_role("button", name="Show notices").click()
    expect(page).to_have_url(re.compile(r"[?&]q=Caledonia"))
    expect(rows.filter(has_text=LANDSCAPE)).to_have_count(1)
    for text in rows.all_inner_texts():
        assert "Caledonia" in text
    expect(page.get_by_label("Search title, description and buyer")).to_have_value("Caledonia")
    browse.screenshot(page, "triage-filtered")

    page.get_by_role("link", name=LANDSCAPE).click()
    expect(page).to_have_url(f"{live_server.url}/notices/{live_server.notice_id(LANDSCAPE)}")
    expect(heading(page)).to_have_text(LANDSCAPE)
    facts = page.locator("dl.facts")
    expect(facts).to_contain_text("77314000 Grounds maintenance services")
    expect(facts).to_contain_text("UKM81 East Dunbartonshire, West Dunbartonshire")
    expect(facts).to_contain_text(re.compile(r"\d+ days? left"))
    expect(page.get_by_role("heading", name="Matched members (1)")).to_be_visible()
    match = page.locator("ol.matches > li")
    expect(match.get_by_role("link", name=GREENSPACE)).to_be_visible()
    expect(match.locator(".score")).to_have_attribute("aria-label", "score 100 out of 100")
    # Why it matched, in words.
    reasons = match.locator(".reasons li")
    expect(reasons.filter(has_text="landscape maintenance").first).to_be_visible()
    # A reason that starts with its kind is not prefixed with it again.
    expect(reasons.filter(has_text="77314000")).to_have_text(
        re.compile(r"^CPV 77314000 \(Grounds maintenance services\)")
    )

    page.get_by_role("link", name="Back to triage").click()
    expect(heading(page)).to_have_text("Triage")


def test_forward_to_two_members_with_a_note(browse, live_server):
    nid = live_server.notice_id(BUS)
    page = browse.page()
    page.goto(f"/notices/{nid}")
    expect(page.get_by_role("heading", name="Matched members (1)")).to_be_visible()
    forward_to = page.get_by_role("group", name="Members to forward to")
    expect(forward_to.get_by_role("checkbox")).to_have_count(1)

    # The engine found one member; add a second by hand, then forward to both.
    page.get_by_label("Member", exact=True).fill("Nobody we know")
    page.get_by_role("button", name="Add member").click()
    expect(page.locator("#add-member-error")).to_have_text(
        "Error: No active member's name contains “Nobody we know”."
    )
    expect(page.get_by_label("Member", exact=True)).to_have_value("Nobody we know")
    page.get_by_label("Member", exact=True).fill(CARE)
    page.get_by_role("button", name="Add member").click()
    expect(flash(page)).to_have_text(f"Added {CARE}.")
    expect(page.get_by_role("heading", name="Matched members (2)")).to_be_visible()
    expect(page.locator("ol.matches").get_by_text("Added by hand")).to_be_visible()

    forward_to = page.get_by_role("group", name="Members to forward to")
    forward_to.get_by_label(SHARED_WHEELS).check()
    forward_to.get_by_label(CARE).check()
    page.get_by_label("Note").fill(NOTE)
    page.get_by_role("button", name="Forward", exact=True).click()

    expect(flash(page)).to_have_text("Forwarded to 2 members.")
    expect(page.locator(".status").first).to_have_text("Status: Forwarded")
    forwarded = page.locator("#forward .history li")
    expect(forwarded).to_have_count(2)
    for name in (SHARED_WHEELS, CARE):
        expect(forwarded.filter(has_text=name)).to_contain_text(NOTE)
        expect(forwarded.filter(has_text=name)).to_contain_text("by Casey Coordinator")
    browse.screenshot(page, "notice-forwarded")

    with live_server.sessions() as s:
        forwards = s.scalars(select(Forward).where(Forward.notice_id == nid)).all()
        assert sorted(f.member_id for f in forwards) == sorted(
            [live_server.member_id(SHARED_WHEELS), live_server.member_id(CARE)]
        )
        assert all(f.note == NOTE for f in forwards)
        assert s.get(Notice, nid).triage_status == "forwarded"

    # Forwarded notices stay in the open queue, marked in words.
    page.goto("/")
    expect(
        page.locator("table.queue tbody tr").filter(has_text=BUS).locator(".status")
    ).to_have_text("Forwarded")


def test_dismiss_a_notice(browse, live_server):
    nid = live_server.notice_id(END_OF_LEASE)
    page = browse.page()
    page.goto("/")
    rows = page.locator("table.queue tbody tr")
    expect(rows.filter(has_text=END_OF_LEASE)).to_have_count(1)
    page.get_by_role("link", name=END_OF_LEASE).click()

    # A destructive button looks different from the others (and says what it does).
    dismiss = page.get_by_role("button", name="Dismiss notice")
    forward = page.get_by_role("button", name="Forward", exact=True)
    assert background(dismiss) != background(forward)

    page.get_by_label("Reason").select_option("Outside our area")
    page.get_by_label("More detail (optional)").fill("Edinburgh is too far for Clean Start")
    page.get_by_role("button", name="Dismiss notice").click()
    expect(flash(page)).to_have_text("Notice dismissed.")
    expect(page.get_by_role("heading", name="Dismissed", exact=True)).to_be_visible()
    expect(page.locator(".status").first).to_have_text("Status: Dismissed")
    expect(page.get_by_role("button", name="Put back in the queue")).to_be_visible()
    browse.screenshot(page, "notice-dismissed")

    page.goto("/")
    expect(heading(page)).to_have_text("Triage")
    expect(rows.first).to_be_visible()
    expect(rows.filter(has_text=END_OF_LEASE)).to_have_count(0)
    page.get_by_label("Status").select_option(label="Dismissed")
    page.get_by_role("button", name="Show notices").click()
    expect(rows.filter(has_text=END_OF_LEASE).locator(".status")).to_have_text("Dismissed")

    with live_server.sessions() as s:
        assert s.get(Notice, nid).triage_status == "dismissed"
        action = s.scalars(
            select(NoticeAction).where(
                NoticeAction.notice_id == nid, NoticeAction.action == "dismiss"
            )
        ).one()
        assert action.detail == "Outside our area: Edinburgh is too far for Clean Start"


def test_edit_a_profile_and_see_the_matches_change(browse, live_server):
    member = live_server.member_id(CLEAN_START)
    notice = live_server.notice_id(CONFIDENTIAL)
    page = browse.page()
    page.goto("/members/")
    page.get_by_role("link", name=CLEAN_START).click()
    expect(page).to_have_url(f"{live_server.url}/members/{member}")
    expect(heading(page)).to_have_text(CLEAN_START)
    matches = page.locator("#matches")
    expect(matches.get_by_role("link", name=END_OF_LEASE)).to_be_visible()
    expect(matches.get_by_role("link", name=CONFIDENTIAL)).to_have_count(0)

    # A keyword that fits the University of Edinburgh's confidential waste contract.
    keywords = page.get_by_label("Keywords and phrases")
    keywords.fill(keywords.input_value() + "\nconfidential waste")
    page.get_by_role("button", name="Save profile").click()
    expect(flash(page)).to_contain_text(f"Saved {CLEAN_START} and re-matched it")
    row = page.locator("#matches tbody tr").filter(has_text=CONFIDENTIAL)
    expect(row).to_have_count(1)
    expect(row.locator(".reasons")).to_contain_text("confidential waste")
    expect(matches.get_by_role("link", name=END_OF_LEASE)).to_be_visible()
    browse.screenshot(page, "member-profile-edited")

    page.goto(f"/notices/{notice}")
    expect(page.locator("ol.matches").get_by_role("link", name=CLEAN_START)).to_be_visible()

    # An exclusion takes it away again.
    page.goto(f"/members/{member}")
    exclude = page.get_by_label("Exclusions")
    exclude.fill(exclude.input_value() + "\nconfidential")
    page.get_by_role("button", name="Save profile").click()
    expect(flash(page)).to_contain_text(f"Saved {CLEAN_START} and re-matched it")
    expect(page.get_by_label("Exclusions")).to_have_value(re.compile(r"\bconfidential$"))
    expect(matches.get_by_role("link", name=CONFIDENTIAL)).to_have_count(0)
    expect(matches.get_by_role("link", name=END_OF_LEASE)).to_be_visible()

    page.goto(f"/notices/{notice}")
    expect(page.locator("ol.matches").get_by_role("link", name=CLEAN_START)).to_have_count(0)
    with live_server.sessions() as s:
        assert not s.scalars(
            select(Match).where(Match.notice_id == notice, Match.member_id == member)
        ).all()
