"""TED eForms notices (UBL 2.3: ContractNotice, PriorInformationNotice...) -> `Notice`."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from feeds import ted
from feeds import tender as parts
from feeds.codes import cpv_code, merge_keys_in_text
from feeds.errors import RecordError
from feeds.safe_xml import Element, local_name
from feeds.text import clean_text, distinct_places, mentions_community_benefits
from feeds.types import Lot, Money, Notice

NS = {
    "cac": "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2",
    "cbc": "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2",
    "efac": "http://data.europa.eu/p27/eforms-ubl-extension-aggregate-components/1",
    "efbc": "http://data.europa.eu/p27/eforms-ubl-extension-basic-components/1",
    "efext": "http://data.europa.eu/p27/eforms-ubl-extensions/1",
    "ext": "urn:oasis:names:specification:ubl:schema:xsd:CommonExtensionComponents-2",
}
UBL_PREFIX = "urn:oasis:names:specification:ubl:schema:xsd:"
ROOTS = (
    "ContractNotice",
    "PriorInformationNotice",
    "ContractAwardNotice",
    "BusinessRegistrationInformationNotice",
)
_EXTENSION = "ext:UBLExtensions/ext:UBLExtension/ext:ExtensionContent/efext:EformsExtension"
# Lots and, in a prior information notice without a call, its "parts"; groups of lots
# (schemeName LotsGroup) repeat what their lots say.
_LOT_SCHEMES = ("Lot", "Part")
# Deadlines by preference: tenders, then requests to participate (restricted and
# negotiated procedures), then expressions of interest (a PIN used as a call).
_DEADLINES = (
    "cac:TenderingProcess/cac:TenderSubmissionDeadlinePeriod",
    "cac:TenderingProcess/cac:ParticipationRequestReceptionPeriod",
    f"cac:TenderingProcess/{_EXTENSION}/efac:InterestExpressionReceptionPeriod",
)
_RESERVED = ".//cbc:TendererRequirementTypeCode[@listName='reserved-procurement']"


def is_eforms(root: Element) -> bool:
    """Tell whether a parsed root is an eForms notice."""
    tag = root.tag if isinstance(root.tag, str) else ""
    return tag.startswith("{" + UBL_PREFIX) and local_name(tag) in ROOTS


def notice_from_eforms(root: Element, *, raw: Any = None) -> Notice:
    """Map an eForms notice to a `Notice`; raise RecordError if it has no title or id."""
    if not is_eforms(root):
        raise RecordError(f"root element {local_name(root.tag)!r} is not an eForms notice")
    problems: list[str] = []
    official = _text(root.find("cbc:NoticeLanguageCode", NS))
    languages = ted.language_order(official)
    extension = root.find(_EXTENSION, NS)
    organisations = _organisations(extension, languages)
    buyer_id, buyer_country = _buyer(root, organisations)
    zone = ted.zone_for_country(buyer_country)
    project = root.find("cac:ProcurementProject", NS)

    number = None
    published: datetime | None = None
    publication = extension.find("efac:Publication", NS) if extension is not None else None
    if publication is not None:
        number = ted.publication_number(_text(publication.find("efbc:NoticePublicationID", NS)))
        published = _moment(publication.find("efbc:PublicationDate", NS), None, zone, problems)
    notice_id = _text(root.find("cbc:ID", NS))
    version = _text(root.find("cbc:VersionID", NS))
    if number is None:
        if not notice_id:
            raise RecordError("eForms notice has neither a publication number nor an ID")
        # Not yet published (an SDK example or a draft): the notice UUID names it.
        problems.append("no TED publication number; named by its notice ID")
    issued = _moment(root.find("cbc:IssueDate", NS), root.find("cbc:IssueTime", NS), zone, [])

    title = clean_text(_localised(project, "cbc:Name", languages))
    if not title:
        raise RecordError("eForms notice has no title (ProcurementProject/Name)")
    summary = clean_text(_localised(project, "cbc:Description", languages))
    note = clean_text(_localised(project, "cbc:Note", languages))

    lots = []
    lot_cpv: list[str] = []
    lot_regions: list[str] = []
    lot_places: list[str] = []
    deadlines: list[datetime] = []
    kinds: dict[str, None] = dict.fromkeys(_reserved_codes(root.find("cac:TenderingTerms", NS)))
    for element in root.findall("cac:ProcurementProjectLot", NS):
        id_element = element.find("cbc:ID", NS)
        if id_element is None or id_element.get("schemeName", "Lot") not in _LOT_SCHEMES:
            continue
        lot, lot_kinds, deadline = _lot(element, languages, zone, problems)
        lots.append(lot)
        kinds.update(dict.fromkeys(lot_kinds))
        lot_cpv.extend(lot.cpv)
        lot_project = element.find("cac:ProcurementProject", NS)
        lot_regions.extend(_nuts(lot_project))
        lot_places.extend(_places(lot_project, languages))
        if deadline is not None:
            deadlines.append(deadline)

    value = _money(project, "cac:RequestedTenderTotal/cbc:EstimatedOverallContractAmount", problems)
    if value is None and len(lots) == 1:
        value = lots[0].value
    code = _text(root.find("cbc:NoticeTypeCode", NS))
    changed = extension is not None and extension.find("efac:Changes", NS) is not None
    places = distinct_places([*_places(project, languages), *lot_places])
    texts = [summary, note, *(lot.description for lot in lots)]
    return Notice(
        source=ted.SOURCE,
        source_id=number or notice_id,
        title=title,
        description=parts.full_description(summary, tuple(lots)),
        url=ted.notice_url(number) if number else None,
        buyer=organisations.get(buyer_id, (None, None))[0] if buyer_id else None,
        cpv=tuple(dict.fromkeys([*_cpv(project), *lot_cpv])),
        regions=tuple(dict.fromkeys([*_nuts(project), *lot_regions])),
        place="; ".join(places[: parts.MAX_PLACES]) or None,
        value=value,
        published=published or issued,
        deadline=min(deadlines) if deadlines else None,
        procedure=_procedure(root),
        notice_type="amendment" if changed else ted.notice_type(code),
        status=None,
        lots=tuple(lots),
        reserved=bool(kinds),
        reserved_kinds=tuple(kinds),
        community_benefits=mentions_community_benefits(*texts),
        merge_keys=tuple(dict.fromkeys(k for t in texts for k in merge_keys_in_text(t))),
        problems=tuple(problems),
        release_id=f"{notice_id}-{version}" if notice_id and version else notice_id or None,
        release_date=issued or published,
        raw=raw,
    )


def _lot(
    element: Element, languages: list[str], zone: Any, problems: list[str]
) -> tuple[Lot, list[str], datetime | None]:
    lot_id = _text(element.find("cbc:ID", NS)) or None
    project = element.find("cac:ProcurementProject", NS)
    kinds = _reserved_codes(element.find("cac:TenderingTerms", NS))
    deadline = None
    for path in _DEADLINES:
        period = element.find(path, NS)
        if period is not None:
            deadline = _moment(
                period.find("cbc:EndDate", NS),
                period.find("cbc:EndTime", NS),
                zone,
                problems,
                end_of_day=True,
            )
            if deadline is not None:
                break
    title = clean_text(_localised(project, "cbc:Name", languages))
    lot = Lot(
        id=lot_id,
        title=title or (f"Lot {lot_id}" if lot_id else ""),
        description=clean_text(_localised(project, "cbc:Description", languages)),
        cpv=tuple(_cpv(project)),
        value=_money(
            project, "cac:RequestedTenderTotal/cbc:EstimatedOverallContractAmount", problems
        ),
        reserved=bool(kinds),
    )
    return lot, kinds, deadline


def _organisations(
    extension: Element | None, languages: list[str]
) -> dict[str, tuple[str | None, str | None]]:
    """Organisation id -> (name, country code)."""
    found: dict[str, tuple[str | None, str | None]] = {}
    if extension is None:
        return found
    for company in extension.iterfind("efac:Organizations/efac:Organization/efac:Company", NS):
        org_id = _text(company.find("cac:PartyIdentification/cbc:ID", NS))
        if not org_id:
            continue
        name = clean_text(_localised(company, "cac:PartyName/cbc:Name", languages)) or None
        country = _text(company.find("cac:PostalAddress/cac:Country/cbc:IdentificationCode", NS))
        found.setdefault(org_id, (name, country or None))
    return found


def _buyer(
    root: Element, organisations: dict[str, tuple[str | None, str | None]]
) -> tuple[str | None, str | None]:
    """The first contracting party's organisation id and country."""
    for party in root.iterfind("cac:ContractingParty/cac:Party/cac:PartyIdentification/cbc:ID", NS):
        org_id = _text(party)
        if org_id in organisations:
            return org_id, organisations[org_id][1]
    return None, None


def _localised(parent: Element | None, path: str, languages: list[str]) -> str:
    """The text of `path` in the first language of `languages`, else the first one there."""
    if parent is None:
        return ""
    candidates = parent.findall(path, NS)
    if not candidates:
        return ""
    by_language = {(c.get("languageID") or "").lower(): c for c in candidates}
    for code in languages:
        if code in by_language:
            return _text(by_language[code])
    return _text(candidates[0])


def _cpv(project: Element | None) -> list[str]:
    if project is None:
        return []
    codes = []
    for path in ("cac:MainCommodityClassification", "cac:AdditionalCommodityClassification"):
        for element in project.iterfind(f"{path}/cbc:ItemClassificationCode", NS):
            if element.get("listName", "cpv") == "cpv":
                code = cpv_code({"scheme": "CPV", "id": _text(element)})
                if code:
                    codes.append(code)
    return codes


def _nuts(project: Element | None) -> list[str]:
    if project is None:
        return []
    return [
        code
        for element in project.iterfind(
            "cac:RealizedLocation/cac:Address/cbc:CountrySubentityCode", NS
        )
        if element.get("listName", "nuts") == "nuts" and (code := _text(element))
    ]


def _places(project: Element | None, languages: list[str]) -> list[str]:
    """Readable place names: a location's description, else its town."""
    if project is None:
        return []
    found = []
    for location in project.iterfind("cac:RealizedLocation", NS):
        text = clean_text(_localised(location, "cbc:Description", languages))
        text = text or _text(location.find("cac:Address/cbc:CityName", NS))
        if text:
            found.append(" ".join(text.split()))
    return found


def _money(parent: Element | None, path: str, problems: list[str]) -> Money | None:
    element = parent.find(path, NS) if parent is not None else None
    if element is None:
        return None
    amount = parts.parse_amount(_text(element), local_name(element.tag), problems)
    if amount is None:
        return None
    return Money(amount, element.get("currencyID") or None)


def _reserved_codes(terms: Element | None) -> list[str]:
    if terms is None:
        return []
    codes = (ted.EFORMS_RESERVED.get(_text(e)) for e in terms.iterfind(_RESERVED, NS))
    return list(dict.fromkeys(c for c in codes if c))


def _procedure(root: Element) -> str | None:
    code = _text(root.find("cac:TenderingProcess/cbc:ProcedureCode", NS))
    return ted.PROCEDURES.get(code, code) or None


def _moment(
    day: Element | None,
    clock: Element | None,
    zone: Any,
    problems: list[str],
    *,
    end_of_day: bool = False,
) -> datetime | None:
    day_text = _text(day)
    if not day_text:
        return None
    clock_text = _text(clock) or None
    try:
        return ted.combine(day_text, clock_text, zone, end_of_day=end_of_day)
    except (ValueError, OverflowError):
        shown = f"{day_text} {clock_text}" if clock_text else day_text
        problems.append(
            f"{local_name(day.tag) if day is not None else 'date'} {shown!r} is not a date"
        )
        return None


def _text(element: Element | None) -> str:
    if element is None or element.text is None:
        return ""
    return element.text.strip()
