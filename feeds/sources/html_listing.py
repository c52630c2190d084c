"""A council or portal web page that lists tenders but has no feed, read by CSS selectors."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar

from feeds.dates import format_utc, zone_named
from feeds.errors import FeedError, FetchError
from feeds.extract import find_cpv_codes, find_deadline
from feeds.html_listing import (
    DATE_FORMATS,
    Selectors,
    check_selectors,
    read_detail,
    read_listing,
)
from feeds.robots import Robots
from feeds.snapshot import changed, notice_digest, seen_digests
from feeds.text import mentions_community_benefits
from feeds.types import Fetch, Notice, Page

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class HtmlListingOptions:
    """Settings of one listing page: its URL and where things are on it."""

    url: str = field(default="", metadata={"doc": "the listing page (http or https)"})
    item_selector: str = field(
        default="", metadata={"doc": "CSS selector of each tender on the page"}
    )
    title_selector: str = field(
        default="", metadata={"doc": "title inside an item; empty = the link's text"}
    )
    link_selector: str = field(
        default="a[href]", metadata={"doc": "link inside an item to the tender's own page"}
    )
    deadline_selector: str = field(default="", metadata={"doc": "deadline inside an item"})
    buyer_selector: str = field(default="", metadata={"doc": "buyer inside an item"})
    summary_selector: str = field(default="", metadata={"doc": "short description inside an item"})
    detail_selector: str = field(
        default="",
        metadata={"doc": "description on each item's own page; empty = do not follow links"},
    )
    date_formats: tuple[str, ...] = field(
        default=DATE_FORMATS, metadata={"doc": "strptime formats tried for deadlines"}
    )
    timezone: str = field(default="Europe/London", metadata={"doc": "zone of the page's times"})
    default_buyer: str = field(default="", metadata={"doc": "buyer when an item names none"})
    publisher: str = field(
        default="", metadata={"doc": "stored as the notices' source; empty = the source's name"}
    )
    respect_robots: bool = field(
        default=True, metadata={"doc": "obey the site's robots.txt for our User-Agent"}
    )
    user_agent: str = field(
        default="", metadata={"doc": "name matched in robots.txt; empty = the HTTP User-Agent"}
    )
    max_items: int = field(default=100, metadata={"doc": "items read from the page per run"})
    max_details: int = field(
        default=20, metadata={"doc": "item pages followed per run (the rest wait)"}
    )
    batch_size: int = field(default=10, metadata={"doc": "notices per stored page"})


class HtmlListing:
    """
    Publisher
      Any buyer whose portal lists its opportunities on a web page without a feed,
      e.g. a council's "current tenders" page. Configure one source per page.
    URL
      The listing page, set in `url`; selectors say where each tender and its
      title, link, deadline and buyer are.
    Caveats
      Polite by design: one request at a time with the HTTP delay (5 s unless set),
      robots.txt obeyed for our User-Agent unless respect_robots is off, and item
      pages followed only for new or changed items, at most max_details a run.
      Crawl-delay in robots.txt is logged, not applied: set delay_seconds to match.
      Markup changes break selectors silently; a page with no items is reported.
      Items are named by their absolute link (else a hash of title and deadline).

    State: ``{"seen": {item link: digest}, "checked": "<UTC ISO>"}`` for the items on
    the page at the last run; an item is passed on again only when its row changes.
    """

    name: str = "html_listing"
    Options: ClassVar[type[HtmlListingOptions]] = HtmlListingOptions
    http_defaults: ClassVar[Mapping[str, Any]] = {"delay": 5.0}

    def __init__(self, options: HtmlListingOptions | None = None, *, name: str | None = None):
        self.options = options or self.Options()
        self.name = name or type(self).name  # the [sources.NAME] it was configured as

    def pages(self, fetch: Fetch, state: Mapping[str, Any], now: datetime) -> Iterator[Page]:
        """Read the listing, follow new items' links, and yield them in small pages."""
        options = self.options
        label = f"{self.name} {options.url}"
        problem = self.check()
        if problem:
            yield Page(label, state=dict(state), error=f"{self.name}: {problem}")
            return
        robots = self._robots(fetch)
        try:
            if robots is not None and not robots.allows(options.url):
                raise FeedError(robots.refusal(options.url))
            response = fetch.get(options.url)
            items, rejections = read_listing(
                response.content,
                url=response.url,
                selectors=self._selectors(),
                source=options.publisher or self.name,
                headers=response.headers,
                date_formats=options.date_formats,
                zone=zone_named(options.timezone),
                default_buyer=options.default_buyer or None,
                max_items=max(1, options.max_items),
            )
        except FeedError as exc:
            logger.warning("%s: %s", label, exc)
            yield Page(label, state=dict(state), error=str(exc))
            return
        if robots is not None and (delay := robots.crawl_delay(options.url)):
            logger.info("%s: robots.txt asks for a Crawl-delay of %s s", label, delay)

        old = seen_digests(state)
        by_id = {item.notice.source_id: item for item in items}
        fresh = changed((item.notice for item in items), old)
        # Items still waiting keep their old digest, so the next run picks them up.
        seen = {key: digest for key, digest in old.items() if key in by_id}
        error = None if items or rejections else "no items matched item_selector"
        batch: list[Notice] = []
        followed = 0
        number = 0
        for notice in fresh:
            item = by_id[notice.source_id]
            complete = True
            if options.detail_selector and item.link:
                if followed >= options.max_details:
                    break
                followed += 1
                notice, complete = self._with_detail(fetch, robots, item.notice, item.link)
            batch.append(notice)
            if complete:  # an item whose page failed is tried again next run
                seen[item.notice.source_id] = notice_digest(item.notice)
            if len(batch) >= max(1, options.batch_size):
                number += 1
                yield Page(f"{label} #{number}", tuple(batch), tuple(rejections), _state(seen, now))
                batch, rejections = [], []
        yield Page(
            f"{label} #{number + 1}", tuple(batch), tuple(rejections), _state(seen, now), error
        )

    def check(self) -> str | None:
        """Why this configuration cannot work (for the Sources page), or None if it can."""
        options = self.options
        if not options.url.startswith(("http://", "https://")):
            return f"url must be an http(s) URL, not {options.url!r}"
        try:
            zone_named(options.timezone)
        except ValueError as exc:
            return str(exc)
        return check_selectors(self._selectors(), options.detail_selector)

    def _selectors(self) -> Selectors:
        options = self.options
        return Selectors(
            item=options.item_selector,
            title=options.title_selector,
            link=options.link_selector,
            deadline=options.deadline_selector,
            buyer=options.buyer_selector,
            summary=options.summary_selector,
        )

    def _robots(self, fetch: Fetch) -> Robots | None:
        if not self.options.respect_robots:
            return None
        agent = self.options.user_agent or getattr(fetch, "user_agent", None) or "*"
        return Robots(fetch, agent)

    def _with_detail(
        self, fetch: Fetch, robots: Robots | None, notice: Notice, link: str
    ) -> tuple[Notice, bool]:
        """The notice with the description from the item's own page, and whether that worked."""
        if robots is not None and not robots.allows(link):
            return _noted(notice, "robots.txt disallows the item's page"), True
        try:
            response = fetch.get(link)
        except FetchError as exc:
            return _noted(notice, f"item page not read: {exc}"), False
        text = read_detail(
            response.content, selector=self.options.detail_selector, headers=response.headers
        )
        if not text:
            return _noted(notice, "detail_selector matched nothing on the item's page"), True
        zone = zone_named(self.options.timezone)
        return dataclasses.replace(
            notice,
            description=text,
            cpv=tuple(dict.fromkeys([*notice.cpv, *find_cpv_codes(text)])),
            deadline=notice.deadline or find_deadline(text, zone=zone),
            community_benefits=notice.community_benefits or mentions_community_benefits(text),
        ), True


def _noted(notice: Notice, problem: str) -> Notice:
    return dataclasses.replace(notice, problems=(*notice.problems, problem))


def _state(seen: Mapping[str, str], now: datetime) -> dict[str, Any]:
    return {"seen": dict(seen), "checked": format_utc(now)}
