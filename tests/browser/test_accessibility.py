"""Every main page: axe-core finds nothing serious, every input is labelled, headings go in
order, nothing is said by colour alone, and it works 320 px wide. Screenshots of each."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass

import pytest

from .conftest import GREENSPACE, LANDSCAPE, LiveServer

# A notice of the accessibility checks' own: a bid is started on it.
RHODODENDRONS = "Rhododendron Removal and Eradication, Eilean na Muice Duibhe SSSI, SAC, SPA"

# Fail on these axe impacts; report the others.
FAILING = {"serious", "critical"}
NARROW = 320


@dataclass(frozen=True)
class Page:
    path: Callable[[LiveServer], str]
    role: str | None = "coordinator"
    # Something to do once the page is open, e.g. submit a form to see its errors.
    then: Callable[[object], None] | None = None


def _failed_login(page) -> None:
    page.get_by_label("Email").fill("nobody@sen.example.org")
    page.get_by_role("button", name="Log in").click()
    page.locator(".field-error").first.wait_for()


def _invalid_profile(page) -> None:
    page.get_by_label("Name").fill("")
    page.get_by_label("Areas served").fill("Atlantis")
    page.get_by_role("button", name="Test this profile").click()
    page.locator(".error-summary").wait_for()


def _outbox(live: LiveServer) -> str:
    """The Outbox page, with a failed and a sent message to show (written once; neither is
    ever sent, so the flows' mail is undisturbed)."""
    from sqlalchemy import select

    from broker.clock import utcnow
    from broker.mail.outbox import Email, enqueue
    from broker.models import OutboxMessage

    to = "outbox-page@a11y.example.org"
    with live.sessions.begin() as s:
        if s.scalar(select(OutboxMessage.id).where(OutboxMessage.to_address == to)) is None:
            for status, error in (
                ("failed", "550 5.1.1 <outbox-page@a11y.example.org>: no such user here"),
                ("sent", ""),
            ):
                email = Email("forward", to, f"A {status} message", "Text", "<p>HTML</p>")
                message = enqueue(s, email, "opportunities@sen-broker.example", utcnow())
                message.status, message.last_error, message.attempts = status, error, 1
                message.sent_at = utcnow() if status == "sent" else None
    return "/outbox/"


def _bid(live: LiveServer) -> str:
    """A bid's page, started once on a notice no other test uses."""
    from sqlalchemy import select

    from broker.bids import forming
    from broker.clock import utcnow
    from broker.models import Notice
    from broker.models.bids import Bid

    with live.sessions.begin() as s:
        notice = s.get(Notice, live.notice_id(RHODODENDRONS))
        bid = s.scalar(select(Bid).where(Bid.notice_id == notice.id))
        if bid is None:
            details = forming.BidDetails(title=notice.title, note="Removal over two seasons.")
            bid = forming.start_bid(s, details, None, utcnow(), notice)
        return f"/bids/{bid.id}"


def _outbox_message(live: LiveServer) -> str:
    """One message as the member gets it: headers, both parts, the links."""
    from sqlalchemy import select

    from broker.clock import utcnow
    from broker.mail.outbox import Email, enqueue
    from broker.models import OutboxMessage

    to = "outbox-message@a11y.example.org"
    with live.sessions.begin() as s:
        found = s.scalar(select(OutboxMessage.id).where(OutboxMessage.to_address == to))
        if found is None:
            html = (
                '<!doctype html><html lang="en-GB"><head><title>A forward</title></head><body>'
                '<p>See <a href="https://www.publiccontractsscotland.gov.uk/">the notice</a>.'
                "</p></body></html>"
            )
            text = "See the notice: https://www.publiccontractsscotland.gov.uk/\n"
            email = Email("forward", to, "A forward to read", text, html)
            message = enqueue(s, email, "opportunities@sen-broker.example", utcnow())
            message.status, message.sent_at, message.attempts = "sent", utcnow(), 1
            s.flush()
            found = message.id
    return f"/outbox/{found}"


def _extracted_notice(page) -> None:
    page.get_by_label("Web address or text of the notice").fill(
        "Subject: Quick Quote - Grounds maintenance, Dalmuir Park\n"
        "Issued by West Dunbartonshire Council.\nCPV: 77314000\nClosing date: 12/03/2031 12:00"
    )
    page.get_by_role("button", name="Extract details").click()
    page.locator(".flash-info").wait_for()


def _invalid_listing(page) -> None:
    page.get_by_label("Name", exact=True).fill("Not A Name!")
    page.get_by_label("Each tender on the page (CSS selector)").fill("tr[")
    page.get_by_role("button", name="Add listing page").click()
    page.locator(".error-summary").wait_for()


def _listed_member(live: LiveServer) -> str:
    """A listed member's public page (Greenspace Growers listed, nothing else changed)."""
    from broker.models import Member

    member_id = live.member_id(GREENSPACE)
    with live.sessions.begin() as s:
        s.get(Member, member_id).listed = True
    return f"/network/members/{member_id}"


def _unfinished_opportunity(page) -> None:
    page.get_by_label("Title").fill("Grounds maintenance, Dalmuir Park")
    page.get_by_role("button", name="Send to the network").click()
    page.locator(".field-error").first.wait_for()


PAGES = {
    "login": Page(lambda live: "/login", role=None),
    "login-error": Page(lambda live: "/login", role=None, then=_failed_login),
    "triage": Page(lambda live: "/"),
    "notice": Page(lambda live: f"/notices/{live.notice_id(LANDSCAPE)}"),
    "members": Page(lambda live: "/members/"),
    "member-profile": Page(lambda live: f"/members/{live.member_id(GREENSPACE)}"),
    "member-profile-errors": Page(lambda live: "/members/new", then=_invalid_profile),
    "members-import": Page(lambda live: "/members/import"),
    "add-notice": Page(lambda live: "/notices/new"),
    "add-notice-extracted": Page(lambda live: "/notices/new", then=_extracted_notice),
    "sources": Page(lambda live: "/sources/", role="admin"),
    "add-feed": Page(lambda live: "/sources/add/rss", role="admin"),
    "add-listing-errors": Page(
        lambda live: "/sources/add/html_listing", role="admin", then=_invalid_listing
    ),
    "source": Page(lambda live: "/sources/pcs", role="admin"),
    "dashboard": Page(lambda live: "/dashboard/"),
    "bids": Page(lambda live: "/bids/"),
    "bids-new": Page(lambda live: "/bids/new"),
    "bid": Page(_bid),
    "users": Page(lambda live: "/users/", role="admin"),
    "outbox": Page(_outbox, role="admin"),
    "outbox-message": Page(_outbox_message),
    # The member's page first: it lists the member the directory and search then show.
    "network-member": Page(_listed_member, role=None),
    "network": Page(lambda live: "/network/", role=None),
    "network-find": Page(
        lambda live: "/network/find?what=grounds+maintenance&where=Glasgow", role=None
    ),
    "network-nothing-fits": Page(lambda live: "/network/find?what=submarine+repairs", role=None),
    "network-privacy": Page(lambda live: "/network/privacy", role=None),
    # A buyer's forms (their honeypot is hidden from everyone), one with its errors.
    "network-contact": Page(lambda live: f"{_listed_member(live)}/contact", role=None),
    "network-opportunity": Page(lambda live: "/network/opportunity", role=None),
    "network-opportunity-errors": Page(
        lambda live: "/network/opportunity", role=None, then=_unfinished_opportunity
    ),
    "network-check-email": Page(lambda live: "/network/check-your-email", role=None),
}

# Every visible form control without a <label> of its own: a <label for=...> or one
# wrapped around it (aria-label and placeholders don't count).
UNLABELLED = """() => [...document.querySelectorAll('input, select, textarea')]
  .filter(el => !['hidden', 'submit', 'button', 'reset', 'image'].includes(el.type))
  .filter(el => el.getClientRects().length > 0)
  .filter(el => ![...el.labels].some(l => l.textContent.trim()))
  .map(el => el.outerHTML.slice(0, 160))"""

HEADINGS = """() => [...document.querySelectorAll('h1, h2, h3, h4, h5, h6')]
  .map(h => [Number(h.tagName[1]), h.textContent.trim().replace(/\\s+/g, ' ').slice(0, 60)])"""

# Things that carry meaning by colour or shape (badges, scores, statuses, flash messages,
# errors, a reason that excludes) must also say it in words.
WORDLESS = """() => [...document.querySelectorAll(
    '.badge, .score, .status, [class*="status-"], .flash, .error, .error-text, .reason'
  )]
  .filter(el => !el.textContent.trim())
  .map(el => el.outerHTML.slice(0, 160))"""

# What sticks out past the right edge, outside any scrolling box of its own: a box too
# wide, or content spilling out of one (a long word, a wide table); innermost first.
OVERFLOWING = """(width) => [...document.querySelectorAll('body *')]
  .filter(el => {
    const box = el.getBoundingClientRect();
    const spills = getComputedStyle(el).overflowX === 'visible'
      && el.scrollWidth > el.clientWidth + 1;
    return box.right > width + 1 || (spills && box.left + el.scrollWidth > width + 1);
  })
  .filter(el => {
    for (let p = el.parentElement; p; p = p.parentElement) {
      if (['auto', 'scroll', 'hidden'].includes(getComputedStyle(p).overflowX)) return false;
    }
    return true;
  })
  .filter((el, _, all) => !all.some(other => other !== el && el.contains(other)))
  .slice(0, 10)
  .map(el => el.outerHTML.slice(0, 120))"""


def headings_out_of_order(levels: list[list]) -> list[str]:
    problems = []
    if not levels or levels[0][0] != 1:
        problems.append(f"the first heading is not an h1: {levels[:1]}")
    if [level for level, _ in levels].count(1) != 1:
        problems.append("not exactly one h1")
    for (before, _), (level, text) in itertools.pairwise(levels):
        if level > before + 1:
            problems.append(f"h{before} then h{level} ({text!r}): a level is skipped")
    return problems


def run_axe(page, axe_source: str) -> list[dict]:
    if not page.evaluate("() => typeof axe === 'object'"):
        page.add_script_tag(content=axe_source)
    result = page.evaluate(
        """async () => {
            const r = await axe.run(document, {resultTypes: ['violations']});
            return r.violations.map(v => ({
                id: v.id, impact: v.impact, help: v.help,
                targets: v.nodes.map(n => n.target.join(' ')),
            }));
        }"""
    )
    print(f"axe: {len(result)} violations on {page.url}")
    for v in result:
        print(f"axe {v['impact']}: {v['id']} ({v['help']}) at {v['targets']}")
    return result


def check(page, axe_source: str, path: str) -> None:
    """axe (nothing serious), labels, heading order, words beside colour."""
    violations = run_axe(page, axe_source)
    problems = [v for v in violations if v["impact"] in FAILING]
    width = page.viewport_size["width"]
    assert not problems, f"{path} at {width}px: serious axe violations: {problems}"
    assert not page.evaluate(UNLABELLED), f"{path}: inputs without a <label>"
    levels = page.evaluate(HEADINGS)
    assert not headings_out_of_order(levels), (headings_out_of_order(levels), levels)
    assert not page.evaluate(WORDLESS), f"{path}: meaning shown by colour alone"


@pytest.mark.parametrize("name", PAGES)
def test_page_is_accessible(browse, live_server, axe_source, name):
    if live_server.backend != "sqlite":
        # The flows and the XSS test run on every backend; the markup doesn't change.
        pytest.skip("the accessibility checks run once, on SQLite, to keep the suite fast")
    spec = PAGES[name]
    path = spec.path(live_server)

    # With the CSP bypassed in this context only, so axe can be injected.
    page = browse.page(role=spec.role, bypass_csp=True)
    response = page.goto(path)
    assert response is not None and response.ok, f"{path}: {response and response.status}"
    if spec.then:
        spec.then(page)
    # Open what is folded away (tables behind "as a table", the CSV format), so it's
    # checked and shown too.
    page.locator("details").evaluate_all("all => all.forEach(d => { d.open = true; })")
    browse.screenshot(page, name)
    check(page, axe_source, path)

    # 320 px wide (a phone, or 1280 px at 400% zoom): nothing scrolls sideways, and a
    # table that scrolls within its box can be scrolled from the keyboard.
    page.set_viewport_size({"width": NARROW, "height": 900})
    width = page.evaluate("() => document.documentElement.scrollWidth")
    browse.screenshot(page, f"{name}-{NARROW}")
    assert width <= NARROW + 1, (
        f"{path} is {width}px wide at {NARROW}px: {page.evaluate(OVERFLOWING, NARROW)}"
    )
    check(page, axe_source, path)
