"""Sources that show a snapshot (a feed, a listing page): pass on only what changed.

Their state remembers a digest of each item they last passed on. An item is passed on
again only when it changes, so a run after a crash repeats nothing already stored,
and an unchanged listing costs the broker nothing.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from typing import Any

from feeds.types import Notice

# Bump when a parser change should make every source pass its items on again.
PARSER_VERSION = 1


def notice_digest(notice: Notice) -> str:
    """A short fingerprint of what a notice says (not of when it was read)."""
    fields = [
        PARSER_VERSION,
        notice.title,
        notice.description,
        notice.url,
        notice.buyer,
        list(notice.cpv),
        notice.deadline.isoformat() if notice.deadline else None,
        notice.published.isoformat() if notice.published else None,
        [notice.value.amount, notice.value.currency] if notice.value else None,
    ]
    text = json.dumps(fields, ensure_ascii=True, default=str)
    return hashlib.sha256(text.encode("ascii")).hexdigest()[:16]


def seen_digests(state: Mapping[str, Any]) -> dict[str, str]:
    """The digests a saved state remembers, ignoring anything unreadable."""
    seen = state.get("seen")
    if not isinstance(seen, dict):
        return {}
    return {k: v for k, v in seen.items() if isinstance(k, str) and isinstance(v, str)}


def changed(notices: Iterable[Notice], seen: Mapping[str, str]) -> list[Notice]:
    """The notices that are new or differ from the digest `seen` holds for them."""
    return [n for n in notices if seen.get(n.source_id) != notice_digest(n)]
