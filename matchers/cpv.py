"""The CPV 2008 vocabulary: labels, the code hierarchy and distances along it."""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable
from functools import cache, lru_cache
from pathlib import Path

DATA = Path(__file__).parent / "data"
_CODE = re.compile(r"^(\d{2,8})(?:-\d)?$")


@cache
def _table() -> tuple[dict[str, str], dict[str, str]]:
    with open(DATA / "cpv_2008.csv", encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    return {r["code"]: r["label_en"] for r in rows}, {r["code"]: r["type"] for r in rows}


def labels() -> dict[str, str]:
    """Every CPV 2008 code (8 digits, no check digit) -> English label, loaded once."""
    return _table()[0]


def kinds() -> dict[str, str]:
    """Every CPV 2008 code -> 'supplies', 'services' or 'works'."""
    return _table()[1]


def normalise_code(code: str) -> str:
    """'77310000-6' or '773' -> '77310000'; raises ValueError for anything else."""
    m = _CODE.match(str(code).strip())
    if not m:
        raise ValueError(f"not a CPV code: {code!r}")
    return m.group(1).ljust(8, "0")


def cpv_label(code: str) -> str | None:
    """The English label of a CPV code (check digit and short prefixes accepted)."""
    try:
        return labels().get(normalise_code(code))
    except ValueError:
        return None


def significant(code: str) -> str:
    """The digits that carry meaning: '77310000' -> '7731' (a division keeps two)."""
    s = code.rstrip("0")
    return s if len(s) >= 2 else code[:2]


def short_form(code: str) -> str:
    """How people write a broad code: '77300000' -> '773'."""
    return significant(code)


@lru_cache(maxsize=65536)
def lineage(code: str) -> tuple[str, ...]:
    """The code and its existing ancestors, nearest first.

    Levels missing from the vocabulary are skipped rather than counted, so a gap in
    the tree (or a code that is not in the 2008 list at all) costs no extra step.
    """
    known = labels()
    # Walk up one digit at a time rather than trusting parent_code in the CSV, which
    # jumps straight to the category (45112710 -> 45112000, skipping 45112700).
    sig = significant(code)
    chain = [code]
    for n in range(len(sig) - 1, 1, -1):
        parent = sig[:n].ljust(8, "0")
        if parent in known and parent != chain[-1]:
            chain.append(parent)
    # Every code hangs from its division, even one missing from the 2008 list.
    division = sig[:2].ljust(8, "0")
    if chain[-1] != division:
        chain.append(division)
    return tuple(chain)


def relation(notice_code: str, target: str) -> tuple[int, int, str] | None:
    """(steps up from the notice code, steps up from the target, common ancestor)."""
    up = lineage(target)
    where = {c: i for i, c in enumerate(up)}
    for i, c in enumerate(lineage(notice_code)):
        j = where.get(c)
        if j is not None:
            return i, j, c
    return None


@cache
def _division_bits() -> dict[str, int]:
    """Each CPV division (first two digits) as a bit of a 64-bit mask (there are 45)."""
    divisions = sorted({code[:2] for code in labels()})
    return {division: 1 << i for i, division in enumerate(divisions)}


def divisions_mask(codes: Iterable[str], broad_only: bool = False) -> int:
    """The CPV divisions `codes` fall in, as bits; with `broad_only`, only of the codes
    that name a whole division ("45000000 Construction work"), which hold every code
    under them."""
    bits = _division_bits()
    mask = 0
    for code in codes:
        code = str(code)
        if not broad_only or len(significant(code)) <= 2:
            mask |= bits.get(code[:2], 0)
    return mask
