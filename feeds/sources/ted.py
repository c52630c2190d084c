"""EU TED: the Search API v3, walked by publication-date windows and iteration tokens."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, ClassVar

from feeds import ted
from feeds.errors import FeedError, FetchError, ParseError, RecordError
from feeds.ted_search import DEFAULT_FIELDS, SearchPage, read_search_response
from feeds.ted_xml import notice_from_ted_xml
from feeds.types import Fetch, Notice, Page

logger = logging.getLogger(__name__)

# A window whose iteration token fails this many times is given up, not retried forever.
MAX_TOKEN_FAILURES = 2
XML_URL = "https://ted.europa.eu/en/notice/{}/xml"
MAX_LIMIT = 250
SCOPES = ("ALL", "ACTIVE", "LATEST")


@dataclass(frozen=True)
class TedOptions:
    """TED Search API settings."""

    base_url: str = field(
        default="https://api.ted.europa.eu/v3/notices/search",
        metadata={"doc": "search endpoint (POST)"},
    )
    query: str = field(
        default="buyer-country IN (GBR IRL) AND notice-type IN (cn-standard cn-social cn-desg)",
        metadata={"doc": "expert query; the harvester adds the publication-date window"},
    )
    fields: tuple[str, ...] = field(
        default=DEFAULT_FIELDS, metadata={"doc": "notice fields to ask for"}
    )
    limit: int = field(default=MAX_LIMIT, metadata={"doc": "notices per page (1-250)"})
    scope: str = field(default="ALL", metadata={"doc": "ALL, ACTIVE or LATEST"})
    window_days: int = field(default=7, metadata={"doc": "publication days per search window"})
    lookback_days: int = field(default=14, metadata={"doc": "days harvested on the first run"})
    max_pages: int = field(
        default=400, metadata={"doc": "pages after which a window is given up (a runaway token)"}
    )
    fetch_xml: bool = field(
        default=False,
        metadata={"doc": "also fetch each notice's XML for lots, NUTS, value and reservations"},
    )


class TedSearch:
    """
    Publisher
      Publications Office of the EU: Tenders Electronic Daily, the Official Journal's
      procurement supplement. UK buyers left it after 2020 (Find a Tender replaced it),
      but Northern Ireland and Irish buyers still publish there.
    URL
      https://api.ted.europa.eu/v3/notices/search (POST, expert query, no key)
    Caveats
      Paged with paginationMode ITERATION: each response names the token of the next
      page, and the walk ends on an empty page, a missing token or a repeated one.
      A corrupted token answers HTTP 500; the window is then restarted, and given up
      after two such failures, so a bad token never loops. Titles come in every EU
      language; English is taken first, then the notice's official language. The
      search JSON has no lots or reservations: set fetch_xml for those (one more
      request per notice).

    State: ``{"done_until": "YYYY-MM-DD", "window": null | {"from", "to", "token",
    "page", "failures"}}``. Publication days before `done_until` are finished; today
    is searched again on every run, as TED may still publish that day.
    """

    name: str = "ted"
    Options: ClassVar[type[TedOptions]] = TedOptions
    http_defaults: ClassVar[Mapping[str, Any]] = {"delay": 1.0, "throttle": {429: 60.0}}

    def __init__(self, options: TedOptions | None = None, *, name: str | None = None):
        self.options = options or self.Options()
        self.name = name or type(self).name  # the [sources.NAME] it was configured as

    def check(self) -> str | None:
        """Why this configuration cannot work (for the Sources page), or None if it can."""
        options = self.options
        if not options.base_url.startswith(("http://", "https://")):
            return f"base_url must be an http(s) URL, not {options.base_url!r}"
        if not 1 <= options.limit <= MAX_LIMIT:
            return f"limit must be 1-{MAX_LIMIT}, not {options.limit}"
        if options.scope not in SCOPES:
            return f"scope must be one of {', '.join(SCOPES)}, not {options.scope!r}"
        if not options.query.strip() or "SORT BY" in options.query.upper():
            return "query must be a non-empty expert query without SORT BY"
        if "publication-number" not in options.fields:
            return "fields must include publication-number"
        return None

    def pages(self, fetch: Fetch, state: Mapping[str, Any], now: datetime) -> Iterator[Page]:
        """Walk the publication-date windows from the saved state up to today."""
        problem = self.check()
        if problem:
            yield Page(self.name, state=dict(state), error=f"{self.name}: {problem}")
            return
        today = now.astimezone(ted.BRUSSELS).date()
        done_until = _day(state.get("done_until")) or today - timedelta(
            days=max(0, self.options.lookback_days)
        )
        done_until = min(done_until, today)
        window = _window(state.get("window"))
        step = timedelta(days=max(1, self.options.window_days) - 1)
        while True:
            if window is None:
                end = min(done_until + step, today)
                window = {"from": done_until.isoformat(), "to": end.isoformat(), "page": 1}
            label = f"{self.name} {window['from']}..{window['to']} page {window['page']}"
            before = {"done_until": done_until.isoformat(), "window": window}
            try:
                result = self._search(fetch, window)
            except FeedError as exc:
                logger.warning("%s: %s", label, exc)
                yield self._failed(label, done_until, window, str(exc))
                return
            notices = result.notices
            if self.options.fetch_xml:
                notices = self._with_xml(fetch, notices)
            page = Page(label, notices, result.rejections)
            if result.timed_out:
                # A timed-out search may have left notices out: keep what came, ask again.
                yield dataclasses.replace(page, state=before, error="TED search timed out")
                return
            token = window.get("token")
            following = result.next_token
            if result.records and following and following != token:
                if window["page"] >= self.options.max_pages:
                    error = f"gave up on the window after {window['page']} pages"
                    done_until, window = _next_day(window, today), None
                    after = {"done_until": done_until.isoformat(), "window": None}
                    yield dataclasses.replace(page, state=after, error=error)
                    return
                window = {**window, "token": following, "page": window["page"] + 1}
                yield dataclasses.replace(page, state={**before, "window": window})
                continue
            finished_today = window["to"] >= today.isoformat()
            done_until, window = _next_day(window, today), None
            yield dataclasses.replace(
                page, state={"done_until": done_until.isoformat(), "window": None}
            )
            if finished_today:
                return

    def _search(self, fetch: Fetch, window: Mapping[str, Any]) -> SearchPage:
        start = date.fromisoformat(window["from"]).strftime("%Y%m%d")
        end = date.fromisoformat(window["to"]).strftime("%Y%m%d")
        body: dict[str, Any] = {
            "query": f"({self.options.query}) AND publication-date>={start}"
            f" AND publication-date<={end}",
            "fields": list(self.options.fields),
            "limit": self.options.limit,
            "scope": self.options.scope,
            "paginationMode": "ITERATION",
            "checkQuerySyntax": False,
        }
        if window.get("token"):
            body["iterationNextToken"] = window["token"]
        response = fetch.post_json(self.options.base_url, body)
        return read_search_response(response.content, where=response.url)

    def _failed(self, label: str, done_until: date, window: dict[str, Any], error: str) -> Page:
        """The page for a failed request: retry it next run, unless its token keeps failing."""
        if not window.get("token"):
            state = {"done_until": done_until.isoformat(), "window": window}
            return Page(label, state=state, error=error)
        failures = int(window.get("failures") or 0) + 1
        if failures >= MAX_TOKEN_FAILURES:
            error += f"; the iteration token failed {failures} times, window given up"
            skipped = date.fromisoformat(window["to"]) + timedelta(days=1)
            return Page(
                label, state={"done_until": skipped.isoformat(), "window": None}, error=error
            )
        # Tokens expire and can be corrupted: start the window again from its first page.
        restart = {"from": window["from"], "to": window["to"], "page": 1, "failures": failures}
        state = {"done_until": done_until.isoformat(), "window": restart}
        return Page(label, state=state, error=error)

    def _with_xml(self, fetch: Fetch, notices: tuple[Notice, ...]) -> tuple[Notice, ...]:
        """Each notice replaced by the richer one read from its XML, where that works."""
        richer = []
        for notice in notices:
            url = _xml_url(notice) or XML_URL.format(notice.source_id)
            try:
                response = fetch.get(url)
                from_xml = notice_from_ted_xml(response.content, where=response.url)
            except (FetchError, ParseError, RecordError) as exc:
                problem = f"notice XML not read: {exc}"
                richer.append(dataclasses.replace(notice, problems=(*notice.problems, problem)))
                continue
            if from_xml.source_id != notice.source_id:
                problem = f"notice XML names {from_xml.source_id}, not {notice.source_id}"
                richer.append(dataclasses.replace(notice, problems=(*notice.problems, problem)))
                continue
            richer.append(dataclasses.replace(from_xml, url=notice.url or from_xml.url))
        return tuple(richer)


def _xml_url(notice: Notice) -> str | None:
    links = notice.raw.get("links") if isinstance(notice.raw, dict) else None
    xml = links.get("xml") if isinstance(links, dict) else None
    if isinstance(xml, dict):
        url = next((u for u in xml.values() if isinstance(u, str)), None)
        if url and url.startswith("https://"):
            return url
    return None


def _next_day(window: Mapping[str, Any], today: date) -> date:
    """Where the next window starts: the day after this one, but never past today."""
    return min(date.fromisoformat(window["to"]) + timedelta(days=1), today)


def _day(value: Any) -> date | None:
    try:
        return date.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None


def _window(value: Any) -> dict[str, Any] | None:
    """A saved window, or None if there is none or it cannot be read."""
    if not isinstance(value, dict) or _day(value.get("from")) is None:
        return None
    if _day(value.get("to")) is None:
        return None
    page = value.get("page")
    return {
        "from": value["from"],
        "to": value["to"],
        "token": value.get("token") if isinstance(value.get("token"), str) else None,
        "page": page if isinstance(page, int) and page > 0 else 1,
        "failures": value.get("failures") if isinstance(value.get("failures"), int) else 0,
    }
