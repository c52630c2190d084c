"""Plain text from notice fields: markup stripped, mojibake repaired, whitespace tidied."""

from __future__ import annotations

import html
import re
import string
from collections.abc import Iterable

from bs4 import BeautifulSoup
from bs4.exceptions import ParserRejectedMarkup

# Only strings that contain something tag-like go through BeautifulSoup: it costs
# ~100 µs a call and runs on every description of every notice.
_MARKUP = re.compile(r"<(?:[a-zA-Z][a-zA-Z0-9]*(?:\s[^<>]*)?/?|/[a-zA-Z][a-zA-Z0-9]*\s*|!--)>")
_BLOCK_TAGS = ("p", "div", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "ul", "ol", "table")

# UTF-8 bytes that were decoded as cp1252 (or latin-1): a lead character (Â..ô) followed by
# exactly the number of continuation characters its byte announces. Matching whole
# sequences keeps correct text such as "café" or "£" untouched.
_CONT = "\u0080-\u00bf\u0152\u0153\u0160\u0161\u0178\u017d\u017e\u0192\u02c6\u02dc\u2013\u2014\u2018-\u201a\u201c-\u201e\u2020-\u2022\u2026\u2030\u2039\u203a\u20ac\u2122"  # noqa: E501
_MOJIBAKE = re.compile(
    f"(?:[\u00c2-\u00df][{_CONT}]|[\u00e0-\u00ef][{_CONT}]{{2}}|[\u00f0-\u00f4][{_CONT}]{{3}})+"
)
_MOJIBAKE_HINT = re.compile("[\u00c2-\u00f4]")

# Every odd space (tab, no-break, narrow no-break, figure) and stray control character
# becomes one plain space; matching and display both want that.
_ODD_SPACES = re.compile("[\x00-\x09\x0b\x0c\x0e-\x1f\x7f\xa0\u2007\u202f]")
_RUN_OF_SPACES = re.compile(" {2,}")
_SURROGATE = re.compile("[\ud800-\udfff]")
_NEWLINE_PADDING = re.compile(" ?\n ?")
_BLANK_LINES = re.compile("\n{3,}")

# Sell2Wales and PCS send some CR LF line breaks as a literal "rn" ("services;rn Cutting
# of all grass verges"). It is put back only where no word can end in "rn": after
# punctuation, a digit or a capital ("ESPDrn The bidder"), or standing alone; and only
# where no word goes on after it. "modern", "return" and "Fernhill" never qualify; a
# break after a plain word ("vesselsrn Loch") stays as sent, since it can't be told
# apart from one ("pattern Loch"). What a lost break may follow, besides a space or the
# start of the text:
_BEFORE_BREAK = frozenset(
    ".,;:!?)]}'\"\u2019\u201d%+*-\u2013\u2014" + string.digits + string.ascii_uppercase
)


def clean_text(s: str | None) -> str:
    """Return `s` as tidy plain text: no markup, no mojibake, single spaces, trimmed."""
    if not s:
        return ""
    if not isinstance(s, str):
        s = str(s)
    if not s.isascii():
        s = repair_mojibake(s)
    if "rn" in s:
        s = restore_line_breaks(s)
    if "<" in s and _MARKUP.search(s):
        s = _strip_markup(s)
    elif "&" in s:
        s = html.unescape(s)
    if not s.isprintable():  # a cheap test that is True for most short fields
        if _SURROGATE.search(s):
            # "\udce9" from a JSON escape is no character: it cannot be stored or sent.
            s = _SURROGATE.sub("\ufffd", s)
        if "\r" in s:
            s = s.replace("\r\n", "\n").replace("\r", "\n")
        s = _ODD_SPACES.sub(" ", s)
    if "  " in s:
        s = _RUN_OF_SPACES.sub(" ", s)
    if "\n" in s:
        s = _BLANK_LINES.sub("\n\n", _NEWLINE_PADDING.sub("\n", s))
    return s.strip()


def restore_line_breaks(s: str) -> str:
    """Put back the line breaks that reached us as a literal "rn" (see _BEFORE_BREAK)."""
    # A loop over the few "rn"s a text holds: a regex with the lookbehind cost 35 µs a
    # description, on every description of every notice.
    pieces: list[str] = []
    done = 0
    at = s.find("rn")
    while at != -1:
        end = at + 2
        while s.startswith("rn", end):
            end += 2
        before = s[at - 1] if at else " "
        after = s[end : end + 1]
        if (before.isspace() or before in _BEFORE_BREAK) and not ("a" <= after <= "z"):
            pieces += (s[done:at], "\n" * ((end - at) // 2))
            done = end
        at = s.find("rn", end)
    return "".join((*pieces, s[done:])) if pieces else s


def repair_mojibake(s: str) -> str:
    """Undo UTF-8 text that was decoded as cp1252, e.g. "Â£" -> "£", "â€¢" -> "•"."""
    if not _MOJIBAKE_HINT.search(s):
        return s
    # Twice: some text has been through the mistake twice.
    for _ in range(2):
        repaired = _MOJIBAKE.sub(_redecode, s)
        if repaired == s:
            break
        s = repaired
    return s


def _redecode(match: re.Match[str]) -> str:
    text = match.group()
    try:
        raw = bytes(_cp1252_byte(c) for c in text)
        return raw.decode("utf-8")
    except (UnicodeError, ValueError):
        return text


def _cp1252_byte(c: str) -> int:
    code = ord(c)
    if code < 0x100:
        # latin-1 also covers the five bytes cp1252 leaves undefined (0x81, 0x8d, ...).
        return code
    return c.encode("cp1252")[0]


_WORD = re.compile(r"\w+")


def distinct_places(places: Iterable[str]) -> list[str]:
    """Each place once, in the order given.

    Places with the same words are one place, whatever their case, punctuation or "the"
    ("Throughout Highland Council area." and "Throughout the Highland Council area"); and
    a place whose comma-separated parts only begin another's ("Robert Gordon University,
    Garthdee Campus" beside "..., Garthdee Campus, Aberdeen") gives way to the fuller one.
    """
    found: dict[tuple[tuple[str, ...], ...], str] = {}
    for text in places:
        key = _place_key(text)
        if key:
            found.setdefault(key, text)
    return [
        text
        for key, text in found.items()
        if not any(len(other) > len(key) and other[: len(key)] == key for other in found)
    ]


def _place_key(text: str) -> tuple[tuple[str, ...], ...]:
    parts = (
        tuple(w for w in _WORD.findall(part.casefold()) if w != "the") for part in text.split(",")
    )
    return tuple(part for part in parts if part)


# "<![" opens a marked section; html.parser gives up on any it does not know.
_MARKED_SECTION = re.compile(r"<!\[")
_ANY_TAG = re.compile(r"<[^<>]*>")


def html_soup(markup: str) -> BeautifulSoup:
    """Parse HTML with html.parser, however broken: what it refuses is read as text."""
    try:
        return BeautifulSoup(markup, "html.parser")
    except ParserRejectedMarkup:
        pass
    try:
        return BeautifulSoup(_MARKED_SECTION.sub("&lt;![", markup), "html.parser")
    except ParserRejectedMarkup:
        # Last resort: no markup at all, only the text between tags.
        return BeautifulSoup(html.escape(_ANY_TAG.sub(" ", markup)), "html.parser")


def _strip_markup(s: str) -> str:
    soup = html_soup(s)
    for br in soup.find_all("br"):
        br.replace_with("\n")
    for block in soup.find_all(_BLOCK_TAGS):
        block.append("\n")
    return soup.get_text()


# PCS prints a fixed sentence for each community-benefit decision; the negative ones
# mention "community benefits" too, so they are removed before looking for a mention.
_CB_POSITIVE = (
    "community benefits are included in this requirement",
    "community benefit requirements are included",
)
_CB_NONE = "does not intend to include any community benefit"
_CB_NOISE = (
    "does not intend to include a sub-contract clause as part of community benefits",
    "community benefit society",
    "community benefit societies",
)


def mentions_community_benefits(*texts: str | None) -> bool:
    """Tell whether the texts ask for community benefits (not merely mention declining them)."""
    text = " ".join(t for t in texts if t).lower()
    if "community benefit" not in text and "community-benefit" not in text:
        return False
    if any(phrase in text for phrase in _CB_POSITIVE):
        return True
    if _CB_NONE in text:
        return False
    for phrase in _CB_NOISE:
        text = text.replace(phrase, "")
    return "community benefit" in text or "community-benefit" in text
