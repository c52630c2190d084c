"""Fuzzing: every parser, fed mutated copies of real payloads, returns or raises ParseError.

Each format gets FUZZ_EXAMPLES cases (1,000 by default) generated deterministically
(derandomize), so a CI run is repeatable. Mutations: byte flips, truncation, junk
insertion, deleted or repeated slices, and, in JSON, keys deleted and values swapped
for other types; in XML, texts and attributes swapped for awkward values.

Set FUZZ_EXAMPLES=20000 FUZZ_SEED=<n> to search harder, and FUZZ_SAVE=1 to keep the
smallest crashing input of each format as tests/data/fuzz_regressions/<format>-latest.bin
(shrinking rewrites it until it is minimal); rename it to say what it broke, and
`test_saved_crash_stays_fixed` replays it on every run.
"""

from __future__ import annotations

import io
import json
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

from feeds.errors import ParseError
from feeds.html_listing import Selectors, read_listing
from feeds.packages import load_payload, map_releases, page_from_payload, read_package
from feeds.rss import read_feed
from feeds.ted_search import read_search_response
from feeds.ted_xml import read_ted_notice
from feeds.types import Notice, Page, Rejection

DATA = Path(__file__).resolve().parents[1] / "data"
REGRESSIONS = DATA / "fuzz_regressions"
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "1000"))
SEED = int(os.environ.get("FUZZ_SEED", "0"))


def parse_ocds(data: bytes) -> Any:
    """Both OCDS paths: a downloaded page (Proactis, CF, FTS) and a streamed import."""
    page = page_from_payload(
        load_payload(data, where="fuzz"), label="fuzz", source="pcs", state=None
    )
    releases = list(read_package(io.BytesIO(data), where="fuzz"))
    return page, map_releases(releases, source="file", where="fuzz")


def parse_ted_search(data: bytes) -> Any:
    return read_search_response(data, where="fuzz")


def parse_ted_xml(data: bytes) -> Any:
    return read_ted_notice(data, where="fuzz")


def parse_feed(data: bytes) -> Any:
    return read_feed(data, url="https://www.example-council.gov.uk/feed.rss", source="fuzz")


def parse_listing(data: bytes) -> Any:
    selectors = Selectors(
        item="tr.opportunity", title="td.title a", deadline="td.closing", buyer="td.buyer"
    )
    return read_listing(data, url="https://x.gov.uk/tenders", selectors=selectors, source="f")


@dataclass(frozen=True)
class Target:
    """A parser and the real payloads it is fuzzed with."""

    parse: Callable[[bytes], Any]
    seeds: tuple[str, ...]
    kind: str  # "json", "xml" or "html": which structural mutations apply


def cf_first_releases(count: int = 12) -> bytes:
    # The recorded CF page is 485 kB; its first releases (incl. two of one ocid) keep
    # each case fast without leaving out any shape the page has.
    package = json.loads((DATA / "cf_ocds_search_2022-10-20.json").read_bytes())
    package["releases"] = package["releases"][:count]
    return json.dumps(package, ensure_ascii=False).encode()


TARGETS = {
    "ocds": Target(
        parse_ocds,
        (
            "pcs_ocds_notices_2026-09_nt102_trimmed.json",
            "fts_release_package_2026-09-11_trimmed.json",
            "cf_ocds_search_2022-10-20.json",
        ),
        "json",
    ),
    "ted_search": Target(parse_ted_search, ("ted_api_v3_search_response_trimmed.json",), "json"),
    "eforms": Target(
        parse_ted_xml,
        (
            "ted_eforms_cn_standard_622691-2023.xml",
            "ted_eforms_pin_reserved_262891-2023.xml",
            "eforms_sdk_example_cn_24_cumbria.xml",
            "eforms_sdk_example_cn_24_maximal.xml",
        ),
        "xml",
    ),
    "r209": Target(
        parse_ted_xml,
        ("ted_r209_f02_cn_scotland_20-156983.xml", "ted_r209_f21_reserved_fr_19-090974.xml"),
        "xml",
    ),
    "rss": Target(parse_feed, ("rss_council_tenders.xml", "atom_framework_tenders.xml"), "xml"),
    "html_listing": Target(parse_listing, ("html_listing_council.html",), "html"),
}


def seed_bytes(name: str) -> bytes:
    if name == "cf_ocds_search_2022-10-20.json":
        return cf_first_releases()
    return (DATA / name).read_bytes()


SEEDS = {name: seed_bytes(name) for target in TARGETS.values() for name in target.seeds}
JSON_SEEDS = {name: json.loads(data) for name, data in SEEDS.items() if name.endswith(".json")}

# Bytes that parsers meet at their edges.
JUNK = [
    b"\x00", b"\xff", b"\xfe\xff", b"\xef\xbb\xbf", b"\xc3", b"\xed\xa0\x80", b"\x1b",
    b"<", b">", b"&", b"&amp;", b"&#0;", b"&#xD800;", b"&nbsp;", b"]]>", b"<![CDATA[",
    b"<!--", b"</", b"/>", b"<?xml version='1.0' encoding='utf-16'?>", b'"', b"'", b"\\",
    b"\\ud800", b"\\u0000", b"{", b"}", b"[", b"]", b",", b":", b"1e9999", b"-1e9999",
    b"NaN", b"Infinity", b"null", b"true", b"9" * 40, b"-0", b"0x1F", b"2026-13-45",
    b"20261345 25:61", b"+99:99", b"Z", b"\r\n", b" " * 64, "\u2028".encode(), "é".encode(),
]  # fmt: skip
ODD_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.sampled_from([10**400, -(10**400), 2**63, -1, 0]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=40),
    st.sampled_from(
        [
            "",
            " ",
            "2026-02-30",
            "2026-09-18+25:00",
            "24:00:00",
            "abc",
            "1e9999",
            "\ud800",
            "GBP",
            "00000000",
            "45000000-7",
            "UKM50",
            "eng",
            "x" * 2000,
        ]
    ),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=3),
)
XML_VALUES = st.sampled_from(
    ["", " ", "2026-13-45", "2026-02-30+01:00", "25:61:00", "24:00", "20201345 99:99",
     "1e9999", "-5", "NaN", "abc", "&amp;", "UK", "ZZ", "cpv", "nuts", "res-ws", "res-pub-ser",
     "none", "00000000-2023", "0-0", "x" * 500, "é", "Lot", "LotsGroup", "F21", "AWARD"]
)  # fmt: skip

_TEXT_NODE = re.compile(rb">([^<>]{1,200})<")
_ATTRIBUTE = re.compile(rb'="([^"]{0,100})"')
# An element with text only (or empty): dropping or repeating it keeps the XML well formed.
_LEAF = re.compile(rb"<([\w:.-]+)(?:\s[^<>]*)?>[^<]*</\1>|<[\w:.-]+(?:\s[^<>]*)?/>")


@st.composite
def byte_mutation(draw: st.DrawFn, data: bytes) -> bytes:
    """One to three byte-level edits of `data`."""
    for _ in range(draw(st.integers(1, 3))):
        size = len(data)
        at = draw(st.integers(0, size))
        op = draw(st.sampled_from(["flip", "truncate", "insert", "delete", "repeat"]))
        if op == "flip" and size:
            at = min(at, size - 1)
            data = data[:at] + bytes([data[at] ^ draw(st.integers(1, 255))]) + data[at + 1 :]
        elif op == "truncate":
            data = data[:at]
        elif op == "insert":
            junk = draw(st.one_of(st.sampled_from(JUNK), st.binary(min_size=1, max_size=8)))
            data = data[:at] + junk + data[at:]
        elif op == "delete":
            data = data[:at] + data[at + draw(st.integers(1, 64)) :]
        elif op == "repeat":
            piece = data[at : at + draw(st.integers(1, 256))]
            data = data[:at] + piece * draw(st.integers(2, 4)) + data[at:]
    return data


@st.composite
def json_mutation(draw: st.DrawFn, name: str) -> bytes:
    """Delete a key or swap a value for another type, somewhere in the seed's JSON tree."""
    tree = json.loads(json.dumps(JSON_SEEDS[name]))  # a fresh copy
    for _ in range(draw(st.integers(1, 4))):
        parent, key = _random_slot(draw, tree)
        if parent is None:
            continue
        op = draw(st.sampled_from(["replace", "delete", "wrap", "stringify"]))
        if op == "delete" and isinstance(parent, dict):
            del parent[key]
        elif op == "wrap":
            parent[key] = [parent[key]] if draw(st.booleans()) else {"value": parent[key]}
        elif op == "stringify":
            parent[key] = json.dumps(parent[key])
        else:
            parent[key] = draw(ODD_VALUES)
    text = json.dumps(tree, ensure_ascii=draw(st.booleans()))
    return text.encode("utf-8", "surrogatepass")


def _random_slot(draw: st.DrawFn, tree: Any) -> tuple[Any, Any]:
    """Walk down from the root to a random container slot: (container, key or index)."""
    parent, key = None, None
    node = tree
    for _ in range(draw(st.integers(1, 8))):
        if isinstance(node, dict) and node:
            parent, key = node, draw(st.sampled_from(sorted(node)))
        elif isinstance(node, list) and node:
            parent, key = node, draw(st.integers(0, len(node) - 1))
        else:
            break
        node = parent[key]
    return parent, key


@st.composite
def xml_mutation(draw: st.DrawFn, data: bytes) -> bytes:
    """Swap texts or attribute values for awkward ones, drop or repeat leaf elements.

    These edits keep the document well formed, so the mapping code behind the XML
    parser sees the odd values; a dropped or repeated line now and then does not.
    """
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["text", "text", "attribute", "drop", "repeat", "drop-line"]))
        if op == "drop-line":
            lines = data.split(b"\n")
            del lines[draw(st.integers(0, len(lines) - 1))]
            data = b"\n".join(lines)
            continue
        pattern = {"text": _TEXT_NODE, "attribute": _ATTRIBUTE}.get(op, _LEAF)
        matches = list(pattern.finditer(data))
        if not matches:
            continue
        match = matches[draw(st.integers(0, len(matches) - 1))]
        if op == "drop":
            data = data[: match.start()] + data[match.end() :]
        elif op == "repeat":
            data = data[: match.end()] + match.group() + data[match.end() :]
        else:
            value = draw(XML_VALUES).encode()
            data = data[: match.start(1)] + value + data[match.end(1) :]
    return data


def mutated(target: Target) -> st.SearchStrategy[bytes]:
    """Mutated copies of a target's seeds, structure-aware where the format allows."""

    @st.composite
    def build(draw: st.DrawFn) -> bytes:
        name = draw(st.sampled_from(target.seeds))
        data = SEEDS[name]
        # Mostly structural edits, which keep the payload parseable and so reach the
        # mapping code; byte edits mostly test the parsers' own error paths.
        plan = draw(st.sampled_from(["structure", "structure", "both", "bytes"]))
        if plan != "bytes":
            edit = json_mutation(name) if target.kind == "json" else xml_mutation(data)
            data = draw(edit)
        if plan != "structure":
            data = draw(byte_mutation(data))
        return data

    return build()


def check(format_name: str, data: bytes) -> None:
    """Parse `data`: a result made of notices and rejections, or ParseError; nothing else."""
    target = TARGETS[format_name]
    try:
        result = target.parse(data)
    except ParseError:
        return
    except Exception:
        if os.environ.get("FUZZ_SAVE"):
            # Hypothesis tries smaller and smaller failing inputs and replays the
            # smallest last, so the file ends up holding the minimal one.
            REGRESSIONS.mkdir(exist_ok=True)
            (REGRESSIONS / f"{format_name}-latest.bin").write_bytes(data)
        raise
    _assert_plain(result)


def _assert_plain(result: Any) -> None:
    """Everything a parser returns is notices, rejections and pages of them."""
    if isinstance(result, tuple | list):
        for part in result:
            _assert_plain(part)
    elif isinstance(result, Page):
        _assert_plain(result.notices)
        _assert_plain(result.rejections)
    elif isinstance(result, Notice):
        assert isinstance(result.title, str) and result.title
        assert isinstance(result.source_id, str) and result.source_id
    elif hasattr(result, "notices"):  # FeedEntries, SearchPage, ListingItem lists
        _assert_plain(result.notices)
        _assert_plain(result.rejections)
    elif hasattr(result, "notice"):
        _assert_plain(result.notice)
    else:
        assert isinstance(result, Rejection), type(result)


FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=SEED == 0,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    print_blob=True,
)


def fuzz_test(format_name: str) -> Callable[[], None]:
    @FUZZ
    @given(mutated(TARGETS[format_name]))
    def run(data: bytes) -> None:
        check(format_name, data)

    if SEED:
        run = seed(SEED)(run)
    return run


@pytest.mark.slow  # until a "fuzz" marker is registered in pyproject.toml
# A failing payload is tens of kB; Hypothesis warns about printing it, which would
# hide the failure itself under filterwarnings=error.
@pytest.mark.filterwarnings(
    "ignore:Generating overly large repr:hypothesis.errors.HypothesisWarning"
)
@pytest.mark.parametrize("format_name", sorted(TARGETS))
def test_parser_survives_mutated_payloads(format_name):
    fuzz_test(format_name)()


@pytest.mark.parametrize("path", sorted(REGRESSIONS.glob("*.bin")), ids=lambda p: p.stem)
def test_saved_crash_stays_fixed(path):
    check(path.name.split("-", 1)[0], path.read_bytes())


@pytest.mark.parametrize("format_name", sorted(TARGETS))
def test_unmutated_seeds_parse_cleanly(format_name):
    for name in TARGETS[format_name].seeds:
        check(format_name, SEEDS[name])
