"""Identifiers inside OCDS data: publishers by OCID prefix, CPV and NUTS codes, merge keys."""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

PUBLISHERS = {
    "ocds-r6ebe6": "pcs",
    "ocds-kuma6s": "sell2wales",
    "ocds-b5fd17": "contracts_finder",
    "ocds-h6vhtk": "find_a_tender",
}
# Merge keys name a notice on the publisher that first printed it (PCS, Sell2Wales),
# so a Find a Tender copy and the original meet on the same key.
_KEY_PREFIXES = {"ocds-r6ebe6": "pcs", "ocds-kuma6s": "s2w"}
_CANONICAL_OCID = re.compile(r"(ocds-r6ebe6|ocds-kuma6s)-0*(\d+)")
_TEXT_REF = re.compile(r"\((SC|WA) Ref:\s*0*(\d+)\)")
_TEXT_REF_KEYS = {"SC": "pcs", "WA": "s2w"}

# NUTS 2016 (and ITL "TL") codes: country, then up to three levels. Other countries'
# codes must have a digit at level 1 so that upper-case names ("WALES") are not taken.
_NUTS = re.compile(r"(?:UK|TL)[A-Z0-9]{0,3}|[A-Z]{2}[0-9][A-Z0-9]{0,2}")


def ocid_prefix(ocid: str) -> str:
    """Return the registered prefix of an OCID ("ocds-r6ebe6" for "ocds-r6ebe6-0000843372")."""
    first = ocid.find("-")
    second = ocid.find("-", first + 1) if first >= 0 else -1
    return ocid[:second] if second > 0 else ocid


def publisher_for_ocid(ocid: str) -> str:
    """Name the publisher of an OCID: "pcs", "sell2wales", ... or "ocds:<prefix>"."""
    prefix = ocid_prefix(ocid)
    return PUBLISHERS.get(prefix) or f"ocds:{prefix}"


def cpv_code(classification: Any) -> str | None:
    """Return the 8-digit CPV code of an OCDS Classification, or None if it is not one."""
    if not isinstance(classification, dict):
        return None
    scheme = classification.get("scheme")
    if scheme != "CPV" and (not isinstance(scheme, str) or scheme.strip().upper() != "CPV"):
        return None
    code = classification.get("id")
    if isinstance(code, int) and not isinstance(code, bool):
        # A number loses the leading zero of divisions 03..09.
        code = f"{code:08d}"
    return _cpv(code) if isinstance(code, str) else None


@lru_cache(maxsize=16384)
def _cpv(code: str) -> str | None:
    code = code.strip()
    if len(code) == 10 and code[8] == "-":
        code = code[:8]  # "45453100-7": drop the check digit
    if len(code) == 8 and code.isascii() and code.isdigit() and "03" <= code[:2] <= "98":
        return code
    return None


def is_nuts(region: str) -> bool:
    """Tell whether a region string is a NUTS/ITL code rather than a place name."""
    return _NUTS.fullmatch(region) is not None


def merge_key_for_ocid(ocid: str) -> str | None:
    """Return "pcs:843372" for "ocds-r6ebe6-0000843372" (and "s2w:N" for Sell2Wales)."""
    prefix = ocid_prefix(ocid)
    short = _KEY_PREFIXES.get(prefix)
    number = ocid[len(prefix) + 1 :]
    if short and number.isascii() and number.isdigit():
        return f"{short}:{int(number)}"
    return None


def merge_key_in_link(href: str) -> str | None:
    """Return the merge key of a PCS or Sell2Wales OCID named in a URL, if any."""
    match = _CANONICAL_OCID.search(href)
    if match is None:
        return None
    return f"{_KEY_PREFIXES[match.group(1)]}:{int(match.group(2))}"


def merge_keys_in_text(text: str) -> list[str]:
    """Return the keys of "(SC Ref:843372)" and "(WA Ref:NNN)" references in free text."""
    if "Ref:" not in text:
        return []
    return [f"{_TEXT_REF_KEYS[kind]}:{int(n)}" for kind, n in _TEXT_REF.findall(text)]
