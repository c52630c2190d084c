"""OCDS releases -> `Notice`: the mapping shared by every OCDS source and file import."""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Sequence
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

from feeds import tender as parts
from feeds.codes import (
    merge_key_for_ocid,
    merge_key_in_link,
    merge_keys_in_text,
    publisher_for_ocid,
)
from feeds.dates import parse_datetime
from feeds.errors import RecordError
from feeds.text import clean_text, mentions_community_benefits
from feeds.types import Notice

__all__ = [
    "compile_releases",
    "notice_from_release",
    "notice_from_releases",
    "publisher_for_ocid",
]

SCHEMA = Path(__file__).parent / "data" / "ocds-release-schema-1.1.5.json"
FTS_NOTICE_URL = "https://www.find-tender.service.gov.uk/Notice/{}"

_NOTICE_DOCUMENTS = frozenset(
    {
        "contractNotice",
        "tenderNotice",
        "awardNotice",
        "contractAwardNotice",
        "marketEngagementNotice",
        "plannedProcurementNotice",
        "priorInformationNotice",
    }
)
# When one release carries several tags, the furthest stage names it.
_STAGE_RANK = {"pipeline": 0, "tender": 1, "amendment": 2, "award": 3}


def notice_from_release(
    release: Any, *, source: str | None = None, notice_type: str | None = None
) -> Notice:
    """Map one OCDS release (or compiled release) to a `Notice`; raise RecordError if unusable."""
    if not isinstance(release, dict):
        raise RecordError(f"release is a {type(release).__name__}, not an object")
    ocid = release.get("ocid")
    if not isinstance(ocid, str) or not ocid.strip():
        raise RecordError("release has no ocid")
    ocid = ocid.strip()
    tender = release.get("tender")
    if tender is None:
        tender = {}
    elif not isinstance(tender, dict):
        raise RecordError(f"tender is a {type(tender).__name__}, not an object")
    title = tender.get("title") or release.get("title")
    if not isinstance(title, str) or not (title := clean_text(title)):
        raise RecordError("release has no title (tender.title or title)")

    problems: list[str] = []
    release_id = release.get("id")
    release_id = str(release_id) if release_id is not None else None
    publisher = source or publisher_for_ocid(ocid)
    items = _list(tender, "items", "tender.items", problems)
    item_codes = [parts.item_cpv_codes(item) for item in items]
    lots_raw = _list(tender, "lots", "tender.lots", problems)
    lots = parts.build_lots(lots_raw, items, item_codes, problems)
    release_description = release.get("description")
    release_description = release_description if isinstance(release_description, str) else ""
    tender_description = clean_text(tender.get("description"))
    reserved_kinds = parts.reserved_kinds(tender, lots_raw)
    release_date = _datetime(release.get("date"), "date", problems)
    published = tender.get("datePublished")
    tender_period = tender.get("tenderPeriod")
    deadline = tender_period.get("endDate") if isinstance(tender_period, dict) else None
    suitability = tender.get("suitability")
    suitability = suitability if isinstance(suitability, dict) else {}
    regions, place = parts.locations(items)

    return Notice(
        source=publisher,
        source_id=ocid,
        title=title,
        description=parts.full_description(tender_description, lots),
        url=_notice_url(release, tender, publisher, release_id),
        buyer=_buyer(release),
        cpv=parts.cpv_codes(tender, item_codes),
        regions=regions,
        place=place,
        value=parts.money(tender.get("value"), tender.get("minValue"), "tender.value", problems),
        published=_datetime(published, "tender.datePublished", problems) or release_date,
        deadline=_datetime(deadline, "tender.tenderPeriod.endDate", problems, end_of_day=True),
        procedure=parts.text_or_none(tender.get("procurementMethodDetails"))
        or parts.text_or_none(tender.get("procurementMethod")),
        notice_type=notice_type or _notice_type(release),
        status=parts.text_or_none(tender.get("status")),
        lots=lots,
        reserved=bool(reserved_kinds),
        reserved_kinds=reserved_kinds,
        sme=_flag(suitability.get("sme")),
        vcse=_flag(suitability.get("vcse")),
        community_benefits=mentions_community_benefits(
            release_description,
            tender_description,
            parts.text_or_none(tender.get("awardCriteriaDetails")),
            *(lot.description for lot in lots),
            *parts.award_criteria_texts(lots_raw),
        ),
        merge_keys=_merge_keys(ocid, release, release_description, tender_description),
        problems=tuple(problems),
        release_id=release_id,
        release_date=release_date,
        raw=release,
    )


def notice_from_releases(
    releases: Sequence[Any], *, source: str | None = None, notice_type: str | None = None
) -> Notice:
    """Compile several releases of one ocid and map the result; the latest release names it."""
    if len(releases) == 1:
        return notice_from_release(releases[0], source=source, notice_type=notice_type)
    if not all(isinstance(r, dict) for r in releases):
        raise RecordError("a release of this ocid is not an object")
    ordered = _by_date(releases)
    latest = ordered[-1]
    compiled = compile_releases(ordered)
    # The compiled release says tag "compiled" and has a made-up id; the notice is named
    # after the latest real release and keeps the releases themselves as its raw payload,
    # so that a later release can be compiled with them again.
    named = {**compiled, **{k: latest[k] for k in ("id", "date", "tag") if k in latest}}
    notice = notice_from_release(named, source=source, notice_type=notice_type)
    return dataclasses.replace(notice, raw=list(ordered))


def compile_releases(releases: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Merge releases of one ocid into a compiled release (OCDS merge rules, offline schema).

    One release is returned as it is. If ocdsmerge cannot merge them, the latest release
    (by `date`) is returned instead.
    """
    if len(releases) == 1:
        return releases[0]
    ordered = _by_date(releases)
    # Imported here: ocdsmerge pulls in requests and jsonref, needed only for merges.
    from ocdsmerge import CompiledRelease

    try:
        merged = CompiledRelease(merge_rules=_merge_rules())
        with warnings.catch_warnings():
            # Duplicate ids inside an array are common and harmless for our fields.
            warnings.simplefilter("ignore")
            for release in ordered:
                merged.append(release)
        return merged.asdict()
    except Exception:  # ocdsmerge raises many types on odd data; the latest release will do
        return ordered[-1]


@cache
def _merge_rules() -> dict[tuple[str, ...], str]:
    from ocdsmerge.rules import get_merge_rules

    return get_merge_rules(str(SCHEMA))


def _by_date(releases: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Sort releases oldest first by their real instant (strings with offsets don't sort)."""

    def key(release: dict[str, Any]) -> tuple[int, float, str]:
        value = release.get("date")
        try:
            return (1, parse_datetime(value).timestamp(), str(value))
        except ValueError:
            return (0, 0.0, str(value))

    return sorted(releases, key=key)


def _list(parent: dict[str, Any], key: str, path: str, problems: list[str]) -> list[Any]:
    value = parent.get(key)
    if value is None:
        return []
    if isinstance(value, list):
        return value
    problems.append(f"{path} is a {type(value).__name__}, not a list")
    return []


def _flag(value: Any) -> bool | None:
    return value if isinstance(value, bool) else None


def _datetime(
    value: Any, path: str, problems: list[str], *, end_of_day: bool = False
) -> datetime | None:
    if value is None or value == "":
        return None
    try:
        return parse_datetime(value, end_of_day=end_of_day)
    except (ValueError, TypeError, OverflowError):
        problems.append(f"{path} {value!r} is not a date")
        return None


def _notice_url(
    release: dict[str, Any], tender: dict[str, Any], publisher: str, release_id: str | None
) -> str | None:
    if publisher == "find_a_tender" and release_id:
        return FTS_NOTICE_URL.format(release_id)
    planning = release.get("planning")
    sources = [tender.get("documents")]
    if isinstance(planning, dict):
        sources.append(planning.get("documents"))
    awards = release.get("awards")
    if isinstance(awards, list):
        sources.extend(a.get("documents") for a in awards if isinstance(a, dict))
    for documents in sources:
        if not isinstance(documents, list):
            continue
        for document in documents:
            if (
                isinstance(document, dict)
                and document.get("documentType") in _NOTICE_DOCUMENTS
                and isinstance(url := document.get("url"), str)
            ):
                return url
    return _canonical_link(release)


def _canonical_link(release: dict[str, Any]) -> str | None:
    links = release.get("links")
    if isinstance(links, list):
        for link in links:
            if isinstance(link, dict) and link.get("rel") == "canonical":
                href = link.get("href")
                if isinstance(href, str):
                    return href
    return None


def _buyer(release: dict[str, Any]) -> str | None:
    buyer = release.get("buyer")
    buyer = buyer if isinstance(buyer, dict) else {}
    if name := parts.text_or_none(buyer.get("name")):
        return clean_text(name)
    parties = release.get("parties")
    if not isinstance(parties, list):
        return None
    buyer_id = buyer.get("id")
    for party in parties:
        if not isinstance(party, dict):
            continue
        roles = party.get("roles")
        is_buyer = (buyer_id is not None and party.get("id") == buyer_id) or (
            isinstance(roles, list) and "buyer" in roles
        )
        if is_buyer and (name := parts.text_or_none(party.get("name"))):
            return clean_text(name)
    return None


def _notice_type(release: dict[str, Any]) -> str:
    tags = release.get("tag")
    if isinstance(tags, str):
        tags = [tags]
    best: str | None = None
    if isinstance(tags, list):
        for tag in tags:
            kind = _tag_type(tag) if isinstance(tag, str) else None
            if kind and (best is None or _STAGE_RANK[kind] > _STAGE_RANK[best]):
                best = kind
    if best is None:
        # A compiled release says "compiled": go by the furthest stage it holds.
        if release.get("awards") or release.get("contracts"):
            return "award"
        if not release.get("tender") and release.get("planning"):
            return "pipeline"
        return "tender"
    return best


def _tag_type(tag: str) -> str | None:
    if tag.startswith("planning"):
        return "pipeline"
    if tag == "tender":
        return "tender"
    if tag.startswith("tender"):
        return "amendment"  # tenderAmendment, tenderUpdate, tenderCancellation
    if tag.startswith(("award", "contract", "implementation")):
        return "award"
    return None


def _merge_keys(
    ocid: str, release: dict[str, Any], release_description: str, tender_description: str
) -> tuple[str, ...]:
    keys: dict[str, None] = {}
    if own := merge_key_for_ocid(ocid):
        keys[own] = None
    links = release.get("links")
    if isinstance(links, list):
        for link in links:
            if isinstance(link, dict) and link.get("rel") == "canonical":
                href = link.get("href")
                if isinstance(href, str) and (key := merge_key_in_link(href)):
                    keys[key] = None
    for text in (release_description, tender_description):
        keys.update(dict.fromkeys(merge_keys_in_text(text)))
    return tuple(keys)
