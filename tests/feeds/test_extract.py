"""Fields guessed from free text: pasted or forwarded notices, feed entries, listing rows."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from feeds.extract import (
    extract_from_page,
    extract_notice_fields,
    find_buyer,
    find_cpv_codes,
    find_deadline,
    find_title,
    find_value,
)
from feeds.types import Money

QUICK_QUOTE_EMAIL = """From: noreply@publiccontractsscotland.gov.uk
Sent: 10 March 2026 09:12
To: bids@example-social-enterprise.org.uk
Subject: FW: Quick Quote - Grounds Maintenance at Dunfermline Depot

Dear Supplier,

You have been invited to respond to a Quick Quote issued by Fife Council.

CPV: 77310000 - Planting and maintenance services of green areas
Closing date: 24/03/2026 12:00
Estimated value: £25,000

View it at https://www.publiccontractsscotland.gov.uk/Search/show/search_view.aspx?ID=MAR123.
"""


def test_a_forwarded_quick_quote_email():
    fields = extract_notice_fields(QUICK_QUOTE_EMAIL)
    assert fields.title == "Quick Quote - Grounds Maintenance at Dunfermline Depot"
    assert fields.buyer == "Fife Council"
    assert fields.cpv == ("77310000",)
    assert fields.deadline == datetime(2026, 3, 24, 12, 0, tzinfo=UTC)
    assert fields.value == Money(25_000.0, "GBP")
    assert fields.url == (
        "https://www.publiccontractsscotland.gov.uk/Search/show/search_view.aspx?ID=MAR123"
    )
    assert "Dear Supplier" in fields.description


def test_a_pasted_url_wins_and_nothing_is_invented():
    fields = extract_notice_fields("Some text without any details", url="https://x.org/n/1")
    assert fields.url == "https://x.org/n/1"
    assert (fields.buyer, fields.deadline, fields.cpv, fields.value) == (None, None, (), None)
    assert fields.title == "Some text without any details"


def test_pasted_html_is_read_as_text():
    html = "<h2>Title: Meals on wheels</h2><p>Buyer: Angus Council</p><p>Deadline: 1 June 2026</p>"
    fields = extract_notice_fields(html)
    assert (fields.title, fields.buyer) == ("Meals on wheels", "Angus Council")
    assert fields.deadline == datetime(2026, 6, 1, 22, 59, 59, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Deadline: 12/03/2026", datetime(2026, 3, 12, 23, 59, 59, tzinfo=UTC)),
        ("Closing date: 12/03/2026 12:00", datetime(2026, 3, 12, 12, 0, tzinfo=UTC)),
        ("The closing date is 12:00 on 14/07/2026.", datetime(2026, 7, 14, 11, 0, tzinfo=UTC)),
        (
            "Tender return date: Thursday 12th March 2026 at 2pm",
            datetime(2026, 3, 12, 14, 0, tzinfo=UTC),
        ),
        ("Deadline for submission: 2026-03-12 17:00", datetime(2026, 3, 12, 17, 0, tzinfo=UTC)),
        ("Closes on March 12, 2026 noon", datetime(2026, 3, 12, 12, 0, tzinfo=UTC)),
        ("Return date 12.3.26 14.30 hrs", datetime(2026, 3, 12, 14, 30, tzinfo=UTC)),
        ("Deadline: 31/02/2026", None),
        ("Published 12/03/2026", None),  # a date, but not a deadline
        ("No deadline mentioned", None),
    ],
)
def test_deadlines(text, expected):
    assert find_deadline(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("CPV: 90910000", ("90910000",)),
        ("CPV codes: 90910000 - Cleaning; 90911200-8 Building cleaning", ("90910000", "90911200")),
        ("CPV Codes:\n90910000\n77310000\n\nTel: 12345678", ("90910000", "77310000")),
        ("works under 45000000-7 this year", ("45000000",)),  # a check digit makes it CPV
        ("Call 01234567 or 12345678", ()),  # no label: phone numbers are not CPV
        ("CPV: 99999999", ()),  # not a CPV division
    ],
)
def test_cpv_codes(text, expected):
    assert find_cpv_codes(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Estimated value: £50,000", Money(50_000.0, "GBP")),
        ("Budget £10k - £20k", Money(20_000.0, "GBP", 10_000.0, 20_000.0)),
        ("Contract value: 1.2 million GBP", Money(1_200_000.0, "GBP")),
        ("Total value: €5m to €7.5m", Money(7_500_000.0, "EUR", 5_000_000.0, 7_500_000.0)),
        ("Insurance of £5m is required", None),  # no value label
        ("Value: to be confirmed", None),
    ],
)
def test_values(text, expected):
    assert find_value(text) == expected


@pytest.mark.parametrize(
    ("text", "buyer"),
    [
        ("Organisation: Scottish Borders Council", "Scottish Borders Council"),
        ("Contracting authority - NHS Lothian", "NHS Lothian"),
        ("We are tendering on behalf of Glasgow City Council, which", "Glasgow City Council"),
        ("A quote for lunch", None),
    ],
)
def test_buyers(text, buyer):
    assert find_buyer(text) == buyer


def test_titles_skip_mail_headers_and_reply_prefixes():
    assert find_title("From: a@b.c\nTo: d@e.f\n\nRE: FW: Catering at Fife Leisure") == (
        "Catering at Fife Leisure"
    )
    assert find_title("https://example.org/only-a-link\n") is None


def test_a_fetched_notice_page(recorded):
    fields = extract_from_page(
        recorded.bytes(recorded.HTML_DETAIL),
        url="https://www.example-district.gov.uk/tenders/edc-2026-031",
        headers={"Content-Type": "text/html; charset=utf-8"},
    )
    assert fields.title == "Cleaning of public conveniences"
    assert fields.cpv == ("90911200",)
    assert fields.url == "https://www.example-district.gov.uk/tenders/edc-2026-031"
    assert "Home" not in fields.description  # navigation is not the notice
