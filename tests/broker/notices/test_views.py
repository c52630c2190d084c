"""Notices entered by hand: stored, de-duplicated and matched like harvested ones."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta

import pytest
from sqlalchemy import func, select

from broker.clock import utcnow
from broker.models import Match, Member, Notice, NoticeAction, NoticeSource
from broker.notices.manual import uk_deadline

PCS_2019 = "pcs_ocds_releases_2019-04_apa999.json"
ELECTRICAL = "Five Year Electrical Inspection Contract, Various Addresses, North Glasgow"


@pytest.fixture
def members(cli_runner, data_dir):
    assert cli_runner("members", "import", str(data_dir / "members.csv")).exit_code == 0


def entry(**fields) -> dict[str, str]:
    """A Quick Quote from a council: grounds work in West Dunbartonshire."""
    deadline = (utcnow() + timedelta(days=14)).date()
    return {
        "kind": "quick_quote",
        "title": "Grass cutting and hedge trimming, Dalmuir Park",
        "buyer": "West Dunbartonshire Council",
        "description": "Grounds maintenance of Dalmuir Park for the summer season: grass "
        "cutting fortnightly, hedge trimming twice.",
        "deadline_date": deadline.isoformat(),
        "deadline_time": "14:30",
        "value": "£25,000",
        "cpv": "77314000",
        "areas": "West Dunbartonshire",
        "url": "https://www.west-dunbarton.example.gov.uk/quick-quotes/123",
        **fields,
    }


def post_entry(client, csrf_token, **fields):
    token = csrf_token(client.get("/notices/new"))
    return client.post("/notices/new", data={**entry(**fields), "csrf_token": token})


def test_the_form_labels_every_field(pages, client, coordinator, csrf_token):
    page = pages.text(client.get("/notices/new"))
    inputs = re.findall(r'<(?:input|select|textarea)[^>]* id="([^"]+)"', page)
    assert len(inputs) >= 11
    for input_id in inputs:
        if input_id != "csrf_token":
            assert f'<label for="{input_id}">' in page, input_id
    assert '<option value="quick_quote">Quick Quote invitation</option>' in page
    assert '<option value="subcontract">Sub-contract offer</option>' in page
    assert '<option value="buyer_tip">Tip from a buyer</option>' in page
    assert '<button type="submit" class="button">Save and match notice</button>' in page
    pages.assert_accessible(page)
    pages.assert_accessible(pages.text(post_entry(client, csrf_token, title="", cpv="1"), 400))


def test_a_quick_quote_is_stored_matched_and_shown_in_triage(
    pages, client, coordinator, members, sessions, csrf_token
):
    response = post_entry(client, csrf_token)
    assert response.status_code == 302
    notice_id = int(response.headers["Location"].rsplit("/", 1)[1])
    with sessions() as s:
        notice = s.get(Notice, notice_id)
        assert notice.primary_source == "manual"
        assert notice.title == "Grass cutting and hedge trimming, Dalmuir Park"
        assert notice.buyer == "West Dunbartonshire Council"
        assert (notice.value_amount, notice.value_currency) == (25000, "GBP")
        assert notice.cpv == ["77314000"] and notice.regions == ["UKM81"]
        assert notice.place == "West Dunbartonshire"
        assert notice.procedure == "Quick Quote invitation"
        assert notice.notice_type == "tender" and notice.triage_status == "new"
        deadline_day = (utcnow() + timedelta(days=14)).date()
        assert notice.deadline == uk_deadline(deadline_day, time(14, 30))
        source = s.scalars(select(NoticeSource).where(NoticeSource.notice_id == notice_id)).one()
        assert source.source == "manual" and len(source.source_id) == 36
        assert source.url == "https://www.west-dunbarton.example.gov.uk/quick-quotes/123"
        action = s.scalars(select(NoticeAction).where(NoticeAction.notice_id == notice_id)).one()
        assert (action.action, action.detail) == ("manual_entry", "Quick Quote invitation")
        assert action.user_id == coordinator.id
        matched = s.scalars(
            select(Member.name)
            .join(Match, Match.member_id == Member.id)
            .where(Match.notice_id == notice_id)
        ).all()
        assert "Greenspace Growers" in matched
        assert notice.match_count == len(matched) and notice.best_score
    page = pages.text(client.get(response.headers["Location"]))
    assert re.search(r"Notice saved and matched: \d+ members? fits?", page)
    assert "Greenspace Growers" in page
    assert "Entered by a coordinator" in page
    assert "Manual entry Quick Quote invitation" in page
    # It waits in the triage queue like any harvested notice.
    queue = pages.text(client.get("/", query_string={"source": "manual"}))
    assert "Grass cutting and hedge trimming, Dalmuir Park" in queue


def test_a_tip_with_only_a_title_is_enough(client, coordinator, sessions, csrf_token):
    response = post_entry(
        client,
        csrf_token,
        kind="buyer_tip",
        title="Community cafe operator wanted",
        buyer="",
        description="",
        deadline_date="",
        deadline_time="",
        value="",
        cpv="",
        areas="",
        url="",
    )
    assert response.status_code == 302
    with sessions() as s:
        notice = s.scalars(select(Notice)).one()
        assert notice.deadline is None and notice.value_amount is None
        assert notice.buyer is None and notice.regions == [] and notice.cpv == []
        # No members yet: it waits to be matched.
        assert notice.match_count == 0


def test_mistakes_are_shown_next_to_their_fields_and_nothing_is_stored(
    pages, client, coordinator, sessions, csrf_token
):
    page = pages.text(
        post_entry(
            client,
            csrf_token,
            title="",
            value="lots",
            deadline_date="",
            deadline_time="12:00",
        ),
        400,
    )
    assert pages.field_errors(page, "title") == ["Enter a title"]
    page = pages.text(post_entry(client, csrf_token, value="lots"), 400)
    assert pages.field_errors(page, "value") == ["Enter an amount in pounds, e.g. 25000"]
    page = pages.text(post_entry(client, csrf_token, deadline_date="", deadline_time="12:00"), 400)
    assert pages.field_errors(page, "deadline_date") == ["Enter the date as well"]
    page = pages.text(
        post_entry(client, csrf_token, cpv="77314000, 12345678", areas="Atlantis", url="ftp://x"),
        400,
    )
    assert pages.field_errors(page, "cpv") == ["'12345678' is not a CPV code"]
    assert pages.field_errors(page, "areas")[0].startswith("unknown area 'Atlantis'")
    assert pages.field_errors(page, "url") == ["Enter a web address starting with https://"]
    assert "The notice was not saved" in page
    with sessions() as s:
        assert s.scalar(select(func.count(Notice.id))) == 0


def test_a_short_cpv_code_and_several_areas_are_understood(
    client, coordinator, sessions, csrf_token
):
    response = post_entry(client, csrf_token, cpv="773 90911200-8", areas="Fife\nUKM82")
    assert response.status_code == 302
    with sessions() as s:
        notice = s.scalars(select(Notice)).one()
        assert notice.cpv == ["77300000", "90911200"]
        assert notice.regions == ["UKM72", "UKM82"]
        assert notice.place == "Fife, UKM82"


def test_an_entry_naming_a_stored_pcs_notice_joins_it(
    pages, client, coordinator, cli_runner, data_dir, sessions, csrf_token
):
    assert cli_runner("import", str(data_dir / PCS_2019)).exit_code == 0
    with sessions() as s:
        stored = s.scalar(select(Notice.id).where(Notice.title == ELECTRICAL))
        count = s.scalar(select(func.count(Notice.id)))
    response = post_entry(
        client,
        csrf_token,
        kind="buyer_tip",
        title="Electrical inspections, North Glasgow",
        description="The buyer called: this is (SC Ref:581860), they want SEs to bid.",
    )
    assert response.status_code == 302
    assert response.headers["Location"] == f"/notices/{stored}"
    with sessions() as s:
        assert s.scalar(select(func.count(Notice.id))) == count
        sources = s.scalars(select(NoticeSource.source).where(NoticeSource.notice_id == stored))
        assert sorted(sources) == ["manual", "pcs"]
    page = pages.text(client.get(response.headers["Location"]))
    assert "This opportunity was already stored; your entry was added to it." in page


def test_saving_without_the_csrf_token_is_refused(client, coordinator, sessions):
    assert client.post("/notices/new", data=entry()).status_code == 400
    with sessions() as s:
        assert s.scalar(select(func.count(Notice.id))) == 0


@pytest.mark.parametrize(
    ("day", "at", "expected"),
    [
        (date(2027, 1, 15), time(12, 0), datetime(2027, 1, 15, 12, 0, tzinfo=UTC)),  # GMT
        (date(2027, 7, 15), time(12, 0), datetime(2027, 7, 15, 11, 0, tzinfo=UTC)),  # BST
        (date(2027, 7, 15), None, datetime(2027, 7, 15, 11, 0, tzinfo=UTC)),  # noon by default
    ],
)
def test_deadlines_are_uk_time(day, at, expected):
    assert uk_deadline(day, at) == expected
