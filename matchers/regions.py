"""Places: NUTS 2016 codes, Scottish council areas, and free-text place names."""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from functools import cache

from .cpv import DATA
from .errors import AreaError
from .text import fold

_NUTS_CODE = re.compile(r"^[A-Z]{2}[A-Z0-9]{0,3}$")
ENGLAND = frozenset({"UKC", "UKD", "UKE", "UKF", "UKG", "UKH", "UKI", "UKJ", "UKK"})


@dataclass(frozen=True, slots=True)
class CouncilArea:
    """A Scottish council area and the NUTS 2016 level-3 regions that hold it."""

    gss_code: str
    name: str
    nuts3: frozenset[str]


def _key(text: str) -> str:
    """Fold a place name for lookup: case, accents, '&', punctuation and spacing."""
    text = fold(text).replace("&", " and ")
    return " ".join(re.findall(r"[a-z0-9]+", text))


@cache
def nuts() -> dict[str, tuple[int, str]]:
    """NUTS 2016 code -> (level, label) for the UK, loaded once."""
    with open(DATA / "uk_nuts2016_codes.csv", encoding="utf-8", newline="") as f:
        return {r["nuts_code"]: (int(r["nuts_level"]), r["label_en"]) for r in csv.DictReader(f)}


@cache
def council_areas() -> dict[str, CouncilArea]:
    """GSS code -> council area with its NUTS 3 codes, loaded once."""
    with open(DATA / "council_areas_nuts2016.csv", encoding="utf-8", newline="") as f:
        return {
            r["gss_code"]: CouncilArea(
                r["gss_code"], r["name"], frozenset(r["nuts3_codes"].split(";"))
            )
            for r in csv.DictReader(f)
        }


def region_label(code: str) -> str:
    """'UKM82' -> 'Glasgow City', 'UKM' -> 'Scotland'; an unknown code is returned as is."""
    code = code.strip().upper()
    if code in council_areas():
        return council_areas()[code].name
    entry = nuts().get(code)
    if entry is None:
        return code
    level, label = entry
    # Level 0 and 1 labels are in capitals in the source list.
    if level >= 2:
        return label
    label = label.title()
    for word in ("And", "Of", "The"):
        label = label.replace(f" {word} ", f" {word.lower()} ")
    return label


@cache
def _names() -> dict[str, frozenset[str]]:
    """Folded place name -> NUTS codes, for every name that is unambiguous."""
    names: dict[str, frozenset[str]] = {}
    # Broader levels first: "West Midlands" is the English region, not the county (UKG3).
    for code, (level, label) in sorted(nuts().items(), key=lambda kv: kv[1][0]):
        if level == 0:
            continue
        names.setdefault(_key(label), frozenset({code}))
        plain = re.sub(r"\s*\(england\)\s*$", "", label, flags=re.I)
        names.setdefault(_key(plain), frozenset({code}))
    with open(DATA / "scotland_council_areas_and_health_boards.csv", encoding="utf-8") as f:
        alt = {r["gss_code"]: r["former_or_alt_names"] for r in csv.DictReader(f)}
    for area in council_areas().values():
        aliases = {area.name, *filter(None, alt.get(area.gss_code, "").split(";"))}
        short = re.sub(r"^City of | City$", "", area.name)
        aliases.add(short)
        for alias in aliases:
            names[_key(alias)] = area.nuts3
    uk = frozenset({"UK"})
    for alias in ("uk", "united kingdom", "great britain", "gb", "any region", "nationwide"):
        names[alias] = uk
    names["england"] = ENGLAND
    names["scotland"] = names["all of scotland"] = frozenset({"UKM"})
    names["edinburgh"] = frozenset({"UKM75"})
    return names


def resolve_area(text: str) -> frozenset[str]:
    """A member's area (council name or GSS code, NUTS code, 'Scotland', 'UK') -> NUTS codes."""
    raw = str(text).strip()
    code = raw.upper()
    if code in council_areas():
        return council_areas()[code].nuts3
    if code in nuts():
        return frozenset({code})
    found = _names().get(_key(raw))
    if found is None or not raw:
        raise AreaError(
            f"unknown area {raw!r}: use a Scottish council area, a NUTS code, 'Scotland' or 'UK'"
        )
    return found


def _place_part(part: str) -> frozenset[str] | None:
    part = part.strip()
    if _NUTS_CODE.match(part) and (part in nuts() or not part.startswith("UK")):
        return frozenset({part})
    return _names().get(_key(part))


def _narrower(a: frozenset[str], b: frozenset[str]) -> bool:
    """True when every region of `a` lies inside some region of `b`, and a != b."""
    return a != b and all(any(r.startswith(s) for s in b) for r in a)


def place_regions(place: str | None) -> frozenset[str]:
    """NUTS codes for free place text ('UKM82', 'London, England', 'Scotland'); empty if unknown."""
    if not place or not place.strip():
        return frozenset()
    whole = _place_part(place)
    if whole is not None:
        return whole
    parts = [p for p in (_place_part(s) for s in re.split(r"[,;/|]", place)) if p]
    # "Leeds, United Kingdom" names a city we don't know inside a country we do: keep
    # the most specific parts, so "London, England" is London, not all of England.
    kept = [p for p in parts if not any(_narrower(q, p) for q in parts)]
    return frozenset().union(*kept) if kept else frozenset()


def notice_regions(regions: tuple[str, ...], place: str | None) -> frozenset[str]:
    """A notice's NUTS codes: its `regions`, else what its `place` text names."""
    codes = frozenset(r.strip().upper() for r in regions if r and r.strip())
    return codes or place_regions(place)


def inside(region: str, area: str) -> bool:
    """NUTS codes nest by prefix, and 'UK' holds every UK code."""
    return region.startswith(area)
