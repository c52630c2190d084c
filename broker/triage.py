"""The coordinator's queue: filtering, searching and sorting matched notices, and the
actions taken on them (forward, dismiss, add a member, start a bid).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, func, literal_column, select, text
from sqlalchemy.orm import Session

import matchers
from broker.matching import Declines, MatcherCache, notice_for, profile_for
from broker.models import Match, Member, Notice, NoticeSource
from broker.models.notices import NoticeRegion
from broker.models.triage import TRIAGE_STATUSES, Bid, BidMember, Forward, NoticeAction

SORTS = {"score": "Best score", "deadline": "Deadline", "newest": "Newest"}
DEADLINE_WINDOWS = {"7": 7, "14": 14, "30": 30, "90": 90}
DISMISS_REASONS = (
    "Not relevant to any member",
    "Too big for our members",
    "Outside our area",
    "Deadline too short",
    "Duplicate",
    "Other",
)


class TriageError(ValueError):
    """Raised by an action that can't be done, with a message for the coordinator."""


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


def queue_count(session: Session, query: Select[Any], cap: int | None = None) -> tuple[int, bool]:
    """How many notices `query` finds, counting no further than `cap` (COUNT_CAP); and
    whether it stopped there."""
    cap = COUNT_CAP if cap is None else cap
    found = session.scalar(
        select(func.count()).select_from(
            query.with_only_columns(Notice.id).order_by(None).limit(cap + 1).subquery()
        )
    )
    return min(found, cap), found > cap


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


def record(
    session: Session, notice: Notice, user_id: int | None, action: str, detail: str, now: datetime
) -> None:
    """Log an action on a notice."""
    session.add(
        NoticeAction(
            notice_id=notice.id, user_id=user_id, action=action, detail=detail, created_at=now
        )
    )


def _set_status(notice: Notice, status: str, now: datetime) -> None:
    notice.triage_status = status
    notice.triage_changed_at = now


def forward(
    session: Session,
    notice: Notice,
    member_ids: list[int],
    note: str,
    user_id: int | None,
    now: datetime,
) -> list[Forward]:
    """Forward a notice to members with a note; flushes only (mail goes out after commit)."""
    if not member_ids:
        raise TriageError("Choose at least one member to forward this notice to.")
    members = session.scalars(select(Member).where(Member.id.in_(member_ids))).all()
    if len(members) != len(set(member_ids)):
        raise TriageError("One of the chosen members no longer exists.")
    forwards = [
        Forward(
            notice_id=notice.id, member_id=m.id, user_id=user_id, note=note.strip(), created_at=now
        )
        for m in members
    ]
    session.add_all(forwards)
    if notice.triage_status == "new":
        _set_status(notice, "forwarded", now)
    names = ", ".join(sorted(m.name for m in members))
    record(
        session,
        notice,
        user_id,
        "forward",
        f"to {names}" + (f": {note.strip()}" if note.strip() else ""),
        now,
    )
    session.flush()
    return forwards


def dismiss(
    session: Session, notice: Notice, reason: str, user_id: int | None, now: datetime
) -> None:
    """Take a notice out of the queue, saying why."""
    if not reason.strip():
        raise TriageError("Say why you are dismissing this notice.")
    _set_status(notice, "dismissed", now)
    record(session, notice, user_id, "dismiss", reason.strip(), now)


def reopen(session: Session, notice: Notice, user_id: int | None, now: datetime) -> None:
    """Put a dismissed notice back in the queue."""
    _set_status(notice, "new", now)
    record(session, notice, user_id, "reopen", "", now)


def add_member(
    session: Session,
    notice: Notice,
    member: Member,
    cache: MatcherCache,
    user_id: int | None,
    now: datetime,
) -> Match:
    """Add a member the engine didn't match, with the engine's explanation of the fit."""
    existing = session.scalar(
        select(Match).where(Match.notice_id == notice.id, Match.member_id == member.id)
    )
    if existing is not None:
        raise TriageError(f"{member.name} is already listed for this notice.")
    engine = matchers.Matcher([profile_for(member, Declines())], cache.settings.engine)
    explained = engine.explain(notice_for(notice), str(member.id))
    reasons = [{"kind": r.kind, "text": r.text} for r in explained.reasons]
    reasons.append({"kind": "manual", "text": "added by a coordinator"})
    match = Match(
        member_id=member.id,
        notice_id=notice.id,
        score=explained.score,
        reasons=reasons,
        added_by=user_id,
        created_at=now,
        updated_at=now,
    )
    session.add(match)
    session.flush()
    refresh_match_summary(session, [notice.id])
    record(session, notice, user_id, "add_member", member.name, now)
    return match


def start_bid(
    session: Session,
    notice: Notice,
    member_ids: list[int],
    lead_id: int | None,
    model: str,
    user_id: int | None,
    now: datetime,
) -> Bid:
    """Start a consortium bid for a notice with the chosen members."""
    bid = Bid(
        notice_id=notice.id,
        title=notice.title[:300],
        model=model,
        stage="forming",
        created_by=user_id,
        created_at=now,
        updated_at=now,
    )
    for member_id in dict.fromkeys(member_ids):
        bid.members.append(
            BidMember(member_id=member_id, role="lead" if member_id == lead_id else "partner")
        )
    session.add(bid)
    _set_status(notice, "bid", now)
    record(session, notice, user_id, "start_bid", f"{len(bid.members)} members", now)
    session.flush()
    return bid


def refresh_match_summary(session: Session, notice_ids: list[int]) -> None:
    """Recompute the best score and match count the queue sorts and filters on."""
    if not notice_ids:
        return
    stats = {
        notice_id: (best, count)
        for notice_id, best, count in session.execute(
            select(Match.notice_id, func.max(Match.score), func.count(Match.id))
            .where(Match.notice_id.in_(notice_ids))
            .group_by(Match.notice_id)
        )
    }
    for notice in session.scalars(select(Notice).where(Notice.id.in_(notice_ids))):
        notice.best_score, notice.match_count = stats.get(notice.id, (None, 0))
