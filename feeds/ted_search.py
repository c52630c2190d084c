"""Responses of the TED Search API v3 (POST /v3/notices/search) -> notices and rejections."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from feeds import ted
from feeds.codes import cpv_code, is_nuts
from feeds.errors import ParseError, RecordError
from feeds.packages import loads_finite
from feeds.text import clean_text
from feeds.types import Notice, Rejection

# What the harvester asks for by default: the fields named in SOURCES.md, plus the
# official language (to pick a text when there is no English one).
DEFAULT_FIELDS = (
    "publication-number",
    "notice-type",
    "notice-title",
    "description-proc",
    "buyer-name",
    "buyer-country",
    "official-language",
    "classification-cpv",
    "deadline-receipt-tender-date-lot",
    "publication-date",
    "links",
)


@dataclass(frozen=True, slots=True)
class SearchPage:
    """One page of search results: what it held and where the next one starts."""

    notices: tuple[Notice, ...]
    rejections: tuple[Rejection, ...]
    next_token: str | None
    total: int | None
    records: int
    timed_out: bool = False


def read_search_response(content: bytes, *, where: str) -> SearchPage:
    """Parse one search response; one bad notice is a Rejection, a bad envelope a ParseError."""
    try:
        data = loads_finite(content)
    except ValueError as exc:
        raise ParseError(where, f"invalid JSON: {str(exc).splitlines()[0]}") from None
    if not isinstance(data, dict):
        raise ParseError(where, f"search response is a {type(data).__name__}, not an object")
    records = data.get("notices")
    if records is None:
        records = []
    if not isinstance(records, list):
        raise ParseError(where, f"'notices' is a {type(records).__name__}, not a list")
    notices: list[Notice] = []
    rejections: list[Rejection] = []
    for i, record in enumerate(records, 1):
        try:
            notices.append(notice_from_search_result(record))
        except RecordError as exc:
            number = record.get("publication-number") if isinstance(record, dict) else None
            rejections.append(
                Rejection(
                    source=ted.SOURCE,
                    position=f"{where}, notice {i}",
                    reason=str(exc),
                    record_id=number if isinstance(number, str) else None,
                )
            )
    token = data.get("iterationNextToken")
    total = data.get("totalNoticeCount")
    return SearchPage(
        notices=tuple(notices),
        rejections=tuple(rejections),
        next_token=token if isinstance(token, str) and token.strip() else None,
        total=total if isinstance(total, int) and not isinstance(total, bool) else None,
        records=len(records),
        timed_out=data.get("timedOut") is True,
    )


def notice_from_search_result(record: Any) -> Notice:
    """Map one notice of a search response to a `Notice`; raise RecordError if unusable."""
    if not isinstance(record, dict):
        raise RecordError(f"notice is a {type(record).__name__}, not an object")
    number = ted.publication_number(_first(record.get("publication-number")))
    if number is None:
        raise RecordError(f"no usable publication-number: {record.get('publication-number')!r}")
    problems: list[str] = []
    languages = ted.language_order(*_strings(record.get("official-language")))
    title = clean_text(_first(_localised(record.get("notice-title"), languages)))
    if not title:
        raise RecordError("notice has no notice-title")
    buyers = _strings(_localised(record.get("buyer-name"), languages))
    countries = _strings(record.get("buyer-country"))
    zone = ted.zone_for_country(countries[0] if countries else None)
    cpv = (cpv_code({"scheme": "CPV", "id": c}) for c in _strings(record.get("classification-cpv")))
    regions = (r.strip() for r in _strings(record.get("place-of-performance")))
    procedure = _first(record.get("procedure-type"))
    published = _date(record.get("publication-date"), None, zone, "publication-date", problems)
    return Notice(
        source=ted.SOURCE,
        source_id=number,
        title=title,
        description=clean_text(_first(_localised(record.get("description-proc"), languages))),
        url=_url(record.get("links"), number),
        buyer=clean_text(buyers[0]) if buyers else None,
        cpv=tuple(dict.fromkeys(c for c in cpv if c)),
        regions=tuple(dict.fromkeys(r for r in regions if is_nuts(r))),
        published=published,
        deadline=_deadline(record, zone, problems),
        procedure=ted.PROCEDURES.get(procedure, procedure) if procedure else None,
        notice_type=ted.notice_type(_first(record.get("notice-type"))),
        problems=tuple(problems),
        release_id=number,
        release_date=published,
        raw=record,
    )


def _localised(value: Any, languages: Sequence[str]) -> Any:
    """A multilingual map ({"eng": ..., "pol": ...}) reduced to one language."""
    if isinstance(value, Mapping):
        return ted.pick_language(value, languages)
    return value


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value] if value.strip() else []
    if isinstance(value, list):
        return [v for v in value if isinstance(v, str) and v.strip()]
    return []


def _first(value: Any) -> str | None:
    strings = _strings(value)
    return strings[0] if strings else None


def _url(links: Any, number: str) -> str:
    html = links.get("html") if isinstance(links, dict) else None
    if isinstance(html, dict):
        english = ted.pick_language(html, ("eng", "en"))
        if isinstance(english, str) and english.startswith("https://"):
            return english
    return ted.notice_url(number)


def _deadline(record: dict[str, Any], zone: Any, problems: list[str]) -> datetime | None:
    """The earliest lot deadline; lot times pair with lot dates when both are listed."""
    days = record.get("deadline-receipt-tender-date-lot")
    days = days if isinstance(days, list) else [days]
    times = record.get("deadline-receipt-tender-time-lot")
    times = times if isinstance(times, list) and len(times) == len(days) else [None] * len(days)
    found = [
        moment
        for day, clock in zip(days, times, strict=True)
        if (moment := _date(day, clock, zone, "deadline-receipt-tender-date-lot", problems, True))
    ]
    return min(found) if found else None


def _date(
    day: Any,
    clock: Any,
    zone: Any,
    field: str,
    problems: list[str],
    end_of_day: bool = False,
) -> datetime | None:
    if not isinstance(day, str) or not day.strip():
        if day is not None:
            problems.append(f"{field} {day!r} is not a date")
        return None
    clock = clock if isinstance(clock, str) else None
    try:
        return ted.combine(day, clock, zone, end_of_day=end_of_day)
    except (ValueError, OverflowError):
        problems.append(f"{field} {day!r} is not a date")
        return None
