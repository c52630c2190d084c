"""The public directory: only listed members, only what they chose to show, filters, the
CSV, "What do you need?" ranking real notices' words, robots.txt and framing."""

from __future__ import annotations

import csv
import io
import json
import re
from urllib.parse import urlsplit

import pytest
from sqlalchemy import select

from broker.members.csv_format import import_csv
from broker.members.forms import form_data
from broker.models import Member
from broker.network.views import PAGE_SIZE
from broker.outreach.links import for_app

# Listed: false in tests/data/network_members.csv.
UNLISTED = ("Borders Green Team", "Sparkle Tayside Cleaning", "Fife Build Skills")


@pytest.fixture
def network(sessions, data_dir, clock):
    """Thirty realistic members (tests/data/network_members.csv), all but three listed;
    returns their ids by name."""
    with sessions.begin() as s, open(data_dir / "network_members.csv", newline="") as handle:
        result = import_csv(s, handle, clock(), where="network_members.csv")
    assert result.errors == []
    with sessions() as s:
        return dict(s.execute(select(Member.name, Member.id)).all())


def listed_names(page: str) -> list[str]:
    """The members a directory or results page lists, in order."""
    return re.findall(r'<h3><a href="/network/members/[^"]+">([^<]+)</a></h3>', page)


def test_the_directory_lists_listed_members_by_name_a_page_at_a_time(client, pages, network):
    first = pages.text(client.get("/network/"))
    second = pages.text(client.get("/network/?page=2"))
    shown = listed_names(first) + listed_names(second)
    assert len(listed_names(first)) == PAGE_SIZE
    assert shown == sorted(set(network) - set(UNLISTED), key=str.casefold)
    assert "27 social enterprises." in first
    assert 'href="/network/?page=2" rel="next"' in first
    # Nobody logs in to see it.
    assert "Log out" not in first and "Triage" not in first


def test_filters_by_area_kind_of_work_and_supported_business(client, pages, network, sessions):
    glasgow = listed_names(pages.text(client.get("/network/?area=S12000049")))
    assert "Greenspace Growers" in glasgow  # names Glasgow City
    assert "Shared Wheels Transport" in glasgow  # all of Scotland
    assert "Thistle Landscapes" not in glasgow  # the Highlands and Argyll
    cleaning = listed_names(pages.text(client.get("/network/?work=90")))
    assert "Clean Start Services" in cleaning and "Greenspace Growers" not in cleaning
    with sessions() as s:
        flagged = s.scalars(
            select(Member.name)
            .where(Member.supported_business, Member.listed)
            .order_by(Member.name)
        ).all()
    assert "Clean Start Services" in flagged
    supported = listed_names(pages.text(client.get("/network/?supported=y")))
    assert supported == sorted(flagged, key=str.casefold)
    both = listed_names(pages.text(client.get("/network/?work=90&supported=y&area=S12000036")))
    assert both == ["Clean Start Services"]
    # An area no listed member serves, or nonsense, filters nothing out.
    every = listed_names(pages.text(client.get("/network/?area=nowhere&work=<b>")))
    assert len(every) == PAGE_SIZE


def test_a_listed_members_page_shows_what_they_chose_to_show(client, pages, network):
    page = pages.text(client.get("/network/members/greenspace-growers"))
    assert "<h1>Greenspace Growers</h1>" in page
    assert "trains long-term unemployed people in horticulture" in page
    assert "Glasgow City; West Dunbartonshire; Renfrewshire; East Dunbartonshire" in page
    assert "<li>Horticultural services</li>" in page  # CPV 773, in words
    assert "£5,000 to £500,000" in page
    assert "Voluntary, community or social enterprise (VCSE)" in page
    assert 'href="https://greenspace-growers.example.org"' in page
    assert "hello@greenspace" not in page
    # The id works as well as the name.
    by_id = pages.text(client.get(f"/network/members/{network['Greenspace Growers']}"))
    assert "<h1>Greenspace Growers</h1>" in by_id
    clean = pages.text(client.get("/network/members/clean-start-services"))
    assert "Supported business" in clean


@pytest.mark.parametrize("name", UNLISTED)
def test_an_unlisted_member_is_not_found(client, pages, network, name):
    slug = name.lower().replace(" ", "-")
    for path in (f"/network/members/{slug}", f"/network/members/{network[name]}"):
        page = pages.text(client.get(path), 404)
        assert name not in page
        assert "may have left the directory" in page
    pages.text(client.get("/network/members/999999"), 404)


def test_the_csv_download_honours_the_filters_and_shows_nothing_private(client, pages, network):
    page = pages.text(client.get("/network/?work=90"))
    assert '<a href="/network/directory.csv?work=90" download>Download this list (CSV)</a>' in page
    response = client.get("/network/directory.csv?work=90")
    assert response.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(response.text.lstrip("\ufeff"))))
    assert list(rows[0]) == [
        "name",
        "what they do",
        "areas",
        "kinds of work",
        "sizes",
        "status",
        "website",
        "public page",
    ]
    assert [r["name"] for r in rows] == listed_names(page)
    clean = next(r for r in rows if r["name"] == "Clean Start Services")
    assert clean["public page"] == "http://localhost/network/members/clean-start-services"
    assert "Supported business" in clean["status"]
    assert clean["sizes"] == "Up to £250,000"
    assert "Sparkle Tayside Cleaning" not in response.text


# Real notices (tests/data), their title and description typed as the officer's words,
# and the member that should come first.
PCS, FTS = (
    "pcs_ocds_notices_2026-09_nt102_trimmed.json",
    "fts_release_package_2026-09-11_trimmed.json",
)
RANKED = [
    (PCS, "Roof Replacements", "", "Gorbals Roofing Trust"),
    (FTS, "Field Ecologists", "", "Wild Places Ecology"),
    (FTS, "Joinery Contractors", "Highland", "Highland Heritage Joinery"),
    ("cf_ocds_search_2022-10-20.json", "Laundry Services", "", None),  # nobody: "Nothing fits"
]


def fixture_text(data_dir, file: str, title: str) -> str:
    """A real notice's title and description, as an officer would type them."""
    releases = json.loads((data_dir / file).read_text())["releases"]
    tender = next(r["tender"] for r in releases if title in r.get("tender", {}).get("title", ""))
    return f"{tender['title']}\n{tender.get('description', '')}"


@pytest.mark.parametrize(("file", "title", "where", "first"), RANKED)
def test_what_do_you_need_ranks_the_right_member_first(
    client, pages, network, data_dir, file, title, where, first
):
    what = fixture_text(data_dir, file, title)
    page = pages.text(client.get("/network/find", query_string={"what": what, "where": where}))
    found = listed_names(page)
    print(title, found)
    assert found[:1] == ([first] if first else [])


def public_pages(client, pages) -> dict[str, str]:
    """Every public page of the directory, by address: the directory with each filter,
    searches (one for each unlisted member's own words), every listed member's page, the
    privacy page, the CSV and robots.txt."""
    found: dict[str, str] = {}

    def get(path: str, **query: str) -> str:
        response = client.get(path, query_string=query)
        found[response.request.full_path] = pages.text(response)
        return found[response.request.full_path]

    index = get("/network/")
    get("/network/", page="2")
    areas = re.findall(r'<select id="area" name="area">(.*?)</select>', index, re.S)[0]
    works = re.findall(r'<select id="work" name="work">(.*?)</select>', index, re.S)[0]
    for area in re.findall(r'<option value="(\w+)"', areas):
        get("/network/", area=area)
        get("/network/directory.csv", area=area)
    for work in re.findall(r'<option value="(\w+)"', works):
        get("/network/", work=work, supported="y")
    get("/network/directory.csv")
    for what, where in (
        ("grounds maintenance", "Scottish Borders"),  # Borders Green Team's own words
        ("office cleaning", "Dundee"),  # Sparkle Tayside Cleaning's
        ("construction skills training", "Fife"),  # Fife Build Skills'
        ("community transport", ""),
    ):
        get("/network/find", what=what, where=where)
    for path in sorted(
        set(re.findall(r'href="(/network/members/[a-z0-9-]+)"', "".join(found.values())))
    ):
        get(path)
    get("/network/privacy")
    get("/robots.txt")
    return found


def test_no_public_page_shows_an_email_address_or_an_unlisted_member(
    app, client, pages, network, sessions
):
    with sessions() as s:
        members = s.scalars(select(Member)).all()
        addresses = [e for m in members for e in m.emails]
    seen = public_pages(client, pages)
    # Every listed member's own page was among them.
    pages_seen = {p for p in seen if p.startswith("/network/members/")}
    assert len(pages_seen) == len(network) - len(UNLISTED)
    assert len(addresses) >= 30
    everything = "\n".join(seen.values()).lower()
    for address in addresses:
        assert address.lower() not in everything, address
    # No address at all, bar the network's own on the privacy page.
    network_address = app.config["SETTINGS"].mail.from_address
    assert "@" not in everything.replace(network_address, "")
    for name in UNLISTED:
        assert name.lower() not in everything, name
    # Nor what the unlisted members wrote about themselves.
    with sessions() as s:
        for member in s.scalars(select(Member).where(Member.name.in_(UNLISTED))):
            assert member.description.lower()[:60] not in everything


def profile_post(member: Member, csrf: str, **changes: object) -> dict[str, str]:
    """A profile form as its page shows it filled in, with `changes`, ready to post."""
    data = {**form_data(member), **changes}
    posted = {k: ("y" if v is True else str(v)) for k, v in data.items() if v is not False}
    return {**posted, "csrf_token": csrf}


def test_listing_and_unlisting_take_effect_at_once(
    app, client, pages, network, sessions, clock, coordinator, csrf_token
):
    member_id = network["Greenspace Growers"]
    search = {"what": "grounds maintenance", "where": "Glasgow"}
    assert "Greenspace Growers" in listed_names(pages.text(client.get("/network/")))
    assert listed_names(pages.text(client.get("/network/find", query_string=search))) == [
        "Greenspace Growers"
    ]
    # The coordinator sees it listed, and unticks "List us in the public directory".
    assert "In the public directory" in pages.text(client.get("/members/"))
    page = pages.text(client.get(f"/members/{member_id}"))
    assert f'<a href="/network/members/{member_id}">its page in the public directory</a>' in page
    assert '<label for="listed">List us in the public directory</label>' in page
    with sessions() as s:
        data = profile_post(s.get(Member, member_id), csrf_token(page), listed=False, save="Save")
    assert client.post(f"/members/{member_id}", data=data).status_code == 302
    assert "Greenspace Growers" not in pages.text(client.get("/network/"))
    assert "Greenspace Growers" not in client.get("/network/directory.csv").text
    assert listed_names(pages.text(client.get("/network/find", query_string=search))) == []
    pages.text(client.get("/network/members/greenspace-growers"), 404)
    pages.text(client.get(f"/network/members/{member_id}"), 404)

    # The member lists itself again from "Update my profile", with a new website.
    client.post("/logout", data={"csrf_token": csrf_token(client.get("/"))})
    url = urlsplit(for_app(app).url(member_id, "profile")).path
    page = pages.text(client.get(url))
    assert '<label for="listed">List us in the public directory</label>' in page
    with sessions() as s:
        data = profile_post(s.get(Member, member_id), csrf_token(page), listed=True)
    data.update(website="www.greenspace.example.org", save="Save my profile")
    del data["name"]
    assert client.post(url, data=data).status_code == 302
    page = pages.text(client.get("/network/members/greenspace-growers"))
    assert 'href="https://www.greenspace.example.org"' in page
    assert "Greenspace Growers" in listed_names(pages.text(client.get("/network/")))
    assert listed_names(pages.text(client.get("/network/find", query_string=search))) == [
        "Greenspace Growers"
    ]


def test_robots_txt_lets_search_engines_index_the_directory_only(client):
    response = client.get("/robots.txt")
    assert response.mimetype == "text/plain"
    assert response.text == (
        "User-agent: *\nAllow: /network/\nDisallow: /network/confirm/\nDisallow: /\n"
    )


def test_only_the_directory_may_be_framed_and_only_by_the_networks_site(make_settings):
    from broker import create_app

    origin = "https://www.network.example.org"
    app = create_app(make_settings({"network": {"embed_origins": [origin]}}))
    client = app.test_client()
    for path in ("/network/", "/network/privacy", "/network/find?what=cleaning"):
        response = client.get(path)
        assert response.status_code == 200
        assert "X-Frame-Options" not in response.headers
        policy = response.headers["Content-Security-Policy"]
        assert f"frame-ancestors 'self' {origin};" in policy
        assert "script-src 'self'" in policy
    for path in ("/login", "/members/", "/static/style.css"):
        with client.get(path) as response:
            assert response.headers["X-Frame-Options"] == "DENY", path
            assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    app.extensions["broker.engine"].dispose()


def test_links_to_the_buyers_forms_leave_an_embedding_frame(client, pages, network):
    # Framed in another site, the browser withholds the session cookie (SameSite=Lax)
    # that the forms' CSRF token needs: the forms must open in the whole window.
    member = next(iter(network.values()))
    paths = (
        "/network/",
        "/network/?area=no-such-area",
        "/network/find?what=xylophone+tuning",
        f"/network/members/{member}",
        "/network/privacy",
    )
    seen = 0
    for path in paths:
        html = client.get(path, follow_redirects=True).text
        for link in re.findall(r"<a\b[^>]*>", html):
            href = re.search(r'href="([^"]+)"', link)
            if href and (href[1].startswith("/network/opportunity") or "/contact" in href[1]):
                seen += 1
                assert 'target="_top"' in link, (path, link)
    assert seen >= len(paths)


def test_a_script_in_the_search_is_shown_as_text(client, pages, network):
    payload = '<script>alert("x")</script><img src=x onerror=alert(1)>'
    page = pages.text(client.get("/network/find", query_string={"what": payload, "where": payload}))
    assert "<script>alert" not in page and "<img src=x" not in page
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in page
    assert "Nothing fits" in page
    assert 'href="/network/opportunity"' in page


def test_too_many_searches_get_the_friendly_429_page(make_settings):
    from broker import create_app

    app = create_app(make_settings({"network": {"search_per_minute": 3}}))
    client = app.test_client()
    for _ in range(3):
        assert client.get("/network/find?what=cleaning").status_code == 200
    response = client.get("/network/find?what=cleaning")
    assert response.status_code == 429
    assert "Please wait a minute, then search again." in response.text
    assert 'href="/network/"' in response.text
    # Browsing the directory isn't a search.
    assert client.get("/network/").status_code == 200
    app.extensions["broker.engine"].dispose()


def test_the_public_pages_are_accessible(client, pages, network):
    for path in (
        "/network/",
        "/network/?area=S12000049&work=77&supported=y",
        "/network/find",
        "/network/find?what=office+cleaning&where=Edinburgh",
        "/network/find?what=nothing+like+it",
        "/network/members/clean-start-services",
        "/network/privacy",
    ):
        pages.assert_accessible(pages.text(client.get(path)))
    pages.assert_accessible(pages.text(client.get("/network/members/nobody"), 404))
