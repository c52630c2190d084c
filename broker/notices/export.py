"""`broker export notices`: the JSONL and CSV formats other tools read.

The JSONL format is the public contract the matching engine reads; see README.
"""

from __future__ import annotations

import csv
import json
from collections import defaultdict
from collections.abc import Iterator
from typing import IO, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from broker.csv_cells import text_cell
from broker.models import Notice, NoticeSource

CHUNK = 1000
CSV_COLUMNS = (
    "id",
    "title",
    "description",
    "buyer",
    "cpv",
    "regions",
    "place",
    "value_amount",
    "value_currency",
    "deadline",
    "published",
    "notice_type",
    "procedure",
    "reserved",
    "sme",
    "vcse",
    "community_benefits",
    "source_urls",
    "lots",
)


def notice_records(session: Session) -> Iterator[dict[str, Any]]:
    """Every notice as an export record, oldest id first, read in chunks."""
    last_id = 0
    while True:
        notices = session.scalars(
            select(Notice).where(Notice.id > last_id).order_by(Notice.id).limit(CHUNK)
        ).all()
        if not notices:
            return
        sources: dict[int, list[NoticeSource]] = defaultdict(list)
        for src in session.scalars(
            select(NoticeSource)
            .where(NoticeSource.notice_id.in_([n.id for n in notices]))
            .order_by(NoticeSource.id)
        ):
            sources[src.notice_id].append(src)
        for notice in notices:
            yield notice_record(notice, sources[notice.id])
        last_id = notices[-1].id
        session.expunge_all()


def notice_record(notice: Notice, sources: list[NoticeSource]) -> dict[str, Any]:
    """One notice in the documented export schema."""
    return {
        "id": notice.id,
        "sources": [{"source": s.source, "source_id": s.source_id, "url": s.url} for s in sources],
        "title": notice.title,
        "description": notice.description,
        "buyer": notice.buyer,
        "cpv": list(notice.cpv or []),
        "regions": list(notice.regions or []),
        "place": notice.place,
        "value": _value(notice.value_amount, notice.value_currency),
        "deadline": notice.deadline.isoformat() if notice.deadline else None,
        "published": notice.published.isoformat() if notice.published else None,
        "notice_type": notice.notice_type,
        "procedure": notice.procedure,
        "reserved": bool(notice.reserved),
        "suitability": {"sme": notice.sme, "vcse": notice.vcse},
        "community_benefits": bool(notice.community_benefits),
        "lots": [
            {
                "title": lot.get("title"),
                "description": lot.get("description"),
                "cpv": list(lot.get("cpv") or []),
                "value": _value(*_lot_value(lot)),
            }
            for lot in notice.lots or []
        ],
    }


def _lot_value(lot: dict[str, Any]) -> tuple[float | None, str | None]:
    value = lot.get("value") or {}
    return value.get("amount"), value.get("currency")


def _value(amount: float | None, currency: str | None) -> dict[str, Any] | None:
    return None if amount is None else {"amount": amount, "currency": currency or "GBP"}


def write_jsonl(records: Iterator[dict[str, Any]], out: IO[str]) -> int:
    """Write one JSON object per line; returns the count."""
    count = 0
    for record in records:
        out.write(json.dumps(record, ensure_ascii=False) + "\n")
        count += 1
    return count


def _text(value: str | None) -> str | None:
    # Notice text comes from buyers and the public form: kept text in a spreadsheet.
    return text_cell(value) if value else value


def write_csv(records: Iterator[dict[str, Any]], out: IO[str]) -> int:
    """Write a flat CSV (lists joined with ';', lots as JSON; text a spreadsheet would run
    as a formula kept text, see broker.csv_cells); returns the count."""
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS)
    writer.writeheader()
    count = 0
    for r in records:
        value = r["value"] or {}
        writer.writerow(
            {
                "id": r["id"],
                "title": _text(r["title"]),
                "description": _text(r["description"]),
                "buyer": _text(r["buyer"]),
                "cpv": ";".join(r["cpv"]),
                "regions": ";".join(r["regions"]),
                "place": _text(r["place"]),
                "value_amount": value.get("amount"),
                "value_currency": value.get("currency"),
                "deadline": r["deadline"],
                "published": r["published"],
                "notice_type": r["notice_type"],
                "procedure": r["procedure"],
                "reserved": r["reserved"],
                "sme": r["suitability"]["sme"],
                "vcse": r["suitability"]["vcse"],
                "community_benefits": r["community_benefits"],
                "source_urls": ";".join(s["url"] or "" for s in r["sources"]),
                "lots": json.dumps(r["lots"], ensure_ascii=False) if r["lots"] else "",
            }
        )
        count += 1
    return count
