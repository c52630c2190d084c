"""The directory as CSV, for an officer building a Quick Quote list: only what the public
pages show, never an e-mail address, a contact or a note."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable

from broker.network.listing import PublicMember

COLUMNS = (
    "name",
    "what they do",
    "areas",
    "kinds of work",
    "sizes",
    "status",
    "website",
    "public page",
)


def directory_csv(members: Iterable[PublicMember], page_url: Callable[[PublicMember], str]) -> str:
    """The members as CSV text, one row each, lists separated by "; "."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(COLUMNS)
    for m in members:
        writer.writerow(
            [
                _cell(m.name),
                _cell(m.description),
                _cell("; ".join(m.areas) or "Anywhere"),
                _cell("; ".join(m.kinds or m.keywords)),
                m.sizes,
                "; ".join(m.statuses),
                _cell(m.website or ""),
                page_url(m),
            ]
        )
    return out.getvalue()


def _cell(text: str) -> str:
    """A cell a spreadsheet won't run as a formula (text starting = + - @)."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text
