"""RSS 2.0 and Atom feeds, read by feedparser from bytes that `feeds.http` fetched."""

from __future__ import annotations

import calendar
import hashlib
import io
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from typing import Any
from urllib.parse import urljoin, urlsplit

import feedparser

from feeds.codes import cpv_code
from feeds.dates import LONDON
from feeds.errors import ParseError, RecordError
from feeds.extract import find_buyer, find_cpv_codes, find_deadline, find_value
from feeds.safe_xml import screen_entities
from feeds.text import clean_text, mentions_community_benefits
from feeds.types import Notice, Rejection

# Longer ids (some feeds put whole URLs with tracking parameters in guid) are hashed.
MAX_ID = 300


@dataclass(frozen=True, slots=True)
class FeedEntries:
    """What one feed held: its entries as notices, and what could not be used."""

    notices: tuple[Notice, ...]
    rejections: tuple[Rejection, ...]
    title: str | None = None


def read_feed(
    content: bytes,
    *,
    url: str,
    source: str,
    headers: Mapping[str, str] | None = None,
    default_buyer: str | None = None,
    notice_type: str = "tender",
    zone: tzinfo = LONDON,
) -> FeedEntries:
    """Parse an RSS/Atom document into notices; raise ParseError if it holds no feed.

    A malformed feed whose entries could still be read keeps them, with a Rejection
    that says the feed is malformed. Relative links are resolved against `url`.
    """
    if not content.strip():
        raise ParseError(url, "the feed is empty")
    screen_entities(content, where=url)
    response_headers = {"content-location": url}
    for key, value in (headers or {}).items():
        if key.lower() in ("content-type", "content-language"):
            response_headers[key.lower()] = value
    try:
        # BytesIO, never the bytes: feedparser would fetch a string that looks like a URL.
        parsed = feedparser.parse(io.BytesIO(content), response_headers=response_headers)
    except Exception as exc:  # feedparser's loose parser can fail in many ways on junk
        raise ParseError(url, f"feedparser failed: {type(exc).__name__}: {exc}") from None
    entries = parsed.get("entries") or []
    problem = _malformation(parsed)
    if not entries:
        if problem:
            raise ParseError(url, f"not a readable feed: {problem}")
        if not parsed.get("version"):
            raise ParseError(url, "not an RSS or Atom feed")
    rejections: list[Rejection] = []
    if problem:
        reason = f"the feed is malformed ({problem}); kept the {len(entries)} entries read"
        rejections.append(Rejection(source, url, reason))
    notices: list[Notice] = []
    first_position: dict[str, int] = {}
    for position, entry in enumerate(entries, 1):
        where = f"{url}, entry {position}"
        try:
            notice = notice_from_entry(
                entry,
                base_url=url,
                source=source,
                default_buyer=default_buyer,
                notice_type=notice_type,
                zone=zone,
            )
        except RecordError as exc:
            rejections.append(Rejection(source, where, str(exc), _entry_id(entry)))
            continue
        if notice.source_id in first_position:
            reason = f"repeats the id of entry {first_position[notice.source_id]}"
            rejections.append(Rejection(source, where, reason, notice.source_id))
            continue
        first_position[notice.source_id] = position
        notices.append(notice)
    feed = parsed.get("feed") or {}
    title = clean_text(feed.get("title")) if isinstance(feed.get("title"), str) else None
    return FeedEntries(tuple(notices), tuple(rejections), title or None)


def notice_from_entry(
    entry: Mapping[str, Any],
    *,
    base_url: str,
    source: str,
    default_buyer: str | None = None,
    notice_type: str = "tender",
    zone: tzinfo = LONDON,
) -> Notice:
    """Map one feedparser entry to a `Notice`; raise RecordError if it has no title."""
    title = clean_text(_string(_get(entry, "title")))
    if not title:
        raise RecordError("entry has no title")
    summary = clean_text(_summary(entry))
    text = f"{title}\n{summary}"
    problems: list[str] = []
    link = _link(entry, base_url)
    published = _moment(entry, "published", problems) or _moment(entry, "updated", problems)
    updated = _moment(entry, "updated", []) or published
    tags = [_get(t, "term") for t in _get(entry, "tags") or () if isinstance(t, Mapping)]
    tag_codes = (cpv_code({"scheme": "CPV", "id": t.strip()}) for t in tags if isinstance(t, str))
    codes = dict.fromkeys([*find_cpv_codes(text), *(c for c in tag_codes if c)])
    source_id = stable_id(
        _string(_get(entry, "id")), link, title, _string(_get(entry, "published"))
    )
    return Notice(
        source=source,
        source_id=source_id,
        title=title,
        description=summary,
        url=link,
        buyer=find_buyer(summary) or default_buyer or None,
        cpv=tuple(codes),
        value=find_value(summary),
        published=published,
        deadline=find_deadline(text, zone=zone),
        notice_type=notice_type,
        community_benefits=mentions_community_benefits(summary),
        problems=tuple(problems),
        release_id=source_id,
        release_date=updated,
        raw={
            "id": _string(_get(entry, "id")) or None,
            "title": _string(_get(entry, "title")),
            "link": link,
            "summary": _summary(entry),
            "published": _string(_get(entry, "published")) or None,
            "updated": _string(_get(entry, "updated")) or None,
            "tags": [t for t in tags if isinstance(t, str)],
        },
    )


def stable_id(guid: str, link: str | None, title: str, published: str) -> str:
    """The entry's guid/id, else its link, else a hash of its title and date."""
    for candidate in (guid.strip(), link or ""):
        if candidate:
            if len(candidate) <= MAX_ID:
                return candidate
            return "sha256:" + hashlib.sha256(candidate.encode("utf-8", "replace")).hexdigest()
    digest = hashlib.sha256(f"{title}\n{published}".encode("utf-8", "replace")).hexdigest()
    return f"sha256:{digest}"


def _malformation(parsed: Mapping[str, Any]) -> str | None:
    """Why feedparser set `bozo`, unless it only missed a Content-Type header."""
    if not parsed.get("bozo"):
        return None
    exc = parsed.get("bozo_exception")
    if isinstance(exc, feedparser.NonXMLContentType):
        return None
    text = str(exc).strip() if exc is not None else ""
    name = type(exc).__name__ if exc is not None else "unknown error"
    return f"{name}: {text}" if text else name


def _entry_id(entry: Any) -> str | None:
    if not isinstance(entry, Mapping):
        return None
    value = _string(_get(entry, "id")) or _string(_get(entry, "link"))
    return value[:MAX_ID] or None


def _get(mapping: Any, key: str) -> Any:
    """A value by its real key: feedparser's own lookup maps some keys to others, warning."""
    return dict.get(mapping, key) if isinstance(mapping, dict) else None


def _string(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _summary(entry: Mapping[str, Any]) -> str:
    summary = _string(_get(entry, "summary"))
    if summary:
        return summary
    for content in _get(entry, "content") or ():
        if isinstance(content, Mapping) and (value := _string(_get(content, "value"))):
            return value
    return ""


def _link(entry: Mapping[str, Any], base_url: str) -> str | None:
    link = _string(_get(entry, "link")).strip()
    if not link:
        return None
    try:
        absolute = urljoin(base_url, link)
        scheme = urlsplit(absolute).scheme
    except ValueError:  # e.g. an invalid IPv6 host in the link
        return None
    return absolute if scheme in ("http", "https") else None


def _moment(entry: Mapping[str, Any], key: str, problems: list[str]) -> datetime | None:
    """A feedparser date (a UTC struct_time) as an aware datetime."""
    parsed = _get(entry, f"{key}_parsed")
    if parsed is None:
        written = _string(_get(entry, key))
        if written:
            problems.append(f"{key} {written!r} is not a date")
        return None
    try:
        return datetime.fromtimestamp(calendar.timegm(parsed), UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        problems.append(f"{key} {_string(_get(entry, key))!r} is not a date")
        return None
