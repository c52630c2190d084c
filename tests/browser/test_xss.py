"""Notice text from the sources is untrusted: markup in it is shown as text, never run."""

from __future__ import annotations

import copy
import json
from datetime import timedelta

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from broker.clock import utcnow
from broker.models import Match, Member, Notice

from .conftest import DATA, GREENSPACE, LANDSCAPE, PCS_2019

SCRIPT = "<script>window.__xss=1</script>"
IMG = '<img src=x onerror="window.__xss=2">'
TITLE = f"Grounds maintenance probe {SCRIPT} {IMG}"
# Markup that reaches the page as text: PCS sends text HTML-escaped, and the importer
# unescapes it, so a "&lt;script&gt;" in a feed becomes a "<script>" in the notice.
FEED_TITLE = (
    "Grounds maintenance probe &lt;script&gt;window.__xss=1&lt;/script&gt; "
    "&lt;img src=x onerror=&quot;window.__xss=2&quot;&gt;"
)
FEED_DESCRIPTION = (
    "Landscape maintenance of the estate. &lt;script&gt;window.__xss=1&lt;/script&gt;\n\n"
    "Grass cutting &lt;img src=x onerror=&quot;window.__xss=2&quot;&gt; twice a month."
)
FEED_LOT = "Lot &lt;b onmouseover=&quot;window.__xss=5&quot;&gt;one&lt;/b&gt;"
LOT = '<b onmouseover="window.__xss=5">one</b>'
# Real markup (in the lot's description), which the importer strips as it makes plain text.
RAW_MARKUP = (
    '<p>Tree work too.<script>window.__xss=3</script><img src=x onerror="window.__xss=4"></p>'
)


@pytest.fixture
def hostile(live_server, tmp_path) -> int:
    """A real recorded release with hostile text, imported and matched like any other."""
    from click.testing import CliRunner

    from broker.cli import cli
    from broker.runtime.terminal import Runtime

    releases = json.loads((DATA / PCS_2019).read_text())
    original = next(r for r in releases if r["tender"]["title"] == LANDSCAPE)
    release = copy.deepcopy(original)
    release["ocid"] = release["tender"]["id"] = "ocds-r6ebe6-0000999001"
    # A new opportunity: no "(SC Ref:...)" or canonical link that would merge it into the original.
    release.pop("description", None)
    release.pop("links", None)
    release["tender"]["title"] = FEED_TITLE
    release["tender"]["description"] = FEED_DESCRIPTION
    release["tender"]["tenderPeriod"]["endDate"] = (utcnow() + timedelta(days=30)).isoformat()
    release["tender"].pop("documents", None)
    lot = release["tender"]["lots"][0]
    lot["title"] = FEED_LOT
    lot["description"] = f"{RAW_MARKUP} {lot['description']}"
    release["buyer"]["name"] = "Bellsmyre Tenants Co-operative"
    for party in release["parties"]:
        if party["id"] == release["buyer"]["id"]:
            party["name"] = "Bellsmyre Tenants Co-operative"
    path = tmp_path / "hostile.json"
    path.write_text(json.dumps([release]))
    with live_server.sessions() as s:
        stored = s.scalar(select(Notice.id).where(Notice.title == TITLE))
    if stored is None:  # once per backend: the live server outlives this fixture
        result = CliRunner().invoke(cli, ["import", str(path)], obj=Runtime(app=live_server.app))
        assert result.exit_code == 0, result.output
    with live_server.sessions() as s:
        notice = s.scalars(select(Notice).where(Notice.title == TITLE)).one()
        # The test means something only if the markup really is in the stored text.
        assert SCRIPT in notice.description and IMG in notice.description
        # Real tags are stripped on the way in.
        assert notice.lots[0]["description"].startswith("Tree work too.\n")
        assert "__xss=3" not in notice.lots[0]["description"] + notice.description
        assert "__xss=4" not in notice.lots[0]["description"] + notice.description
        assert s.scalars(
            select(Member.name).join(Match).where(Match.notice_id == notice.id)
        ).all() == [GREENSPACE]
        return notice.id


def no_markup_ran(page) -> None:
    assert page.evaluate("() => typeof window.__xss") == "undefined"
    # The app has no scripts of its own, and no image comes from notice text.
    assert page.locator("script").count() == 0
    assert page.locator("main img").count() == 0


@pytest.mark.parametrize("bypass_csp", [False, True], ids=["csp", "no-csp"])
def test_markup_in_a_notice_is_shown_as_text_never_run(browse, live_server, hostile, bypass_csp):
    """With the CSP, an injected script would be blocked and logged (a console error, which
    `browse` fails on); without it, only escaping stands between the text and the page."""
    page = browse.page(bypass_csp=bypass_csp)
    page.goto("/?q=probe")
    link = page.get_by_role("link", name=TITLE, exact=True)
    no_markup_ran(page)
    expect(link).to_have_count(1)
    if not bypass_csp:
        browse.screenshot(page, "xss-triage")

    link.click()
    expect(page).to_have_url(f"{live_server.url}/notices/{hostile}")
    no_markup_ran(page)
    expect(page.get_by_role("heading", level=1)).to_have_text(TITLE)
    expect(page).to_have_title(f"{TITLE} · SEN Opportunity Broker")
    description = page.locator(".description").first
    expect(description).to_contain_text(SCRIPT)
    expect(description).to_contain_text(IMG)
    expect(description.locator("p")).to_have_count(3)  # its paragraphs, as text
    expect(page.locator(".lots h4")).to_have_text(f"Lot {LOT}")
    assert page.locator("main b").count() == 0
    if not bypass_csp:
        browse.screenshot(page, "xss-notice")

    # And where the member's matches list it.
    page.get_by_role("link", name=GREENSPACE).click()
    expect(page).to_have_url(f"{live_server.url}/members/{live_server.member_id(GREENSPACE)}")
    no_markup_ran(page)
    expect(page.locator("#matches").get_by_role("link", name=TITLE, exact=True)).to_have_count(1)
