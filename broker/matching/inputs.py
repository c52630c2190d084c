"""Stored rows as the engine reads them: notices (in chunks), member profiles, and
members' "not for us" answers."""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

import matchers
from broker.models import Member, MemberResponse, Notice


def notice_for(notice: Notice) -> matchers.Notice:
    """A stored notice as the engine reads it."""
    return matchers.Notice(
        id=notice.id,
        title=notice.title,
        description=notice.description or "",
        buyer=notice.buyer,
        cpv=tuple(notice.cpv or ()),
        regions=tuple(notice.regions or ()),
        place=notice.place,
        value=notice.value_amount,
        reserved=bool(notice.reserved),
        lots=tuple(
            matchers.Lot(
                title=lot.get("title") or "",
                description=lot.get("description") or "",
                cpv=tuple(lot.get("cpv") or ()),
                value=(lot.get("value") or {}).get("amount"),
            )
            for lot in notice.lots or ()
        ),
        published=notice.published.isoformat() if notice.published else None,
        deadline=notice.deadline.isoformat() if notice.deadline else None,
    )


@dataclass(frozen=True)
class Declines:
    """What a member has said "not for us" to: which notices, and why how often."""

    notices: frozenset[int] = frozenset()
    reasons: dict[str, int] = field(default_factory=dict)
    too_big_value: float | None = None


def profile_for(member: Member, declines: Declines = Declines()) -> matchers.Profile:
    """A member's capability profile as the engine reads it."""
    return matchers.Profile(
        id=str(member.id),
        name=member.name,
        keywords=tuple(member.keywords or ()),
        exclude=tuple(member.exclude or ()),
        cpv=tuple(member.cpv or ()),
        regions=tuple(member.regions or ()),
        min_value=member.min_value,
        max_value=member.max_value,
        supported_business=bool(member.supported_business),
        feedback=dict(declines.reasons),
        declined_value=declines.too_big_value,
    )


def declines_by_member(
    session: Session, member_ids: Iterable[int] | None = None
) -> dict[int, Declines]:
    """Each member's "not for us" answers, with the typical value of those too big."""
    query = (
        select(
            MemberResponse.member_id,
            MemberResponse.notice_id,
            MemberResponse.reason,
            Notice.value_amount,
        )
        .join(Notice, Notice.id == MemberResponse.notice_id)
        .where(MemberResponse.kind == "declined")
    )
    if member_ids is not None:
        query = query.where(MemberResponse.member_id.in_(list(member_ids)))
    notices: dict[int, set[int]] = defaultdict(set)
    reasons: dict[int, Counter[str]] = defaultdict(Counter)
    too_big: dict[int, list[float]] = defaultdict(list)
    for member_id, notice_id, reason, value in session.execute(query):
        notices[member_id].add(notice_id)
        reasons[member_id][reason or "other"] += 1
        if reason == "too_big" and value is not None:
            too_big[member_id].append(value)
    return {
        member_id: Declines(
            notices=frozenset(notices[member_id]),
            reasons=dict(reasons[member_id]),
            too_big_value=statistics.median(too_big[member_id]) if too_big[member_id] else None,
        )
        for member_id in notices
    }


# Notices matched per engine call and per query.
CHUNK = 1000


def matchable(query: Any) -> Any:
    """Notices worth matching: everything but award notices."""
    return query.where(Notice.notice_type != "award")


def notice_chunks(session: Session, *conditions: Any, size: int = CHUNK) -> Iterator[list[Notice]]:
    """Every matchable notice (that also meets `conditions`), `size` at a time, by id."""
    query = matchable(select(Notice)).where(*conditions)
    last = 0
    while True:
        notices = session.scalars(
            query.where(Notice.id > last).order_by(Notice.id).limit(size)
        ).all()
        if not notices:
            return
        yield list(notices)
        last = notices[-1].id
