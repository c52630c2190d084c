"""The members pages: directory, profile editing and testing, history, CSV in and out."""

from __future__ import annotations

import csv
import io
import re

import pytest
from sqlalchemy import func, select

from broker.clock import utcnow
from broker.models import Bid, BidMember, Forward, Match, Member, MemberResponse, Notice

PCS_2019 = "pcs_ocds_releases_2019-04_apa999.json"
LANDSCAPE = "Caledonia Housing Association - Landscape Maintenance 2019 - 2023"
END_OF_LEASE = "EC0849 ACE End of Lease Cleaning Services"


@pytest.fixture
def settings(make_settings):
    # Small pages, so the directory's paging shows with the three test members.
    return make_settings({"web": {"page_size": 2}})


@pytest.fixture
def notices(cli_runner, data_dir):
    """The April 2019 PCS notices; first seen today, so they count as recent."""
    assert cli_runner("import", str(data_dir / PCS_2019)).exit_code == 0


@pytest.fixture
def members(cli_runner, data_dir, sessions):
    """The three test members, by name -> id."""
    assert cli_runner("members", "import", str(data_dir / "members.csv")).exit_code == 0
    with sessions() as s:
        return dict(s.execute(select(Member.name, Member.id)).all())


def table_row(page: str, content: str) -> str:
    """The table row holding `content`."""
    at = page.index(content)
    return page[page.rindex("<tr>", 0, at) : page.index("</tr>", at)]


PROFILE = {
    "name": "Leafy Lanes",
    "email": "hello@leafy.example.org\nbids@leafy.example.org",
    "description": "Parks and gardens work with trainees.",
    "keywords": "landscape maintenance\ngrounds maintenance",
    "exclude": "",
    "cpv": "",
    "regions": "West Dunbartonshire",
    "min_value": "",
    "max_value": "£1,000,000",
    "vcse": "y",
    "sme": "y",
    "frequency": "daily",
}


def post_profile(client, csrf_token, url: str, button: str = "save", **fields):
    token = csrf_token(client.get(url))
    data = {**PROFILE, **fields, "csrf_token": token}
    data[button] = "Save profile" if button == "save" else "Test this profile"
    return client.post(url, data={k: v for k, v in data.items() if v is not None})


def matched_titles(sessions, member_id: int) -> set[str]:
    with sessions() as s:
        return set(
            s.scalars(
                select(Notice.title)
                .join(Match, Match.notice_id == Notice.id)
                .where(Match.member_id == member_id)
            )
        )


def test_directory_lists_searches_and_pages(pages, client, coordinator, members):
    page = pages.text(client.get("/members/"))
    assert "3 members." in page
    assert '<a href="/members/new" class="button">Add a member</a>' in page
    assert "Clean Start Services" in page and "Greenspace Growers" in page
    assert "Shared Wheels Transport" not in page  # on page 2 of 2
    assert 'href="/members/?page=2"' in page
    assert "Shared Wheels Transport" in pages.text(client.get("/members/?page=2"))
    # Name, keywords and description are searched; every word must appear.
    for query, found in [
        ("wheels", "Shared Wheels Transport"),
        ("window cleaning", "Clean Start Services"),
        ("horticulture training", "Greenspace Growers"),
    ]:
        page = pages.text(client.get("/members/", query_string={"q": query}))
        assert "1 member found" in page and found in page
    page = pages.text(client.get("/members/?q=100%25"))
    assert "No member's name, keywords or description contains" in page
    assert '<label for="q">Search names, keywords and descriptions</label>' in page


def test_adding_a_member_saves_and_matches_it_at_once(
    pages, client, coordinator, notices, sessions, csrf_token
):
    response = post_profile(client, csrf_token, "/members/new")
    assert response.status_code == 302
    with sessions() as s:
        member = s.scalars(select(Member).where(Member.name == "Leafy Lanes")).one()
        assert member.emails == ["hello@leafy.example.org", "bids@leafy.example.org"]
        assert member.keywords == ["landscape maintenance", "grounds maintenance"]
        assert member.max_value == 1_000_000 and member.min_value is None
        assert member.frequency == "daily" and member.supported_business is False
        assert member.matched_at is not None
    assert response.headers["Location"] == f"/members/{member.id}"
    assert any(t.startswith(LANDSCAPE) for t in matched_titles(sessions, member.id))
    page = pages.text(client.get(response.headers["Location"]))
    assert "Saved Leafy Lanes and re-matched it" in page
    row = table_row(page, LANDSCAPE)
    assert re.search(r'class="score" aria-label="score \d+ out of 100"', row)
    assert "landscape maintenance" in row and "West Dunbartonshire" in row


def test_profile_errors_are_shown_next_to_their_fields(
    pages, client, coordinator, sessions, csrf_token
):
    response = post_profile(
        client,
        csrf_token,
        "/members/new",
        name="",
        email="not-an-address",
        regions="Glasgo",
        min_value="5000",
        max_value="100",
        cpv="12ab",
        keywords="",
    )
    page = pages.text(response, 400)
    assert pages.field_errors(page, "name") == ["Enter the member's name"]
    assert pages.field_errors(page, "email") == ["'not-an-address' is not an e-mail address"]
    assert pages.field_errors(page, "regions")[0].startswith("Unknown area 'Glasgo'")
    assert pages.field_errors(page, "max_value") == [
        "The largest contract can't be smaller than the smallest"
    ]
    assert pages.field_errors(page, "cpv") == ["'12ab' is not a CPV code (2 to 8 digits)"]
    assert 'aria-describedby="regions-hint regions-error"' in page
    assert "The profile was not saved" in page
    # What was typed stays in the form.
    assert "\nGlasgo</textarea>" in page
    with sessions() as s:
        assert s.scalar(select(func.count(Member.id))) == 0


def test_a_name_another_member_has_is_refused(
    pages, client, coordinator, members, sessions, csrf_token
):
    url = f"/members/{members['Clean Start Services']}"
    page = pages.text(post_profile(client, csrf_token, url, name="greenspace growers"), 400)
    assert pages.field_errors(page, "name") == ["Another member is called 'Greenspace Growers'"]
    with sessions() as s:
        assert s.get(Member, members["Clean Start Services"]).name == "Clean Start Services"


def test_editing_a_profile_re_matches_the_member(
    pages, client, coordinator, members, notices, sessions, csrf_token
):
    member_id = members["Clean Start Services"]
    assert END_OF_LEASE in matched_titles(sessions, member_id)
    url = f"/members/{member_id}"
    page = pages.text(client.get(url))
    # The form shows the stored profile, lists one item per line.
    assert "office cleaning\nwindow cleaning\nend of tenancy cleaning\ncleaning services" in page
    assert 'id="supported_business" name="supported_business" type="checkbox" value="y"' in page
    # The coordinator is told how far a listed code reaches (matchers' ALONE_MAX_UP).
    assert "A whole code (45421000) also takes notices coded one level up" in page
    response = post_profile(
        client,
        csrf_token,
        url,
        name="Clean Start Services",
        email="tenders@cleanstart.example.org",
        keywords="office cleaning\ncleaning services",
        exclude="end of lease",
        cpv="909",
        regions="City of Edinburgh",
        supported_business="y",
        max_value="250000",
    )
    assert response.status_code == 302
    # The new exclusion vetoes the notice it names, in the same request.
    assert END_OF_LEASE not in matched_titles(sessions, member_id)
    with sessions() as s:
        member = s.get(Member, member_id)
        assert member.exclude == ["end of lease"]
        assert member.matched_at >= member.profile_changed_at


def test_testing_a_profile_shows_results_and_saves_nothing(
    pages, client, coordinator, members, notices, sessions, csrf_token
):
    member_id = members["Greenspace Growers"]
    with sessions() as s:
        before = s.get(Member, member_id)
        matches_before = sorted(
            s.execute(select(Match.notice_id, Match.score).where(Match.member_id == member_id))
        )
    url = f"/members/{member_id}"
    page = pages.text(
        post_profile(
            client,
            csrf_token,
            url,
            "test",
            name="Greenspace Growers",
            email="hello@greenspace.example.org",
            keywords="end of tenancy cleaning\ncleaning services",
            regions="all of Scotland",
            max_value="",
        )
    )
    assert "Test results (nothing saved)" in page
    trial = page[page.index("Test results") : page.index('id="profile-heading"')]
    assert re.search(r"tested against 90 notices first seen or published since", trial)
    assert END_OF_LEASE in trial
    assert re.search(r'class="score" aria-label="score \d+ out of 100"', trial)
    assert "cleaning services" in trial  # the reasons
    # The form keeps the unsaved values, ready to save.
    assert "end of tenancy cleaning\ncleaning services</textarea>" in page
    with sessions() as s:
        after = s.get(Member, member_id)
        assert after.keywords == before.keywords
        assert after.profile_changed_at == before.profile_changed_at
        assert after.updated_at == before.updated_at
        assert (
            sorted(
                s.execute(select(Match.notice_id, Match.score).where(Match.member_id == member_id))
            )
            == matches_before
        )


def test_testing_a_new_profile_creates_no_member(
    pages, client, coordinator, notices, sessions, csrf_token
):
    page = pages.text(post_profile(client, csrf_token, "/members/new", "test"))
    assert "Test results (nothing saved)" in page
    assert LANDSCAPE in page
    with sessions() as s:
        assert s.scalar(select(func.count(Member.id))) == 0
        assert s.scalar(select(func.count(Match.id))) == 0


def test_profile_shows_what_was_forwarded_answered_and_bid(
    pages, client, coordinator, members, notices, sessions
):
    member_id = members["Greenspace Growers"]
    now = utcnow()
    with sessions.begin() as s:
        landscape = s.scalar(select(Notice).where(Notice.title.startswith(LANDSCAPE)))
        cleaning = s.scalar(select(Notice).where(Notice.title == END_OF_LEASE))
        s.add(
            Forward(
                notice_id=landscape.id,
                member_id=member_id,
                user_id=coordinator.id,
                note="Right up your street",
                created_at=now,
            )
        )
        s.add(
            MemberResponse(
                member_id=member_id,
                notice_id=cleaning.id,
                kind="declined",
                reason="too_far",
                note="We don't go east",
                created_at=now,
            )
        )
        s.add(
            MemberResponse(
                member_id=member_id, notice_id=landscape.id, kind="interested", created_at=now
            )
        )
        bid = Bid(
            notice_id=landscape.id,
            title="Caledonia landscape consortium",
            stage="preparing",
            created_at=now,
            updated_at=now,
        )
        bid.members.append(BidMember(member_id=member_id, role="lead"))
        s.add(bid)
    page = pages.text(client.get(f"/members/{member_id}"))
    history = page[page.index('id="history-heading"') :]
    forwarded = history[history.index("Forwarded to them") : history.index("Their answers")]
    assert LANDSCAPE in forwarded
    assert "by Casey Coordinator" in forwarded and "Right up your street" in forwarded
    answers = history[history.index("Their answers") : history.index("Consortium bids")]
    assert "<strong>interested</strong>" in answers
    assert "<strong>not for us</strong> (too far)" in answers and "We don&#39;t go east" in answers
    bids = history[history.index("Consortium bids") :]
    assert "Caledonia landscape consortium</a>: lead; stage preparing" in bids


def test_csv_round_trip_through_the_web(
    pages, client, coordinator, data_dir, notices, sessions, csrf_token
):
    token = csrf_token(client.get("/members/import"))
    upload = (data_dir / "members.csv").read_bytes()
    page = pages.text(
        client.post(
            "/members/import",
            data={"file": (io.BytesIO(upload), "members.csv"), "csrf_token": token},
        )
    )
    assert "<strong>3</strong> members created" in page
    assert "<strong>0</strong> problems" in page
    assert re.search(r"3 changed members re-matched: \d+ matching notices", page)
    with sessions() as s:
        assert s.scalar(select(func.count(Member.id))) == 3
        # Imported members are matched straight away.
        assert s.scalar(select(func.count(Match.id))) > 0

    export = client.get("/members/export.csv")
    assert export.status_code == 200
    assert export.mimetype == "text/csv"
    assert export.headers["Content-Disposition"].startswith('attachment; filename="members-')
    body = export.get_data(as_text=True)
    rows = list(csv.DictReader(io.StringIO(body.lstrip("\ufeff"))))
    assert [r["name"] for r in rows] == [
        "Clean Start Services",
        "Greenspace Growers",
        "Shared Wheels Transport",
    ]
    assert rows[2]["email"] == "bookings@sharedwheels.example.org;ops@sharedwheels.example.org"

    assert [r["listed"] for r in rows] == ["false", "false", "false"]

    # The export imports back unchanged; an edited row updates that member, and a
    # member can be listed in the public directory with a website.
    rows[1]["keywords"] += ";hedge cutting"
    rows[1]["listed"], rows[1]["website"] = "true", "https://greenspace.example.org"
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    token = csrf_token(client.get("/members/import"))
    page = pages.text(
        client.post(
            "/members/import",
            data={
                "file": (io.BytesIO(("\ufeff" + out.getvalue()).encode()), "edited.csv"),
                "csrf_token": token,
            },
        )
    )
    assert "<strong>0</strong> members created" in page
    assert "<strong>1</strong> updated" in page
    assert "<strong>2</strong> unchanged" in page
    with sessions() as s:
        member = s.scalar(select(Member).where(Member.name == "Greenspace Growers"))
        assert member.keywords[-1] == "hedge cutting"
        assert (member.listed, member.website) == (True, "https://greenspace.example.org")
    rows = list(
        csv.DictReader(io.StringIO(client.get("/members/export.csv").text.lstrip("\ufeff")))
    )
    assert (rows[1]["listed"], rows[1]["website"]) == ("true", "https://greenspace.example.org")


def test_csv_import_reports_each_problem_by_line_and_column(
    pages, client, coordinator, sessions, csrf_token
):
    rows = (
        "name,email,keywords,regions,max_value\n"
        "Good Growers,a@good.example.org,grass cutting,Glasgow City,\n"
        "Bad Area,b@bad.example.org,cleaning,Glasgo,\n"
        "Bad Size,c@bad.example.org,cleaning,,lots\n"
    )
    token = csrf_token(client.get("/members/import"))
    page = pages.text(
        client.post(
            "/members/import",
            data={"file": (io.BytesIO(rows.encode()), "new.csv"), "csrf_token": token},
        )
    )
    assert "<strong>1</strong> member created" in page
    assert "<strong>2</strong> problems" in page
    assert "new.csv line 3, column regions: unknown area &#39;Glasgo&#39;" in page
    assert "new.csv line 4, column max_value: &#39;lots&#39; is not an amount in pounds" in page
    with sessions() as s:
        assert list(s.scalars(select(Member.name))) == ["Good Growers"]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"title,email\nx,y@z.example\n", "unknown column(s) title"),
        ("name,email\nCaf\u00e9,a@b.example\n".encode("latin-1"), "is not a UTF-8 text file"),
    ],
)
def test_csv_import_refuses_an_unreadable_file(
    pages, client, coordinator, sessions, csrf_token, content, message
):
    token = csrf_token(client.get("/members/import"))
    page = pages.text(
        client.post(
            "/members/import",
            data={"file": (io.BytesIO(content), "bad.csv"), "csrf_token": token},
        ),
        400,
    )
    errors = pages.field_errors(page, "file")
    assert len(errors) == 1 and message in errors[0]
    with sessions() as s:
        assert s.scalar(select(func.count(Member.id))) == 0


def test_import_without_a_file_asks_for_one(pages, client, coordinator, csrf_token):
    token = csrf_token(client.get("/members/import"))
    page = pages.text(client.post("/members/import", data={"csrf_token": token}), 400)
    assert pages.field_errors(page, "file") == ["Choose a CSV file"]


def test_saving_without_the_csrf_token_is_refused(client, coordinator, sessions):
    response = client.post("/members/new", data={**PROFILE, "save": "Save profile"})
    assert response.status_code == 400
    with sessions() as s:
        assert s.scalar(select(func.count(Member.id))) == 0


def test_members_pages_are_accessible(pages, client, coordinator, members, notices, csrf_token):
    member_id = members["Greenspace Growers"]
    for url in ("/members/", "/members/new", f"/members/{member_id}", "/members/import"):
        pages.assert_accessible(pages.text(client.get(url)))
    tested = post_profile(
        client, csrf_token, f"/members/{member_id}", "test", name="Greenspace Growers"
    )
    pages.assert_accessible(pages.text(tested))
    pages.assert_accessible(
        pages.text(post_profile(client, csrf_token, "/members/new", name=""), 400)
    )


def test_an_unknown_member_is_not_found(client, coordinator):
    assert client.get("/members/999").status_code == 404
