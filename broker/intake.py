"""Storing harvested notices: idempotent upsert, cross-source merge and change history.

Each source's record is kept as it came (`NoticeSource.data` plus the raw releases);
the `Notice` row is rebuilt from all of its sources whenever one of them changes,
and every material difference is written to the notice's change history.
"""

from __future__ import annotations

import hashlib
import json
import logging
import zlib
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select, tuple_
from sqlalchemy.orm import Session

from feeds import ocds
from feeds.types import Lot, Money
from feeds.types import Notice as Harvested

from .dedupe import Thresholds, deadline_day, partners_of, same_opportunity
from .models import Notice, NoticeChange, NoticeKey, NoticeSource

logger = logging.getLogger(__name__)

# Which publisher's text wins when one opportunity has several: the original first.
SOURCE_PRIORITY = ("pcs", "sell2wales", "find_a_tender", "contracts_finder", "ted")
# Fields that follow the most recently released source, since amendments change them.
VOLATILE = ("deadline", "value", "status", "notice_type")
# Fields whose changes are written to the history a coordinator sees.
TRACKED = (
    "title",
    "description",
    "buyer",
    "deadline",
    "value",
    "status",
    "notice_type",
    "procedure",
)
# Changes that make a notice "updated" and that members who were told about it hear of.
MATERIAL = frozenset({"deadline", "value", "status", "description", "title"})
HISTORY_TEXT_LIMIT = 4000
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


def notice_data(item: Harvested) -> dict[str, Any]:
    """The JSON-able form of a harvested notice that `NoticeSource.data` keeps."""
    return {
        "title": item.title,
        "description": item.description,
        "url": item.url,
        "buyer": item.buyer,
        "cpv": list(item.cpv),
        "regions": list(item.regions),
        "place": item.place,
        "value": _money(item.value),
        "published": _iso(item.published),
        "deadline": _iso(item.deadline),
        "procedure": item.procedure,
        "notice_type": item.notice_type,
        "status": item.status,
        "lots": [_lot(lot) for lot in item.lots],
        "reserved": item.reserved,
        "reserved_kinds": list(item.reserved_kinds),
        "sme": item.sme,
        "vcse": item.vcse,
        "community_benefits": item.community_benefits,
        "release_date": _iso(item.release_date),
    }


def _money(value: Money | None) -> dict[str, Any] | None:
    if value is None or (value.amount is None and value.min is None and value.max is None):
        return None
    return {"amount": value.amount, "currency": value.currency, "min": value.min, "max": value.max}


def _lot(lot: Lot) -> dict[str, Any]:
    return {
        "id": lot.id,
        "title": lot.title,
        "description": lot.description,
        "cpv": list(lot.cpv),
        "value": _money(lot.value),
        "reserved": lot.reserved,
    }


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def _parse_iso(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def content_hash(data: dict[str, Any]) -> str:
    """A stable digest of a source record, so an identical re-harvest changes nothing."""
    payload = json.dumps(data, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(payload.encode()).hexdigest()


def pack_raw(raws: Sequence[Any]) -> bytes:
    """Compress the raw releases kept for re-deriving a notice after a parser fix."""
    return zlib.compress(json.dumps(list(raws), separators=(",", ":"), default=str).encode(), 6)


def unpack_raw(blob: bytes | None) -> list[Any]:
    """The raw releases stored with a source record."""
    return json.loads(zlib.decompress(blob)) if blob else []


def store_notices(
    session: Session,
    items: Iterable[Harvested],
    now: datetime,
    *,
    thresholds: Thresholds = DEFAULT_THRESHOLDS,
    keep_raw: bool = True,
) -> StoreResult:
    """Insert or update a batch of harvested notices; flushes, never commits."""
    result = StoreResult()
    batch = _collapse(items)
    if not batch:
        return result
    existing = _existing_sources(session, batch.keys())
    to_remerge: dict[int, str] = {}
    new_items: list[Harvested] = []
    for key, item in batch.items():
        row = existing.get(key)
        if row is None:
            new_items.append(item)
            continue
        if _update_source(row, item, now, keep_raw):
            to_remerge[row.notice_id] = item.source
        else:
            result.unchanged += 1
    if new_items:
        _insert_new(session, new_items, now, thresholds, keep_raw, result, to_remerge)
    if to_remerge:
        session.flush()
        for notice in _load_notices(session, to_remerge):
            is_new = notice.id in result.new
            changed = _remerge(session, notice, now, to_remerge[notice.id], history=not is_new)
            if is_new:
                continue
            if changed:
                result.updated.append(notice.id)
                result.changes[notice.id] = changed
            else:
                result.unchanged += 1
    session.flush()
    return result


def _collapse(items: Iterable[Harvested]) -> dict[tuple[str, str], Harvested]:
    """One notice per (source, source id); several releases of one ocid are compiled."""
    grouped: dict[tuple[str, str], list[Harvested]] = defaultdict(list)
    for item in items:
        grouped[(item.source, item.source_id)].append(item)
    batch = {}
    for key, group in grouped.items():
        batch[key] = group[0] if len(group) == 1 else _combine(group)
    return batch


def raw_releases(item: Harvested) -> list[Any]:
    """The raw payloads behind a notice: one release, or every release compiled into it."""
    if isinstance(item.raw, list):
        return list(item.raw)
    return [] if item.raw is None else [item.raw]


def _release_ids(raws: Iterable[Any]) -> set[str]:
    return {str(r["id"]) for r in raws if isinstance(r, dict) and r.get("id")}


def _combine(group: list[Harvested], previous_raws: Sequence[Any] = ()) -> Harvested:
    raws = _unique_releases([*previous_raws, *(r for g in group for r in raw_releases(g))])
    if raws and all(isinstance(r, dict) and "ocid" in r for r in raws):
        try:
            return ocds.notice_from_releases(raws, source=group[-1].source)
        except Exception as exc:  # a compile failure must not lose the newer release
            logger.warning(
                "compiling %s %s failed, latest release wins: %s",
                group[-1].source,
                group[-1].source_id,
                exc,
            )
    return max(group, key=lambda g: (g.release_date is not None, g.release_date or 0))


def _unique_releases(raws: Sequence[Any]) -> list[Any]:
    """Drop repeated releases (same id), keeping the last copy of each."""
    seen: dict[Any, Any] = {}
    for index, raw in enumerate(raws):
        key = raw.get("id") if isinstance(raw, dict) and raw.get("id") else ("#", index)
        seen.pop(key, None)
        seen[key] = raw
    return list(seen.values())


def _existing_sources(
    session: Session, keys: Iterable[tuple[str, str]]
) -> dict[tuple[str, str], NoticeSource]:
    keys = list(keys)
    found: dict[tuple[str, str], NoticeSource] = {}
    for start in range(0, len(keys), 400):
        chunk = keys[start : start + 400]
        rows = session.scalars(
            select(NoticeSource).where(
                tuple_(NoticeSource.source, NoticeSource.source_id).in_(chunk)
            )
        )
        for row in rows:
            found[(row.source, row.source_id)] = row
    return found


def _update_source(row: NoticeSource, item: Harvested, now: datetime, keep_raw: bool) -> bool:
    """Fold newer releases into a stored source record; True if its content changed."""
    known = set(row.release_ids or ())
    incoming = raw_releases(item)
    fresh = _release_ids(incoming) - known
    previous: list[Any] | None = None
    if fresh and row.raw is not None:
        previous = unpack_raw(row.raw)
        if (
            row.release_date
            and item.release_date
            and item.release_date < row.release_date
            and not all(isinstance(r, dict) for r in incoming)
        ):
            return False  # an older copy of a non-OCDS notice: the stored one is newer
        item = _combine([item], previous)
    data = notice_data(item)
    digest = content_hash(data)
    release_ids = sorted(known | _release_ids(incoming))
    if digest == row.content_hash:
        if release_ids != sorted(known):
            row.release_ids = release_ids
            if keep_raw:
                row.raw = pack_raw(
                    _unique_releases([*(previous or unpack_raw(row.raw)), *incoming])
                )
        return False
    if keep_raw:
        if previous is None:
            previous = unpack_raw(row.raw)
        row.raw = pack_raw(_unique_releases([*previous, *incoming]) if fresh else incoming)
    row.data = data
    row.content_hash = digest
    row.url = item.url or row.url
    row.release_id = item.release_id or row.release_id
    row.release_ids = release_ids
    row.release_date = item.release_date or row.release_date
    row.updated_at = now
    return True


def _insert_new(
    session: Session,
    items: list[Harvested],
    now: datetime,
    thresholds: Thresholds,
    keep_raw: bool,
    result: StoreResult,
    to_remerge: dict[int, str],
) -> None:
    keyed = _notices_by_key(session, {k for item in items for k in item.merge_keys})
    fuzzy_pool = _fuzzy_candidates(session, items)
    created: list[tuple[Notice, Harvested]] = []
    for item in items:
        data = notice_data(item)
        target = next((keyed[k] for k in item.merge_keys if k in keyed), None)
        if target is None:
            target = _fuzzy_match(item, fuzzy_pool, thresholds)
        source = NoticeSource(
            source=item.source,
            source_id=item.source_id,
            url=item.url,
            release_id=item.release_id,
            release_ids=sorted(_release_ids(raw_releases(item))),
            release_date=item.release_date,
            content_hash=content_hash(data),
            data=data,
            raw=pack_raw(raw_releases(item)) if keep_raw and item.raw is not None else None,
            first_seen_at=now,
            updated_at=now,
        )
        if target is not None:
            source.notice = target
            session.add(source)
            result.merged += 1
            session.add(
                NoticeChange(
                    notice=target,
                    changed_at=now,
                    source=item.source,
                    field="source",
                    old=None,
                    new=f"also published on {item.source} as {item.source_id}",
                )
            )
            if target.id is not None:
                to_remerge[target.id] = item.source
            else:
                # Merged into a notice created earlier in this batch: rebuild it after flush.
                created.append((target, item))
        else:
            notice = _notice_from_data(data, item.source, now)
            source.notice = notice
            session.add_all([notice, source])
            created.append((notice, item))
            fuzzy_pool.setdefault(deadline_day(item.deadline), []).append((notice, item.source))
        for key in item.merge_keys:
            if key not in keyed:
                keyed[key] = source.notice
                session.add(NoticeKey(key=key, notice=source.notice))
    session.flush()
    seen: set[int] = set()
    for notice, item in created:
        if notice.id in seen:
            to_remerge[notice.id] = item.source
            continue
        seen.add(notice.id)
        result.new.append(notice.id)


def _notices_by_key(session: Session, keys: set[str]) -> dict[str, Notice]:
    if not keys:
        return {}
    found: dict[str, Notice] = {}
    key_list = sorted(keys)
    for start in range(0, len(key_list), 400):
        rows = session.execute(
            select(NoticeKey.key, Notice)
            .join(Notice, Notice.id == NoticeKey.notice_id)
            .where(NoticeKey.key.in_(key_list[start : start + 400]))
        )
        for key, notice in rows:
            found[key] = notice
    return found


def _fuzzy_candidates(
    session: Session, items: list[Harvested]
) -> dict[Any, list[tuple[Notice, str]]]:
    days = {deadline_day(i.deadline) for i in items if partners_of(i.source) and i.deadline}
    if not days:
        return {}
    partner_sources = {p for i in items for p in partners_of(i.source)}
    rows = session.execute(
        select(Notice, NoticeSource.source)
        .join(NoticeSource, NoticeSource.notice_id == Notice.id)
        .where(Notice.deadline_day.in_(sorted(days)), NoticeSource.source.in_(partner_sources))
    )
    pool: dict[Any, list[tuple[Notice, str]]] = defaultdict(list)
    for notice, source in rows:
        pool[notice.deadline_day].append((notice, source))
    return pool


def _fuzzy_match(
    item: Harvested, pool: dict[Any, list[tuple[Notice, str]]], thresholds: Thresholds
) -> Notice | None:
    partners = partners_of(item.source)
    if not partners or item.deadline is None:
        return None
    for notice, source in pool.get(deadline_day(item.deadline), ()):
        if source in partners and same_opportunity(
            item.title, item.buyer, notice.title, notice.buyer, thresholds
        ):
            return notice
    return None


def _notice_from_data(data: dict[str, Any], source: str, now: datetime) -> Notice:
    notice = Notice(primary_source=source, first_seen_at=now, updated_at=now)
    _apply(notice, data)
    return notice


def _apply(notice: Notice, data: dict[str, Any]) -> None:
    value = data.get("value") or {}
    deadline = _parse_iso(data.get("deadline"))
    notice.title = data["title"]
    notice.description = data.get("description") or ""
    notice.buyer = data.get("buyer")
    notice.cpv = list(data.get("cpv") or [])
    notice.regions = list(data.get("regions") or [])
    notice.place = data.get("place")
    notice.value_amount = value.get("amount")
    notice.value_currency = value.get("currency")
    notice.value_min = value.get("min")
    notice.value_max = value.get("max")
    notice.published = _parse_iso(data.get("published"))
    notice.deadline = deadline
    notice.deadline_day = deadline_day(deadline)
    notice.procedure = data.get("procedure")
    notice.notice_type = data.get("notice_type") or "tender"
    notice.status = data.get("status")
    notice.lots = list(data.get("lots") or [])
    notice.reserved = bool(data.get("reserved"))
    notice.sme = data.get("sme")
    notice.vcse = data.get("vcse")
    notice.community_benefits = bool(data.get("community_benefits"))


def _load_notices(session: Session, ids: Iterable[int]) -> list[Notice]:
    return list(session.scalars(select(Notice).where(Notice.id.in_(sorted(ids)))))


def merged_data(sources: Sequence[NoticeSource]) -> tuple[dict[str, Any], str]:
    """Combine source records into one: originals' text first, latest release for dates."""
    ordered = sorted(sources, key=_priority)
    merged = dict(ordered[0].data)
    for other in ordered[1:]:
        for key, value in other.data.items():
            if merged.get(key) in (None, "", []) and value not in (None, "", []):
                merged[key] = value
    merged["cpv"] = _union(s.data.get("cpv") for s in ordered)
    merged["regions"] = _union(s.data.get("regions") for s in ordered)
    merged["reserved"] = any(s.data.get("reserved") for s in ordered)
    merged["community_benefits"] = any(s.data.get("community_benefits") for s in ordered)
    for flag in ("sme", "vcse"):
        flags = [s.data.get(flag) for s in ordered if s.data.get(flag) is not None]
        merged[flag] = any(flags) if flags else None
    newest = sorted(ordered, key=lambda s: s.data.get("release_date") or "", reverse=True)
    for key in VOLATILE:
        for src in newest:
            if src.data.get(key) not in (None, ""):
                merged[key] = src.data[key]
                break
    return merged, ordered[0].source


def _priority(source: NoticeSource) -> tuple[int, datetime, int]:
    rank = SOURCE_PRIORITY.index(source.source) if source.source in SOURCE_PRIORITY else 99
    return (rank, source.first_seen_at, source.id or 0)


def _union(lists: Iterable[list[str] | None]) -> list[str]:
    seen: dict[str, None] = {}
    for values in lists:
        for value in values or ():
            seen.setdefault(value, None)
    return list(seen)


def _remerge(
    session: Session, notice: Notice, now: datetime, cause: str, history: bool = True
) -> list[str]:
    """Rebuild a notice from its sources and record what changed; returns changed fields."""
    sources = list(session.scalars(select(NoticeSource).where(NoticeSource.notice_id == notice.id)))
    merged, primary = merged_data(sources)
    before = _tracked(notice)
    _apply(notice, merged)
    notice.primary_source = primary
    after = _tracked(notice)
    changed = []
    for name in TRACKED:
        if before[name] != after[name]:
            changed.append(name)
            if not history:
                continue
            session.add(
                NoticeChange(
                    notice_id=notice.id,
                    changed_at=now,
                    source=cause,
                    field=name,
                    old=_clip(before[name]),
                    new=_clip(after[name]),
                )
            )
    notice.updated_at = now
    if history and MATERIAL.intersection(changed):
        notice.changed_at = now
    return changed


def _tracked(notice: Notice) -> dict[str, Any]:
    value = None
    if notice.value_amount is not None:
        value = f"{notice.value_amount:.2f} {notice.value_currency or ''}".strip()
    return {
        "title": notice.title,
        "description": notice.description,
        "buyer": notice.buyer,
        "deadline": _iso(notice.deadline),
        "value": value,
        "status": notice.status,
        "notice_type": notice.notice_type,
        "procedure": notice.procedure,
    }


def _clip(text: str | None) -> str | None:
    if text is None or len(text) <= HISTORY_TEXT_LIMIT:
        return text
    return text[:HISTORY_TEXT_LIMIT] + "…"
