"""The listed members as the public sees them, and the directory's filters.

Only what a member agreed to show is ever read into a `PublicMember`: no e-mail address,
notes, answers or matches. The listed members are read once per change (`ListedCache`,
keyed on how many are listed and when one last changed), so a directory page costs one
small query however many members there are.
"""

from __future__ import annotations

import functools
import re
import threading
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

import matchers
from broker.formatting import money
from broker.models import Member
from broker.paging import Paged
from matchers.regions import council_areas

# The members the public may see: listed by their own choice, and still members.
LISTED = (Member.listed.is_(True), Member.active.is_(True))


@dataclass(frozen=True)
class PublicMember:
    """A listed member's public face: only what the directory shows."""

    id: int
    slug: str
    name: str
    description: str
    keywords: tuple[str, ...]
    # The areas served and the kinds of work (CPV labels), in words.
    areas: tuple[str, ...]
    kinds: tuple[str, ...]
    min_value: float | None
    max_value: float | None
    supported_business: bool
    vcse: bool
    sme: bool
    website: str | None
    # For the filters: council areas served (GSS codes; None: anywhere), CPV divisions.
    councils: frozenset[str] | None = field(repr=False, default=None)
    divisions: frozenset[str] = field(repr=False, default=frozenset())

    @property
    def sizes(self) -> str:
        """The contract sizes taken, in words."""
        low, high = self.min_value, self.max_value
        if low is None and high is None:
            return "Any size"
        if low is None:
            return f"Up to {money(high)}"
        if high is None:
            return f"From {money(low)}"
        return f"{money(low)} to {money(high)}"

    @property
    def statuses(self) -> list[str]:
        """Supported business, VCSE, SME: what the member is, in words."""
        return [
            words
            for flag, words in (
                (self.supported_business, "Supported business"),
                (self.vcse, "Voluntary, community or social enterprise (VCSE)"),
                (self.sme, "Small or medium-sized enterprise (SME)"),
            )
            if flag
        ]


@dataclass(frozen=True)
class Filters:
    """The directory's filters: a council area (GSS code), a CPV division, supported only."""

    area: str = ""
    work: str = ""
    supported: bool = False

    def admits(self, member: PublicMember) -> bool:
        """Whether a listed member passes every filter set."""
        if self.supported and not member.supported_business:
            return False
        if self.work and self.work not in member.divisions:
            return False
        return not self.area or member.councils is None or self.area in member.councils

    def args(self) -> dict[str, str]:
        """The filters as query arguments (the CSV link and the page links keep them)."""
        found = {"area": self.area, "work": self.work, "supported": "1" if self.supported else ""}
        return {k: v for k, v in found.items() if v}


def slug(name: str) -> str:
    """A member's name as it reads in its public address: "Clean Start Services" ->
    "clean-start-services"."""
    plain = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", plain.lower().replace("&", " and ")).strip("-") or "member"


@functools.cache
def _council_names() -> dict[str, str]:
    """Folded council name (and its short form: "Glasgow", "Edinburgh") -> GSS code."""
    names = {}
    for area in council_areas().values():
        names[_fold(area.name)] = area.gss_code
        names[_fold(re.sub(r"^City of | City$", "", area.name))] = area.gss_code
    return names


def _fold(text: str) -> str:
    return " ".join(re.findall(r"[a-z0-9]+", text.lower().replace("&", " and ")))


def council_for(text: str) -> str | None:
    """The council area (GSS code) a name or code stands for, if it is exactly one."""
    code = text.strip().upper()
    if code in council_areas():
        return code
    return _council_names().get(_fold(text))


def area_words(text: str) -> str:
    """An area as the member wrote it ("UKM82", "glasgow", "all of Scotland"), in words."""
    council = council_for(text)
    if council is not None:
        return council_areas()[council].name
    try:
        codes = matchers.resolve_area(text)
    except matchers.AreaError:
        return text
    if codes == {"UK"}:
        return "Anywhere in the UK"
    if codes == {"UKM"}:
        return "All of Scotland"
    return "; ".join(sorted(matchers.region_label(c) for c in codes))


def councils_served(regions: Iterable[str]) -> frozenset[str] | None:
    """The council areas a member's areas cover (None: no areas given, so anywhere).

    A council named is that council; a wider region (a NUTS code, "all of Scotland",
    "UK") covers every council with part of its area inside it.
    """
    regions = list(regions)
    if not regions:
        return None
    served: set[str] = set()
    for text in regions:
        council = council_for(text)
        if council is not None:
            served.add(council)
            continue
        try:
            codes = matchers.resolve_area(text)
        except matchers.AreaError:
            continue
        wide = {"UKM"} if "UK" in codes else codes
        served.update(
            area.gss_code
            for area in council_areas().values()
            if any(n.startswith(c) for n in area.nuts3 for c in wide)
        )
    return frozenset(served)


def kind_label(code: str) -> str:
    """A CPV code as the kind of work it names."""
    return matchers.cpv_label(code) or code


def public_member(member: Member) -> PublicMember:
    """What the directory may show of a listed member."""
    cpv = tuple(member.cpv or ())
    return PublicMember(
        id=member.id,
        slug=slug(member.name),
        name=member.name,
        description=member.description or "",
        keywords=tuple(member.keywords or ()),
        areas=tuple(area_words(r) for r in member.regions or ()),
        kinds=tuple(dict.fromkeys(kind_label(c) for c in cpv)),
        min_value=member.min_value,
        max_value=member.max_value,
        supported_business=bool(member.supported_business),
        vcse=bool(member.vcse),
        sme=bool(member.sme),
        website=member.website,
        councils=councils_served(member.regions or ()),
        divisions=frozenset(c[:2] for c in cpv),
    )


def listed_version(session: Session) -> tuple[Any, ...]:
    """What changes whenever the listed members do: how many, and the latest edit (a
    member listed or unlisted changes the count; any edit, the time)."""
    count, latest = session.execute(
        select(func.count(Member.id), func.max(Member.updated_at)).where(*LISTED)
    ).one()
    return count, latest


@dataclass(frozen=True)
class Listed:
    """Every listed member, by name, with what the filters offer."""

    version: tuple[Any, ...]
    members: tuple[PublicMember, ...]
    by_slug: dict[str, int]

    def find(self, key: str) -> int | None:
        """The member id a public address names: its id, or its name's slug."""
        return int(key) if key.isdigit() else self.by_slug.get(key)

    @functools.cached_property
    def by_profile(self) -> dict[str, PublicMember]:
        """Each member by its id as the engine's profiles carry it."""
        return {str(m.id): m for m in self.members}

    @functools.cached_property
    def areas(self) -> list[tuple[str, str]]:
        """(GSS code, name) of every council area some listed member serves, by name."""
        everywhere = any(m.councils is None for m in self.members)
        codes = set(council_areas()) if everywhere else set()
        for m in self.members:
            codes |= m.councils or set()
        return sorted(((c, council_areas()[c].name) for c in codes), key=lambda p: p[1])

    @functools.cached_property
    def kinds(self) -> list[tuple[str, str]]:
        """(division, label) of every CPV division some listed member works in, by label."""
        divisions = {d for m in self.members for d in m.divisions}
        return sorted(((d, kind_label(d + "000000")) for d in divisions), key=lambda p: p[1])

    def page(self, filters: Filters, number: int, size: int) -> Paged[PublicMember]:
        """One page of the members the filters admit."""
        found = [m for m in self.members if filters.admits(m)]
        number = min(max(1, number), max(1, -(-len(found) // size)))
        return Paged(found[(number - 1) * size : number * size], len(found), number, size)


def read_listed(session: Session, version: tuple[Any, ...]) -> Listed:
    """Read every listed member, by name (folded, as people read a list)."""
    rows = session.scalars(select(Member).where(*LISTED))
    members = sorted((public_member(m) for m in rows), key=lambda m: m.name.casefold())
    by_slug: dict[str, int] = {}
    for m in members:
        by_slug.setdefault(m.slug, m.id)
    return Listed(version, tuple(members), by_slug)


def listed_row(session: Session, member_id: int) -> Member | None:
    """A member the public may see, as stored: for the services that e-mail it, never for
    a page. Unlisted or unknown is None."""
    return session.scalar(select(Member).where(Member.id == member_id, *LISTED))


def listed_member(session: Session, member_id: int) -> PublicMember | None:
    """A listed member, read now (its page shows the latest): unlisted or unknown is None."""
    member = listed_row(session, member_id)
    return public_member(member) if member is not None else None


class ListedCache:
    """The listed members for this process, read again only when they change."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self._listed: Listed | None = None

    def listed(self, session: Session) -> Listed:
        """The listed members as they are now."""
        version = listed_version(session)
        with self.lock:
            if self._listed is None or self._listed.version != version:
                self._listed = read_listed(session, version)
            return self._listed
