"""The coordinator's queue: filtering, searching, sorting and paging matched notices."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, func, literal_column, select, text
from sqlalchemy.orm import Session

import matchers
from broker.models import Notice, NoticeSource
from broker.models.notices import NoticeRegion
from broker.models.triage import TRIAGE_STATUSES

SORTS = {"score": "Best score", "deadline": "Deadline", "newest": "Newest"}


DEADLINE_WINDOWS = {"7": 7, "14": 14, "30": 30, "90": 90}


@dataclass(frozen=True)
class Filters:
    """What the coordinator asked the queue for; every field optional."""

    q: str = ""
    source: str = ""
    deadline_within: str = ""
    min_value: float | None = None
    max_value: float | None = None
    region: str = ""
    reserved: bool = False
    vcse: bool = False
    status: str = "open"
    sort: str = "score"
    page: int = 1


# Counting stops here: a bigger queue shows "200+ found" (four pages), and pages on with
# "Next page". Counting every one of tens of thousands of matching notices would cost
# several times the page itself, for a number nobody pages through.
COUNT_CAP = 200


# SQLite: a search matching at most this many notices reads them by id; a commoner word
# walks the queue in order and checks each notice against the search's hits instead.
FTS_LOOKUP_LIMIT = 1000


# Deadline windows up to this many days are read by deadline range (see queue_query).
RANGE_WINDOW_DAYS = 30


# What a queue row shows: no description, lots or codes, which are big and not listed.
LIST_COLUMNS = (
    Notice.id,
    Notice.title,
    Notice.buyer,
    Notice.deadline,
    Notice.value_amount,
    Notice.value_currency,
    Notice.best_score,
    Notice.match_count,
    Notice.triage_status,
    Notice.reserved,
    Notice.vcse,
    Notice.community_benefits,
    Notice.changed_at,
)


@dataclass
class QueuePage:
    """One page of the queue: rows with LIST_COLUMNS, and how many there are in all."""

    notices: list[Any]
    total: int
    page: int
    page_size: int
    sources: dict[int, list[str]] = field(default_factory=dict)
    # True when there are more than `total` notices: counting stopped there.
    capped: bool = False
    has_next: bool = False

    @property
    def pages(self) -> int | None:
        """How many pages there are; None when the count was capped."""
        if self.capped:
            return None
        return max(1, -(-self.total // self.page_size))


def _fts_query(q: str) -> str:
    """A user's words as an FTS5 query: every word required, as a whole (stemmed) word.

    Whole words, as PostgreSQL's websearch_to_tsquery matches them, so a search finds the
    same notices on both backends; prefix terms ("word"*) also cost three times as much
    to look up for a common word.
    """
    words = re.findall(r"\w+", q)
    return " ".join(f'"{w}"' for w in words)


def _sqlite(session: Session) -> bool:
    return session.get_bind().dialect.name == "sqlite"


def _unindexed(session: Session, column: Any) -> Any:
    """`column` for a filter that must not choose the index (SQLite's unary plus).

    SQLite's planner, which has no statistics, would rather range over a plain index on
    the deadline and then sort than walk the queue's covering index in order; with `+`
    it walks the queue index and checks the deadline there. PostgreSQL chooses by cost.
    """
    if _sqlite(session):
        column = column.expression
        return literal_column(f"+{column.table.name}.{column.name}", type_=column.type)
    return column


def search_condition(session: Session, q: str) -> Any:
    """Notices whose title, description or buyer match the words in `q`."""
    if not _sqlite(session):
        return text("notices.search_vector @@ websearch_to_tsquery('english', :q)").bindparams(q=q)
    fts = _fts_query(q)
    hits = (
        select(text("rowid"))
        .select_from(text("notices_fts"))
        .where(text("notices_fts MATCH :fts"))
        .params(fts=fts)
    )
    found = session.scalar(
        select(func.count()).select_from(hits.limit(FTS_LOOKUP_LIMIT + 1).subquery())
    )
    # Few hits: look each up by id. Many: walk the queue index, checking ids against them.
    column = Notice.id if found <= FTS_LOOKUP_LIMIT else _unindexed(session, Notice.id)
    return column.in_(hits)


def queue_query(session: Session, filters: Filters, now: datetime) -> Select[Any]:
    """The notices the queue shows for these filters (not yet sorted or paged).

    Matched means best_score is set (it is exactly when match_count > 0); written so,
    the condition is the queue indexes' own, and they can be used.
    """
    deadline = _unindexed(session, Notice.deadline)
    # Conditions on the notice's own columns first (the queue indexes hold them all), then
    # those that look elsewhere, so a notice is checked against other tables last.
    query = select(Notice).where(Notice.best_score.is_not(None))
    if filters.status == "open":
        query = query.where(Notice.triage_status.in_(("new", "forwarded")))
    elif filters.status in TRIAGE_STATUSES:
        query = query.where(Notice.triage_status == filters.status)
    if filters.status in ("open", "new", "forwarded"):
        # Open means the deadline hasn't passed (or isn't known).
        query = query.where(deadline.is_(None) | (deadline >= now))
    days = DEADLINE_WINDOWS.get(filters.deadline_within)
    due = deadline
    if days and _sqlite(session) and days <= RANGE_WINDOW_DAYS:
        # A month or less: few notices fall due in it, so SQLite ranges over the deadline
        # index (no_deadline = 0 is its first column) and sorts those.
        due = Notice.deadline
        query = query.where(Notice.no_deadline == False)  # noqa: E712
    if days:
        query = query.where(due >= now, due <= now + timedelta(days=days))
    if filters.min_value is not None:
        query = query.where(Notice.value_amount >= filters.min_value)
    if filters.max_value is not None:
        query = query.where(Notice.value_amount <= filters.max_value)
    if filters.reserved:
        query = query.where(Notice.reserved.is_(True))
    if filters.vcse:
        query = query.where(Notice.vcse.is_(True))
    if filters.source:
        # SELECT 1, not SELECT *: then SQLite answers from the (notice_id, source) index.
        query = query.where(
            select(literal_column("1"))
            .where(NoticeSource.notice_id == Notice.id, NoticeSource.source == filters.source)
            .exists()
        )
    if filters.region:
        codes = _region_codes(filters.region)
        query = query.where(
            select(literal_column("1"))
            .where(
                NoticeRegion.notice_id == Notice.id,
                # LIKE 'UKM8%', not substr(): PostgreSQL can estimate how many it finds.
                NoticeRegion.code.startswith(codes, autoescape=True),
            )
            .exists()
        )
    if filters.q.strip() and re.search(r"\w", filters.q):
        query = query.where(search_condition(session, filters.q.strip()))
    return query


def _region_codes(region: str) -> str:
    """The NUTS prefix to filter on: a code as given, or the one area name stands for."""
    value = region.strip().upper()
    try:
        codes = matchers.resolve_area(region)
    except matchers.AreaError:
        return value
    if len(codes) == 1:
        return next(iter(codes))
    # An area spanning several NUTS regions: their common prefix.
    prefix = min(codes)
    for code in codes:
        while not code.startswith(prefix):
            prefix = prefix[:-1]
    return prefix or value


def _order(sort: str) -> tuple[Any, ...]:
    """The sort, as the queue index for it holds the notices (unknown deadlines last)."""
    if sort == "deadline":
        return (Notice.no_deadline, Notice.deadline, Notice.id)
    if sort == "newest":
        return (Notice.first_seen_at.desc(), Notice.id.desc())
    return (Notice.best_score.desc(), Notice.no_deadline, Notice.deadline, Notice.id)


def queue_page(
    session: Session,
    filters: Filters,
    now: datetime,
    page_size: int,
    count_cap: int | None = None,
) -> QueuePage:
    """One page of the queue, sorted as asked, with each notice's sources.

    One walk of the sort's index, reading ids only, finds the page and counts up to
    `count_cap` (COUNT_CAP) at once, past which the count is a lower bound; then only the
    page's rows
    are read, and only the listed columns.
    """
    query = queue_query(session, filters, now)
    page = max(1, filters.page)
    offset = (page - 1) * page_size
    limit = max(COUNT_CAP if count_cap is None else count_cap, offset + page_size) + 1
    found = list(
        session.scalars(
            query.with_only_columns(Notice.id).order_by(*_order(filters.sort)).limit(limit)
        )
    )
    capped = len(found) == limit
    total = len(found) - capped
    ids = found[offset : offset + page_size]
    rows = {}
    sources: dict[int, list[str]] = {}
    if ids:
        rows = {r.id: r for r in session.execute(select(*LIST_COLUMNS).where(Notice.id.in_(ids)))}
        sources = {notice_id: [] for notice_id in ids}
        for notice_id, source in session.execute(
            select(NoticeSource.notice_id, NoticeSource.source)
            .where(NoticeSource.notice_id.in_(ids))
            .order_by(NoticeSource.id)
        ):
            sources[notice_id].append(source)
    # A notice deleted between the two reads is left out.
    notices = [rows[i] for i in ids if i in rows]
    has_next = len(found) > offset + page_size
    return QueuePage(notices, total, page, page_size, sources, capped, has_next)
