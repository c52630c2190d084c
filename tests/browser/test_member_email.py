"""A forward, followed to the member's inbox and back: the coordinator forwards in the
browser, the e-mail arrives at a real SMTP server, the member clicks "Not for us" in it,
answers the one question, and the coordinator finds the answer on the member's page."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from .conftest import LAUNDRY

WASHROOM = "Washroom and Baby Changing Bin Exchange Services"
NOTE = "A laundry round in the same buildings: worth pricing alongside?"
LINK = re.compile(r"https?://\S+/r/[A-Za-z0-9_.\-]+")


def heading(page):
    return page.get_by_role("heading", level=1)


def test_forward_then_the_member_says_not_for_us_from_the_email(browse, live_server):
    nid = live_server.notice_id(WASHROOM)
    page = browse.page()
    page.goto(f"/notices/{nid}")
    page.get_by_label("Member", exact=True).fill(LAUNDRY)
    page.get_by_role("button", name="Add member").click()
    forward_to = page.get_by_role("group", name="Members to forward to")
    forward_to.get_by_label(LAUNDRY).check()
    page.get_by_label("Note").fill(NOTE)
    page.get_by_role("button", name="Forward", exact=True).click()
    expect(page.locator(".flash")).to_have_text("Forwarded to 1 member.")

    # The scheduler's send, run here; the message is read back from the SMTP server.
    live_server.send_mail()
    [message] = [
        m for m in live_server.smtp.messages if str(m["To"]) == "hello@brightlaundry.example.org"
    ]
    assert WASHROOM in str(message["Subject"])
    text = message.get_body(preferencelist=("plain",)).get_content()
    assert NOTE in text
    html = message.get_body(preferencelist=("html",)).get_content()
    assert "Not for us" in html

    # The member, in a browser with no login, opens the "Not for us" link from the HTML.
    member = browse.page(role=None)
    member.set_content(html)
    with member.expect_navigation():
        member.get_by_role("link", name="Not for us").first.click()
    assert LINK.match(member.url)
    expect(heading(member)).to_have_text("Not for you?")
    browse.screenshot(member, "member-not-for-us")
    member.get_by_label("It's too far away").check()
    member.get_by_label("Tell us more (optional)").fill("We only collect within Glasgow.")
    member.get_by_role("button", name="Send my answer").click()
    expect(member.locator("body")).to_contain_text("we won't send you this one again")

    # Back with the coordinator: the answer is on the member's page.
    page.goto(f"/members/{live_server.member_id(LAUNDRY)}")
    history = page.locator("#history-heading + *").locator("xpath=..")
    answer = page.locator("ul.history li").filter(has_text="not for us")
    expect(answer).to_contain_text("(too far)")
    expect(answer).to_contain_text("We only collect within Glasgow.")
    expect(answer).to_contain_text("from an e-mail link")
    expect(history).to_contain_text(WASHROOM)
