"""Shared harvester for the Proactis (Klickstream) notice APIs: PCS and Sell2Wales."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

from feeds.errors import FetchError
from feeds.packages import load_payload, page_from_payload
from feeds.types import Fetch, Page

logger = logging.getLogger(__name__)

Month = tuple[int, int]


@dataclass(frozen=True)
class ProactisOptions:
    """Settings shared by the Proactis sources (each source sets its own defaults)."""

    base_url: str = field(default="", metadata={"doc": "API root, up to and including /v1"})
    notice_types: tuple[int, ...] = field(
        default=(), metadata={"doc": "noticeType codes to sweep each month"}
    )
    lookback_months: int = field(
        default=2, metadata={"doc": "months before the current one swept on the first run"}
    )


class ProactisSource:
    """Base for Proactis notice APIs: one whole-month call per month and notice type.

    Subclass it with `name`, an `Options` dataclass (defaults for base_url and
    notice_types), `notice_type_codes` (noticeType -> Notice.notice_type where the
    OCDS tag says otherwise) and `extra_params` for the query string.

    State: ``{"from": "YYYY-MM", "done": {"YYYY-MM": [noticeType, ...]}}``. Months before
    `from` are finished; `done` lists the types of later months that are complete
    (fetched without error and over by a day). Every run sweeps the rest, including
    the current month, so a failed month is tried again next time.
    """

    name: str = "proactis"
    Options: ClassVar[type[ProactisOptions]] = ProactisOptions
    notice_type_codes: ClassVar[Mapping[int, str]] = {}
    extra_params: ClassVar[Mapping[str, Any]] = {}
    # No documented rate limit; a short pause keeps the sweep polite.
    http_defaults: ClassVar[Mapping[str, Any]] = {"delay": 1.0}

    def __init__(self, options: ProactisOptions | None = None, *, name: str | None = None):
        self.options = options or self.Options()
        self.name = name or type(self).name  # the [sources.NAME] it was configured as

    def pages(self, fetch: Fetch, state: Mapping[str, Any], now: datetime) -> Iterator[Page]:
        """Sweep every unfinished month and notice type, one page each, oldest first."""
        now = now.astimezone(UTC)
        current = (now.year, now.month)
        start = _parse_month(state.get("from")) or _add_months(
            current, -max(0, self.options.lookback_months)
        )
        done: dict[Month, set[int]] = {}
        for key, types in (state.get("done") or {}).items():
            month = _parse_month(key)
            if month is not None and month >= start and isinstance(types, list):
                done[month] = {int(t) for t in types}

        month = start
        while month <= current:
            finished = set(done.get(month, ()))  # `done` forgets months as `from` passes them
            for notice_type in self.options.notice_types:
                if notice_type in finished:
                    continue
                page = self._month_page(fetch, month, notice_type, now)
                if page.error is None and _is_over(month, now):
                    done.setdefault(month, set()).add(notice_type)
                start = self._advance(start, done, current)
                yield Page(
                    page.label, page.notices, page.rejections, _state(start, done), page.error
                )
            month = _add_months(month, 1)

    def _month_page(self, fetch: Fetch, month: Month, notice_type: int, now: datetime) -> Page:
        label = f"{self.name} {_month_key(month)} noticeType {notice_type}"
        params = {
            "dateFrom": f"{month[1]:02d}-{month[0]:04d}",
            "noticeType": notice_type,
            "outputType": 0,
            **self.extra_params,
        }
        try:
            response = fetch.get(f"{self.options.base_url.rstrip('/')}/Notices", params)
        except FetchError as exc:
            logger.warning("%s: %s", label, exc)
            return Page(label, error=str(exc))
        payload = load_payload(response.content, where=response.url)
        return page_from_payload(
            payload,
            label=label,
            source=type(self).name,  # the publisher, whatever the configured name
            state=None,
            notice_type=self.notice_type_codes.get(notice_type),
        )

    def _advance(self, start: Month, done: dict[Month, set[int]], current: Month) -> Month:
        """Move `from` past leading months whose every notice type is complete."""
        wanted = set(self.options.notice_types)
        while start < current and wanted <= done.get(start, set()):
            done.pop(start, None)
            start = _add_months(start, 1)
        return start


def _state(start: Month, done: dict[Month, set[int]]) -> dict[str, Any]:
    return {
        "from": _month_key(start),
        "done": {_month_key(m): sorted(t) for m, t in sorted(done.items()) if t},
    }


def _is_over(month: Month, now: datetime) -> bool:
    # A day's grace: PCS dates releases at midnight and publishes in bursts.
    next_month = _add_months(month, 1)
    first_day = datetime(next_month[0], next_month[1], 1, tzinfo=UTC)
    return now >= first_day + timedelta(days=1)


def _add_months(month: Month, n: int) -> Month:
    index = month[0] * 12 + (month[1] - 1) + n
    return (index // 12, index % 12 + 1)


def _month_key(month: Month) -> str:
    return f"{month[0]:04d}-{month[1]:02d}"


def _parse_month(value: Any) -> Month | None:
    if not isinstance(value, str):
        return None
    year, _, month = value.partition("-")
    if year.isdigit() and month.isdigit() and 1 <= int(month) <= 12:
        return (int(year), int(month))
    return None
