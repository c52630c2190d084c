"""RSS and Atom sources against a local HTTP server: good, broken and oddly encoded feeds."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from feeds.sources.rss import RssFeed, RssOptions

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
RSS_TYPE = "application/rss+xml"


def harvest(httpserver, fetcher, path, state=None, **options):
    """One run of an RSS source for the feed served at `path`: (page, harvester)."""
    harvester = RssFeed(RssOptions(url=httpserver.url_for(path), **options), name="council")
    (page,) = harvester.pages(fetcher, state or {}, NOW)
    return page


def serve(httpserver, path, body, content_type=RSS_TYPE):
    httpserver.expect_request(path).respond_with_data(body, content_type=content_type)


def test_rss_entries_become_notices(httpserver, make_fetcher, recorded):
    serve(httpserver, "/business/tenders/feed.rss", recorded.bytes(recorded.RSS_COUNCIL))
    page = harvest(httpserver, make_fetcher(), "/business/tenders/feed.rss")
    assert page.error is None and page.rejections == ()
    first, relative, bare = page.notices
    assert (first.source, first.source_id) == ("council", "EBC-2026-014")  # the guid
    assert first.title == "Grounds Maintenance Services 2026-2029"
    assert first.url == "https://www.example-council.gov.uk/business/tenders/EBC-2026-014"
    assert first.cpv == ("77310000", "77314000")
    assert first.deadline == datetime(2026, 4, 12, 11, 0, tzinfo=UTC)  # 12:00 BST
    assert first.value is not None and (first.value.amount, first.value.currency) == (
        450_000.0,
        "GBP",
    )
    assert first.published == datetime(2026, 3, 9, 14, 5, tzinfo=UTC)
    assert first.community_benefits
    assert "<p>" not in first.description and "tracking" not in first.description
    # No guid: the link, resolved against the feed's address, names the entry.
    expected = httpserver.url_for("/business/tenders/EBC-2026-015")
    assert relative.url == relative.source_id == expected
    assert relative.cpv == ("55520000",)
    assert relative.deadline == datetime(2026, 4, 30, 22, 59, 59, tzinfo=UTC)  # end of day
    # Neither guid nor link: a hash of the title and date.
    assert bare.url is None and bare.source_id.startswith("sha256:")
    assert bare.deadline == datetime(2026, 3, 20, 17, 0, tzinfo=UTC)  # "by 20/03/2026 at 5pm"
    assert page.state == {
        "seen": {n.source_id: page.state["seen"][n.source_id] for n in page.notices},
        "checked": "2026-03-10T12:00:00Z",
    }


def test_atom_entries_use_id_xml_base_and_content(httpserver, make_fetcher, recorded):
    serve(
        httpserver, "/tenders.atom", recorded.bytes(recorded.ATOM_FRAMEWORK), "application/atom+xml"
    )
    page = harvest(httpserver, make_fetcher(), "/tenders.atom", default_buyer="Framework")
    care, minibus = page.notices
    assert care.source_id == "tag:procurement.example-framework.org.uk,2026:tender/8812"
    assert care.title == "Domiciliary care & reablement (Lot 2: North)"
    assert care.url == "https://procurement.example-framework.org.uk/tenders/8812"  # xml:base
    assert care.buyer == "North Example Health and Social Care Partnership"
    assert care.cpv == ("85312000", "85320000")
    assert care.deadline == datetime(2026, 4, 15, 16, 0, tzinfo=UTC)
    assert minibus.buyer == "Framework"  # the configured default
    assert (
        minibus.description
        == "Hire of accessible minibuses. Deadline for responses 1st May 2026 at noon."
    )
    assert minibus.deadline == datetime(2026, 5, 1, 11, 0, tzinfo=UTC)
    assert minibus.published == datetime(2026, 3, 10, 8, 0, tzinfo=UTC)  # only <updated>


def test_an_unchanged_feed_passes_nothing_on_the_next_run(httpserver, make_fetcher, recorded):
    body = recorded.bytes(recorded.RSS_COUNCIL)
    serve(httpserver, "/feed.rss", body)
    fetcher = make_fetcher()
    first = harvest(httpserver, fetcher, "/feed.rss")
    again = harvest(httpserver, fetcher, "/feed.rss", state=first.state)
    assert len(first.notices) == 3 and again.notices == ()
    assert again.state["seen"] == first.state["seen"]
    # A changed deadline passes that entry on again; a dropped entry is forgotten.
    httpserver.clear()
    changed = body.replace(b"12/04/2026 12:00", b"19/04/2026 12:00")
    changed = changed.replace(b"<title>Office cleaning", b"<title>Window cleaning")
    serve(httpserver, "/feed.rss", changed)
    third = harvest(httpserver, fetcher, "/feed.rss", state=again.state)
    assert [n.title for n in third.notices] == [
        "Grounds Maintenance Services 2026-2029",
        "Window cleaning - Town Hall annexe",
    ]
    assert len(third.state["seen"]) == 3


def test_a_malformed_feed_keeps_its_entries_and_says_so(httpserver, make_fetcher, recorded):
    broken = recorded.bytes(recorded.RSS_COUNCIL).replace(
        b"<title>Office cleaning - Town Hall annexe</title>",
        b"<title>Office cleaning & more</title>",
    )
    serve(httpserver, "/feed.rss", broken)
    page = harvest(httpserver, make_fetcher(), "/feed.rss")
    assert page.error is None
    assert [n.title for n in page.notices][-1] == "Office cleaning & more"
    assert len(page.notices) == 3
    (rejection,) = page.rejections
    assert rejection.reason.startswith("the feed is malformed (SAXParseException")
    assert rejection.position == httpserver.url_for("/feed.rss")


@pytest.mark.parametrize(
    ("body", "content_type", "error"),
    [
        (b"<rss version='2.0'><channel><item><title>A & B</title></item>", RSS_TYPE, None),
        (b"\x00\x01\x02 not xml at all", RSS_TYPE, "not a readable feed"),
        (b"<html><body><h1>Tenders</h1></body></html>", "text/html", "not an RSS or Atom feed"),
        (b"   ", RSS_TYPE, "the feed is empty"),
    ],
    ids=["broken-with-entry", "garbage", "html-page", "empty"],
)
def test_a_feed_with_no_readable_entries_fails_the_page(
    httpserver, make_fetcher, body, content_type, error
):
    serve(httpserver, "/feed.rss", body, content_type)
    state = {"seen": {"old": "digest"}}
    page = harvest(httpserver, make_fetcher(), "/feed.rss", state=state)
    if error is None:  # feedparser's loose parser recovers the one entry
        assert [n.title for n in page.notices] == ["A & B"]
        return
    assert page.notices == () and error in page.error
    assert page.state == state


def test_an_empty_but_valid_feed_is_not_an_error(httpserver, make_fetcher):
    serve(
        httpserver,
        "/feed.rss",
        b'<rss version="2.0"><channel><title>None yet</title></channel></rss>',
    )
    page = harvest(httpserver, make_fetcher(), "/feed.rss")
    assert (page.notices, page.error, page.state["seen"]) == ((), None, {})


@pytest.mark.parametrize(
    ("declaration", "codec", "content_type", "title"),
    [
        ('<?xml version="1.0" encoding="windows-1252"?>', "cp1252", RSS_TYPE, "Café “café”"),
        ('<?xml version="1.0" encoding="ISO-8859-1"?>', "latin-1", RSS_TYPE, "Café à la carte"),
        (
            '<?xml version="1.0"?>',
            "latin-1",
            "application/rss+xml; charset=ISO-8859-1",
            "Café à la carte",
        ),
        (
            '<?xml version="1.0" encoding="UTF-16"?>',
            "utf-16",
            RSS_TYPE,
            "Caffi Tŷ Newydd \u2013 “ok”",
        ),
    ],
    ids=["cp1252-prolog", "latin1-prolog", "latin1-header", "utf16"],
)
def test_non_utf8_encodings_are_read(
    httpserver, make_fetcher, declaration, codec, content_type, title
):
    text = (
        f"{declaration}<rss version='2.0'><channel><title>T</title><item>"
        f"<title>{title}</title><link>https://example.org/1</link></item></channel></rss>"
    )
    serve(httpserver, "/feed.rss", text.encode(codec), content_type)
    page = harvest(httpserver, make_fetcher(), "/feed.rss")
    assert [n.title for n in page.notices] == [title]


def test_undeclared_cp1252_bytes_are_kept_with_a_note(httpserver, make_fetcher):
    text = (
        "<rss version='2.0'><channel><title>T</title><item>"
        "<title>Caf\u00e9 \u201cquotes\u201d</title><link>https://example.org/1</link>"
        "</item></channel></rss>"
    )
    serve(httpserver, "/feed.rss", text.encode("cp1252"), "application/xml")
    page = harvest(httpserver, make_fetcher(), "/feed.rss")
    assert [n.title for n in page.notices] == ["Café “quotes”"]
    (note,) = page.rejections
    assert "CharacterEncodingOverride" in note.reason


def test_an_entry_repeating_an_id_is_rejected(httpserver, make_fetcher):
    item = "<item><title>{}</title><guid isPermaLink='false'>same</guid></item>"
    body = f"<rss version='2.0'><channel>{item.format('A')}{item.format('B')}</channel></rss>"
    serve(httpserver, "/feed.rss", body.encode())
    page = harvest(httpserver, make_fetcher(), "/feed.rss")
    assert [n.title for n in page.notices] == ["A"]
    assert [(r.reason, r.record_id) for r in page.rejections] == [
        ("repeats the id of entry 1", "same")
    ]


def test_an_entry_without_title_is_rejected_and_the_rest_kept(httpserver, make_fetcher):
    body = (
        "<rss version='2.0'><channel><item><link>https://example.org/untitled</link></item>"
        "<item><title>Kept</title><pubDate>someday</pubDate></item></channel></rss>"
    )
    serve(httpserver, "/feed.rss", body.encode())
    page = harvest(httpserver, make_fetcher(), "/feed.rss")
    assert [n.title for n in page.notices] == ["Kept"]
    assert page.notices[0].problems == ("published 'someday' is not a date",)
    assert [(r.reason, r.record_id) for r in page.rejections] == [
        ("entry has no title", "https://example.org/untitled")
    ]


def test_a_server_error_fails_the_page_and_keeps_the_state(httpserver, make_fetcher, sleeps):
    httpserver.expect_request("/feed.rss").respond_with_data("down", status=503)
    state = {"seen": {"EBC-1": "abc"}}
    page = harvest(httpserver, make_fetcher(retries=1), "/feed.rss", state=state)
    assert "HTTP 503" in page.error and page.state == state


@pytest.mark.parametrize(
    ("options", "error"),
    [
        ({"url": ""}, "url must be an http(s) URL"),
        ({"url": "https://x.org/f", "notice_type": "maybe"}, "unknown notice_type 'maybe'"),
        ({"url": "https://x.org/f", "timezone": "Mars/Olympus"}, "unknown time zone"),
    ],
)
def test_a_misconfigured_feed_fails_without_a_request(fake_fetch, options, error):
    fetch = fake_fetch(lambda url, params: b"")
    (page,) = RssFeed(RssOptions(**options)).pages(fetch, {}, NOW)
    assert error in page.error and fetch.calls == []
