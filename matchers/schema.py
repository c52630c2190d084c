"""JSON records (the broker's export format) to engine dataclasses, with clear errors."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from .cpv import normalise_code
from .errors import AreaError, NoticeError, ProfileError
from .regions import resolve_area
from .types import FEEDBACK_REASONS, Lot, Notice, Profile


def _text(d: Mapping[str, Any], key: str, err: type[Exception], required: bool = False) -> str:
    v = d.get(key)
    if v is None:
        if required and key not in d:
            raise err(f"missing {key!r}")
        return ""
    if not isinstance(v, str):
        raise err(f"{key!r} must be a string, not {type(v).__name__}")
    return v


def _number(v: Any, what: str, err: type[Exception]) -> float | None:
    if v is None:
        return None
    # bool is an int in Python, and NaN or infinity would poison every comparison.
    if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v) or v < 0:
        raise err(f"{what} must be a non-negative number, not {v!r}")
    return float(v)


def _value(v: Any, what: str) -> float | None:
    """A value is {amount, currency}, a bare number, or null."""
    # Currency is not converted: nearly every notice is in GBP, and size is a coarse fit.
    if isinstance(v, Mapping):
        return _number(v.get("amount"), f"{what}.amount", NoticeError)
    return _number(v, what, NoticeError)


def _strings(d: Mapping[str, Any], key: str, err: type[Exception]) -> tuple[str, ...]:
    v = d.get(key)
    if v is None:
        return ()
    if isinstance(v, str) or not isinstance(v, list | tuple):
        raise err(f"{key!r} must be a list of strings")
    if not all(isinstance(x, str) for x in v):
        raise err(f"{key!r} must hold only strings")
    return tuple(v)


def _codes(d: Mapping[str, Any], key: str, err: type[Exception]) -> tuple[str, ...]:
    try:
        return tuple(normalise_code(c) for c in _strings(d, key, err))
    except ValueError as e:
        if isinstance(e, err):
            raise
        raise err(f"{key!r}: {e}") from None


def _id(d: Mapping[str, Any], err: type[Exception]) -> str | int:
    v = d.get("id")
    if isinstance(v, bool) or not isinstance(v, str | int) or v == "":
        raise err("missing or invalid 'id' (a string or an integer)")
    return v


def notice_from_json(d: Mapping[str, Any]) -> Notice:
    """A notice from the `broker export notices` JSONL or the eval set; unknown keys ignored."""
    if not isinstance(d, Mapping):
        raise NoticeError("a notice must be a JSON object")
    nid = _id(d, NoticeError)
    title = _text(d, "title", NoticeError, required=True)
    description = _text(d, "description", NoticeError, required=True)
    lots = []
    raw_lots = d.get("lots") or []
    if not isinstance(raw_lots, list):
        raise NoticeError("'lots' must be a list")
    for i, lot in enumerate(raw_lots, 1):
        if not isinstance(lot, Mapping):
            raise NoticeError(f"lot {i} must be an object")
        lots.append(
            Lot(
                _text(lot, "title", NoticeError),
                _text(lot, "description", NoticeError),
                _codes(lot, "cpv", NoticeError),
                _value(lot.get("value"), f"lot {i} value"),
            )
        )
    reserved = d.get("reserved", False)
    if not isinstance(reserved, bool | None):
        raise NoticeError("'reserved' must be true or false")
    place = d.get("place")
    if place is not None and not isinstance(place, str):
        raise NoticeError("'place' must be a string or null")
    return Notice(
        id=nid,
        title=title,
        description=description,
        buyer=_text(d, "buyer", NoticeError) or None,
        cpv=_codes(d, "cpv", NoticeError),
        regions=_strings(d, "regions", NoticeError),
        place=place,
        value=_value(d.get("value"), "value"),
        reserved=bool(reserved),
        lots=tuple(lots),
        published=_text(d, "published", NoticeError) or None,
        deadline=_text(d, "deadline", NoticeError) or None,
    )


def profile_from_json(d: Mapping[str, Any]) -> Profile:
    """A profile {id, name, keywords, exclude?, cpv?, regions?, min_value?, max_value?, ...}."""
    if not isinstance(d, Mapping):
        raise ProfileError("a profile must be a JSON object")
    pid = str(_id(d, ProfileError))
    keywords = tuple(k for k in _strings(d, "keywords", ProfileError) if k.strip())
    cpv = _codes(d, "cpv", ProfileError)
    if not keywords and not cpv:
        raise ProfileError(f"profile {pid!r} needs keywords or CPV codes")
    regions = _strings(d, "regions", ProfileError)
    for r in regions:
        try:
            resolve_area(r)
        except AreaError as e:
            raise ProfileError(f"profile {pid!r}: {e}") from None
    low = _number(d.get("min_value"), "'min_value'", ProfileError)
    high = _number(d.get("max_value"), "'max_value'", ProfileError)
    if low is not None and high is not None and low > high:
        raise ProfileError(f"profile {pid!r}: min_value is above max_value")
    supported = d.get("supported_business", False)
    if not isinstance(supported, bool | None):
        raise ProfileError("'supported_business' must be true or false")
    feedback = d.get("feedback") or {}
    if not isinstance(feedback, Mapping) or not all(
        k in FEEDBACK_REASONS and isinstance(v, int) and not isinstance(v, bool) and v >= 0
        for k, v in feedback.items()
    ):
        raise ProfileError(f"'feedback' must map {', '.join(FEEDBACK_REASONS)} to counts")
    return Profile(
        id=pid,
        name=_text(d, "name", ProfileError),
        keywords=keywords,
        exclude=tuple(k for k in _strings(d, "exclude", ProfileError) if k.strip()),
        cpv=cpv,
        regions=regions,
        min_value=low,
        max_value=high,
        supported_business=bool(supported),
        feedback=dict(feedback),
        declined_value=_number(d.get("declined_value"), "'declined_value'", ProfileError),
    )
