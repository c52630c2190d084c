"""The triage queue and the notice page, on the real recorded notices."""

from __future__ import annotations

import copy
import json
import re
from datetime import UTC, datetime

import pytest
from sqlalchemy import select, update

from broker.clock import utcnow
from broker.models import Bid, Forward, Match, Member, Notice, NoticeAction
from broker.notices.storing import store_notices
from feeds.ocds import notice_from_release

PCS_2019 = "pcs_ocds_releases_2019-04_apa999.json"
LANDSCAPE = "Caledonia Housing Association - Landscape Maintenance 2019 - 2023"
END_OF_LEASE = "EC0849 ACE End of Lease Cleaning Services"
MEDICAL_AIDS = "Supply of Medical Aids to Fife Council Community Equipment Stores (FCES)"


@pytest.fixture
def stocked(cli_runner, data_dir, sessions, tmp_path):
    """The April 2019 PCS notices, moved forward in time so they are open today, matched to
    the test members (plus one that supplies care equipment)."""
    assert cli_runner("members", "import", str(data_dir / "members.csv")).exit_code == 0
    care = tmp_path / "care-member.csv"
    care.write_text(
        "name,email,keywords,regions,supported_business\n"
        "Care Equipment Supplies,orders@careequip.example.org,medical aids;community equipment,"
        "Fife,yes\n"
    )
    assert cli_runner("members", "import", str(care)).exit_code == 0
    assert cli_runner("import", str(data_dir / PCS_2019)).exit_code == 0
    shift = utcnow() - datetime(2019, 4, 20, tzinfo=UTC)
    with sessions.begin() as s:
        for notice in s.scalars(select(Notice)):
            if notice.deadline:
                notice.deadline = notice.deadline + shift
    return sessions


def notice_id(sessions, title_start: str) -> int:
    with sessions() as s:
        return s.scalar(select(Notice.id).where(Notice.title.startswith(title_start)))


def test_queue_lists_open_matched_notices_best_first(pages, client, coordinator, stocked):
    page = pages.text(client.get("/"))
    assert LANDSCAPE in page
    rows = re.findall(r'class="score">(\d+)<', page)
    scores = [int(s) for s in rows]
    assert scores and scores == sorted(scores, reverse=True)
    # Each row: buyer, source, deadline with days left, value and how many members fit.
    row = page[page.index(LANDSCAPE) :]
    row = row[: row.index("</tr>")]
    assert "Caledonia" in row and "Public Contracts Scotland" in row
    assert re.search(r"\d+ days? left", row)
    assert "£" in row or "Not given" in row


def test_reserved_and_other_badges_show_in_words(pages, client, coordinator, stocked):
    page = pages.text(client.get("/?reserved=1"))
    assert MEDICAL_AIDS in page
    assert LANDSCAPE not in page
    assert '<span class="badge badge-reserved">Reserved</span>' in page


@pytest.mark.parametrize(
    ("query", "present", "absent"),
    [
        ("q=landscape", LANDSCAPE, END_OF_LEASE),
        ("q=end+of+lease+cleaning", END_OF_LEASE, LANDSCAPE),
        ("q=Caledonia", LANDSCAPE, END_OF_LEASE),  # the buyer's name
        ("region=Fife", MEDICAL_AIDS, LANDSCAPE),
        ("region=UKM81", LANDSCAPE, MEDICAL_AIDS),
        ("source=pcs", LANDSCAPE, "No matched notices"),
        ("min_value=1000000", MEDICAL_AIDS, END_OF_LEASE),
    ],
)
def test_filters_and_full_text_search(pages, client, coordinator, stocked, query, present, absent):
    page = pages.text(client.get(f"/?{query}"))
    assert present in page
    assert absent not in page


def test_a_search_with_no_hits_says_so(pages, client, coordinator, stocked):
    page = pages.text(client.get("/?q=zzzyzzy"))
    assert "No matched notices fit these filters" in page


def test_sort_by_deadline_puts_the_soonest_first(pages, client, coordinator, stocked, sessions):
    page = pages.text(client.get("/?sort=deadline"))
    stamps = re.findall(r'<time datetime="([^"]+)"', page)
    assert stamps == sorted(stamps)


def test_pages_carry_the_filters(pages, make_settings, stocked, client, coordinator):
    page = pages.text(client.get("/?status=all&sort=newest"))
    total = int(re.search(r"(\d+) found", page).group(1))
    assert total > 5


def test_unknown_region_is_explained_not_an_error(pages, client, coordinator, stocked):
    page = pages.text(client.get("/?region=Atlantis"))
    assert "unknown area" in page


def test_notice_page_shows_the_whole_notice_and_who_matched(pages, client, coordinator, stocked):
    nid = notice_id(stocked, LANDSCAPE)
    page = pages.text(client.get(f"/notices/{nid}"))
    assert "77314000 Grounds maintenance services" in page
    assert "UKM81 East Dunbartonshire, West Dunbartonshire and Helensburgh &amp; Lomond" in page
    assert 'href="https://www.publiccontractsscotland.gov.uk' in page or "ocds-r6ebe6" in page
    assert "Greenspace Growers" in page
    assert "landscape maintenance" in page
    assert '<label for="forward-note">Note</label>' in page
    assert re.search(
        r'<input id="forward-members-\d+" name="forward-members" type="checkbox"', page
    )
    assert '<label for="forward-members-0">Greenspace Growers</label>' in page
    assert '<button type="submit" class="button">Forward</button>' in page


def test_amendments_appear_as_dated_history(pages, client, coordinator, stocked, data_dir, clock):
    releases = json.loads((data_dir / PCS_2019).read_text())
    original = next(r for r in releases if r["tender"]["title"].startswith(LANDSCAPE))
    amended = copy.deepcopy(original)
    amended["id"] = "rls-amended"
    amended["date"] = "2019-05-01T00:00:00Z"
    amended["tag"] = ["tenderAmendment"]
    amended["tender"]["tenderPeriod"]["endDate"] = "2030-06-28T12:00:00Z"
    with stocked.begin() as s:
        store_notices(s, [notice_from_release(amended)], utcnow())
    page = pages.text(client.get(f"/notices/{notice_id(stocked, LANDSCAPE)}"))
    assert "Deadline changed from" in page
    assert "2030-06-28T12:00:00+00:00" in page
    assert '<span class="badge badge-updated">Updated</span>' in page


def form_token(client, url: str, csrf_token) -> str:
    return csrf_token(client.get(url))


def test_forward_to_two_members_with_a_note(pages, client, coordinator, stocked, csrf_token):
    nid = notice_id(stocked, LANDSCAPE)
    with stocked() as s:
        ids = [m.member_id for m in s.scalars(select(Match).where(Match.notice_id == nid))]
        wheels = s.scalar(select(Member.id).where(Member.name == "Shared Wheels Transport"))
    url = f"/notices/{nid}"
    if wheels not in ids:
        add = client.post(
            f"{url}/members",
            data={
                "add-member": "Shared Wheels Transport",
                "csrf_token": form_token(client, url, csrf_token),
            },
        )
        assert add.status_code == 302
        ids.append(wheels)
    response = client.post(
        f"{url}/forward",
        data={
            "forward-members": ids[:2],
            "forward-note": "Worth a look: you did the Bellsmyre one.",
            "csrf_token": form_token(client, url, csrf_token),
        },
    )
    assert response.status_code == 302
    page = pages.text(client.get(url))
    assert "Forwarded to 2 members." in page
    with stocked() as s:
        forwards = s.scalars(select(Forward).where(Forward.notice_id == nid)).all()
        assert sorted(f.member_id for f in forwards) == sorted(ids[:2])
        assert all(f.note == "Worth a look: you did the Bellsmyre one." for f in forwards)
        assert all(f.user_id == coordinator.id for f in forwards)
        assert s.get(Notice, nid).triage_status == "forwarded"
        action = s.scalars(select(NoticeAction).where(NoticeAction.action == "forward")).one()
        assert action.user_id == coordinator.id


def test_forwarding_to_nobody_is_refused_with_a_message(client, coordinator, stocked, csrf_token):
    url = f"/notices/{notice_id(stocked, LANDSCAPE)}"
    response = client.post(
        f"{url}/forward",
        data={"forward-note": "x", "csrf_token": form_token(client, url, csrf_token)},
    )
    assert response.status_code == 400
    assert "Choose at least one member" in response.get_data(as_text=True)


def test_dismiss_takes_it_out_of_the_queue_and_reopen_puts_it_back(
    pages, client, coordinator, stocked, csrf_token
):
    nid = notice_id(stocked, LANDSCAPE)
    url = f"/notices/{nid}"
    response = client.post(
        f"{url}/dismiss",
        data={
            "dismiss-reason": "Outside our area",
            "dismiss-detail": "Bellsmyre is too far",
            "csrf_token": form_token(client, url, csrf_token),
        },
    )
    assert response.status_code == 302
    assert LANDSCAPE not in pages.text(client.get("/"))
    assert LANDSCAPE in pages.text(client.get("/?status=dismissed"))
    with stocked() as s:
        action = s.scalars(select(NoticeAction).where(NoticeAction.notice_id == nid)).one()
        assert action.detail == "Outside our area: Bellsmyre is too far"
    client.post(f"{url}/reopen", data={"csrf_token": form_token(client, url, csrf_token)})
    assert LANDSCAPE in pages.text(client.get("/"))


def test_adding_a_member_by_hand_explains_the_fit(pages, client, coordinator, stocked, csrf_token):
    nid = notice_id(stocked, END_OF_LEASE)
    with stocked() as s:
        green = s.scalar(select(Member.id).where(Member.name == "Greenspace Growers"))
    url = f"/notices/{nid}"
    response = client.post(
        f"{url}/members",
        data={
            "add-member": "Greenspace Growers",
            "csrf_token": form_token(client, url, csrf_token),
        },
    )
    assert response.status_code == 302
    with stocked() as s:
        match = s.scalars(
            select(Match).where(Match.notice_id == nid, Match.member_id == green)
        ).one()
        assert match.added_by == coordinator.id
        assert {"kind": "manual", "text": "added by a coordinator"} in match.reasons
    page = pages.text(client.get(url))
    assert "Added by hand" in page


def test_start_a_consortium_bid(pages, client, coordinator, stocked, csrf_token):
    nid = notice_id(stocked, LANDSCAPE)
    url = f"/notices/{nid}"
    page = pages.text(client.get(url))
    assert f'action="/bids/start/{nid}"' in page
    assert '<label for="bid-model">Consortium model</label>' in page
    response = client.post(
        f"/bids/start/{nid}",
        data={"bid-model": "managing_agent", "bid-csrf_token": form_token(client, url, csrf_token)},
    )
    assert response.status_code == 302
    with stocked() as s:
        bid = s.scalars(select(Bid)).one()
        assert (bid.notice_id, bid.model, bid.stage) == (nid, "managing_agent", "forming")
        assert response.headers["Location"].endswith(f"/bids/{bid.id}")
        assert s.get(Notice, nid).triage_status == "bid"
    # The notice page lists the bid, linked to its page.
    page = pages.text(client.get(url))
    assert f'<a href="/bids/{bid.id}">Bid “{bid.title}”</a>: forming' in page


def test_notice_text_is_escaped_never_run(pages, client, coordinator, stocked, sessions):
    nid = notice_id(stocked, LANDSCAPE)
    with sessions.begin() as s:
        s.execute(
            update(Notice)
            .where(Notice.id == nid)
            .values(
                description="Grass <script>alert('x')</script> and <b>bold</b>",
                title="Landscape <img src=x onerror=alert(1)>",
            )
        )
    page = pages.text(client.get(f"/notices/{nid}"))
    assert "<script>alert" not in page and "<img src=x" not in page
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in page
    queue = pages.text(client.get("/?q=landscape"))
    assert "<img src=x" not in queue


def test_a_missing_notice_is_a_friendly_404(client, coordinator):
    response = client.get("/notices/999999")
    assert response.status_code == 404
    assert "Not Found" in response.get_data(as_text=True)
