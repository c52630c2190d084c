"""Re-deriving stored notices from the raw releases kept with them, after a parser fix.

Each source record keeps its raw OCDS releases, compressed (`NoticeSource.raw`). When
the way text is cleaned changes (lost line breaks put back, a place listed once), the
records are parsed again and their text fields taken afresh; everything else stays as
stored, so deadlines, values and the history are untouched. A notice whose text changed
is rebuilt from its sources and marked for matching again (`broker match`).

Only named columns are read and written, so a migration can run this against a schema
that later migrations extend.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select, update

from broker.models import Notice, NoticeSource
from broker.notices.merging import merged_data, notice_columns
from broker.notices.records import content_hash, notice_data, storable, unpack_raw
from feeds import ocds

logger = logging.getLogger(__name__)

# The fields a source record takes from the new parse: the cleaned text, nothing else.
TEXT_FIELDS = ("title", "description", "buyer", "place", "procedure", "lots")
BATCH = 500


@dataclass(frozen=True)
class _Source:
    """What `merged_data` reads of a source record."""

    id: int
    source: str
    first_seen_at: datetime
    data: dict[str, Any]


def rederive_text(connection: Connection) -> int:
    """Parse every kept OCDS record again and take its text afresh; returns how many
    notices changed. Runs in the caller's transaction."""
    touched: set[int] = set()
    last = 0
    while True:
        rows = connection.execute(
            select(
                NoticeSource.id,
                NoticeSource.notice_id,
                NoticeSource.source,
                NoticeSource.data,
                NoticeSource.raw,
            )
            .where(NoticeSource.id > last, NoticeSource.raw.is_not(None))
            .order_by(NoticeSource.id)
            .limit(BATCH)
        ).all()
        if not rows:
            break
        last = rows[-1].id
        for row in rows:
            data = _fresh_text(row.source, row.data, row.raw)
            if data is not None and data != row.data:
                connection.execute(
                    update(NoticeSource)
                    .where(NoticeSource.id == row.id)
                    .values(data=data, content_hash=content_hash(data))
                )
                touched.add(row.notice_id)
    for notice_id in sorted(touched):
        _rebuild_text(connection, notice_id)
    return len(touched)


def _fresh_text(source: str, data: dict[str, Any], raw: bytes) -> dict[str, Any] | None:
    """The record's data with its text fields parsed again; None if it can't be."""
    try:
        releases = unpack_raw(raw)
        if not releases or not all(isinstance(r, dict) and "ocid" in r for r in releases):
            return None  # not OCDS (a TED notice, a feed entry): nothing to redo here
        notice = ocds.notice_from_releases(
            releases, source=source, notice_type=data.get("notice_type")
        )
    except Exception as exc:  # one unreadable record must not stop the upgrade
        logger.warning("%s record kept as it was: %s", source, exc)
        return None
    fresh = notice_data(storable(notice))
    return {**data, **{name: fresh[name] for name in TEXT_FIELDS}}


def _rebuild_text(connection: Connection, notice_id: int) -> None:
    sources = [
        _Source(row.id, row.source, row.first_seen_at, row.data)
        for row in connection.execute(
            select(
                NoticeSource.id,
                NoticeSource.source,
                NoticeSource.first_seen_at,
                NoticeSource.data,
            ).where(NoticeSource.notice_id == notice_id)
        )
    ]
    merged, _primary = merged_data(sources)  # type: ignore[arg-type]
    columns = notice_columns(merged)
    connection.execute(
        update(Notice)
        .where(Notice.id == notice_id)
        .values(**{name: columns[name] for name in TEXT_FIELDS}, matched_at=None)
    )
