"""Every registered harvester is documented, configurable and yields notices."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from datetime import UTC, datetime

import pytest

import feeds
from feeds.http import HttpPolicy
from feeds.types import Notice, Page

NOW = datetime(2026, 9, 19, 12, 0, tzinfo=UTC)


LISTING_URL = "https://www.example-district.gov.uk/business/procurement/current-tenders"
# Options for the kinds that have no useful default URL.
OPTIONS = {
    "rss": {"url": "https://www.example-council.gov.uk/business/tenders/feed.rss"},
    "html_listing": {
        "url": LISTING_URL,
        "item_selector": "tr.opportunity",
        "title_selector": "td.title a",
        "deadline_selector": "td.closing",
        "buyer_selector": "td.buyer",
    },
}


def recorded_answer(kind: str, recorded):
    """One recorded page for the first request of `kind`, then empty pages."""
    if kind == "sell2wales":  # no Sell2Wales recording: a PCS page with its OCIDs stands in
        body = recorded.bytes(recorded.PCS_2026).replace(b"ocds-r6ebe6", b"ocds-kuma6s")
    else:
        body = recorded.bytes(
            {
                "pcs": recorded.PCS_2026,
                "contracts_finder": recorded.CF_2022,
                "find_a_tender": recorded.FTS_2026,
                "ted": recorded.TED_SEARCH,
                "rss": recorded.RSS_COUNCIL,
                "html_listing": recorded.HTML_LISTING,
            }[kind]
        )
    empty = b'{"notices": [], "iterationNextToken": null}' if kind == "ted" else b'{"releases": []}'
    served = []

    def answer(url, params):
        if url.endswith("/robots.txt"):
            return b"User-agent: *\nDisallow: /admin/\n"
        served.append(url)
        return body if len(served) == 1 else empty

    return answer


def make(kind: str):
    """A harvester of `kind` with the options its recording needs."""
    cls = feeds.get(kind)
    return cls(cls.Options(**OPTIONS.get(kind, {})))


@pytest.mark.parametrize("kind", sorted(feeds.REGISTRY))
def test_harvester_is_documented_and_configurable(kind):
    cls = feeds.get(kind)
    assert cls.name == kind
    for heading in ("Publisher", "URL", "Caveats"):
        assert heading in (cls.__doc__ or "")
    options = cls.Options()
    assert dataclasses.is_dataclass(options)
    fields = dataclasses.fields(options)
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(options, fields[0].name, "x")
    for f in fields:
        assert f.metadata.get("doc"), f"{kind}.{f.name} has no doc"
    if kind in OPTIONS:  # a feed or page of the admin's choosing: no default URL
        assert options.url == ""
    else:
        assert options.base_url.startswith("https://")
    HttpPolicy().updated(cls.http_defaults)  # the broker merges these


@pytest.mark.parametrize("kind", sorted(feeds.REGISTRY))
def test_harvester_yields_valid_notices_from_its_recording(kind, recorded, fake_fetch):
    fetch = fake_fetch(recorded_answer(kind, recorded))
    harvester = make(kind)
    if hasattr(harvester, "check"):  # the Sources page validates new entries with it
        assert harvester.check() is None
    pages = list(harvester.pages(fetch, {}, NOW))
    assert pages and all(isinstance(p, Page) for p in pages)
    notices = [n for p in pages for n in p.notices]
    assert notices and all(isinstance(n, Notice) and n.title for n in notices)
    assert all(p.error is None and p.state is not None for p in pages)
    assert all(url.startswith("https://") for url, _ in fetch.calls)


def test_unknown_kind_names_the_known_ones():
    with pytest.raises(KeyError, match="unknown source kind 'nonesuch'; known: pcs, sell2wales"):
        feeds.get("nonesuch")


def test_feeds_imports_no_web_or_database_code():
    code = (
        "import sys, feeds, feeds.http, feeds.files, feeds.packages, feeds.ocds, feeds.text;"
        "top = {m.split('.')[0] for m in sys.modules};"
        "bad = {'flask', 'sqlalchemy', 'broker', 'matchers'} & top;"
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
