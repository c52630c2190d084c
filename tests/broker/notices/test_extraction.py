"""Add a notice from a pasted link or text: the broker fills in the form, the coordinator
checks it and saves; nothing is stored before that, and pasted text is shown escaped."""

from __future__ import annotations

import html
import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from broker.clock import utcnow
from broker.models import Notice, NoticeSource

DEADLINE = (utcnow() + timedelta(days=20)).date()
QUICK_QUOTE_EMAIL = f"""From: noreply@publiccontractsscotland.gov.uk
Sent: 10 March 2026 09:12
To: bids@example-social-enterprise.org.uk
Subject: FW: Quick Quote - Grounds Maintenance at Dunfermline Depot

Dear Supplier,

You have been invited to respond to a Quick Quote issued by Fife Council.

CPV: 77310000 - Planting and maintenance services of green areas
Closing date: {DEADLINE:%d/%m/%Y} 12:00
Estimated value: £25,000

View it at https://www.publiccontractsscotland.gov.uk/Search/show/search_view.aspx?ID=MAR123.
"""


def extract(client, csrf_token, pasted: str):
    token = csrf_token(client.get("/notices/new"))
    return client.post("/notices/new/extract", data={"csrf_token": token, "paste": pasted})


def value_of(page: str, field: str) -> str | None:
    """What an input of the Add a notice form holds, as the browser would read it."""
    tag = re.search(rf'<input[^>]* id="{field}"[^>]*>', page)
    if tag is None:
        return None
    found = re.search(r' value="([^"]*)"', tag.group())
    return html.unescape(found.group(1)) if found else ""


def textarea(page: str, field: str) -> str:
    found = re.search(rf'<textarea[^>]* id="{field}"[^>]*>\r?\n?(.*?)</textarea>', page, re.S)
    return html.unescape(found.group(1))


def notices(sessions) -> int:
    with sessions() as s:
        return s.scalar(select(func.count(Notice.id)))


def test_the_page_offers_extraction_without_javascript(pages, client, coordinator):
    page = pages.text(client.get("/notices/new"))
    assert '<form method="post" action="/notices/new/extract" novalidate>' in page
    assert '<label for="paste">Web address or text of the notice</label>' in page
    assert '<button type="submit" class="button secondary-button">Extract details</button>' in (
        page
    )
    assert '<button type="submit" class="button">Save and match notice</button>' in page
    pages.assert_accessible(page)


def test_a_pasted_quick_quote_email_fills_in_the_form_and_saving_stores_it(
    pages, client, coordinator, sessions, csrf_token
):
    page = pages.text(extract(client, csrf_token, QUICK_QUOTE_EMAIL))
    assert (
        "Filled in from what you pasted: kind, title, buyer, deadline, value, CPV codes, link."
        in page
    )
    assert '<option selected value="quick_quote">' in page
    assert value_of(page, "title") == "Quick Quote - Grounds Maintenance at Dunfermline Depot"
    assert value_of(page, "buyer") == "Fife Council"
    assert value_of(page, "deadline_date") == DEADLINE.isoformat()
    assert value_of(page, "deadline_time") == "12:00"
    assert value_of(page, "value") == "25000"
    assert value_of(page, "cpv") == "77310000"
    assert value_of(page, "url").endswith("search_view.aspx?ID=MAR123")
    assert "Dear Supplier" in textarea(page, "description")
    # The pasted text stays in its box; nothing is stored yet.
    assert "Quick Quote issued by Fife Council" in textarea(page, "paste")
    assert notices(sessions) == 0
    pages.assert_accessible(page)

    # The coordinator checks the form, adds the area, and saves what it shows.
    form = {
        name: value_of(page, name) or ""
        for name in ("title", "buyer", "deadline_date", "deadline_time", "value", "cpv", "url")
    }
    form |= {"kind": "quick_quote", "description": textarea(page, "description"), "areas": "Fife"}
    token = csrf_token(page)
    saved = client.post("/notices/new", data={**form, "csrf_token": token})
    assert saved.status_code == 302, saved.get_data(as_text=True)[:3000]
    with sessions() as s:
        notice = s.scalars(select(Notice)).one()
        assert notice.title == "Quick Quote - Grounds Maintenance at Dunfermline Depot"
        assert notice.buyer == "Fife Council" and notice.cpv == ["77310000"]
        assert notice.value_amount == 25_000
        assert notice.deadline.date() == DEADLINE


@pytest.fixture
def notice_page(httpserver, data_dir):
    httpserver.expect_request("/tenders/edc-2026-031").respond_with_data(
        (data_dir / "html_listing_detail.html").read_bytes(),
        content_type="text/html; charset=utf-8",
    )
    return httpserver.url_for("/tenders/edc-2026-031")


def test_a_pasted_link_is_read_with_the_brokers_http_client(
    pages, client, coordinator, sessions, csrf_token, notice_page, httpserver, settings
):
    page = pages.text(extract(client, csrf_token, f"  {notice_page}\n"))
    assert value_of(page, "title") == "Cleaning of public conveniences"
    assert value_of(page, "cpv") == "90911200"
    assert value_of(page, "url") == notice_page
    assert "daily cleaning of six public conveniences" in textarea(page, "description")
    assert "Home" not in textarea(page, "description")  # navigation left out
    assert notices(sessions) == 0
    (request, _response), *_ = httpserver.log
    assert request.headers["User-Agent"] == settings.http.user_agent


def test_a_link_that_cannot_be_read_is_an_error_on_the_field(
    pages, client, coordinator, sessions, csrf_token
):
    page = pages.text(extract(client, csrf_token, "http://127.0.0.1:9/notice/1"), 400)
    errors = re.findall(r'<p class="error" id="paste-error">.*?</span>([^<]*)</p>', page)
    assert len(errors) == 1 and errors[0].startswith("That page could not be read:")
    assert "127.0.0.1:9/notice/1" in textarea(page, "paste")
    assert notices(sessions) == 0
    empty = pages.text(extract(client, csrf_token, "   "), 400)
    assert "Paste a web address or the text of a notice" in empty


@pytest.fixture
def settings(make_settings):
    # The pages are served on loopback, which pasted links may not reach by default.
    return make_settings(
        {"http": {"max_bytes": 2_000, "retries": 0}, "web": {"extract_private_links": True}}
    )


def test_a_page_over_the_size_limit_is_refused_with_the_reason(
    pages, client, coordinator, csrf_token, httpserver
):
    httpserver.expect_request("/huge").respond_with_data("<p>" + "x" * 5_000 + "</p>")
    page = pages.text(extract(client, csrf_token, httpserver.url_for("/huge")), 400)
    assert "That page could not be read: response of" in page
    assert "the size limit" in page


def test_pasted_and_fetched_markup_is_shown_never_run(
    pages, client, coordinator, sessions, csrf_token, httpserver
):
    hostile = (
        'Subject: Grass "><script>alert("x")</script> cutting\n'
        "Buyer: <b onmouseover=alert(1)>Fife</b>"
    )
    page = pages.text(extract(client, csrf_token, hostile))
    # Shown as text in the fields and the paste box, never as markup.
    assert "<script>alert" not in page and "<b onmouseover" not in page
    assert "&lt;script&gt;" in page and "&lt;b onmouseover=alert(1)&gt;" in page
    assert "<b onmouseover=alert(1)>" in textarea(page, "paste")
    httpserver.expect_request("/n").respond_with_data(
        "<html><body><main><h1>Cleaning &quot;&gt;&lt;script&gt;alert(2)&lt;/script&gt;</h1>"
        "<p>Deadline: 1 June 2031</p></main></body></html>",
        content_type="text/html",
    )
    fetched = pages.text(extract(client, csrf_token, httpserver.url_for("/n")))
    # The page's text is read as text (markup in it stripped), then escaped again here.
    assert value_of(fetched, "title").startswith('Cleaning ">')
    assert "<script>alert(2)" not in fetched and 'value="Cleaning &#34;&gt;' in fetched
    assert notices(sessions) == 0


def test_extracting_without_the_csrf_token_is_refused(client, coordinator, sessions):
    response = client.post("/notices/new/extract", data={"paste": QUICK_QUOTE_EMAIL})
    assert response.status_code == 400
    assert notices(sessions) == 0
    with sessions() as s:
        assert s.scalar(select(func.count(NoticeSource.id))) == 0


def test_a_pasted_link_to_the_brokers_own_network_is_not_fetched(
    password, pages, make_settings, httpserver, csrf_token, make_user
):
    from broker import create_app

    # The shipped default: pasted links may not reach loopback or private addresses.
    app = create_app(make_settings({"http": {"retries": 0}}))
    try:
        httpserver.expect_request("/admin").respond_with_data("<h1>Internal</h1>")
        client = app.test_client()
        make_user()
        page = pages.text(client.get("/login"))
        client.post(
            "/login",
            data={
                "email": "coordinator@sen.example.org",
                "password": password,
                "csrf_token": csrf_token(page),
            },
        )
        page = pages.text(extract(client, csrf_token, httpserver.url_for("/admin")), 400)
        assert "That page could not be read:" in page
        assert "is a private or local address" in page
        assert httpserver.log == []
    finally:
        app.extensions["broker.engine"].dispose()
