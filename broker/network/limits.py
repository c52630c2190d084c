"""A small per-key rate limit (a visitor's address, an e-mail), kept in this process.

The public pages' limits are generous, for people, not exact across processes: each web
worker counts its own visitors, so a visitor may get up to `limit` hits per worker.
"""

from __future__ import annotations

import threading
from collections import deque
from datetime import datetime, timedelta

# Above this many keys, keys without a hit in the window are forgotten.
PRUNE_AT = 10_000


class RateLimiter:
    """At most `limit` hits per key in any `window`."""

    def __init__(self, limit: int, window: timedelta):
        self.limit = limit
        self.window = window
        self._hits: dict[str, deque[datetime]] = {}
        self._lock = threading.Lock()

    def allow(self, key: str, now: datetime) -> bool:
        """Count a hit for `key` at `now`; False when it is one too many (not counted)."""
        since = now - self.window
        with self._lock:
            if len(self._hits) > PRUNE_AT:
                self._hits = {k: q for k, q in self._hits.items() if q and q[-1] > since}
            hits = self._hits.setdefault(key, deque())
            while hits and hits[0] <= since:
                hits.popleft()
            if len(hits) >= self.limit:
                return False
            hits.append(now)
            return True
