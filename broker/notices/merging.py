"""One notice from several sources: which source's fields win, and the change history.

The original publication's text wins (PCS before its Find a Tender copy); deadlines,
values and status follow the most recent release, since amendments change them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from broker.models import Notice, NoticeChange, NoticeRegion, NoticeSource
from broker.models.notices import SOURCE_PRIORITY
from broker.notices.dedupe import deadline_day
from broker.notices.records import iso

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


def notice_columns(data: dict[str, Any]) -> dict[str, Any]:
    """The `notices` columns that a (merged) source record fills."""
    value = data.get("value") or {}
    deadline = _parse_iso(data.get("deadline"))
    return {
        "title": data["title"],
        "description": data.get("description") or "",
        "buyer": data.get("buyer"),
        "cpv": list(data.get("cpv") or []),
        "regions": list(data.get("regions") or []),
        "place": data.get("place"),
        "value_amount": value.get("amount"),
        "value_currency": value.get("currency"),
        "value_min": value.get("min"),
        "value_max": value.get("max"),
        "published": _parse_iso(data.get("published")),
        "deadline": deadline,
        "deadline_day": deadline_day(deadline),
        "procedure": data.get("procedure"),
        "notice_type": data.get("notice_type") or "tender",
        "status": data.get("status"),
        "lots": list(data.get("lots") or []),
        "reserved": bool(data.get("reserved")),
        "sme": data.get("sme"),
        "vcse": data.get("vcse"),
        "community_benefits": bool(data.get("community_benefits")),
    }


def _parse_iso(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def merged_data(sources: Sequence[NoticeSource]) -> tuple[dict[str, Any], str]:
    """Combine source records into one; returns it and the primary source's name."""
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


def remerge(
    session: Session, notice: Notice, now: datetime, cause: str, history: bool = True
) -> list[str]:
    """Rebuild a notice from its sources and record what changed; returns changed fields."""
    sources = list(session.scalars(select(NoticeSource).where(NoticeSource.notice_id == notice.id)))
    merged, primary = merged_data(sources)
    before = _tracked(notice)
    regions_before = list(notice.regions or [])
    for column, value in notice_columns(merged).items():
        setattr(notice, column, value)
    if list(notice.regions) != regions_before:
        session.execute(delete(NoticeRegion).where(NoticeRegion.notice_id == notice.id))
        session.add_all(
            NoticeRegion(notice_id=notice.id, code=code) for code in dict.fromkeys(notice.regions)
        )
    notice.primary_source = primary
    after = _tracked(notice)
    changed = [name for name in TRACKED if before[name] != after[name]]
    if history:
        session.add_all(
            NoticeChange(
                notice_id=notice.id,
                changed_at=now,
                source=cause,
                field=name,
                old=_clip(before[name]),
                new=_clip(after[name]),
            )
            for name in changed
        )
        if MATERIAL.intersection(changed):
            notice.changed_at = now
    notice.updated_at = now
    return changed


def _tracked(notice: Notice) -> dict[str, Any]:
    value = None
    if notice.value_amount is not None:
        value = f"{notice.value_amount:.2f} {notice.value_currency or ''}".strip()
    return {
        "title": notice.title,
        "description": notice.description,
        "buyer": notice.buyer,
        "deadline": iso(notice.deadline),
        "value": value,
        "status": notice.status,
        "notice_type": notice.notice_type,
        "procedure": notice.procedure,
    }


def _clip(text: str | None) -> str | None:
    if text is None or len(text) <= HISTORY_TEXT_LIMIT:
        return text
    return text[:HISTORY_TEXT_LIMIT] + "…"
