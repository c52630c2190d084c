"""The members' CSV format, shared by `broker members import/export` and the Members pages.

Columns: name,email,description,keywords,exclude,cpv,regions,min_value,max_value,
supported_business,frequency (optionally vcse, sme, listed and website). List cells are
separated by ";". A bad row is reported with its line and column; the good rows are kept.
A cell a spreadsheet would run as a formula is written with a leading apostrophe, which
the import drops again (broker.csv_cells).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import IO

from sqlalchemy import select
from sqlalchemy.orm import Session

from broker.csv_cells import read_cell, text_cell
from broker.matching.cache import MatcherCache
from broker.matching.store import MatchResult, match_members
from broker.members.profiles import InvalidProfile, find_member, parse_profile, save_member
from broker.models import Member

CSV_COLUMNS = (
    "name",
    "email",
    "description",
    "keywords",
    "exclude",
    "cpv",
    "regions",
    "min_value",
    "max_value",
    "supported_business",
    "frequency",
)


OPTIONAL_COLUMNS = ("vcse", "sme", "listed", "website")


@dataclass
class ImportResult:
    """What a CSV import did: members created and updated, and each bad row's problems."""

    created: list[int] = field(default_factory=list)
    updated: list[int] = field(default_factory=list)
    unchanged: int = 0
    errors: list[str] = field(default_factory=list)
    # Members whose matching profile changed and need re-matching.
    changed: list[int] = field(default_factory=list)


class BadCsv(ValueError):
    """Raised when a CSV file cannot be read at all (no header, unknown columns)."""


def import_csv(
    session: Session, handle: IO[str], now: datetime, where: str = "CSV"
) -> ImportResult:
    """Create or update members from CSV rows (matched by name); flushes, never commits."""
    reader = csv.DictReader(handle)
    header = [h.strip() for h in reader.fieldnames or []]
    if not header:
        raise BadCsv(f"{where}: empty file, expected the columns {','.join(CSV_COLUMNS)}")
    reader.fieldnames = header
    unknown = [h for h in header if h not in CSV_COLUMNS + OPTIONAL_COLUMNS]
    missing = [c for c in ("name", "email") if c not in header]
    if unknown or missing:
        problems = []
        if unknown:
            problems.append(f"unknown column(s) {', '.join(unknown)}")
        if missing:
            problems.append(f"missing column(s) {', '.join(missing)}")
        raise BadCsv(f"{where}: {'; '.join(problems)}; expected {','.join(CSV_COLUMNS)}")
    result = ImportResult()
    seen: set[str] = set()
    for row in reader:
        line = reader.line_num
        if None in row:
            result.errors.append(f"{where} line {line}: more cells than columns")
            continue
        row = {k: read_cell(v) if isinstance(v, str) else v for k, v in row.items()}
        try:
            profile = parse_profile(row)
        except InvalidProfile as exc:
            result.errors.extend(
                f"{where} line {line}, column {e.field}: {e.message}" for e in exc.errors
            )
            continue
        if profile.name.lower() in seen:
            result.errors.append(
                f"{where} line {line}, column name: '{profile.name}' appears twice in the file"
            )
            continue
        seen.add(profile.name.lower())
        existing = find_member(session, profile.name)
        if existing is not None:
            # A file without these columns (written before the directory) leaves the
            # member's choice to be listed, and its website, as they are.
            kept = {c: getattr(existing, c) for c in ("listed", "website") if c not in header}
            profile = replace(profile, **kept)
        before = existing.updated_at if existing else None
        member, changed = save_member(session, profile, now, existing)
        if existing is None:
            result.created.append(member.id)
        elif member.updated_at != before:
            result.updated.append(member.id)
        else:
            result.unchanged += 1
        if changed:
            result.changed.append(member.id)
    return result


def member_row(member: Member) -> dict[str, str]:
    """One member in the CSV format, every cell safe to open in a spreadsheet (the
    import reads the cells back as they were)."""
    row = {
        "name": member.name,
        "email": ";".join(member.emails),
        "description": member.description,
        "keywords": ";".join(member.keywords),
        "exclude": ";".join(member.exclude),
        "cpv": ";".join(member.cpv),
        "regions": ";".join(member.regions),
        "min_value": _number_text(member.min_value),
        "max_value": _number_text(member.max_value),
        "supported_business": "yes" if member.supported_business else "no",
        "frequency": member.frequency,
        "vcse": "yes" if member.vcse else "no",
        "sme": "yes" if member.sme else "no",
        "listed": "true" if member.listed else "false",
        "website": member.website or "",
    }
    return {k: text_cell(v) for k, v in row.items()}


def _number_text(value: float | None) -> str:
    if value is None:
        return ""
    return str(int(value)) if value == int(value) else str(value)


def export_csv(members: Iterable[Member], out: IO[str]) -> int:
    """Write members in the import format (with every optional column); returns the count."""
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS + OPTIONAL_COLUMNS)
    writer.writeheader()
    count = 0
    for member in members:
        writer.writerow(member_row(member))
        count += 1
    return count


def import_members(
    session: Session, handle: IO[str], cache: MatcherCache, now: datetime, where: str
) -> tuple[ImportResult, MatchResult]:
    """Import members from CSV (`broker members import` and the Members page) and re-match
    those whose profile changed; flushes only.

    Raises BadCsv when the file can't be read as CSV at all.
    """
    try:
        result = import_csv(session, handle, now, where=where)
    except UnicodeDecodeError:
        raise BadCsv(
            f"{where} is not a UTF-8 text file; save it as “CSV UTF-8” and try again"
        ) from None
    except csv.Error as exc:
        raise BadCsv(f"{where}: {exc}") from None
    return result, match_members(session, result.changed, cache, now)


def export_members(session: Session, out: IO[str]) -> int:
    """Write every member, by name, in the CSV import format; returns how many."""
    return export_csv(session.scalars(select(Member).order_by(Member.name)), out)


def members_csv(session: Session) -> str:
    """Every member, by name, in the CSV import format, as one text."""
    out = io.StringIO()
    export_members(session, out)
    return out.getvalue()
