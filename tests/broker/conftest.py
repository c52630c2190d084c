"""Fixtures for the broker's tests: reading its pages, and the warm matcher."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest


class _Structure(HTMLParser):
    """What an accessibility check needs from a page."""

    def __init__(self):
        super().__init__()
        self.labels: set[str] = set()
        self.fields: list[str] = []
        self.headings: list[int] = []
        self.post_forms = 0
        self.tokens = 0
        self.problems: list[str] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if "style" in attrs or tag == "script":
            self.problems.append(f"inline style or script on <{tag}>")
        if tag == "label":
            self.labels.add(attrs.get("for", ""))
        elif tag in ("input", "select", "textarea"):
            if attrs.get("type") not in ("hidden", "submit", "button"):
                self.fields.append(attrs.get("id", ""))
            elif (attrs.get("name") or "").endswith("csrf_token"):
                self.tokens += 1
        elif re.fullmatch(r"h[1-6]", tag):
            self.headings.append(int(tag[1]))
        elif tag == "form" and attrs.get("method", "get").lower() == "post":
            self.post_forms += 1


class Pages:
    """Reading the broker's pages: the status, each field's errors, the page's structure."""

    @staticmethod
    def text(response, status: int = 200) -> str:
        """The page's HTML, once it has answered `status`."""
        assert response.status_code == status, response.get_data(as_text=True)[:3000]
        return response.get_data(as_text=True)

    @staticmethod
    def field_errors(page: str, field: str) -> list[str]:
        """The error messages shown inside one field's box."""
        found = re.findall(
            rf'<p class="error" id="{field}-error"><span class="visually-hidden">Error: </span>'
            r"([^<]*)</p>",
            page,
        )
        return [e.replace("&#39;", "'") for e in found]

    @staticmethod
    def assert_accessible(page: str) -> None:
        """Every field labelled, headings in order from one h1, no inline styles or scripts,
        and every form that posts carries the CSRF token."""
        found = _Structure()
        found.feed(page)
        assert not found.problems, found.problems
        unlabelled = [f for f in found.fields if f not in found.labels]
        assert not unlabelled, unlabelled
        assert found.headings.count(1) == 1 and found.headings[0] == 1, found.headings
        for before, after in zip(found.headings, found.headings[1:], strict=False):
            assert after <= before + 1, found.headings
        assert found.tokens >= found.post_forms


@pytest.fixture
def pages() -> Pages:
    return Pages()


@pytest.fixture
def cache(app):
    """The app's warm matcher, as the pages and jobs use it."""
    from broker.matching.cache import get_cache

    return get_cache(app)
