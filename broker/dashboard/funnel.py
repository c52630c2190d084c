"""The funnel for funders: harvested, matched, forwarded, interested, bid, submitted, won,
week by week.

Each stage is counted once per thing, in the week it first happened (a notice's first
match, its first forward, a member's first "interested" in a notice), so the weeks add
up to the period's total. The database groups by day (portable SQL); weeks are made
from days here, so no query returns more than a row per day.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import Date, Select, case, cast, func, literal, select
from sqlalchemy.orm import Session

from broker.models import MemberResponse, Notice
from broker.models.bids import Bid, BidEvent
from broker.models.triage import Forward

PERIODS = (4, 12, 26, 52)
DEFAULT_WEEKS = 12


@dataclass(frozen=True)
class StageInfo:
    """A funnel stage's name and how it is counted, in words for the page."""

    key: str
    label: str
    counted: str
    # What one of it is, singular and plural.
    unit: tuple[str, str] = ("notice", "notices")


STAGES = (
    StageInfo("harvested", "Harvested", "notices first seen that week"),
    StageInfo("matched", "Matched", "notices first matched to a member that week"),
    StageInfo("forwarded", "Forwarded", "notices first forwarded to a member that week"),
    StageInfo(
        "interested",
        "Interested",
        'members\' first "interested" answer to a notice (each member once per notice); '
        "the value counts each notice once",
        ("answer", "answers"),
    ),
    StageInfo(
        "bid",
        "Bid",
        "consortium bids started that week; the value is the notice's (or the estimate)",
        ("bid", "bids"),
    ),
    StageInfo("submitted", "Submitted", "consortium bids submitted that week", ("bid", "bids")),
    StageInfo(
        "won",
        "Won",
        "bids marked won that week; the value won, or else the notice's value",
        ("bid won", "bids won"),
    ),
)


@dataclass(frozen=True)
class Week:
    """One stage's figures for one week (Monday to Sunday, UTC)."""

    start: date
    count: int
    value: float


@dataclass(frozen=True)
class StageSeries:
    """One stage's weeks and its total for the period."""

    info: StageInfo
    weeks: list[Week]

    @property
    def count(self) -> int:
        """The period's total."""
        return sum(w.count for w in self.weeks)

    @property
    def value(self) -> float:
        """The period's total value in pounds."""
        return sum(w.value for w in self.weeks)


@dataclass(frozen=True)
class Funnel:
    """The whole funnel over a period of whole weeks ending with this one."""

    start: date
    end: date
    weeks: list[date]
    stages: list[StageSeries]


def week_start(day: date) -> date:
    """The Monday of a day's week."""
    return day - timedelta(days=day.weekday())


def _day(session: Session, column: Any) -> Any:
    """A timestamp column's UTC calendar day, as SQL."""
    if session.get_bind().dialect.name == "postgresql":
        return cast(func.timezone("UTC", column), Date)
    # SQLite keeps UTC timestamps as text; date() reads them.
    return func.date(column)


def _pounds(amount: Any, currency: Any) -> Any:
    """An amount when it is in pounds (or has no currency), else nothing: no mixing in €."""
    return case((func.coalesce(currency, "GBP") == "GBP", amount), else_=None)


def _by_day(session: Session, query: Select[Any]) -> dict[date, tuple[int, float]]:
    """Run a (day, count, value) query; SQLite answers days as text."""
    found = {}
    for day, count, value in session.execute(query):
        key = date.fromisoformat(day) if isinstance(day, str) else day
        found[key] = (int(count or 0), float(value or 0))
    return found


@dataclass(frozen=True)
class _Window:
    """The days a funnel reads, [start, end), and the notice value counted in pounds."""

    session: Session
    start: datetime
    end: datetime

    def day(self, column: Any) -> Any:
        return _day(self.session, column)

    @property
    def gbp(self) -> Any:
        return _pounds(Notice.value_amount, Notice.value_currency)

    def within(self, column: Any) -> Any:
        return (column >= self.start) & (column < self.end)


def _first(column: Any, key: Any, *extra: Any, where: Any = None) -> Any:
    """A subquery of each key's first moment (e.g. each notice's first forward)."""
    query = select(key, *extra, func.min(column).label("first")).group_by(key, *extra)
    if where is not None:
        query = query.where(where)
    return query.subquery()


def _first_by_notice(w: _Window, sub: Any) -> dict[date, tuple[int, float]]:
    """Notices by the day of their first (sub.c.first), with their value."""
    day = w.day(sub.c.first)
    return _by_day(
        w.session,
        select(day, func.count(), func.sum(w.gbp))
        .join(Notice, Notice.id == sub.c.notice_id)
        .where(w.within(sub.c.first))
        .group_by(day),
    )


def _notices_by(w: _Window, column: Any) -> dict[date, tuple[int, float]]:
    """Notices by the day of one of their own moments (first seen, first matched)."""
    day = w.day(column)
    return _by_day(
        w.session,
        select(day, func.count(), func.sum(w.gbp)).where(w.within(column)).group_by(day),
    )


def _harvested(w: _Window) -> dict[date, tuple[int, float]]:
    return _notices_by(w, Notice.first_seen_at)


def _matched(w: _Window) -> dict[date, tuple[int, float]]:
    return _notices_by(w, Notice.first_matched_at)


def _forwarded(w: _Window) -> dict[date, tuple[int, float]]:
    return _first_by_notice(w, _first(Forward.created_at, Forward.notice_id))


def _interested(w: _Window) -> dict[date, tuple[int, float]]:
    """Each member's first "interested" in a notice counts; each notice's value once."""
    interested = MemberResponse.kind == "interested"
    pairs = _first(
        MemberResponse.created_at,
        MemberResponse.notice_id,
        MemberResponse.member_id,
        where=interested,
    )
    pair_day = w.day(pairs.c.first)
    counts = _by_day(
        w.session,
        select(pair_day, func.count(), literal(0))
        .where(w.within(pairs.c.first))
        .group_by(pair_day),
    )
    values = _first_by_notice(
        w, _first(MemberResponse.created_at, MemberResponse.notice_id, where=interested)
    )
    return {
        day: (counts.get(day, (0, 0))[0], values.get(day, (0, 0.0))[1])
        for day in set(counts) | set(values)
    }


def _bid_value(w: _Window) -> Any:
    """A bid's value: its notice's in pounds, else the estimate a bid without one gives."""
    return func.coalesce(w.gbp, Bid.estimated_value)


def _bid(w: _Window) -> dict[date, tuple[int, float]]:
    day = w.day(Bid.created_at)
    return _by_day(
        w.session,
        select(day, func.count(Bid.id), func.sum(_bid_value(w)))
        .outerjoin(Notice, Notice.id == Bid.notice_id)
        .where(w.within(Bid.created_at))
        .group_by(day),
    )


def _reached(w: _Window, stage: str, value: Any) -> dict[date, tuple[int, float]]:
    """Bids by the day they first reached `stage` (a bid moves on once; a stage counts it
    once even if the timeline says it twice)."""
    first = _first(BidEvent.at, BidEvent.bid_id, where=BidEvent.to_stage == stage)
    day = w.day(first.c.first)
    return _by_day(
        w.session,
        select(day, func.count(), func.sum(value))
        .select_from(first)
        .join(Bid, Bid.id == first.c.bid_id)
        .outerjoin(Notice, Notice.id == Bid.notice_id)
        .where(w.within(first.c.first))
        .group_by(day),
    )


def _submitted(w: _Window) -> dict[date, tuple[int, float]]:
    return _reached(w, "submitted", _bid_value(w))


def _won(w: _Window) -> dict[date, tuple[int, float]]:
    return _reached(w, "won", func.coalesce(Bid.value_won, _bid_value(w)))


# Each stage's (count, value) per day of the window, by the stage's key.
DAILY = {
    "harvested": _harvested,
    "matched": _matched,
    "forwarded": _forwarded,
    "interested": _interested,
    "bid": _bid,
    "submitted": _submitted,
    "won": _won,
}


def _weekly(days: dict[date, tuple[int, float]], weeks: Iterable[date]) -> list[Week]:
    totals = {w: [0, 0.0] for w in weeks}
    for day, (count, value) in days.items():
        bucket = totals.get(week_start(day))
        if bucket is not None:
            bucket[0] += count
            bucket[1] += value
    return [Week(w, int(c), float(v)) for w, (c, v) in totals.items()]


def period(now: datetime, weeks: int = DEFAULT_WEEKS) -> tuple[datetime, datetime]:
    """[start, end) of the last `weeks` whole weeks (Monday to Monday, UTC), this one
    included."""
    this_week = week_start(now.astimezone(UTC).date())
    first = this_week - timedelta(weeks=weeks - 1)
    start = datetime.combine(first, time(), tzinfo=UTC)
    end = datetime.combine(this_week + timedelta(weeks=1), time(), tzinfo=UTC)
    return start, end


def build(session: Session, now: datetime, weeks: int = DEFAULT_WEEKS) -> Funnel:
    """The funnel for the last `weeks` weeks, this (partial) week included."""
    start, end = period(now, weeks)
    first, this_week = start.date(), (end - timedelta(weeks=1)).date()
    starts = [first + timedelta(weeks=i) for i in range(weeks)]
    window = _Window(session, start, end)
    return Funnel(
        start=first,
        end=this_week + timedelta(days=6),
        weeks=starts,
        stages=[StageSeries(info, _weekly(DAILY[info.key](window), starts)) for info in STAGES],
    )
