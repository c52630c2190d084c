"""Storing harvested notices: idempotent upsert and cross-source duplicates.

Each source's record is kept as it came (`NoticeSource.data` plus the raw releases);
the `Notice` row is rebuilt from all of its sources whenever one of them changes
(`broker.merging`), and every material difference goes into the notice's history.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from broker.models import Notice, NoticeChange, NoticeKey, NoticeRegion, NoticeSource
from broker.notices.dedupe import Thresholds, deadline_day, partners_of, same_opportunity
from broker.notices.merging import notice_columns, remerge
from broker.notices.records import (
    Packed,
    Prepared,
    RawNotKept,
    pack_raw,
    prepare,
    unique_releases,
    unpack_raw,
)
from feeds import ocds
from feeds.types import Notice as Harvested

logger = logging.getLogger(__name__)

DEFAULT_THRESHOLDS = Thresholds()


@dataclass
class StoreResult:
    """What one batch did, by notice id."""

    new: list[int] = field(default_factory=list)
    updated: list[int] = field(default_factory=list)
    unchanged: int = 0
    merged: int = 0
    changes: dict[int, list[str]] = field(default_factory=dict)

    @property
    def touched(self) -> list[int]:
        """Notices that are new or whose content changed: the ones to re-match."""
        return self.new + self.updated


def store_notices(
    session: Session,
    items: Iterable[Harvested | Packed | Prepared],
    now: datetime,
    *,
    thresholds: Thresholds = DEFAULT_THRESHOLDS,
    keep_raw: bool = True,
) -> StoreResult:
    """Insert or update a batch of harvested notices; flushes, never commits."""
    result = StoreResult()
    batch = _collapse(items, keep_raw)
    if not batch:
        return result
    existing = _existing_sources(session, batch.keys())
    to_remerge: dict[int, str] = {}
    new_items: list[Prepared] = []
    for key, item in batch.items():
        row = existing.get(key)
        if row is None:
            new_items.append(item)
        elif _update_source(row, item, now, keep_raw):
            to_remerge[row.notice_id] = item.notice.source
        else:
            result.unchanged += 1
    if new_items:
        _insert_new(session, new_items, now, thresholds, result, to_remerge)
    if to_remerge:
        session.flush()
        notices = session.scalars(select(Notice).where(Notice.id.in_(sorted(to_remerge))))
        for notice in notices:
            is_new = notice.id in result.new
            changed = remerge(session, notice, now, to_remerge[notice.id], history=not is_new)
            if is_new:
                continue
            if changed:
                result.updated.append(notice.id)
                result.changes[notice.id] = changed
            else:
                result.unchanged += 1
    session.flush()
    return result


def _collapse(
    items: Iterable[Harvested | Packed | Prepared], keep_raw: bool
) -> dict[tuple[str, str], Prepared]:
    """One record per (source, source id); several releases of one ocid are compiled."""
    grouped: dict[tuple[str, str], list[Prepared]] = defaultdict(list)
    for item in items:
        prepared = prepare(item, keep_raw)
        grouped[(prepared.notice.source, prepared.notice.source_id)].append(prepared)
    return {
        key: group[0] if len(group) == 1 else prepare(_combine(group), keep_raw)
        for key, group in grouped.items()
    }


def _combine(group: list[Prepared], previous_raws: Sequence[Any] = ()) -> Harvested:
    """Compile OCDS releases of one ocid; other payloads: the latest release wins."""
    raws = unique_releases([*previous_raws, *(r for g in group for r in g.raws())])
    latest = group[-1].notice
    if raws and all(isinstance(r, dict) and "ocid" in r for r in raws):
        try:
            return ocds.notice_from_releases(raws, source=latest.source)
        except Exception as exc:  # a compile failure must not lose the newer release
            logger.warning(
                "compiling %s %s failed, latest release wins: %s",
                latest.source,
                latest.source_id,
                exc,
            )
    return max(
        (g.notice for g in group),
        key=lambda n: (n.release_date is not None, n.release_date or 0),
    )


def _existing_sources(
    session: Session, keys: Iterable[tuple[str, str]]
) -> dict[tuple[str, str], NoticeSource]:
    by_source: dict[str, list[str]] = defaultdict(list)
    for source, source_id in keys:
        by_source[source].append(source_id)
    found: dict[tuple[str, str], NoticeSource] = {}
    for source, ids in by_source.items():
        for start in range(0, len(ids), 400):
            # source = ? AND source_id IN (...) uses the unique index on both backends;
            # a row-value IN does not on SQLite and would scan the whole table.
            rows = session.scalars(
                select(NoticeSource).where(
                    NoticeSource.source == source,
                    NoticeSource.source_id.in_(ids[start : start + 400]),
                )
            )
            found.update({(row.source, row.source_id): row for row in rows})
    return found


def _update_source(row: NoticeSource, item: Prepared, now: datetime, keep_raw: bool) -> bool:
    """Fold newer releases into a stored source record; True if its content changed."""
    known = set(row.release_ids or ())
    fresh = set(item.release_ids) - known
    previous: list[Any] | None = None
    incoming: list[Any] | None = None
    if fresh and row.raw is not None:
        previous, incoming = unpack_raw(row.raw), item.raws()
        stale = (
            row.release_date
            and item.notice.release_date
            and (item.notice.release_date < row.release_date)
        )
        if stale and not all(isinstance(r, dict) for r in incoming):
            return False  # an older copy of a non-OCDS notice: the stored one is newer
        item = prepare(_combine([item], previous), keep_raw)
    ids = sorted(known | set(item.release_ids))
    if item.digest == row.content_hash:
        if ids != sorted(known):
            row.release_ids = ids
            if keep_raw and previous is not None:
                _repack(row, [*previous, *incoming])
        return False
    if keep_raw:
        if previous is not None:
            _repack(row, [*previous, *incoming])
        elif item.packed is not None:
            row.raw = item.packed
    notice = item.notice
    row.data = item.data
    row.content_hash = item.digest
    row.url = notice.url or row.url
    row.release_id = notice.release_id or row.release_id
    row.release_ids = ids
    row.release_date = notice.release_date or row.release_date
    row.updated_at = now
    return True


def _repack(row: NoticeSource, raws: list[Any]) -> None:
    """Keep every release of the record; one that cannot be written leaves the old copy."""
    try:
        row.raw = pack_raw(unique_releases(raws))
    except RawNotKept as exc:
        logger.warning("%s %s: %s; the earlier raw copy is kept", row.source, row.source_id, exc)


@dataclass(frozen=True)
class _New:
    """A notice being created in this batch, by its position among the new rows."""

    index: int


Target = int | _New


@dataclass(frozen=True)
class _Candidate:
    """A stored or just-created notice that a fuzzy duplicate could belong to."""

    title: str
    buyer: str | None
    source: str
    target: Target


@dataclass
class _Placement:
    """Where each record of a batch goes: the new notices to create, each record with its
    notice (known or new) and whether it joins one, and the merge keys seen first here."""

    notice_rows: list[dict[str, Any]] = field(default_factory=list)
    placed: list[tuple[Prepared, Target, bool]] = field(default_factory=list)
    new_keys: list[tuple[str, Target]] = field(default_factory=list)


def _insert_new(
    session: Session,
    items: list[Prepared],
    now: datetime,
    thresholds: Thresholds,
    result: StoreResult,
    to_remerge: dict[int, str],
) -> None:
    """Add source records that are new: each joins a known notice or starts a new one.

    The common case, a batch of brand-new notices, is written with bulk inserts.
    """
    placement = _place(session, items, now, thresholds)
    ids = _insert_notices(session, placement.notice_rows)
    _write_sources(session, placement, ids, now, result, to_remerge)
    result.new.extend(ids)


def _place(
    session: Session, items: list[Prepared], now: datetime, thresholds: Thresholds
) -> _Placement:
    """Find each record's notice: by a merge key, else a fuzzy duplicate, else a new one.

    Records of the same batch find each other too: a new notice's keys and title join the
    lookups as soon as it is placed.
    """
    notices = [item.notice for item in items]
    keyed: dict[str, Target] = _notices_by_key(session, {k for n in notices for k in n.merge_keys})
    pool = _fuzzy_candidates(session, notices)
    placement = _Placement()
    for item in items:
        notice = item.notice
        target = next((keyed[k] for k in notice.merge_keys if k in keyed), None)
        if target is None:
            target = _fuzzy_match(notice, pool, thresholds)
        merged = target is not None
        if target is None:
            target = _New(len(placement.notice_rows))
            placement.notice_rows.append(
                {
                    **notice_columns(item.data),
                    "primary_source": notice.source,
                    "first_seen_at": now,
                    "updated_at": now,
                }
            )
            if partners_of(notice.source) and notice.deadline:
                pool[deadline_day(notice.deadline)].append(
                    _Candidate(notice.title, notice.buyer, notice.source, target)
                )
        placement.placed.append((item, target, merged))
        for key in notice.merge_keys:
            if key not in keyed:
                keyed[key] = target
                placement.new_keys.append((key, target))
    return placement


def _write_sources(
    session: Session,
    placement: _Placement,
    ids: list[int],
    now: datetime,
    result: StoreResult,
    to_remerge: dict[int, str],
) -> None:
    """Write each record as a source of its notice (`ids`: the new notices' ids), with the
    new notices' regions and keys, and a history entry where a record joined a notice."""

    def resolve(target: Target) -> int:
        return ids[target.index] if isinstance(target, _New) else target

    sources, changes = [], []
    for item, target, merged in placement.placed:
        notice = item.notice
        notice_id = resolve(target)
        sources.append(
            {
                "notice_id": notice_id,
                "source": notice.source,
                "source_id": notice.source_id,
                "url": notice.url,
                "release_id": notice.release_id,
                "release_ids": list(item.release_ids),
                "release_date": notice.release_date,
                "content_hash": item.digest,
                "data": item.data,
                "raw": item.packed,
                "first_seen_at": now,
                "updated_at": now,
            }
        )
        if merged:
            result.merged += 1
            to_remerge[notice_id] = notice.source
            changes.append(
                {
                    "notice_id": notice_id,
                    "changed_at": now,
                    "source": notice.source,
                    "field": "source",
                    "old": None,
                    "new": f"also published on {notice.source} as {notice.source_id}",
                }
            )
    # Core inserts on the tables: the ORM's bulk path would fetch keys row by row.
    session.execute(insert(NoticeSource.__table__), sources)
    regions = [
        {"notice_id": notice_id, "code": code}
        for notice_id, row in zip(ids, placement.notice_rows, strict=True)
        for code in dict.fromkeys(row["regions"])
    ]
    if regions:
        session.execute(insert(NoticeRegion.__table__), regions)
    if placement.new_keys:
        session.execute(
            insert(NoticeKey.__table__),
            [{"key": k, "notice_id": resolve(t)} for k, t in placement.new_keys],
        )
    if changes:
        session.execute(insert(NoticeChange.__table__), changes)


def _insert_notices(session: Session, rows: list[dict[str, Any]]) -> list[int]:
    """Insert notice rows in bulk and return their ids in the rows' order."""
    if not rows:
        return []
    table = Notice.__table__
    if session.get_bind().dialect.name == "sqlite":
        # SQLite numbers the rows of one INSERT in VALUES order, but SQLAlchemy can only
        # promise RETURNING order by inserting row by row; sorting the ids restores it.
        return sorted(session.scalars(insert(table).returning(table.c.id), rows))
    statement = insert(table).returning(table.c.id, sort_by_parameter_order=True)
    return list(session.scalars(statement, rows))


def _notices_by_key(session: Session, keys: set[str]) -> dict[str, Target]:
    found: dict[str, Target] = {}
    key_list = sorted(keys)
    for start in range(0, len(key_list), 400):
        rows = session.execute(
            select(NoticeKey.key, NoticeKey.notice_id).where(
                NoticeKey.key.in_(key_list[start : start + 400])
            )
        )
        found.update({key: notice_id for key, notice_id in rows})
    return found


def _fuzzy_candidates(session: Session, notices: list[Harvested]) -> dict[Any, list[_Candidate]]:
    """Stored notices first published by a fuzzy partner, on the batch's deadline days."""
    pool: dict[Any, list[_Candidate]] = defaultdict(list)
    days = {deadline_day(n.deadline) for n in notices if partners_of(n.source) and n.deadline}
    if not days:
        return pool
    partner_sources = {p for n in notices for p in partners_of(n.source)}
    # The (primary_source, deadline_day) index keeps this cheap however big the store grows.
    rows = session.execute(
        select(
            Notice.id, Notice.title, Notice.buyer, Notice.deadline_day, Notice.primary_source
        ).where(Notice.primary_source.in_(partner_sources), Notice.deadline_day.in_(sorted(days)))
    )
    for notice_id, title, buyer, day, source in rows:
        pool[day].append(_Candidate(title, buyer, source, notice_id))
    return pool


def _fuzzy_match(
    notice: Harvested, pool: dict[Any, list[_Candidate]], thresholds: Thresholds
) -> Target | None:
    partners = partners_of(notice.source)
    if not partners or notice.deadline is None:
        return None
    for candidate in pool.get(deadline_day(notice.deadline), ()):
        if candidate.source in partners and same_opportunity(
            notice.title, notice.buyer, candidate.title, candidate.buyer, thresholds
        ):
            return candidate.target
    return None
