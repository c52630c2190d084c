"""How one source's record of a notice is kept: its normalised data, a digest and the
raw releases, compressed.

`pack` and `prepare` do the per-record work that needs no database; a bulk import
packs in its parsing process while the main one prepares and writes.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import re
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

import orjson

from feeds.types import Lot, Money
from feeds.types import Notice as Harvested


@dataclass(frozen=True, slots=True)
class Packed:
    """A harvested notice whose raw releases are compressed and dropped from the notice.

    Cheap to send from a parsing process: the parsed releases don't travel.
    """

    notice: Harvested
    packed: bytes | None
    release_ids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Prepared:
    """A harvested notice with what storing it needs, computed once."""

    notice: Harvested
    data: dict[str, Any]
    digest: str
    packed: bytes | None
    release_ids: tuple[str, ...]

    def raws(self) -> list[Any]:
        """The raw releases, from the notice or, once shipped without them, the packed copy."""
        if self.notice.raw is not None:
            return raw_releases(self.notice)
        return unpack_raw(self.packed)


class RawNotKept(ValueError):
    """Raised by `pack_raw` when a payload cannot be written as JSON at all (nested too
    deeply even for the json module); the notice is then stored without it."""


# Characters a database cannot store in text: lone UTF-16 surrogates, which a JSON
# escape such as "\ud800" decodes to, and NUL, which PostgreSQL refuses.
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
REPLACEMENT = "\ufffd"


def storable_text(text: str) -> str:
    """`text` with every character a database cannot store replaced by U+FFFD."""
    return _UNSTORABLE.sub(REPLACEMENT, text) if _UNSTORABLE.search(text) else text


def storable_json(value: Any, depth: int = 0) -> Any:
    """A JSON-like value (a saved state, say) with its strings made storable."""
    if isinstance(value, str):
        return storable_text(value)
    if depth > 100:
        return value  # deeper than any state a harvester saves; the column copes or refuses
    if isinstance(value, dict):
        return {storable_json(k, depth + 1): storable_json(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [storable_json(v, depth + 1) for v in value]
    return value


# The notice's text, checked on every record (a bulk import's hot path): plain strings,
# then tuples of strings.
_TEXT_FIELDS = (
    "source",
    "source_id",
    "title",
    "description",
    "url",
    "buyer",
    "place",
    "procedure",
    "notice_type",
    "status",
    "release_id",
)
_TEXT_TUPLES = ("cpv", "regions", "reserved_kinds", "merge_keys")


def _unstorable_in(notice: Harvested) -> bool:
    search = _UNSTORABLE.search
    for name in _TEXT_FIELDS:
        value = getattr(notice, name)
        if value and search(value):
            return True
    for name in _TEXT_TUPLES:
        if any(search(v) for v in getattr(notice, name)):
            return True
    for lot in notice.lots:
        if search(lot.title) or search(lot.description) or (lot.id and search(lot.id)):
            return True
        if any(search(v) for v in lot.cpv):
            return True
    return False


def storable(notice: Harvested) -> Harvested:
    """The notice with unstorable characters replaced, saying where, as a kept problem.

    Its raw payload is left alone: `pack_raw` keeps it exactly, as JSON escapes.
    """
    if not _unstorable_in(notice):
        return notice
    changed: dict[str, Any] = {}
    for f in dataclasses.fields(notice):
        if f.name in ("raw", "problems"):
            continue
        value = getattr(notice, f.name)
        clean = _storable_value(value)
        if clean is not value:
            changed[f.name] = clean
    if not changed:
        return notice
    problem = (
        f"{', '.join(changed)}: characters that cannot be stored (a lone surrogate or NUL) "
        f"were replaced with {REPLACEMENT}"
    )
    return dataclasses.replace(notice, **changed, problems=(*notice.problems, problem))


def _storable_value(value: Any) -> Any:
    """The same object when nothing needs replacing, else a cleaned copy."""
    if isinstance(value, str):
        return storable_text(value)
    if isinstance(value, tuple):
        items = [_storable_value(v) for v in value]
        if all(new is old for new, old in zip(items, value, strict=True)):
            return value
        return tuple(items)
    if isinstance(value, Lot | Money):
        changes = {}
        for f in dataclasses.fields(value):
            old = getattr(value, f.name)
            new = _storable_value(old)
            if new is not old:
                changes[f.name] = new
        return dataclasses.replace(value, **changes) if changes else value
    return value


def pack(item: Harvested, keep_raw: bool = True) -> Packed:
    """Compress a notice's raw releases (when kept) and drop the parsed ones."""
    raws = raw_releases(item)
    notice, packed = _packed(storable(item), raws, keep_raw)
    return Packed(
        notice=dataclasses.replace(notice, raw=None),
        packed=packed,
        release_ids=tuple(sorted(release_ids(raws))),
    )


def _packed(notice: Harvested, raws: list[Any], keep_raw: bool) -> tuple[Harvested, bytes | None]:
    """The packed raw payload; a payload that cannot be packed is noted on the notice."""
    if not (keep_raw and raws):
        return notice, None
    try:
        return notice, pack_raw(raws)
    except RawNotKept as exc:
        return dataclasses.replace(notice, problems=(*notice.problems, str(exc))), None


def prepare(item: Harvested | Packed | Prepared, keep_raw: bool = True) -> Prepared:
    """Compute a notice's stored form: data, digest, packed raw releases and their ids."""
    if isinstance(item, Prepared):
        return item
    if isinstance(item, Packed):  # made storable by `pack`
        notice, packed, ids = item.notice, item.packed, item.release_ids
    else:
        raws = raw_releases(item)
        notice, packed = _packed(storable(item), raws, keep_raw)
        ids = tuple(sorted(release_ids(raws)))
    data = notice_data(notice)
    return Prepared(
        notice=notice, data=data, digest=content_hash(data), packed=packed, release_ids=ids
    )


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
        "published": iso(item.published),
        "deadline": iso(item.deadline),
        "procedure": item.procedure,
        "notice_type": item.notice_type,
        "status": item.status,
        "lots": [_lot(lot) for lot in item.lots],
        "reserved": item.reserved,
        "reserved_kinds": list(item.reserved_kinds),
        "sme": item.sme,
        "vcse": item.vcse,
        "community_benefits": item.community_benefits,
        "release_date": iso(item.release_date),
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


def iso(moment: datetime | None) -> str | None:
    """ISO-8601 text for a moment, or None."""
    return moment.isoformat() if moment else None


def content_hash(data: dict[str, Any]) -> str:
    """A stable digest of a source record, so an identical re-harvest changes nothing."""
    # notice_data builds keys in a fixed order, so no key sorting is needed.
    return hashlib.sha256(orjson.dumps(data, default=str)).hexdigest()


def raw_releases(item: Harvested) -> list[Any]:
    """The raw payloads behind a notice: one release, or every release compiled into it."""
    if isinstance(item.raw, list):
        return list(item.raw)
    return [] if item.raw is None else [item.raw]


def release_ids(raws: Iterable[Any]) -> set[str]:
    """The ids of the OCDS releases among `raws`."""
    return {storable_text(str(r["id"])) for r in raws if isinstance(r, dict) and r.get("id")}


def unique_releases(raws: Sequence[Any]) -> list[Any]:
    """Drop repeated releases (same id), keeping the last copy of each."""
    seen: dict[Any, Any] = {}
    for index, raw in enumerate(raws):
        key = raw.get("id") if isinstance(raw, dict) and raw.get("id") else ("#", index)
        seen.pop(key, None)
        seen[key] = raw
    return list(seen.values())


def pack_raw(raws: Sequence[Any]) -> bytes:
    """Compress the raw releases kept for re-deriving a notice after a parser fix.

    Raises RawNotKept for a payload nested too deeply to write as JSON at all.
    """
    try:
        text = orjson.dumps(list(raws), default=_json_number)
    except TypeError:  # orjson.JSONEncodeError
        # orjson refuses lone surrogates (a JSON "\ud800" escape decodes to one) and
        # nesting past 255 levels; the json module writes both, the first as escapes.
        try:
            text = json.dumps(list(raws), default=_json_number).encode("ascii")
        except (RecursionError, ValueError, TypeError) as exc:
            reason = "nested too deeply" if isinstance(exc, RecursionError) else str(exc)
            raise RawNotKept(
                f"raw payload not kept: it cannot be written as JSON ({reason})"
            ) from None
    # Level 1: half the time of the default level for 8% more bytes.
    return zlib.compress(text, 1)


def _json_number(value: Any) -> Any:
    """Decimals from the streaming parser: floats when they fit, else their text (1e9999)."""
    if isinstance(value, Decimal):
        number = float(value)
        return number if math.isfinite(number) else str(value)
    return str(value)


def unpack_raw(blob: bytes | None) -> list[Any]:
    """The raw releases stored with a source record."""
    if not blob:
        return []
    text = zlib.decompress(blob)
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:  # written by the json module: see pack_raw
        return json.loads(text)
