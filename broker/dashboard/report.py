"""The funders' report: for each month and member, the opportunities matched to them,
forwarded to them, that they were interested in, the consortium bids they joined and
won, and their part of what was won.

A member's part of a bid won is their share of the work times the contract's value, or,
where the shares were not set, an equal part of it.
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from broker.csv_cells import text_cell
from broker.models import Forward, Match, Member, MemberResponse, Notice
from broker.models.bids import Bid, BidEvent, BidMember

IN_BID = ("added", "joined")


@dataclass
class MemberMonth:
    """One member's figures for one month."""

    month: str
    member: str
    matched: int = 0
    forwarded: int = 0
    interested: int = 0
    bids_joined: int = 0
    bids_won: int = 0
    won_value: float = 0.0


def _month(session: Session, column: Any) -> Any:
    """A UTC timestamp's month as "2026-11", in SQL."""
    if session.get_bind().dialect.name == "postgresql":
        return func.to_char(func.timezone("UTC", column), "YYYY-MM")
    return func.strftime("%Y-%m", column)


def _counts(session: Session, member: Any, notice: Any, at: Any, start, end, *where):
    """(member id, month) -> distinct notices, for rows dated in [start, end)."""
    month = _month(session, at)
    query = (
        select(member, month, func.count(func.distinct(notice)))
        .where(at >= start, at < end, *where)
        .group_by(member, month)
    )
    return {(m, mo): n for m, mo, n in session.execute(query)}


def report(session: Session, start: datetime, end: datetime) -> list[MemberMonth]:
    """Every member with anything to show in [start, end), month by month, by name."""
    rows: dict[tuple[int, str], MemberMonth] = {}
    names = dict(session.execute(select(Member.id, Member.name)).all())

    def row(member_id: int, month: str) -> MemberMonth:
        key = (member_id, month)
        if key not in rows:
            rows[key] = MemberMonth(month, names.get(member_id, f"member {member_id}"))
        return rows[key]

    for attribute, counts in (
        (
            "matched",
            _counts(session, Match.member_id, Match.notice_id, Match.created_at, start, end),
        ),
        (
            "forwarded",
            _counts(session, Forward.member_id, Forward.notice_id, Forward.created_at, start, end),
        ),
        (
            "interested",
            _counts(
                session,
                MemberResponse.member_id,
                MemberResponse.notice_id,
                MemberResponse.created_at,
                start,
                end,
                MemberResponse.kind == "interested",
            ),
        ),
    ):
        for (member_id, month), count in counts.items():
            setattr(row(member_id, month), attribute, count)

    joined_at = func.coalesce(BidMember.responded_at, Bid.created_at)
    month = _month(session, joined_at)
    for member_id, at_month, count in session.execute(
        select(BidMember.member_id, month, func.count(func.distinct(BidMember.bid_id)))
        .join(Bid, Bid.id == BidMember.bid_id)
        .where(BidMember.status.in_(IN_BID), joined_at >= start, joined_at < end)
        .group_by(BidMember.member_id, month)
    ):
        row(member_id, at_month).bids_joined = count

    won_at = (
        select(BidEvent.bid_id, func.min(BidEvent.at).label("at"))
        .where(BidEvent.to_stage == "won")
        .group_by(BidEvent.bid_id)
        .subquery()
    )
    won = session.execute(
        select(
            Bid.id,
            _month(session, won_at.c.at),
            func.coalesce(Bid.value_won, Notice.value_amount, Bid.estimated_value),
        )
        .join(won_at, won_at.c.bid_id == Bid.id)
        .outerjoin(Notice, Notice.id == Bid.notice_id)
        .where(won_at.c.at >= start, won_at.c.at < end)
    ).all()
    members_of: dict[int, list[BidMember]] = defaultdict(list)
    if won:
        for place in session.scalars(
            select(BidMember).where(
                BidMember.bid_id.in_([b for b, _m, _v in won]), BidMember.status.in_(IN_BID)
            )
        ):
            members_of[place.bid_id].append(place)
    for bid_id, at_month, value in won:
        places = members_of[bid_id]
        for place in places:
            member_row = row(place.member_id, at_month)
            member_row.bids_won += 1
            if value is not None:
                part = (
                    value * place.share_percent / 100
                    if place.share_percent is not None
                    else value / len(places)
                )
                member_row.won_value += part
    return sorted(rows.values(), key=lambda r: (r.month, r.member.casefold(), r.member))


COLUMNS = [f.name for f in fields(MemberMonth)]


def report_csv(rows: list[MemberMonth]) -> str:
    """The report as CSV, one row per member and month, £ won rounded to the penny."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(COLUMNS)
    for r in rows:
        writer.writerow(
            [
                r.month,
                text_cell(r.member),
                r.matched,
                r.forwarded,
                r.interested,
                r.bids_joined,
                r.bids_won,
                f"{r.won_value:.2f}",
            ]
        )
    return out.getvalue()
