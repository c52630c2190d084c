"""Shared harvester for APIs searched by time window and paged by cursor (CF, FTS)."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar
from urllib.parse import unquote, urlsplit

from feeds.dates import format_utc, parse_datetime
from feeds.errors import FetchError
from feeds.packages import load_payload, page_from_payload
from feeds.types import Fetch, Page

logger = logging.getLogger(__name__)


class WindowedSource:
    """Base for OCDS search APIs: fixed time windows up to `now`, cursor pages inside each.

    Subclass it with `name`, an `Options` dataclass that has `base_url`, `limit`,
    `stages` and `lookback_days`, and implement `step()` and `window_params()`.

    State: ``{"done_until": "<UTC ISO>", "window": null | {"from", "to", "cursor",
    "page"}}``. `done_until` is the end of the last finished window; `window` is the
    one in progress and the cursor of its next page. A failed page stops the run
    with the state before it, so the next run fetches that page again.
    """

    name: str = "windowed"
    Options: ClassVar[type[Any]]
    http_defaults: ClassVar[Mapping[str, Any]] = {}

    def __init__(self, options: Any = None, *, name: str | None = None):
        self.options = options or self.Options()
        self.name = name or type(self).name  # the [sources.NAME] it was configured as

    def step(self) -> timedelta:
        """Length of one search window."""
        raise NotImplementedError

    def window_params(self, start: datetime, end: datetime) -> dict[str, Any]:
        """Query parameters that select one window."""
        raise NotImplementedError

    def pages(self, fetch: Fetch, state: Mapping[str, Any], now: datetime) -> Iterator[Page]:
        """Walk the windows from the saved state up to `now`, one page per request."""
        # Windows are kept to the second: a `now` with microseconds would leave a sliver
        # after the last window, searched again and again as a zero-length window.
        now = now.astimezone(UTC).replace(microsecond=0)
        done_until = _instant(state.get("done_until")) or now - timedelta(
            days=self.options.lookback_days
        )
        window = dict(state["window"]) if isinstance(state.get("window"), dict) else None
        while True:
            if window is None:
                if done_until >= now:
                    return
                end = min(done_until + self.step(), now)
                window = {"from": format_utc(done_until), "to": format_utc(end)}
            start, end = _instant(window["from"]), _instant(window["to"])
            if start is None or end is None:
                raise ValueError(f"{self.name}: unreadable window in saved state: {window}")
            cursor = window.get("cursor")
            number = int(window.get("page") or 1)
            before = {"done_until": format_utc(done_until), "window": window if cursor else None}
            label = f"{self.name} {window['from']}..{window['to']} page {number}"
            params = self.window_params(start, end)
            params["limit"] = self.options.limit
            if self.options.stages:
                params["stages"] = ",".join(self.options.stages)
            if cursor:
                params["cursor"] = cursor
            try:
                response = fetch.get(self.options.base_url, params)
            except FetchError as exc:
                logger.warning("%s: %s", label, exc)
                yield Page(label, state=before, error=str(exc))
                return
            payload = load_payload(response.content, where=response.url)
            if payload.error is not None:
                # Without the whole page there is no trustworthy next cursor.
                yield page_from_payload(payload, label=label, source=type(self).name, state=before)
                return
            following = _next_cursor(payload.envelope) if payload.releases else None
            if following and following != cursor:
                window = {**window, "cursor": following, "page": number + 1}
            else:
                done_until, window = end, None
            after = {"done_until": format_utc(done_until), "window": window}
            yield page_from_payload(payload, label=label, source=type(self).name, state=after)


def _instant(value: Any) -> datetime | None:
    try:
        return parse_datetime(value) if isinstance(value, str) else None
    except ValueError:
        return None


def _next_cursor(envelope: Mapping[str, Any]) -> str | None:
    """The `cursor` query parameter of `links.next`.

    Only the cursor is taken: the next request goes to our own base URL, never to
    whatever host the link names.
    """
    links = envelope.get("links")
    href = links.get("next") if isinstance(links, dict) else None
    if not isinstance(href, str):
        return None
    # Split by hand: parse_qs would turn a "+" of a base64 cursor into a space.
    for part in urlsplit(href).query.split("&"):
        key, _, value = part.partition("=")
        if key == "cursor" and value:
            return unquote(value)
    return None
