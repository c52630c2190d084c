"""Reason sentences, written for a coordinator who may not know the jargon."""

from __future__ import annotations

from functools import cache

from .cpv import cpv_label, short_form
from .evidence import CodeHit, TextHit
from .types import Lot


def lot_name(lots: tuple[Lot, ...], lot: int) -> str:
    """'lot 2 "Bread and rolls"': a lot by its place in the notice, and its title."""
    title = lots[lot - 1].title if lot <= len(lots) else ""
    return f'lot {lot} "{title[:60]}"' if title else f"lot {lot}"


def _where(hit: TextHit, lots: tuple[Lot, ...]) -> str:
    if not hit.lot:
        return hit.kind
    return lot_name(lots, hit.lot) + (", description" if hit.kind == "lot description" else "")


def keyword_reason(keyword: str, hit: TextHit, lots: tuple[Lot, ...] = ()) -> str:
    """keyword "grounds maintenance" ≈ "ground maintenance" (title); a partial match says so:
    keyword "office cleaning" in part: "cleaning" only, not "office" (title)."""
    found = " ".join(hit.words)
    if hit.missing:
        lacking = " or ".join(f'"{w}"' for w in hit.missing)
        return f'keyword "{keyword}" in part: "{found}" only, not {lacking} ({_where(hit, lots)})'
    return f'keyword "{keyword}" ≈ "{found}" ({_where(hit, lots)})'


@cache
def _code(code: str) -> str:
    label = cpv_label(code)
    return f"{code} ({label})" if label else code


def code_reason(hit: CodeHit, keyword: str | None) -> str:
    """CPV 77310000 is under the member's 773 / fits keyword "grounds maintenance"."""
    lot = f" (lot {hit.lot})" if hit.lot else ""
    notice = f"CPV {_code(hit.code)}{lot}"
    if keyword is None:
        mine = short_form(hit.target)
        if hit.up_notice == 0 and hit.up_target == 0:
            return f"{notice} is one of the member's codes"
        if hit.up_target == 0:
            return f"{notice} is under the member's {mine}"
        if hit.up_notice == 0:
            return f"{notice} is broader than the member's {mine}"
        return f"{notice} is close to the member's {mine}"
    via = f'fits keyword "{keyword}"'
    if hit.up_notice == 0 and hit.up_target == 0:
        return f"{notice} {via}"
    how = (
        "is under"
        if hit.up_target == 0
        else "is broader than"
        if hit.up_notice == 0
        else "is close to"
    )
    return f"{notice} {how} {_code(hit.target)}, which {via}"


def against_reason(code: str, keyword: str) -> str:
    """CPV 50000000 (Repair and maintenance services) does not fit keyword "cleaning services"."""
    return f'CPV {_code(code)} does not fit keyword "{keyword}"'
