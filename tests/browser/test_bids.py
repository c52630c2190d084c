"""A consortium bid from start to outcome in the browser: started on a notice page, a
suggested partner set invited, the invitation read off the SMTP server and accepted in a
fresh browser, a task added, the stages moved on to won, and the bid on the board and in
the dashboard's funnel."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from .conftest import FORESTRY, LOTHIAN_TREES, WEST_LOTHIAN_WOODS

JOIN = re.compile(r"https?://\S+/bids/m/[A-Za-z0-9_.\-]+")


def test_a_consortium_bid_from_the_notice_to_won(browse, live_server):
    page = browse.page()
    page.goto(f"/notices/{live_server.notice_id(FORESTRY)}")
    page.get_by_label("Consortium model").select_option("lead_contractor")
    page.get_by_role("button", name="Start a consortium bid").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(FORESTRY)
    bid_url = page.url

    # The suggestion covers both regional lots with the two tree-care members.
    suggestions = page.locator("#suggestions")
    expect(suggestions.get_by_role("heading", name="Suggested partners")).to_be_visible()
    first = suggestions.locator("ol.matches > li").first
    expect(first).to_contain_text(LOTHIAN_TREES)
    expect(first).to_contain_text(WEST_LOTHIAN_WOODS)
    first.get_by_role("button", name="Use these partners").click()
    invite = page.get_by_role("group", name="Invite to this bid")
    expect(invite.get_by_label(LOTHIAN_TREES)).to_be_checked()
    expect(invite.get_by_label(WEST_LOTHIAN_WOODS)).to_be_checked()
    browse.screenshot(page, "bid-forming")
    page.get_by_role("button", name="Send invitations").click()
    expect(page.locator(".flash")).to_have_text("Invited 2 members.")

    # The invitation, from the SMTP server; the member opens "Join this bid" with no login.
    live_server.send_mail()
    [message] = [
        m for m in live_server.smtp.messages if str(m["To"]) == "bids@lothiantrees.example.org"
    ]
    assert str(message["Subject"]) == f"Join a consortium bid: {FORESTRY}"
    html = message.get_body(preferencelist=("html",)).get_content()
    member = browse.page(role=None)
    member.set_content(html)
    with member.expect_navigation():
        member.get_by_role("link", name="Join this bid").click()
    assert JOIN.match(member.url)
    expect(member.get_by_role("heading", level=1)).to_have_text("Join this consortium bid")
    member.get_by_role("button", name="Join", exact=True).click()
    expect(member.locator(".flash")).to_have_text("Thank you: you are in the bid.")
    expect(member.get_by_role("heading", level=1)).to_contain_text("your part in the bid")
    browse.screenshot(member, "bid-member-page")

    # Back with the coordinator: the member has joined; a task for them.
    page.goto(bid_url)
    expect(page.locator(f"#member-{live_server.member_id(LOTHIAN_TREES)}")).to_contain_text(
        "Joined"
    )
    add = page.locator("form", has=page.get_by_role("button", name="Add task"))
    add.get_by_label("Task").fill("Site visits in East Lothian")
    add.get_by_label("Owner").select_option(label=LOTHIAN_TREES)
    add.get_by_label("Due date").fill("2027-01-15")
    add.get_by_role("button", name="Add task").click()
    expect(page.locator(".flash")).to_have_text("Task added.")
    expect(page.locator("#tasks")).to_contain_text("Site visits in East Lothian")

    # Through the stages to won, with the contract's value.
    for stage in ("Go/no-go", "Preparing", "Submitted"):
        page.get_by_label("Stage").select_option(label=stage)
        page.get_by_label("Note", exact=True).fill(f"Moved to {stage.lower()}")
        page.get_by_role("button", name="Change stage").click()
        expect(page.locator(".flash")).to_have_text(f"The bid is now {stage.lower()}.")
    page.get_by_label("Stage").select_option(label="Won")
    page.get_by_label("Contract value (£)").fill("480000")
    page.get_by_role("button", name="Change stage").click()
    expect(page.locator(".flash")).to_have_text("The bid is now won.")
    expect(page.locator("#timeline")).to_contain_text("submitted → won")
    browse.screenshot(page, "bid-won")

    # On the board, under Won; and counted in the dashboard's funnel.
    page.goto("/bids/")
    won = page.locator("section", has=page.get_by_role("heading", name=re.compile("^Won")))
    expect(won).to_contain_text(FORESTRY)
    expect(won).to_contain_text("Won: £480,000")
    browse.screenshot(page, "bids-board")
    page.goto("/dashboard/")
    funnel = page.locator("#funnel-table")
    expect(
        funnel.locator("tr", has=page.get_by_role("rowheader", name="Submitted"))
    ).not_to_contain_text(re.compile(r"^Submitted\s*0"))
    won_row = funnel.locator("tr", has=page.get_by_role("rowheader", name="Won", exact=True))
    expect(won_row).to_contain_text("£480,000")
