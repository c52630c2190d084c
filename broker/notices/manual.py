"""Notices a coordinator enters by hand: Quick Quote invitations, sub-contract offers,
tips from buyers. They go through the harvest's own pipeline (de-duplicated, stored with
a history, matched), as source "manual".

The service takes plain values, so a form, or text extracted from a pasted notice or
a linked page (`extract`), can fill them in. Extracting only suggests: nothing is stored
until the coordinator has checked the form and saved it.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, time

from sqlalchemy import select
from sqlalchemy.orm import Session

import matchers
from broker.errors import FieldError, InvalidFields
from broker.formatting import LONDON
from broker.matching.cache import MatcherCache
from broker.matching.store import match_notices
from broker.models import Notice, NoticeSource
from broker.notices.storing import store_notices
from broker.triage.actions import record
from feeds.codes import merge_key_in_link, merge_keys_in_text
from feeds.extract import ExtractedFields, extract_from_page, extract_notice_fields
from feeds.types import Fetch, Money
from feeds.types import Notice as Harvested

SOURCE = "manual"
KINDS = {
    "quick_quote": "Quick Quote invitation",
    "subcontract": "Sub-contract offer",
    "buyer_tip": "Tip from a buyer",
    "other": "Other",
}
# Many Scottish tenders close at noon; used when the coordinator gives only a date.
DEFAULT_DEADLINE_TIME = time(12, 0)
CPV_CODE = re.compile(r"^(\d{2,8})(?:-\d)?$")


class InvalidEntry(InvalidFields):
    """Raised by `check_entry` with every problem found, each naming its field."""


@dataclass(frozen=True)
class ManualEntry:
    """What a coordinator knows about an opportunity, as plain values."""

    kind: str
    title: str
    buyer: str = ""
    description: str = ""
    deadline: datetime | None = None
    value: float | None = None
    cpv: tuple[str, ...] = ()
    areas: tuple[str, ...] = ()
    reserved: bool = False
    url: str | None = None
    # "buyer" for an opportunity a buyer sent through the network's public pages.
    source: str = SOURCE


@dataclass(frozen=True)
class ManualResult:
    """The stored notice, and whether the entry joined a notice already stored."""

    notice: Notice
    merged: bool
    matches: int


_SINGLE_URL = re.compile(r"https?://\S+")
# Words that say what kind of opportunity a pasted text is, tried in order.
_KIND_WORDS = (
    ("quick_quote", re.compile(r"\bquick\s*quote\b", re.IGNORECASE)),
    ("subcontract", re.compile(r"\bsub-?\s?contract", re.IGNORECASE)),
)


def is_link(text: str) -> bool:
    """Whether pasted text is just a web address (then the page is read, not the text)."""
    return bool(_SINGLE_URL.fullmatch(text.strip()))


def extract(text: str, fetch: Fetch | None = None) -> ExtractedFields:
    """Guess a notice's fields from pasted text, or from the page a pasted link names.

    `fetch` reads the page (the caller builds it with the configured limits); it raises
    feeds' FetchError when the page cannot be read.
    """
    text = text.strip()
    if is_link(text):
        if fetch is None:
            raise ValueError("reading a link needs a fetch")
        response = fetch.get(text)
        return extract_from_page(response.content, url=response.url, headers=response.headers)
    return extract_notice_fields(text)


def suggested_values(fields: ExtractedFields, text: str) -> dict[str, object]:
    """The Add a notice form's fields as the extracted values fill them in.

    CPV codes that are not real codes are left out rather than offered for saving.
    """
    values: dict[str, object] = {
        "title": fields.title or "",
        "buyer": fields.buyer or "",
        "description": fields.description,
        "url": fields.url or "",
    }
    for kind, words in _KIND_WORDS:
        if words.search(text) or (fields.description and words.search(fields.description)):
            values["kind"] = kind
            break
    if fields.deadline is not None:
        local = fields.deadline.astimezone(LONDON)
        values["deadline_date"] = local.date()
        values["deadline_time"] = local.time().replace(second=0, microsecond=0)
    if fields.value is not None and fields.value.amount is not None:
        amount = fields.value.amount
        values["value"] = f"{amount:.0f}" if amount == int(amount) else f"{amount:.2f}"
    codes = [code for code in fields.cpv if matchers.cpv_label(code) is not None]
    if codes:
        values["cpv"] = " ".join(codes)
    return values


def uk_deadline(day: date, at: time | None = None) -> datetime:
    """A deadline given as a UK date and optional time (default noon), in UTC."""
    local = datetime.combine(day, at or DEFAULT_DEADLINE_TIME, tzinfo=LONDON)
    return local.astimezone(UTC)


def split_items(text: str, separators: str = ";\n") -> tuple[str, ...]:
    """A typed list ("a; b" or one per line) as trimmed, non-empty, de-duplicated items."""
    items = re.split("[" + re.escape(separators) + "]", text or "")
    return tuple(dict.fromkeys(" ".join(i.split()) for i in items if i.strip()))


def cpv_codes(items: tuple[str, ...], errors: list[FieldError]) -> tuple[str, ...]:
    """CPV codes as 8 digits: a check digit dropped, a short code padded ("773" -> 77300000)."""
    codes = []
    for item in items:
        found = CPV_CODE.match(item.replace(" ", ""))
        code = found.group(1).ljust(8, "0") if found else ""
        if not code or matchers.cpv_label(code) is None:
            errors.append(FieldError("cpv", f"'{item}' is not a CPV code"))
        else:
            codes.append(code)
    return tuple(dict.fromkeys(codes))


def area_codes(items: tuple[str, ...], errors: list[FieldError]) -> tuple[str, ...]:
    """The NUTS codes of council areas, NUTS codes, "Scotland" or "UK"."""
    codes: set[str] = set()
    for item in items:
        try:
            codes |= matchers.resolve_area(item)
        except matchers.AreaError as exc:
            errors.append(FieldError("areas", str(exc)))
    return tuple(sorted(codes))


def check_entry(entry: ManualEntry, now: datetime) -> Harvested:
    """Validate an entry and build the notice the harvest pipeline stores, published `now`.

    Raises InvalidEntry listing every bad field.
    """
    errors: list[FieldError] = []
    title = " ".join(entry.title.split())
    if not title:
        errors.append(FieldError("title", "Enter a title"))
    if entry.kind not in KINDS:
        errors.append(FieldError("kind", f"Choose one of: {', '.join(KINDS.values())}"))
    if entry.value is not None and not 0 <= entry.value < 1e13:
        errors.append(FieldError("value", "Enter an amount in pounds"))
    url = (entry.url or "").strip() or None
    if url and not re.match(r"^https?://[^\s/]+\.[^\s]+$", url):
        errors.append(FieldError("url", "Enter a web address starting with https://"))
    cpv = cpv_codes(entry.cpv, errors)
    regions = area_codes(entry.areas, errors)
    if errors:
        raise InvalidEntry(errors)
    description = entry.description.strip()
    # A link or "(SC Ref:NNN)" naming a PCS or Sell2Wales notice joins that notice.
    keys = [merge_key_in_link(url)] if url else []
    keys += merge_keys_in_text(description)
    return Harvested(
        source=entry.source,
        source_id=str(uuid.uuid4()),
        title=title,
        description=description,
        url=url,
        buyer=" ".join(entry.buyer.split()) or None,
        cpv=cpv,
        regions=regions,
        place=", ".join(entry.areas) or None,
        value=Money(entry.value, "GBP") if entry.value is not None else None,
        # When the coordinator heard of it is when it was published, as far as we know.
        published=now,
        release_date=now,
        deadline=entry.deadline,
        procedure=KINDS[entry.kind] if entry.kind != "other" else None,
        notice_type="tender",
        reserved=entry.reserved,
        reserved_kinds=("shelteredWorkshop",) if entry.reserved else (),
        merge_keys=tuple(dict.fromkeys(k for k in keys if k)),
    )


def record_manual_notice(
    session: Session,
    entry: ManualEntry,
    cache: MatcherCache,
    user_id: int | None,
    now: datetime,
    logged: tuple[str, str] | None = None,
) -> ManualResult:
    """Store, de-duplicate and match a hand-entered notice, and log who entered it
    (`logged`: the notice page's activity line, as action and detail); flushes."""
    harvested = check_entry(entry, now)
    stored = store_notices(session, [harvested], now)
    notice_id = session.scalar(
        select(NoticeSource.notice_id).where(
            NoticeSource.source == harvested.source,
            NoticeSource.source_id == harvested.source_id,
        )
    )
    matched = match_notices(session, [notice_id], cache, now)
    notice = session.get(Notice, notice_id)
    session.refresh(notice)
    action, detail = logged or ("manual_entry", KINDS[entry.kind])
    record(session, notice, user_id, action, detail, now)
    session.flush()
    return ManualResult(notice=notice, merged=bool(stored.merged), matches=matched.stored)
