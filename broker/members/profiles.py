"""Members' capability profiles: checking what was entered, and saving it."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

import matchers
from broker.errors import FieldError, InvalidFields
from broker.matching.cache import MatcherCache
from broker.matching.store import MatchResult, match_members
from broker.models import Member
from broker.models.members import FREQUENCIES

# What matching reads: changing any of these re-matches the member.
PROFILE_FIELDS = (
    "keywords",
    "exclude",
    "cpv",
    "regions",
    "min_value",
    "max_value",
    "supported_business",
)


EMAIL = re.compile(r"^[^@\s;,]+@[^@\s;,]+\.[^@\s;,]+$")


# A website as the public page links to it: http(s) only, so no "javascript:" link.
WEBSITE = re.compile(r"^https?://[^\s/$.?#<>\"']+\.[^\s<>\"']+$", re.IGNORECASE)


TRUE = {"yes", "y", "true", "1"}


FALSE = {"no", "n", "false", "0", ""}


@dataclass(frozen=True)
class ProfileInput:
    """A member's details, checked and normalised, ready to save."""

    name: str
    emails: list[str]
    description: str = ""
    keywords: list[str] = field(default_factory=list)
    exclude: list[str] = field(default_factory=list)
    cpv: list[str] = field(default_factory=list)
    regions: list[str] = field(default_factory=list)
    min_value: float | None = None
    max_value: float | None = None
    supported_business: bool = False
    vcse: bool = True
    sme: bool = True
    frequency: str = "weekly"
    # In the network's public directory (the member's choice), and the website shown there.
    listed: bool = False
    website: str | None = None


class InvalidProfile(InvalidFields, ValueError):
    """Raised by `parse_profile` with every problem found, not just the first."""


def split_list(cell: str | None) -> list[str]:
    """A ';'-separated cell as a list of trimmed, non-empty, de-duplicated items."""
    seen: dict[str, None] = {}
    for item in (cell or "").split(";"):
        item = " ".join(item.split())
        if item and item.casefold() not in {s.casefold() for s in seen}:
            seen[item] = None
    return list(seen)


def parse_profile(raw: Mapping[str, Any]) -> ProfileInput:
    """Check text fields (from a CSV row or a form) and build a ProfileInput.

    Raises InvalidProfile listing every bad field.
    """
    errors: list[FieldError] = []
    name = " ".join(str(raw.get("name") or "").split())
    if not name:
        errors.append(FieldError("name", "is required"))
    elif len(name) > 300:
        errors.append(FieldError("name", "is longer than 300 characters"))
    emails = [e.lower() for e in split_list(str(raw.get("email") or "").replace(",", ";"))]
    if not emails:
        errors.append(FieldError("email", "needs at least one address"))
    for email in emails:
        if not EMAIL.match(email):
            errors.append(FieldError("email", f"'{email}' is not an e-mail address"))
    keywords = split_list(raw.get("keywords"))
    cpv = split_list(raw.get("cpv"))
    for code in cpv:
        try:
            matchers.profile_from_json({"id": "check", "cpv": [code]})
        except matchers.MatcherError:
            errors.append(FieldError("cpv", f"'{code}' is not a CPV code (2 to 8 digits)"))
    if not keywords and not cpv:
        errors.append(FieldError("keywords", "give at least one keyword or a CPV code"))
    regions = split_list(raw.get("regions"))
    for region in regions:
        try:
            matchers.resolve_area(region)
        except matchers.AreaError as exc:
            errors.append(FieldError("regions", str(exc)))
    min_value = _amount(raw.get("min_value"), "min_value", errors)
    max_value = _amount(raw.get("max_value"), "max_value", errors)
    if min_value is not None and max_value is not None and min_value > max_value:
        errors.append(FieldError("max_value", "is smaller than min_value"))
    frequency = str(raw.get("frequency") or "weekly").strip().lower()
    if frequency not in FREQUENCIES:
        errors.append(FieldError("frequency", f"must be one of {', '.join(FREQUENCIES)}"))
    flags = {
        key: _flag(raw.get(key), key, default, errors)
        for key, default in (
            ("supported_business", False),
            ("vcse", True),
            ("sme", True),
            ("listed", False),
        )
    }
    website = _website(raw.get("website"), errors)
    if errors:
        raise InvalidProfile(errors)
    return ProfileInput(
        name=name,
        emails=emails,
        description=str(raw.get("description") or "").strip(),
        keywords=keywords,
        exclude=split_list(raw.get("exclude")),
        cpv=cpv,
        regions=regions,
        min_value=min_value,
        max_value=max_value,
        frequency=frequency,
        website=website,
        **flags,
    )


def _website(value: Any, errors: list[FieldError]) -> str | None:
    text = str(value or "").strip()
    if not text:
        return None
    if "://" not in text:
        text = "https://" + text  # "www.example.org" as people write it
    if len(text) > 500 or not WEBSITE.match(text):
        errors.append(FieldError("website", f"'{value}' is not a website address"))
        return None
    return text


def _amount(value: Any, name: str, errors: list[FieldError]) -> float | None:
    text = str(value or "").strip().replace(",", "").lstrip("£")
    if not text:
        return None
    try:
        amount = float(text)
    except ValueError:
        errors.append(FieldError(name, f"'{value}' is not an amount in pounds"))
        return None
    if amount < 0 or amount != amount or amount in (float("inf"), float("-inf")):
        errors.append(FieldError(name, f"'{value}' is not an amount in pounds"))
        return None
    return amount


def _flag(value: Any, name: str, default: bool, errors: list[FieldError]) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value if value is not None else "").strip().lower()
    if text == "":
        return default
    if text in TRUE:
        return True
    if text in FALSE:
        return False
    errors.append(FieldError(name, f"'{value}' should be yes or no"))
    return default


def find_member(session: Session, name: str) -> Member | None:
    """The member with this name, ignoring case."""
    return session.scalars(select(Member).where(func.lower(Member.name) == name.lower())).first()


def draft(profile: ProfileInput, member: Member | None = None) -> Member:
    """A member as `profile` describes it, never added to a session (so never saved):
    "Test this profile" scores it. It keeps the id of the member being edited, if any."""
    return Member(id=member.id if member else 0, **asdict(profile))


def save_member(
    session: Session, profile: ProfileInput, now: datetime, member: Member | None = None
) -> tuple[Member, bool]:
    """Create or update a member; returns it and whether its matching profile changed."""
    values = asdict(profile)
    if member is None:
        member = Member(created_at=now, active=True, **values)
        member.updated_at = member.profile_changed_at = now
        session.add(member)
        session.flush()
        return member, True
    changed = any(getattr(member, f) != values[f] for f in PROFILE_FIELDS)
    edited = any(getattr(member, k) != v for k, v in values.items())
    for key, value in values.items():
        setattr(member, key, value)
    if edited:
        member.updated_at = now
    if changed:
        member.profile_changed_at = now
    session.flush()
    return member, changed


def save_profile(
    session: Session,
    profile: ProfileInput,
    cache: MatcherCache,
    now: datetime,
    member: Member | None = None,
) -> tuple[Member, MatchResult | None]:
    """Create or update a member and, if what matching reads changed, re-match it now.

    Raises InvalidProfile when another member already has the name.
    """
    other = find_member(session, profile.name)
    if other is not None and other is not member:
        raise InvalidProfile([FieldError("name", f"another member is called '{other.name}'")])
    member, changed = save_member(session, profile, now, member)
    if not changed:
        return member, None
    return member, match_members(session, [member.id], cache, now)
