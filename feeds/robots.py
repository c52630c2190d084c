"""robots.txt, fetched through the same `Fetch` as the pages it governs (RFC 9309)."""

from __future__ import annotations

import logging
from urllib.parse import urlsplit
from urllib.robotparser import RobotFileParser

from feeds.errors import FetchError
from feeds.types import Fetch

logger = logging.getLogger(__name__)


class Robots:
    """The robots.txt rules of the hosts one harvest visits, each fetched once."""

    def __init__(self, fetch: Fetch, user_agent: str):
        self._fetch = fetch
        self.user_agent = user_agent or "*"
        self._rules: dict[str, RobotFileParser] = {}
        self._notes: dict[str, str] = {}

    def allows(self, url: str) -> bool:
        """Tell whether robots.txt lets our user agent fetch `url`."""
        return self.rules_for(url).can_fetch(self.user_agent, url)

    def refusal(self, url: str) -> str:
        """Why `url` may not be fetched, for an error message."""
        note = self._notes.get(_origin(url))
        reason = f"robots.txt disallows {url} for {self.user_agent!r}"
        return f"{reason} ({note})" if note else reason

    def crawl_delay(self, url: str) -> float | None:
        """The Crawl-delay robots.txt asks of our user agent on `url`'s host, if any."""
        delay = self.rules_for(url).crawl_delay(self.user_agent)
        return float(delay) if delay is not None else None

    def rules_for(self, url: str) -> RobotFileParser:
        """The parsed rules for `url`'s host, fetching them on first use."""
        origin = _origin(url)
        if origin not in self._rules:
            self._rules[origin] = self._load(origin, f"{origin}/robots.txt")
        return self._rules[origin]

    def _load(self, origin: str, robots_url: str) -> RobotFileParser:
        rules = RobotFileParser(robots_url)
        try:
            response = self._fetch.get(robots_url)
        except FetchError as exc:
            status = exc.status or 0
            if status in (401, 403):
                # As urllib.robotparser does: a refused robots.txt means stay out.
                rules.disallow_all = True
                self._notes[origin] = f"robots.txt refused with HTTP {status}"
            elif 400 <= status < 500:
                rules.allow_all = True  # no robots.txt: everything may be fetched
            else:
                # Unreachable (5xx, network): RFC 9309 says assume a complete disallow.
                logger.warning(
                    "%s unreachable, treating the host as disallowed: %s", robots_url, exc
                )
                rules.disallow_all = True
                self._notes[origin] = f"robots.txt could not be read: {exc.reason}"
            return rules
        rules.parse(response.content.decode("utf-8", "replace").splitlines())
        return rules


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"
