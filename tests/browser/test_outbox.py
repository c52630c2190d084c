"""The Outbox shows a message as the member gets it: the HTML part in a sandboxed frame,
where nothing runs, whose links open outside it."""

from __future__ import annotations

import re

from playwright.sync_api import expect
from sqlalchemy import select

from .conftest import LAUNDRY, LiveServer

SUBJECT = "Forwarded: Commercial laundry, Glasgow (outbox view)"


def hostile_message(live: LiveServer) -> int:
    """A forward to the laundry member whose HTML part carries a script and an image that
    would run one, and the member's real profile link (written once per backend)."""
    from broker.clock import utcnow
    from broker.mail.outbox import Email, enqueue
    from broker.models import OutboxMessage
    from broker.outreach.links import for_app

    with live.sessions.begin() as s:
        found = s.scalar(select(OutboxMessage.id).where(OutboxMessage.subject == SUBJECT))
        if found is not None:
            return found
        profile = for_app(live.app).url(live.member_id(LAUNDRY), "profile")
        html = (
            "<!doctype html><html><head><title>Forward</title></head><body>"
            '<h1 style="font-size: 20px">Commercial laundry, Glasgow</h1>'
            "<script>window.parent.__xss = 1; window.__xss = 1</script>"
            '<img src="x" onerror="window.__xss = 2">'
            f'<p><a href="{profile}">Update my profile</a></p></body></html>'
        )
        email = Email("forward", "hello@brightlaundry.example.org", SUBJECT, "Text", html)
        message = enqueue(s, email, "opportunities@sen-broker.example", utcnow())
        # Kept, never sent: the flows' mail is undisturbed.
        message.status, message.sent_at, message.attempts = "sent", utcnow(), 1
        s.flush()
        return message.id


def test_the_html_part_is_framed_nothing_in_it_runs_and_its_links_work(browse, live_server):
    message_id = hostile_message(live_server)
    page = browse.page()
    page.goto(f"/outbox/{message_id}")
    expect(page.get_by_role("heading", level=1)).to_have_text(SUBJECT)
    frame = page.frame_locator("iframe.email-frame")
    expect(frame.get_by_role("heading", name="Commercial laundry, Glasgow")).to_be_visible()
    browse.screenshot(page, "outbox-message")
    assert page.evaluate("() => typeof window.__xss") == "undefined"
    framed = next(f for f in page.frames if f.url.endswith(f"/outbox/{message_id}/html"))
    assert framed.evaluate("() => typeof window.__xss") == "undefined"

    # A link in the message opens in a tab of its own, out of the sandbox: the member's
    # profile page, as the member would see it.
    with page.context.expect_page() as opened:
        frame.get_by_role("link", name="Update my profile").click()
    tab = opened.value
    tab.wait_for_load_state()
    expect(tab).to_have_url(re.compile(r"/r/"))
    expect(tab.get_by_role("heading", level=1)).to_contain_text("profile")
    tab.close()

    # What the console reports is the script the sandbox blocked and the image the part's
    # own policy blocked, and nothing else.
    watch = browse.watches[-1]
    assert any(e.startswith("Blocked script execution") for e in watch.console_errors)
    assert all(
        e.startswith("Blocked script execution") or "Content Security Policy" in e
        for e in watch.console_errors
    ), watch.console_errors
    assert watch.failed_loads == [f"csp {live_server.url}/outbox/{message_id}/x"]
    watch.console_errors.clear()
    watch.failed_loads.clear()
