"""The directory as CSV, for an officer building a Quick Quote list: only what the public
pages show, never an e-mail address, a contact or a note."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable

from broker.csv_cells import text_cell
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
                text_cell(m.name),
                text_cell(m.description),
                text_cell("; ".join(m.areas) or "Anywhere"),
                text_cell("; ".join(m.kinds or m.keywords)),
                m.sizes,
                "; ".join(m.statuses),
                text_cell(m.website or ""),
                page_url(m),
            ]
        )
    return out.getvalue()
