"""Dates as the sources write them, turned into timezone-aware UTC datetimes."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

# UK publishers; a date or time without a zone means local time there.
LONDON = ZoneInfo("Europe/London")
_END_OF_DAY = time(23, 59, 59)


def parse_datetime(value: str, *, end_of_day: bool = False) -> datetime:
    """Parse an ISO 8601 date or datetime into aware UTC; raise ValueError if it is not one.

    A date without a time means the start of that day in London, or its last second
    when `end_of_day` is set (a deadline of "2026-09-12" runs until 23:59:59 that day).
    """
    # Checked before the cache, which cannot even look up a list or a dict.
    if not isinstance(value, str):
        raise ValueError(f"{value!r} is not a date string")
    try:
        return _parse_datetime(value, end_of_day)
    except OverflowError:  # "9999-12-31T23:59:59-23:59" is past the last UTC datetime
        raise ValueError(f"{value!r} is out of range") from None


@lru_cache(maxsize=8192)
def _parse_datetime(value: str, end_of_day: bool) -> datetime:
    text = value.strip()
    if len(text) == 10:
        day = date.fromisoformat(text)
        moment = datetime.combine(day, _END_OF_DAY if end_of_day else time(), tzinfo=LONDON)
    else:
        moment = datetime.fromisoformat(text)
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=LONDON)
    return moment.astimezone(UTC)


def format_utc(moment: datetime) -> str:
    """Write an aware datetime as "YYYY-MM-DDTHH:MM:SSZ" (UTC), the form kept in harvest state."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def zone_named(name: str) -> ZoneInfo:
    """The IANA time zone called `name` ("Europe/London"); raise ValueError if unknown."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {name!r}") from None
