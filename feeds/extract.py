"""Notice fields found in free text: CPV codes, deadlines, values, a title and a buyer.

Used on RSS summaries, HTML listings and notices a coordinator pastes or forwards
(a Quick Quote invitation e-mail, say). Everything here is a guess for a person to
confirm: patterns only fire next to a label ("CPV:", "Deadline:", "Value:"), and
numeric dates are read day first, as UK publishers write them.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, tzinfo

from feeds.codes import cpv_code
from feeds.dates import LONDON
from feeds.text import clean_text
from feeds.types import Money
from feeds.webpage import page_text, page_title, parse_html

MAX_TEXT = 20_000
# How far after a label its value may sit.
_REACH = 120
_CPV_REACH = 300

_MONTHS = {
    name: number
    for number, names in enumerate(
        (
            ("january", "jan"), ("february", "feb"), ("march", "mar"), ("april", "apr"),
            ("may",), ("june", "jun"), ("july", "jul"), ("august", "aug"),
            ("september", "sep", "sept"), ("october", "oct"), ("november", "nov"),
            ("december", "dec"),
        ),
        start=1,
    )
    for name in names
}  # fmt: skip
_MONTH = "|".join(sorted(_MONTHS, key=len, reverse=True))
_DATE = re.compile(
    r"(?P<iso>(?P<iy>\d{4})-(?P<im>\d{1,2})-(?P<id>\d{1,2}))"
    r"|(?P<num>(?P<nd>\d{1,2})[/.-](?P<nm>\d{1,2})[/.-](?P<ny>\d{4}|\d{2}))(?![\d/.-]\d)"
    rf"|(?P<dmy>(?P<td>\d{{1,2}})(?:st|nd|rd|th)?\s+(?:of\s+)?(?P<tm>{_MONTH})\.?,?\s+(?P<ty>\d{{4}}))"
    rf"|(?P<mdy>(?P<um>{_MONTH})\.?\s+(?P<ud>\d{{1,2}})(?:st|nd|rd|th)?,?\s+(?P<uy>\d{{4}}))",
    re.IGNORECASE,
)
_TIME = re.compile(
    r"(?<![\d/.:-])(?P<h>\d{1,2})(?:[:.](?P<m>[0-5]\d))?\s*(?P<ap>a\.?m\.?|p\.?m\.?|noon|hrs|hours|h\b)?"
    r"|(?P<word>noon|midday|midnight)",
    re.IGNORECASE,
)
_DEADLINE_LABEL = re.compile(
    r"\b(?:deadline(?:\s+for\s+\w+(?:\s+of\s+\w+)?)?|closing\s+(?:date|time)(?:\s+and\s+time)?"
    r"|(?:tender\s+|quote\s+|quotation\s+)?return\s+date|submission\s+deadline"
    r"|time\s+limit\s+for\s+receipt\s+of\s+\w+|(?:must|to)\s+be\s+(?:returned|submitted|received)\s+by"
    r"|closes?(?:\s+on)?|due\s+(?:date|by))\b",
    re.IGNORECASE,
)
_CPV_LABEL = re.compile(r"\bCPV\b", re.IGNORECASE)
_CPV_CODE = re.compile(r"(?<![\d.,])(\d{8})(?:-\d)?(?![\d.,]\d)")
# "45000000-7": eight digits and a check digit are CPV wherever they appear.
_CPV_WITH_CHECK = re.compile(r"(?<![\d.,-])(\d{8})-\d(?!\d)")
_VALUE_LABEL = re.compile(
    r"\b(?:(?:estimated|total|contract|approximate|indicative|maximum)\s+)?"
    r"(?:value|budget|worth|price|amount)\b",
    re.IGNORECASE,
)
_AMOUNT = (
    r"(?:(?P<{p}sym>£|€|\$|GBP|EUR|USD)\s?(?P<{p}n>\d[\d,]*(?:\.\d+)?)\s*(?P<{p}mul>k|m|bn|million|billion)?\b"
    r"|(?P<{p}n2>\d[\d,]*(?:\.\d+)?)\s*(?P<{p}mul2>k|m|bn|million|billion)?\s*(?P<{p}cur>GBP|EUR|USD|pounds))"
)
_MONEY = re.compile(
    _AMOUNT.format(p="a") + r"(?:\s*(?:-|\u2013|to)\s*" + _AMOUNT.format(p="b") + r")?",
    re.IGNORECASE,
)
_CURRENCIES = {"£": "GBP", "€": "EUR", "$": "USD", "pounds": "GBP"}
_MULTIPLIERS = {"k": 1e3, "m": 1e6, "million": 1e6, "bn": 1e9, "billion": 1e9}
# Labelled lines in an e-mail or notice text.
_TITLE_LINE = re.compile(
    r"^\s*(?:subject|title|contract\s+title|tender\s+title|project\s+title|notice\s+title"
    r"|opportunity|quick\s+quote\s+title)\s*[:\-\u2013]\s*(?P<value>.+)$",
    re.IGNORECASE | re.MULTILINE,
)
_BUYER_LINE = re.compile(
    r"^\s*(?:buyer(?:\s+name)?|organi[sz]ation(?:\s+name)?|contracting\s+(?:authority|body|entity)"
    r"|(?:purchasing\s+)?authority|purchaser|issued\s+by|client|published\s+by)\s*[:\-\u2013]\s*"
    r"(?P<value>.+)$",
    re.IGNORECASE | re.MULTILINE,
)
_NAME_WORD = r"[A-Z][\w&'\u2019.-]*"
_BUYER_PHRASE = re.compile(
    r"\b(?i:on\s+behalf\s+of|quick\s+quote\s+(?:from|issued\s+by)|invited\s+by|issued\s+by)\s+"
    rf"(?P<value>(?:the\s+)?{_NAME_WORD}(?:[ \t]+(?:of|and|&|for|the|{_NAME_WORD})){{0,10}})",
)
_HEADER_LINE = re.compile(r"^\s*(?:from|to|cc|bcc|sent|date|reply-to)\s*:", re.IGNORECASE)
_REPLY_PREFIX = re.compile(r"^(?:(?:re|fw|fwd|aw)\s*:\s*)+", re.IGNORECASE)
_URL = re.compile(r"https?://[^\s<>\"')\]]+")


@dataclass(frozen=True, slots=True)
class ExtractedFields:
    """What could be read from a pasted or forwarded notice, for a person to confirm."""

    title: str | None = None
    buyer: str | None = None
    deadline: datetime | None = None
    cpv: tuple[str, ...] = ()
    value: Money | None = None
    url: str | None = None
    description: str = ""


def extract_notice_fields(
    text: str, url: str | None = None, *, zone: tzinfo = LONDON
) -> ExtractedFields:
    """Guess a notice's title, buyer, deadline, CPV codes and value from free text."""
    cleaned = clean_text(text)[:MAX_TEXT]
    found_url = url or _first_url(cleaned)
    return ExtractedFields(
        title=find_title(cleaned),
        buyer=find_buyer(cleaned),
        deadline=find_deadline(cleaned, zone=zone),
        cpv=find_cpv_codes(cleaned),
        value=find_value(cleaned),
        url=found_url,
        description=cleaned,
    )


def extract_from_page(
    content: bytes,
    *,
    url: str,
    headers: Mapping[str, str] | None = None,
    zone: tzinfo = LONDON,
) -> ExtractedFields:
    """Guess the fields of a notice page a coordinator linked to (fetched by the caller)."""
    soup = parse_html(content, headers)
    title = page_title(soup)
    fields = extract_notice_fields(page_text(soup), url, zone=zone)
    return replace(fields, title=title or fields.title)


def find_cpv_codes(text: str) -> tuple[str, ...]:
    """CPV codes written after a "CPV" label, or anywhere with their check digit."""
    codes: dict[str, None] = {}
    for label in _CPV_LABEL.finditer(text):
        window = text[label.end() : label.end() + _CPV_REACH]
        window = window.split("\n\n", 1)[0]
        for match in _CPV_CODE.finditer(window):
            if code := cpv_code({"scheme": "CPV", "id": match.group(1)}):
                codes[code] = None
    for match in _CPV_WITH_CHECK.finditer(text):
        if code := cpv_code({"scheme": "CPV", "id": match.group(1)}):
            codes[code] = None
    return tuple(codes)


def find_deadline(text: str, *, zone: tzinfo = LONDON) -> datetime | None:
    """The first labelled deadline ("Closing date: 12/03/2026 12:00") as aware UTC.

    A date without a time runs to the end of that day; times are local to `zone`.
    """
    for label in _DEADLINE_LABEL.finditer(text):
        window = text[label.end() : label.end() + _REACH]
        found = parse_date_time(window, zone=zone)
        if found is not None:
            return found
    return None


def parse_date_time(text: str, *, zone: tzinfo = LONDON) -> datetime | None:
    """The first date in `text`, with a time written just before or after it, as aware UTC."""
    for match in _DATE.finditer(text):
        day = _date(match)
        if day is None:
            continue
        before = text[max(0, match.start() - 25) : match.start()]
        after = text[match.end() : match.end() + 25]
        moment = _time(after) or _time(before, last=True)
        if moment is None:
            moment = time(23, 59, 59)
        try:
            return datetime.combine(day, moment, tzinfo=zone).astimezone(UTC)
        except OverflowError:  # year 1 or 9999 pushed out of range by the zone
            continue
    return None


def find_value(text: str) -> Money | None:
    """A labelled amount ("Estimated value: £50,000", "Budget £10k - £20k")."""
    for label in _VALUE_LABEL.finditer(text):
        window = text[label.end() : label.end() + 60]
        match = _MONEY.search(window)
        if match is None:
            continue
        low = _amount(match, "a")
        high = _amount(match, "b")
        if low is None:
            continue
        currency = _currency(match, "a") or _currency(match, "b")
        if high is not None and high >= low:
            return Money(high, currency, low, high)
        return Money(low, currency)
    return None


def find_title(text: str) -> str | None:
    """A "Subject:"/"Title:" line, else the first line that reads like a title."""
    if match := _TITLE_LINE.search(text):
        title = _REPLY_PREFIX.sub("", match.group("value")).strip(" -\u2013:")
        if title:
            return title[:300]
    for line in text.split("\n"):
        line = line.strip()
        if not line or _HEADER_LINE.match(line) or _URL.fullmatch(line):
            continue
        if len(line) <= 200 and any(c.isalpha() for c in line):
            return _REPLY_PREFIX.sub("", line).strip() or None
        break
    return None


def find_buyer(text: str) -> str | None:
    """A "Buyer:"/"Organisation:" line, or the body named in "on behalf of ..."."""
    for pattern in (_BUYER_LINE, _BUYER_PHRASE):
        if match := pattern.search(text):
            buyer = match.group("value").strip(" .,;:-\u2013")
            if buyer and any(c.isalpha() for c in buyer):
                return buyer[:200]
    return None


def _first_url(text: str) -> str | None:
    match = _URL.search(text)
    return match.group().rstrip(".,;:") if match else None


def _date(match: re.Match[str]) -> date | None:
    try:
        if match.group("iso"):
            return date(int(match["iy"]), int(match["im"]), int(match["id"]))
        if match.group("num"):
            year = int(match["ny"])
            year += 2000 if year < 100 else 0
            return date(year, int(match["nm"]), int(match["nd"]))
        if match.group("dmy"):
            return date(int(match["ty"]), _MONTHS[match["tm"].lower()], int(match["td"]))
        return date(int(match["uy"]), _MONTHS[match["um"].lower()], int(match["ud"]))
    except ValueError:
        return None


def _time(text: str, *, last: bool = False) -> time | None:
    """A clock time in `text` that is written as one ("12:00", "2pm", "noon", "14.30 hrs")."""
    found = None
    for match in _TIME.finditer(text):
        word = (match.group("word") or "").lower()
        if word:
            candidate = time(23, 59, 59) if word == "midnight" else time(12)
        else:
            if match.group("m") is None and not match.group("ap"):
                continue  # a bare number is not a time
            hour, minute = int(match["h"]), int(match["m"] or 0)
            suffix = (match.group("ap") or "").lower().replace(".", "")
            if suffix == "pm" and hour < 12:
                hour += 12
            elif suffix == "am" and hour == 12:
                hour = 0
            elif suffix == "noon":
                hour, minute = 12, 0
            if hour > 23:
                continue
            candidate = time(hour, minute)
        if not last:
            return candidate
        found = candidate
    return found


def _amount(match: re.Match[str], prefix: str) -> float | None:
    number = match.group(f"{prefix}n") or match.group(f"{prefix}n2")
    if not number:
        return None
    multiplier = (match.group(f"{prefix}mul") or match.group(f"{prefix}mul2") or "").lower()
    try:
        value = float(number.replace(",", "")) * _MULTIPLIERS.get(multiplier, 1.0)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _currency(match: re.Match[str], prefix: str) -> str | None:
    symbol = match.group(f"{prefix}sym") or match.group(f"{prefix}cur")
    if not symbol:
        return None
    return _CURRENCIES.get(symbol.lower(), _CURRENCIES.get(symbol, symbol.upper()))
