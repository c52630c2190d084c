"""Any RSS 2.0 or Atom feed of tender notices (a council's, a portal's search feed...)."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar

from feeds.dates import format_utc, zone_named
from feeds.errors import FeedError
from feeds.rss import read_feed
from feeds.snapshot import changed, notice_digest, seen_digests
from feeds.types import NOTICE_TYPES, Fetch, Page

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class RssOptions:
    """Settings of one RSS/Atom feed."""

    url: str = field(default="", metadata={"doc": "feed URL (http or https)"})
    publisher: str = field(
        default="", metadata={"doc": "stored as the notices' source; empty = the source's name"}
    )
    default_buyer: str = field(
        default="", metadata={"doc": "buyer when an entry names none (e.g. the council)"}
    )
    notice_type: str = field(
        default="tender", metadata={"doc": "pipeline, tender, award or amendment"}
    )
    timezone: str = field(
        default="Europe/London", metadata={"doc": "zone of deadlines written in entry text"}
    )


class RssFeed:
    """
    Publisher
      Whoever publishes the feed: a council, a portal's saved search, a framework
      operator. Configure one source per feed.
    URL
      Any RSS 2.0 or Atom URL, set in `url`.
    Caveats
      Feeds carry little structure: CPV codes and deadlines are read from the entry
      text ("CPV: 90910000", "Deadline: 12/03/2026", dates day first). A malformed
      feed (feedparser's bozo) keeps the entries it could read and reports the fault
      as a rejection; one with no readable entries fails the run. Entries are named
      by guid/id, else link, else a hash of title and date, and passed on again
      only when they change.

    State: ``{"seen": {entry id: digest}, "checked": "<UTC ISO>"}`` for the entries in
    the feed at the last run.
    """

    name: str = "rss"
    Options: ClassVar[type[RssOptions]] = RssOptions
    http_defaults: ClassVar[Mapping[str, Any]] = {"delay": 1.0}

    def __init__(self, options: RssOptions | None = None, *, name: str | None = None):
        self.options = options or self.Options()
        self.name = name or type(self).name  # the [sources.NAME] it was configured as

    def check(self) -> str | None:
        """Why this configuration cannot work (for the Sources page), or None if it can."""
        options = self.options
        if not options.url.startswith(("http://", "https://")):
            return f"url must be an http(s) URL, not {options.url!r}"
        if options.notice_type not in NOTICE_TYPES:
            return f"unknown notice_type {options.notice_type!r}"
        try:
            zone_named(options.timezone)
        except ValueError as exc:
            return str(exc)
        return None

    def pages(self, fetch: Fetch, state: Mapping[str, Any], now: datetime) -> Iterator[Page]:
        """Fetch the feed once and yield one page of its new or changed entries."""
        options = self.options
        label = f"{self.name} {options.url}"
        kept = dict(state)
        problem = self.check()
        if problem:
            yield Page(label, state=kept, error=f"{self.name}: {problem}")
            return
        try:
            response = fetch.get(options.url)
            feed = read_feed(
                response.content,
                url=response.url,
                headers=response.headers,
                source=options.publisher or self.name,
                default_buyer=options.default_buyer or None,
                notice_type=options.notice_type,
                zone=zone_named(options.timezone),
            )
        except FeedError as exc:
            logger.warning("%s: %s", label, exc)
            yield Page(label, state=kept, error=str(exc))
            return
        seen = seen_digests(state)
        fresh = changed(feed.notices, seen)
        remembered = {n.source_id: notice_digest(n) for n in feed.notices}
        after = {"seen": remembered, "checked": format_utc(now)}
        yield Page(label, tuple(fresh), feed.rejections, after)
