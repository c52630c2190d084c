"""A buyer's opportunity, from the public directory to triage: an anonymous officer finds
a social enterprise with "What do you need?", tells the network about an opportunity,
confirms it from the e-mail read off the SMTP server, and the coordinator finds it on
triage, "From a buyer", with the member it matched."""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from playwright.sync_api import expect
from sqlalchemy import delete, select

from broker.matching.store import refresh_match_summary
from broker.models import Match, Member

# A member of this test's own, listed in the directory (the shared ones stay unlisted).
KEEPERS = "Dalmuir Park Keepers"
KEEPERS_EMAIL = "team@parkkeepers.example.org"
OFFICER = "parks.officer@wdc.example.gov.uk"
ORGANISATION = "West Dunbartonshire Council Greenspace"
TITLE = "Grass cutting and hedge trimming in Dalmuir Park"


def heading(page):
    return page.get_by_role("heading", level=1)


@pytest.fixture
def keepers(live_server, tmp_path):
    """The test's own listed member, gone again afterwards with its matches: the live
    server outlives this test, and the other browser tests count who matched what."""
    _list_keepers(live_server, tmp_path)
    yield
    with live_server.sessions.begin() as s:
        member = s.scalar(select(Member.id).where(Member.name == KEEPERS))
        matched = s.scalars(select(Match.notice_id).where(Match.member_id == member)).all()
        s.execute(delete(Match).where(Match.member_id == member))
        s.execute(delete(Member).where(Member.id == member))
        refresh_match_summary(s, sorted(matched))


def _list_keepers(live_server, tmp_path) -> None:
    from broker.cli import cli
    from broker.runtime.terminal import Runtime

    csv = tmp_path / "keepers.csv"
    csv.write_text(
        "name,email,description,keywords,regions,supported_business,frequency,listed\n"
        f'{KEEPERS},{KEEPERS_EMAIL},"A supported business that keeps parks: grass cutting,'
        ' hedges and litter.",grounds maintenance;grass cutting;hedge trimming;park'
        " maintenance,West Dunbartonshire,yes,weekly,true\n"
    )
    result = CliRunner().invoke(
        cli, ["members", "import", str(csv)], obj=Runtime(app=live_server.app)
    )
    assert result.exit_code == 0, result.output


def test_an_officer_sends_an_opportunity_and_the_coordinator_sees_it_matched(
    browse, live_server, keepers
):
    # 1. The officer, not logged in, finds a social enterprise for the job.
    officer = browse.page(role=None)
    officer.goto("/network/")
    what = officer.get_by_role("textbox", name="What do you need?")
    what.fill("grass cutting and hedge trimming in a park")
    officer.get_by_label("Where? (optional)").fill("West Dunbartonshire")
    officer.get_by_role("button", name="Find social enterprises").click()
    results = officer.locator("ol.directory")
    expect(results).to_contain_text(KEEPERS)
    expect(officer.locator("body")).not_to_contain_text(KEEPERS_EMAIL)

    # 2. ...and tells the network about the opportunity.
    officer.get_by_role("link", name="Tell us about an opportunity").first.click()
    expect(heading(officer)).to_have_text("Tell us about an opportunity")
    officer.get_by_label("Title").fill(TITLE)
    officer.get_by_label("What is needed").fill(
        "Fortnightly grass cutting and twice-yearly hedge trimming in Dalmuir Park, "
        "April to October 2027. A Quick Quote: three quotes are enough."
    )
    officer.get_by_label("Deadline").fill("2027-01-15")
    officer.get_by_label("Estimated value (£)").fill("18,000")
    officer.get_by_label("Where", exact=True).fill("West Dunbartonshire")
    officer.get_by_label("Your name").fill("Pat Parks")
    officer.get_by_label("Your e-mail").fill(OFFICER)
    officer.get_by_label("Organisation").fill(ORGANISATION)
    officer.get_by_role("button", name="Send to the network").click()
    expect(heading(officer)).to_have_text("Check your e-mail")
    browse.screenshot(officer, "buyer-check-your-email")

    # 3. The only e-mail so far is the officer's; they confirm from its HTML part.
    live_server.send_mail()
    [message] = [m for m in live_server.smtp.messages if str(m["To"]) == OFFICER]
    assert not [
        m for m in live_server.smtp.messages if str(m["Subject"]).startswith("From a buyer")
    ]
    html = message.get_body(preferencelist=("html",)).get_content()
    assert KEEPERS_EMAIL not in html
    # The e-mail in a fresh page of its own (its inline styles are the e-mail's, not ours).
    officer = browse.page(role=None)
    officer.set_content(html)
    with officer.expect_navigation():
        officer.get_by_role("link", name="Confirm my e-mail address").click()
    expect(heading(officer)).to_have_text("Confirm your e-mail address")
    expect(officer.locator("body")).to_contain_text(TITLE)
    officer.get_by_role("button", name="Confirm").click()
    expect(heading(officer)).to_have_text("Confirmed")
    expect(officer.locator(".flash")).to_have_text("Thank you: your e-mail address is confirmed.")
    browse.screenshot(officer, "buyer-confirmed")

    # The coordinators are told.
    live_server.send_mail()
    told = [m for m in live_server.smtp.messages if str(m["Subject"]).startswith("From a buyer")]
    assert [str(m["To"]) for m in told] == ["admin@sen.example.org", "coordinator@sen.example.org"]
    assert str(told[0]["Reply-To"]) == OFFICER

    # 4. The coordinator sees it on triage, from the buyer, with the member it matched.
    page = browse.page()
    page.goto("/?source=buyer")
    row = page.locator("tbody tr").filter(has_text=TITLE)
    expect(row).to_contain_text(f"From a buyer: {ORGANISATION}")
    row.get_by_role("link", name=TITLE).click()
    expect(heading(page)).to_have_text(TITLE)
    expect(page.locator("body")).to_contain_text(f"From a buyer: {ORGANISATION}")
    expect(page.locator("body")).to_contain_text(KEEPERS)
    browse.screenshot(page, "buyer-notice-on-triage")
