"""HTML listing pages of tenders (a council portal without a feed), read with CSS selectors."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time, tzinfo
from typing import Any
from urllib.parse import urljoin, urlsplit

import soupsieve
from bs4 import Tag

from feeds.dates import LONDON
from feeds.errors import RecordError
from feeds.extract import find_cpv_codes, find_deadline, parse_date_time
from feeds.text import clean_text, mentions_community_benefits
from feeds.types import Notice, Rejection
from feeds.webpage import parse_html

# Deadline formats tried before the free-text reader, day first as UK portals write.
DATE_FORMATS = (
    "%d/%m/%Y %H:%M",
    "%d/%m/%Y",
    "%d-%m-%Y %H:%M",
    "%d-%m-%Y",
    "%d %B %Y %H:%M",
    "%d %B %Y",
    "%d %b %Y %H:%M",
    "%d %b %Y",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%dT%H:%M",
    "%Y-%m-%d",
)
# Kept with each notice so it can be re-read after a parser fix, but not unbounded.
MAX_RAW_HTML = 8_000


@dataclass(frozen=True, slots=True)
class Selectors:
    """Where things are on a listing page; all but `item` are relative to an item."""

    item: str
    title: str = ""
    link: str = "a[href]"
    deadline: str = ""
    buyer: str = ""
    summary: str = ""


@dataclass(frozen=True, slots=True)
class ListingItem:
    """One row of a listing: its notice and the absolute link to its own page, if any."""

    notice: Notice
    link: str | None


def check_selectors(selectors: Selectors, *more: str) -> str | None:
    """Why a selector is unusable (empty item, bad CSS syntax), or None if all compile."""
    if not selectors.item.strip():
        return "the item selector is empty"
    fields = (
        selectors.item,
        selectors.title,
        selectors.link,
        selectors.deadline,
        selectors.buyer,
        selectors.summary,
        *more,
    )
    for selector in fields:
        if selector.strip():
            try:
                soupsieve.compile(selector)
            except Exception as exc:  # soupsieve raises SelectorSyntaxError and others
                return f"bad CSS selector {selector!r}: {str(exc).splitlines()[0]}"
    return None


def read_listing(
    content: bytes,
    *,
    url: str,
    selectors: Selectors,
    source: str,
    headers: Mapping[str, str] | None = None,
    date_formats: Sequence[str] = DATE_FORMATS,
    zone: tzinfo = LONDON,
    default_buyer: str | None = None,
    max_items: int = 100,
) -> tuple[list[ListingItem], list[Rejection]]:
    """The items of a listing page as notices; an item without a title is a Rejection."""
    soup = parse_html(content, headers)
    items: list[ListingItem] = []
    rejections: list[Rejection] = []
    seen: set[str] = set()
    for position, element in enumerate(soup.select(selectors.item)[:max_items], 1):
        where = f"{url}, item {position}"
        try:
            item = item_from_element(
                element,
                base_url=url,
                selectors=selectors,
                source=source,
                date_formats=date_formats,
                zone=zone,
                default_buyer=default_buyer,
            )
        except RecordError as exc:
            rejections.append(Rejection(source, where, str(exc)))
            continue
        if item.notice.source_id in seen:
            rejections.append(Rejection(source, where, "repeats an earlier item", item.link))
            continue
        seen.add(item.notice.source_id)
        items.append(item)
    return items, rejections


def item_from_element(
    element: Tag,
    *,
    base_url: str,
    selectors: Selectors,
    source: str,
    date_formats: Sequence[str] = DATE_FORMATS,
    zone: tzinfo = LONDON,
    default_buyer: str | None = None,
) -> ListingItem:
    """Map one listing item to a notice; raise RecordError if it has no title."""
    link_element = _select(element, selectors.link)
    link = _href(link_element, base_url)
    title_element = _select(element, selectors.title) if selectors.title else link_element
    title = _text(title_element)
    if not title:
        raise RecordError("item has no title")
    problems: list[str] = []
    deadline_text = _text(_select(element, selectors.deadline)) if selectors.deadline else ""
    deadline = None
    if deadline_text:
        deadline = parse_listing_date(deadline_text, date_formats, zone)
        if deadline is None:
            problems.append(f"deadline {deadline_text!r} is not a date")
    buyer = _text(_select(element, selectors.buyer)) if selectors.buyer else ""
    summary = _text(_select(element, selectors.summary)) if selectors.summary else ""
    whole = clean_text(element.get_text("\n"))
    if deadline is None and not deadline_text:
        deadline = find_deadline(whole, zone=zone)
    source_id = (
        link
        or "sha256:"
        + hashlib.sha256(f"{title}\n{deadline_text}".encode("utf-8", "replace")).hexdigest()
    )
    notice = Notice(
        source=source,
        source_id=source_id,
        title=title,
        description=summary,
        url=link,
        buyer=buyer or default_buyer or None,
        cpv=find_cpv_codes(whole),
        deadline=deadline,
        community_benefits=mentions_community_benefits(summary),
        problems=tuple(problems),
        release_id=source_id,
        raw={
            "title": title,
            "link": link,
            "deadline": deadline_text or None,
            "buyer": buyer or None,
            "summary": summary or None,
            "html": str(element)[:MAX_RAW_HTML],
        },
    )
    return ListingItem(notice, link)


def read_detail(content: bytes, *, selector: str, headers: Mapping[str, str] | None = None) -> str:
    """The text of the parts of an item's own page that `selector` picks."""
    soup = parse_html(content, headers)
    parts = [clean_text(str(e)) for e in soup.select(selector)]
    return "\n\n".join(p for p in parts if p)


def parse_listing_date(text: str, formats: Sequence[str], zone: tzinfo) -> datetime | None:
    """A deadline in one of `formats` (local to `zone`), else as the free-text reader finds it."""
    cleaned = " ".join(text.replace(",", " ").split())
    for fmt in formats:
        try:
            moment = datetime.strptime(cleaned, fmt)
        except ValueError:
            continue
        if "%H" not in fmt and "%I" not in fmt:
            moment = datetime.combine(moment.date(), time(23, 59, 59))
        try:
            return moment.replace(tzinfo=zone).astimezone(UTC)
        except OverflowError:
            return None
    return parse_date_time(cleaned, zone=zone)


def _select(element: Tag, selector: str) -> Tag | None:
    if not selector:
        return None
    found = element.select_one(selector)
    return found if isinstance(found, Tag) else None


def _text(element: Tag | None) -> str:
    if element is None:
        return ""
    return clean_text(element.get_text(" "))


def _href(element: Tag | None, base_url: str) -> str | None:
    """The absolute http(s) link of an <a> (or of the first <a> inside `element`)."""
    if element is None:
        return None
    anchor: Any = element if element.has_attr("href") else element.find("a", href=True)
    href = anchor.get("href") if anchor is not None else None
    if not isinstance(href, str) or not href.strip():
        return None
    try:
        absolute = urljoin(base_url, href.strip())
        parts = urlsplit(absolute)
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None
    return parts._replace(fragment="").geturl()
