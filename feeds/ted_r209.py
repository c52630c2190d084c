"""TED export XML R2.0.9 (TED_EXPORT with an F01..F25 form) -> `Notice`.

Dates in these forms carry no zone. A deadline is read as local time in the buyer's
country (ISO_COUNTRY, e.g. "UK" -> Europe/London), which is how buyers fill in the
form; an unknown country falls back to Brussels time, the Official Journal's own.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

from feeds import ted
from feeds import tender as parts
from feeds.codes import cpv_code, merge_keys_in_text
from feeds.errors import RecordError
from feeds.safe_xml import Element, local_name, text_of
from feeds.text import clean_text, distinct_places, mentions_community_benefits
from feeds.types import Lot, Money, Notice

ROOT = "TED_EXPORT"

# Form -> notice type. F21-F23 (social and other specific services) say it in NOTICE/@TYPE.
_FORM_TYPES = {
    "F01": "pipeline", "F02": "tender", "F03": "award", "F04": "pipeline",
    "F05": "tender", "F06": "award", "F07": "tender", "F08": "pipeline",
    "F12": "tender", "F13": "award", "F14": "amendment", "F15": "award",
    "F16": "pipeline", "F17": "tender", "F18": "award", "F19": "tender",
    "F20": "amendment", "F24": "tender", "F25": "award",
}  # fmt: skip
# TD_DOCUMENT_TYPE codes, for forms not listed above.
_DOCUMENT_TYPES = {"0": "pipeline", "1": "amendment", "3": "tender", "7": "award", "V": "award"}


def is_r209(root: Element) -> bool:
    """Tell whether a parsed root is a TED export (R2.0.x) document."""
    return local_name(root.tag) == ROOT


def notice_from_r209(root: Element, *, raw: Any = None) -> Notice:
    """Map a TED_EXPORT document to a `Notice`; raise RecordError if it has no id or title."""
    if not is_r209(root):
        raise RecordError(f"root element {local_name(root.tag)!r} is not TED_EXPORT")
    doc = _Doc(root)
    problems: list[str] = []
    number = ted.publication_number(root.get("DOC_ID")) or ted.publication_number(
        doc.text("CODED_DATA_SECTION/NOTICE_DATA/NO_DOC_OJS")
    )
    if number is None:
        raise RecordError("TED export has no publication number (DOC_ID or NO_DOC_OJS)")
    form = _form(doc)
    country = doc.attr("CODED_DATA_SECTION/NOTICE_DATA/ISO_COUNTRY", "VALUE") or doc.attr(
        "CONTRACTING_BODY/ADDRESS_CONTRACTING_BODY/COUNTRY", "VALUE", within=form
    )
    zone = ted.zone_for_country(country)
    contract = doc.find_in(form, "OBJECT_CONTRACT")

    title = _paragraphs(doc.find_in(contract, "TITLE")) or _ml_title(doc)
    if not title:
        raise RecordError("TED export has no title (OBJECT_CONTRACT/TITLE or ML_TITLES)")
    summary = _paragraphs(doc.find_in(contract, "SHORT_DESCR"))
    extra = _paragraphs(doc.find_in(form, "COMPLEMENTARY_INFO/INFO_ADD"))
    objects = doc.find_all_in(contract, "OBJECT_DESCR")
    divided = doc.find_in(contract, "LOT_DIVISION") is not None or len(objects) > 1

    kinds = list(dict.fromkeys(_reserved_kinds(form)))
    lots = tuple(_lot(doc, o, i, bool(kinds), problems) for i, o in enumerate(objects, 1))
    codes = [c for c in (_cpv(doc.find_in(contract, "CPV_MAIN/CPV_CODE")),) if c]
    codes += [c for lot in lots for c in lot.cpv]
    if not codes:
        codes = [
            c for e in doc.find_all("CODED_DATA_SECTION/NOTICE_DATA/ORIGINAL_CPV") if (c := _cpv(e))
        ]
    texts = [summary, extra, *(lot.description for lot in lots)]
    published = _date(doc.text("CODED_DATA_SECTION/REF_OJS/DATE_PUB"), None, ted.BRUSSELS, problems)

    return Notice(
        source=ted.SOURCE,
        source_id=number,
        title=title,
        description=parts.full_description(summary, lots if divided else ()),
        url=ted.notice_url(number),
        buyer=_buyer(doc, form),
        cpv=tuple(dict.fromkeys(codes)),
        regions=_regions(doc, objects),
        place=_place(doc, objects),
        value=_contract_value(doc, contract, problems),
        published=published,
        deadline=_deadline(doc, form, zone, problems),
        procedure=clean_text(doc.text("CODED_DATA_SECTION/CODIF_DATA/PR_PROC")) or None,
        notice_type=_notice_type(doc, form),
        lots=lots if divided else (),
        reserved=bool(kinds),
        reserved_kinds=tuple(kinds),
        community_benefits=mentions_community_benefits(*texts),
        merge_keys=tuple(dict.fromkeys(k for t in texts for k in merge_keys_in_text(t))),
        problems=tuple(problems),
        release_id=doc.text("FORM_SECTION/NOTICE_UUID")
        or doc.text("TECHNICAL_SECTION/RECEPTION_ID")
        or None,
        release_date=published,
        raw=raw,
    )


class _Doc:
    """Paths in the document's own namespace (R2.0.9 has one; older exports have none)."""

    def __init__(self, root: Element):
        tag = root.tag if isinstance(root.tag, str) else ""
        self.root = root
        self.ns = tag[1:].partition("}")[0] if tag.startswith("{") else ""

    def path(self, path: str) -> str:
        if not self.ns:
            return path
        return "/".join(f"{{{self.ns}}}{step}" for step in path.split("/"))

    def find(self, path: str) -> Element | None:
        return self.root.find(self.path(path))

    def find_all(self, path: str) -> list[Element]:
        return self.root.findall(self.path(path))

    def find_in(self, parent: Element | None, path: str) -> Element | None:
        return parent.find(self.path(path)) if parent is not None else None

    def find_all_in(self, parent: Element | None, path: str) -> list[Element]:
        return parent.findall(self.path(path)) if parent is not None else []

    def text(self, path: str) -> str:
        element = self.find(path)
        return text_of(element).strip()

    def attr(self, path: str, name: str, *, within: Element | None = None) -> str | None:
        """An attribute of the element at `path` (from the root, or inside `within`)."""
        element = self.find(path) if within is None else self.find_in(within, path)
        value = element.get(name) if element is not None else None
        return value.strip() if value and value.strip() else None


def _form(doc: _Doc) -> Element | None:
    """The English form if there is one, else the original."""
    section = doc.find("FORM_SECTION")
    if section is None:
        return None
    forms = [child for child in section if local_name(child.tag) != "NOTICE_UUID"]
    for wanted in (("LG", "EN"), ("CATEGORY", "ORIGINAL")):
        for form in forms:
            if (form.get(wanted[0]) or "").upper() == wanted[1]:
                return form
    return forms[0] if forms else None


def _paragraphs(element: Element | None) -> str:
    if element is None:
        return ""
    paragraphs = [child for child in element if local_name(child.tag) == "P"]
    if not paragraphs:
        return clean_text(text_of(element))
    return "\n".join(t for p in paragraphs if (t := clean_text(text_of(p))))


def _ml_title(doc: _Doc) -> str:
    """The translated title block (country, town: CPV label), English first."""
    titles = doc.find_all("TRANSLATION_SECTION/ML_TITLES/ML_TI_DOC")
    original = doc.text("CODED_DATA_SECTION/NOTICE_DATA/LG_ORIG").upper()
    for language in ("EN", original):
        for block in titles:
            if (block.get("LG") or "").upper() == language:
                text = _paragraphs(doc.find_in(block, "TI_TEXT"))
                if text:
                    return text
    return ""


def _buyer(doc: _Doc, form: Element | None) -> str | None:
    name = clean_text(
        text_of(doc.find_in(form, "CONTRACTING_BODY/ADDRESS_CONTRACTING_BODY/OFFICIALNAME"))
    )
    if name:
        return name
    names = doc.find_all("TRANSLATION_SECTION/ML_AA_NAMES/AA_NAME")
    english = [n for n in names if (n.get("LG") or "").upper() == "EN"]
    for element in english + names:
        if name := clean_text(text_of(element)):
            return name
    return None


def _lot(doc: _Doc, element: Element, item: int, reserved: bool, problems: list[str]) -> Lot:
    number = clean_text(text_of(doc.find_in(element, "LOT_NO"))) or str(item)
    title = _paragraphs(doc.find_in(element, "TITLE"))
    codes = [c for e in doc.find_all_in(element, "CPV_ADDITIONAL/CPV_CODE") if (c := _cpv(e))]
    return Lot(
        id=number,
        title=title or f"Lot {number}",
        description=_paragraphs(doc.find_in(element, "SHORT_DESCR")),
        cpv=tuple(dict.fromkeys(codes)),
        value=_value(
            doc.find_in(element, "VAL_OBJECT"), f"OBJECT_DESCR[{item}].VAL_OBJECT", problems
        ),
        # The form reserves the whole contract: R2.0.9 has no per-lot reservation.
        reserved=reserved,
    )


def _cpv(element: Element | None) -> str | None:
    code = element.get("CODE") if element is not None else None
    return cpv_code({"scheme": "CPV", "id": code}) if code else None


def _regions(doc: _Doc, objects: list[Element]) -> tuple[str, ...]:
    """Where the work is done: notice and lot NUTS codes; the buyer's only if none."""
    coded = doc.find("CODED_DATA_SECTION/NOTICE_DATA")
    codes = [e.get("CODE") for e in _children(coded, "PERFORMANCE_NUTS")]
    codes += [e.get("CODE") for o in objects for e in _children(o, "NUTS")]
    if not any(codes):
        codes = [e.get("CODE") for e in _children(coded, "CA_CE_NUTS")]
    return tuple(dict.fromkeys(c.strip() for c in codes if c and c.strip()))


def _children(parent: Element | None, name: str) -> Iterator[Element]:
    # NUTS elements sit in the n2016 namespace (or, before 2016, the form's own).
    if parent is None:
        return iter(())
    return (child for child in parent if local_name(child.tag) == name)


def _place(doc: _Doc, objects: list[Element]) -> str | None:
    sites = [_paragraphs(doc.find_in(o, "MAIN_SITE")) for o in objects]
    unique = distinct_places(" ".join(s.split()) for s in sites if s)
    return "; ".join(unique[: parts.MAX_PLACES]) or None


def _value(element: Element | None, path: str, problems: list[str]) -> Money | None:
    if element is None:
        return None
    amount = parts.parse_amount(text_of(element).strip() or None, path, problems)
    return Money(amount, element.get("CURRENCY") or None) if amount is not None else None


def _contract_value(doc: _Doc, contract: Element | None, problems: list[str]) -> Money | None:
    for name in ("VAL_ESTIMATED_TOTAL", "VAL_TOTAL"):
        value = _value(doc.find_in(contract, name), f"OBJECT_CONTRACT.{name}", problems)
        if value is not None:
            return value
    low_high = doc.find_in(contract, "VAL_RANGE_TOTAL")
    if low_high is not None:
        low = _value(doc.find_in(low_high, "LOW"), "VAL_RANGE_TOTAL.LOW", problems)
        high = _value(doc.find_in(low_high, "HIGH"), "VAL_RANGE_TOTAL.HIGH", problems)
        if low or high:
            currency = low_high.get("CURRENCY") or None
            top = high.amount if high else None
            return Money(top, currency, low.amount if low else None, top)
    for element in doc.find_all("CODED_DATA_SECTION/NOTICE_DATA/VALUES/VALUE"):
        if element.get("TYPE") in ("ESTIMATED_TOTAL", "PROCUREMENT_TOTAL"):
            return _value(element, "NOTICE_DATA.VALUES.VALUE", problems)
    return None


def _deadline(doc: _Doc, form: Element | None, zone: Any, problems: list[str]) -> datetime | None:
    day = clean_text(text_of(doc.find_in(form, "PROCEDURE/DATE_RECEIPT_TENDERS")))
    clock = clean_text(text_of(doc.find_in(form, "PROCEDURE/TIME_RECEIPT_TENDERS")))
    if not day:
        coded = doc.text("CODED_DATA_SECTION/CODIF_DATA/DT_DATE_FOR_SUBMISSION")
        day, _, clock = coded.partition(" ")
    return _date(day, clock or None, zone, problems, end_of_day=True)


def _date(
    day: str, clock: str | None, zone: Any, problems: list[str], *, end_of_day: bool = False
) -> datetime | None:
    if not day:
        return None
    try:
        return ted.combine(day, clock, zone, end_of_day=end_of_day)
    except (ValueError, OverflowError):
        problems.append(f"date {day!r} {clock or ''} is not a date".replace("  ", " "))
        return None


def _reserved_kinds(form: Element | None) -> Iterator[str]:
    for element in form.iter() if form is not None else ():
        kind = ted.R209_RESERVED.get(local_name(element.tag))
        if kind:
            yield kind


def _notice_type(doc: _Doc, form: Element | None) -> str:
    code = (form.get("FORM") or "").upper() if form is not None else ""
    if code in ("F21", "F22", "F23"):
        kind = (doc.attr("NOTICE", "TYPE", within=form) or "").upper()
        if "AWARD" in kind:
            return "award"
        if kind.startswith(("PRI", "PER")):
            return "pipeline"
        return "tender"
    if code in _FORM_TYPES:
        return _FORM_TYPES[code]
    document_type = doc.attr("CODED_DATA_SECTION/CODIF_DATA/TD_DOCUMENT_TYPE", "CODE")
    return _DOCUMENT_TYPES.get(document_type or "", "tender")
