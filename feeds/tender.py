"""The parts of an OCDS tender: value, lots, CPV codes, places, reservations."""

from __future__ import annotations

import math
from decimal import Decimal
from typing import Any

from feeds.codes import cpv_code, is_nuts
from feeds.text import clean_text, distinct_places
from feeds.types import Lot, Money

# Below this length the tender summary is padded with lot descriptions (PCS keeps its
# long text there); above it the summary is enough and lots stay in `Notice.lots`.
SHORT_DESCRIPTION = 1000
MAX_DESCRIPTION = 20_000
MAX_PLACES = 10

# Reserved-participation codes that mean "for social enterprises and the like":
# supported businesses (reg. 20 PCR 2015), SME/VCSE reservations (Procurement Act 2023),
# and public-service mutuals (reg. 77).
RESERVED_KINDS = ("shelteredWorkshop", "smeVcse", "publicService")


def text_or_none(value: Any) -> str | None:
    """A stripped non-empty string, or None."""
    if isinstance(value, str):
        value = value.strip()
        return value or None
    return None


def parse_amount(value: Any, path: str, problems: list[str]) -> float | None:
    """A finite, non-negative amount, or None with a note in `problems`."""
    if value is None:
        return None
    number: float | None = None
    try:
        if isinstance(value, int | float | Decimal) and not isinstance(value, bool):
            number = float(value)
        elif isinstance(value, str):
            number = float(value.replace(",", "").strip())
    except (ValueError, OverflowError):  # not a number, or an integer too big for a float
        number = None
    if number is None or not math.isfinite(number) or number < 0:
        problems.append(f"{path} {value!r} is not a usable amount")
        return None
    return number


def money(value: Any, minimum: Any, path: str, problems: list[str]) -> Money | None:
    """A Money from an OCDS Value (and minValue for a range), or None if it has no amount."""
    if not isinstance(value, dict) and not isinstance(minimum, dict):
        return None
    value = value if isinstance(value, dict) else {}
    amount = parse_amount(value.get("amount"), f"{path}.amount", problems)
    currency = text_or_none(value.get("currency"))
    low = None
    if isinstance(minimum, dict):
        low = parse_amount(minimum.get("amount"), "tender.minValue.amount", problems)
        currency = currency or text_or_none(minimum.get("currency"))
    if amount is None and low is None:
        return None
    # Contracts Finder publishes a range as minValue .. value.
    return Money(amount, currency, low, amount if low is not None else None)


def full_description(summary: str, lots: tuple[Lot, ...]) -> str:
    """The tender summary, padded with lot texts that add to it when it is short."""
    if len(summary) >= SHORT_DESCRIPTION or not lots:
        return summary
    parts = [summary] if summary else []
    for lot in lots:
        text = lot.description
        if not text or any(text in part for part in parts):
            continue
        # A lot text that contains a part (often the summary itself) replaces it.
        for i, part in enumerate(parts):
            if part in text:
                parts[i] = text
                break
        else:
            parts.append(text)
        if sum(map(len, parts)) > MAX_DESCRIPTION:
            break
    return "\n\n".join(dict.fromkeys(parts))


def cpv_codes(tender: dict[str, Any], codes_per_item: list[list[str]]) -> tuple[str, ...]:
    """CPV codes of the tender, main first, then additional and item codes, no repeats."""
    codes: dict[str, None] = {}
    if main := cpv_code(tender.get("classification")):
        codes[main] = None
    extra = tender.get("additionalClassifications")
    if isinstance(extra, list):
        codes.update(dict.fromkeys(c for c in map(cpv_code, extra) if c))
    for found in codes_per_item:
        codes.update(dict.fromkeys(found))
    return tuple(codes)


def item_cpv_codes(item: Any) -> list[str]:
    """CPV codes of one item (classification, then additionalClassifications)."""
    if not isinstance(item, dict):
        return []
    codes = [cpv_code(item.get("classification"))]
    extra = item.get("additionalClassifications")
    if isinstance(extra, list):
        codes.extend(map(cpv_code, extra))
    return [c for c in codes if c]


def locations(items: list[Any]) -> tuple[tuple[str, ...], str | None]:
    """NUTS codes and a "; "-joined place text from the items' delivery locations."""
    regions: dict[str, None] = {}
    places: list[str] = []

    def add_place(text: Any) -> None:
        if isinstance(text, str) and (cleaned := clean_text(text)):
            # One line per place: address lines become comma-separated.
            lines = (line.strip(" ,") for line in cleaned.split("\n"))
            places.append(", ".join(line for line in lines if line))

    for item in items:
        if not isinstance(item, dict):
            continue
        location = item.get("deliveryLocation")
        if isinstance(location, dict):
            add_place(location.get("description"))
        addresses = item.get("deliveryAddresses")
        if not isinstance(addresses, list):
            continue
        for address in addresses:
            if not isinstance(address, dict):
                continue
            region = address.get("region")
            if isinstance(region, str) and (region := region.strip()):
                if is_nuts(region):
                    regions[region] = None
                else:
                    add_place(region)
            add_place(address.get("locality"))
    place = "; ".join(distinct_places(places)[:MAX_PLACES]) or None
    return tuple(regions), place


def build_lots(
    raw_lots: list[Any], items: list[Any], codes_per_item: list[list[str]], problems: list[str]
) -> tuple[Lot, ...]:
    """One Lot per tender lot, with the CPV codes of the items related to it."""
    if not raw_lots:
        return ()
    codes_by_lot: dict[str, dict[str, None]] = {}
    for item, found in zip(items, codes_per_item, strict=True):
        if isinstance(item, dict) and item.get("relatedLot") is not None:
            codes_by_lot.setdefault(str(item["relatedLot"]), {}).update(dict.fromkeys(found))
    result = []
    for i, lot in enumerate(raw_lots):
        if not isinstance(lot, dict):
            problems.append(f"tender.lots[{i}] is a {type(lot).__name__}, not an object")
            continue
        lot_id = str(lot["id"]) if lot.get("id") is not None else None
        title = lot.get("title")
        title = clean_text(title) if isinstance(title, str) else ""
        description = lot.get("description")
        result.append(
            Lot(
                id=lot_id,
                title=title or (f"Lot {lot_id}" if lot_id else ""),
                description=clean_text(description) if isinstance(description, str) else "",
                cpv=tuple(codes_by_lot.get(lot_id, ())) if lot_id else (),
                value=money(lot.get("value"), None, f"tender.lots[{i}].value", problems),
                reserved=bool(reserved_codes(lot)),
            )
        )
    return tuple(result)


def reserved_codes(owner: dict[str, Any]) -> list[str]:
    """The social reservation codes in an owner's otherRequirements.reservedParticipation."""
    other = owner.get("otherRequirements")
    codes = other.get("reservedParticipation") if isinstance(other, dict) else None
    if not isinstance(codes, list):
        return []
    return [c for c in codes if c in RESERVED_KINDS]


def reserved_kinds(tender: dict[str, Any], lots: list[Any]) -> tuple[str, ...]:
    """Reservation codes of the tender and of any of its lots."""
    kinds = dict.fromkeys(reserved_codes(tender))
    for lot in lots:
        if isinstance(lot, dict):
            kinds.update(dict.fromkeys(reserved_codes(lot)))
    return tuple(kinds)


def award_criteria_texts(lots: list[Any]) -> list[str]:
    """Names and descriptions of the lots' award criteria."""
    texts: list[str] = []
    for lot in lots:
        criteria = lot.get("awardCriteria") if isinstance(lot, dict) else None
        criteria = criteria.get("criteria") if isinstance(criteria, dict) else None
        if isinstance(criteria, list):
            for criterion in criteria:
                if isinstance(criterion, dict):
                    texts.extend(
                        v
                        for v in (criterion.get("name"), criterion.get("description"))
                        if isinstance(v, str)
                    )
    return texts
