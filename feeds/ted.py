"""TED vocabulary shared by the search API and both XML generations.

Publication numbers, notice types, reservations, languages and time zones: the parts
where the v3 search JSON, eForms and R2.0.9 must agree so that one notice read from
any of them lands on the same ("ted", publication number) record.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime, time, timedelta, timezone, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

SOURCE = "ted"
NOTICE_URL = "https://ted.europa.eu/en/notice/-/detail/{}"
# The Official Journal is published in Luxembourg; a TED date without a zone or a
# known buyer country is read in Central European time.
BRUSSELS = ZoneInfo("Europe/Brussels")

_PUBLICATION_NUMBER = re.compile(r"0*(\d{1,10})-(\d{4})")
_OJS_NUMBER = re.compile(r"(\d{4})/S\s*\d+-0*(\d{1,10})")

# eForms reserved-procurement codes -> the OCDS reservedParticipation codes that the
# rest of the broker already knows (feeds.tender.RESERVED_KINDS).
EFORMS_RESERVED = {"res-ws": "shelteredWorkshop", "res-pub-ser": "publicService"}
# R2.0.9 flags: sheltered workshops and sheltered employment programmes (art. 20 of
# 2014/24/EU) are one kind; public-service mission organisations (art. 77) another.
R209_RESERVED = {
    "RESTRICTED_SHELTERED_WORKSHOP": "shelteredWorkshop",
    "RESTRICTED_SHELTERED_PROGRAM": "shelteredWorkshop",
    "RESERVED_ORGANISATIONS_SERVICE_MISSION": "publicService",
}

# eForms procedure codes (codelist procurement-procedure-type) in words.
PROCEDURES = {
    "open": "Open procedure",
    "restricted": "Restricted procedure",
    "neg-w-call": "Negotiated procedure with prior publication",
    "neg-wo-call": "Negotiated procedure without prior publication",
    "comp-dial": "Competitive dialogue",
    "innovation": "Innovation partnership",
    "oth-single": "Other single stage procedure",
    "oth-mult": "Other multiple stage procedure",
}

# Buyer country -> the zone its local times are written in (EU, EEA, UK, candidates).
_ZONES = {
    "AT": "Europe/Vienna", "BE": "Europe/Brussels", "BG": "Europe/Sofia",
    "CH": "Europe/Zurich", "CY": "Asia/Nicosia", "CZ": "Europe/Prague",
    "DE": "Europe/Berlin", "DK": "Europe/Copenhagen", "EE": "Europe/Tallinn",
    "EL": "Europe/Athens", "ES": "Europe/Madrid", "FI": "Europe/Helsinki",
    "FR": "Europe/Paris", "GB": "Europe/London", "GR": "Europe/Athens",
    "HR": "Europe/Zagreb", "HU": "Europe/Budapest", "IE": "Europe/Dublin",
    "IS": "Atlantic/Reykjavik", "IT": "Europe/Rome", "LI": "Europe/Vaduz",
    "LT": "Europe/Vilnius", "LU": "Europe/Luxembourg", "LV": "Europe/Riga",
    "ME": "Europe/Podgorica", "MK": "Europe/Skopje", "MT": "Europe/Malta",
    "NL": "Europe/Amsterdam", "NO": "Europe/Oslo", "PL": "Europe/Warsaw",
    "PT": "Europe/Lisbon", "RO": "Europe/Bucharest", "RS": "Europe/Belgrade",
    "SE": "Europe/Stockholm", "SI": "Europe/Ljubljana", "SK": "Europe/Bratislava",
    "UK": "Europe/London", "AL": "Europe/Tirane", "TR": "Europe/Istanbul",
}  # fmt: skip
# eForms and the search API name countries with ISO 3166 alpha-3 codes.
_ALPHA3 = {
    "AUT": "AT", "BEL": "BE", "BGR": "BG", "CHE": "CH", "CYP": "CY", "CZE": "CZ",
    "DEU": "DE", "DNK": "DK", "EST": "EE", "GRC": "GR", "ESP": "ES", "FIN": "FI",
    "FRA": "FR", "GBR": "GB", "HRV": "HR", "HUN": "HU", "IRL": "IE", "ISL": "IS",
    "ITA": "IT", "LIE": "LI", "LTU": "LT", "LUX": "LU", "LVA": "LV", "MNE": "ME",
    "MKD": "MK", "MLT": "MT", "NLD": "NL", "NOR": "NO", "POL": "PL", "PRT": "PT",
    "ROU": "RO", "SRB": "RS", "SWE": "SE", "SVN": "SI", "SVK": "SK", "ALB": "AL",
    "TUR": "TR",
}  # fmt: skip


def publication_number(value: Any) -> str | None:
    """TED's publication number as "091489-2019" (six digits at least), or None.

    Accepts "91489-2019", eForms' "00622691-2023" and the OJ S reference
    "2019/S 040-091489", so every source of one notice names it alike.
    """
    if not isinstance(value, str):
        return None
    text = value.strip()
    if match := _PUBLICATION_NUMBER.fullmatch(text):
        return f"{int(match.group(1)):06d}-{match.group(2)}"
    if match := _OJS_NUMBER.fullmatch(text):
        return f"{int(match.group(2)):06d}-{match.group(1)}"
    return None


def notice_url(number: str) -> str:
    """The English page of a published notice."""
    return NOTICE_URL.format(number)


def notice_type(code: str | None) -> str:
    """Map an eForms notice type (cn-standard, pin-only, can-social, corr...) to ours."""
    code = (code or "").strip().lower()
    if code.startswith(("pin-", "pmc")):
        return "pipeline"
    if code.startswith("can-") or code == "veat":
        return "award"
    if code in ("corr", "corrigendum"):
        return "amendment"
    return "tender"  # cn-*, subco, qu-sy and anything new


def language_order(*official: str | None) -> list[str]:
    """Languages to try for a text, lower-case alpha-3: English, then the official ones."""
    order = ["eng"]
    for code in official:
        if isinstance(code, str) and (code := code.strip().lower()) and code not in order:
            order.append(code)
    return order


def pick_language(texts: Mapping[str, Any], order: Iterable[str]) -> Any:
    """The value for the first language of `order` present in `texts`, else any value."""
    lowered = {str(k).lower(): v for k, v in texts.items()}
    for code in order:
        if lowered.get(code):
            return lowered[code]
    for value in lowered.values():
        if value:
            return value
    return None


def zone_for_country(code: str | None) -> tzinfo:
    """The time zone of a buyer country (alpha-2 or alpha-3), Brussels if unknown."""
    if isinstance(code, str):
        code = code.strip().upper()
        name = _ZONES.get(_ALPHA3.get(code, code))
        if name:
            return ZoneInfo(name)
    return BRUSSELS


_OFFSET = re.compile(r"(Z|[+-]\d{2}:?\d{2})$")


def split_offset(text: str) -> tuple[str, tzinfo | None]:
    """Split "2026-09-18+02:00" into ("2026-09-18", UTC+2); "Z" is UTC; no suffix -> None."""
    text = text.strip()
    match = _OFFSET.search(text)
    if match is None:
        return text, None
    suffix = match.group(1)
    if suffix == "Z":
        return text[: match.start()], UTC
    sign = -1 if suffix[0] == "-" else 1
    digits = suffix[1:].replace(":", "")
    hours, minutes = int(digits[:2]), int(digits[2:])
    if hours > 23 or minutes > 59:
        raise ValueError(f"{suffix!r} is not a UTC offset")
    return text[: match.start()], timezone(sign * timedelta(hours=hours, minutes=minutes))


def combine(
    day_text: str, time_text: str | None, fallback: tzinfo, *, end_of_day: bool = False
) -> datetime:
    """A date and an optional time, each maybe with an offset, as an aware UTC datetime.

    The time's offset wins over the date's; with neither, `fallback` (the buyer's zone)
    applies. A date without a time is its first second, or its last with `end_of_day`.
    Raises ValueError when either part is not a date or time.
    """
    day_part, day_zone = split_offset(day_text)
    day = date.fromisoformat(day_part) if "-" in day_part else _compact_date(day_part)
    zone = day_zone or fallback
    if time_text and time_text.strip():
        time_part, time_zone = split_offset(time_text)
        moment = time.fromisoformat(time_part)
        zone = time_zone or zone
    else:
        moment = time(23, 59, 59) if end_of_day else time()
    return datetime.combine(day, moment, tzinfo=zone).astimezone(UTC)


def _compact_date(text: str) -> date:
    # R2.0.9 writes "20200508".
    if len(text) != 8 or not text.isdigit():
        raise ValueError(f"{text!r} is not a date")
    return date(int(text[:4]), int(text[4:6]), int(text[6:]))
