"""The public directory: only listed members, only what they chose to show, filters, the
CSV, "What do you need?" ranking real notices' words, robots.txt and framing."""

from __future__ import annotations

import csv
import io
import json
import re

import pytest
from sqlalchemy import select

from broker.members.csv_format import import_csv
from broker.models import Member
from broker.network.views import PAGE_SIZE

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
