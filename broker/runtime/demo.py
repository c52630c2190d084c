"""`broker up --demo`: a network that looks alive, on an empty database.

- **Notices.** The real notices recorded from the live sources (`broker/demo_data/`), each
  recording moved in time as a whole so that its newest notice was published today: every
  interval within it (publication to deadline, one notice to the next) is kept, and most
  are open again. The dates are moved in the payloads themselves, so the kept raw releases
  agree with the notices.
- **Members.** About thirty fictional social enterprises (`members.csv`, every name ends
  "(example)") across Scotland's council areas and the trades they work in.
- **History.** As if harvested on the day each notice was published: a few weeks of
  forwards, "interested" and "not for us" answers, dismissals, a bid in progress and one
  won, and the e-mails they made (kept in the outbox, never sent: `--demo` uses the "log"
  mail backend).

A database the demo made carries a mark (`demo_loads`): loading again changes nothing,
and a database holding anything else (notices, members, users, sources) is refused.
"""

from __future__ import annotations

import dataclasses
import re
import secrets
import tempfile
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker

from broker.accounts.users import create_user
from broker.bids import forming, stages
from broker.config import Settings
from broker.errors import BrokerError
from broker.harvest.running import Clock, RunSummary, import_file
from broker.mail.sender import send_outbox
from broker.matching.cache import MatcherCache
from broker.matching.inputs import notice_for
from broker.matching.store import match_pending
from broker.members.csv_format import ImportResult, import_csv
from broker.models import (
    ConfiguredSource,
    Match,
    Member,
    MemberResponse,
    Notice,
    NoticeSource,
    User,
)
from broker.models.runtime import DemoLoad
from broker.outreach import answers
from broker.outreach.compose import MailContext
from broker.outreach.forwards import queue_forwards
from broker.triage import actions
from feeds import files

DEMO_DATA = Path(__file__).resolve().parent.parent / "demo_data"
DEMO_MEMBERS = DEMO_DATA / "members.csv"
DEMO_USER = "demo@sen-broker.example"

# A date at the start of a JSON string: the whole string is a date or a date and time.
_DATE = re.compile(rb'"(\d{4}-\d{2}-\d{2})((?:T[0-9:.]+)?(?:Z|[+-]\d{2}:?\d{2})?)"')


class DemoRefused(BrokerError):
    """Raised when --demo would mix demo data into a database that holds other data."""


@dataclass
class DemoLoaded:
    """What loading the demo did."""

    today: date
    already: bool = False
    summaries: list[RunSummary] = field(default_factory=list)
    members: ImportResult | None = None
    # The demo admin's new password (None when the account already existed).
    password: str | None = None
    history: dict[str, int] = field(default_factory=dict)


def demo_files() -> list[Path]:
    """The recorded payloads, in a stable order."""
    return sorted(DEMO_DATA.glob("*.json"))


def load_demo(
    sessions: sessionmaker[Session],
    settings: Settings,
    clock: Clock,
    cache: MatcherCache,
    context: MailContext,
) -> DemoLoaded:
    """Load the demo into an empty database, or do nothing if it is already there.

    Each step is safe to repeat with the same day, so a load that was interrupted (the
    mark is there, unfinished) runs again from the start and finishes.
    """
    now = clock()
    with sessions.begin() as session:
        mark = session.scalar(select(DemoLoad).order_by(DemoLoad.id).limit(1))
        if mark is not None and mark.finished_at is not None:
            return DemoLoaded(today=mark.today, already=True)
        if mark is None:
            _refuse_other_data(session)
            mark = DemoLoad(today=now.date(), started_at=now)
            session.add(mark)
            session.flush()
        today, mark_id = mark.today, mark.id
        password = ensure_demo_user(session, now)
    loaded = DemoLoaded(today=today, password=password)
    with tempfile.TemporaryDirectory(prefix="broker-demo-") as folder:
        for path, days in shifts(demo_files(), today).items():
            moved = move_dates(path, Path(folder), days)
            loaded.summaries.append(import_file(sessions, settings, moved, clock))
    with sessions.begin() as session:
        with DEMO_MEMBERS.open(encoding="utf-8", newline="") as handle:
            loaded.members = import_csv(session, handle, now, where=DEMO_MEMBERS.name)
        match_pending(session, cache, now)
        _as_if_harvested_when_published(session, now)
    with sessions.begin() as session:
        # One transaction: the history and the mark that the demo is complete.
        loaded.history = _history(session, context, now)
        loaded.history["bids"] = _demo_bids(session, cache, now)
        session.get_one(DemoLoad, mark_id).finished_at = now
    # Kept, never sent, whatever [mail] says: a demo e-mails nobody.
    log_only = dataclasses.replace(settings, mail=dataclasses.replace(settings.mail, backend="log"))
    send_outbox(sessions, log_only, clock)
    return loaded


def ensure_demo_user(session: Session, now: datetime) -> str | None:
    """Create the demo coordinator if missing; returns its new password (None if it exists)."""
    if session.scalar(select(User.id).where(User.email == DEMO_USER)) is not None:
        return None
    password = secrets.token_urlsafe(12)
    create_user(session, DEMO_USER, password, "admin", now, name="Demo coordinator")
    return password


def _refuse_other_data(session: Session) -> None:
    held = [
        (session.scalar(select(func.count(Notice.id))) or 0, "notice", "notices"),
        (session.scalar(select(func.count(Member.id))) or 0, "member", "members"),
        (session.scalar(select(func.count(User.id))) or 0, "user", "users"),
        (
            session.scalar(select(func.count(ConfiguredSource.id))) or 0,
            "source added on the Sources page",
            "sources added on the Sources page",
        ),
    ]
    found = ", ".join(f"{n} {one if n == 1 else many}" for n, one, many in held if n)
    if found:
        raise DemoRefused(
            f"this database already holds data the demo didn't make ({found}); the demo "
            "only loads into an empty one, so that demo and real data never mix: run "
            "`broker up --demo` in another directory (it makes its own ./instance), or set "
            "BROKER_INSTANCE_DIR or BROKER_DATABASE__URL to a new database"
        )


# --- the notices' dates ----------------------------------------------------------------


# Recordings whose newest notices are this close were made at about the same time, and
# move together (Find a Tender republishes PCS notices a week later, say).
SAME_TIME = timedelta(days=90)


def shifts(paths: list[Path], today: date) -> dict[Path, int]:
    """The days to move each recording by: recordings made at about the same time move
    together, so that the newest notice among them was published `today`."""
    newest: dict[Path, date] = {}
    for path in paths:
        published = [n.published for p in files.read_file(path) for n in p.notices if n.published]
        newest[path] = max(published).date() if published else today
    days: dict[Path, int] = {}
    for path in sorted(paths, key=lambda p: newest[p], reverse=True):
        # A newer recording made within SAME_TIME of this one sets the move for both.
        leader = next((p for p in days if newest[p] - newest[path] <= SAME_TIME), None)
        days[path] = days[leader] if leader else (today - newest[path]).days
    return {path: days[path] for path in paths}


def move_dates(path: Path, folder: Path, days: int) -> Path:
    """A copy of a recording in `folder` with every date in it moved by `days` whole days
    (the time of day and zone as they were); the copy keeps the file's name."""
    raw = path.read_bytes()
    moved = folder / path.name
    moved.write_bytes(_DATE.sub(lambda m: _moved(m, days), raw) if days else raw)
    return moved


def _moved(match: re.Match[bytes], days: int) -> bytes:
    try:
        day = date.fromisoformat(match.group(1).decode()) + timedelta(days=days)
    except ValueError:  # not a real date after all: left as it is
        return match.group(0)
    return b'"' + day.isoformat().encode() + match.group(2) + b'"'


def _as_if_harvested_when_published(session: Session, now: datetime) -> None:
    """Date the notices' arrival (and first match) to their publication, so that the
    dashboard's weeks show a network that has been running; never in the future."""
    for notice in session.scalars(select(Notice).where(Notice.published.is_not(None))):
        seen = min(notice.published, now)
        notice.first_seen_at = seen
        if notice.first_matched_at is not None:
            notice.first_matched_at = seen
    session.flush()
    seen = select(Notice.first_seen_at).where(Notice.id == Match.notice_id).scalar_subquery()
    session.execute(
        update(Match).values(created_at=seen).execution_options(synchronize_session=False)
    )
    seen = select(Notice.first_seen_at).where(Notice.id == NoticeSource.notice_id)
    session.execute(
        update(NoticeSource)
        .values(first_seen_at=seen.scalar_subquery())
        .execution_options(synchronize_session=False)
    )


# --- what the network did with them -----------------------------------------------------

NOTES = (
    "This looks like a good fit for you. Happy to talk it through.",
    "You've done similar work for this buyer before, worth a look?",
    "Could be one to bid for with others: tell me if you're interested.",
)
DECLINES = (
    ("too_big", "Too much for us to take on this year."),
    ("too_far", "We don't cover that area."),
    ("timescale", "Not enough time to put a bid together."),
    ("no_accreditation", "They want an accreditation we don't have yet."),
)


def _history(session: Session, context: MailContext, now: datetime) -> dict[str, int]:
    """Forwards of the best open matches, the members' answers, and two dismissals: what
    a coordinator and the members would have done in the weeks since each arrived."""
    user = session.scalar(select(User).where(User.email == DEMO_USER))
    threshold = context.notify_threshold
    open_notices = _best_first(session, now, open_only=True)
    forwarded: list[tuple[Notice, Member, datetime]] = []
    for index, notice in enumerate(open_notices[:12]):
        members = _best_members(session, notice, threshold)[:2]
        if not members:
            continue
        when = _after(notice.first_seen_at, index % 4 + 1, now)
        sent = actions.forward(
            session, notice, [m.id for m in members], NOTES[index % len(NOTES)], user.id, when
        )
        queue_forwards(session, notice, sent, user, context, when)
        forwarded.extend((notice, member, when) for member in members)
    interested = declined = 0
    for index, (notice, member, when) in enumerate(forwarded):
        answered = _after(when, 2 + index % 3, now)
        if index % 3 == 0:
            answers.interested(session, member, notice, "", context, answered)
            interested += 1
        elif index % 3 == 1 and declined < len(DECLINES):
            reason, note = DECLINES[declined]
            answers.declined(session, member, notice, reason, note, answered)
            declined += 1
    dismissed = 0
    for notice in reversed(open_notices[12:]):
        if dismissed == 2:
            break
        when = _after(notice.first_seen_at, 1, now)
        actions.dismiss(session, notice, actions.DISMISS_REASONS[0], user.id, when)
        dismissed += 1
    session.flush()
    return {
        "forwards": len(forwarded),
        "interested": interested,
        "not for us": declined,
        "dismissed": dismissed,
    }


def _best_first(session: Session, now: datetime, open_only: bool) -> list[Notice]:
    """Matched notices, best member score first; open ones (deadline ahead) or closed."""
    when = Notice.deadline > now if open_only else Notice.deadline < now
    query = select(Notice).where(
        Notice.best_score.is_not(None), Notice.triage_status == "new", when
    )
    return list(session.scalars(query.order_by(Notice.best_score.desc(), Notice.id)))


def _best_members(session: Session, notice: Notice, threshold: int) -> list[Member]:
    return list(
        session.scalars(
            select(Member)
            .join(Match, Match.member_id == Member.id)
            .where(Match.notice_id == notice.id, Match.score >= threshold)
            .order_by(Match.score.desc(), Member.id)
        )
    )


def _after(moment: datetime, days: int, now: datetime) -> datetime:
    """`days` after `moment`, at a working hour, and never in the future."""
    when = moment.replace(hour=10, minute=0, second=0, microsecond=0) + timedelta(days=days)
    return min(when, now - timedelta(minutes=5))


def _fitting_members(
    session: Session, cache: MatcherCache, notice: Notice, count: int
) -> list[Member]:
    """The members the engine thinks fit a notice best, matched or not (as a coordinator
    adding members by hand would find them)."""
    engine = cache.matcher(session)
    found = notice_for(notice)
    members = list(session.scalars(select(Member).where(Member.active).order_by(Member.id)))
    scored = sorted(members, key=lambda m: -engine.explain(found, str(m.id)).score)
    return scored[:count]


# --- consortium bids ---------------------------------------------------------------------
def _demo_bids(session: Session, cache: MatcherCache, now: datetime) -> int:
    """A bid in progress (preparing) on an open notice a member was interested in, and one
    won on a notice that has closed, made through the bids service so each has its dated
    history; members the engine didn't list are added by hand. Returns how many."""
    user_id = session.scalar(select(User.id).where(User.email == DEMO_USER))
    interesting = session.scalars(
        select(Notice)
        .join(MemberResponse, MemberResponse.notice_id == Notice.id)
        .where(MemberResponse.kind == "interested", Notice.deadline > now)
        .order_by(Notice.best_score.desc(), Notice.id)
    ).first()
    # The most recently closed notice in Scotland, else anywhere.
    closed = session.scalars(
        select(Notice)
        .where(Notice.deadline < now, Notice.notice_type == "tender")
        .order_by(Notice.primary_source.not_in(("pcs", "sell2wales")), Notice.deadline.desc())
    ).first()
    made = 0
    for notice, outcome in ((interesting, "preparing"), (closed, "won")):
        if notice is None:
            continue
        started = _after(notice.first_seen_at, 2, now)
        members = _best_members(session, notice, 0)[:3]
        for member in _fitting_members(session, cache, notice, 3):
            if len(members) >= 2:
                break
            if member not in members:
                actions.add_member(session, notice, member, cache, user_id, started)
                members.append(member)
        details = forming.BidDetails(
            title=notice.title, note="Started from the demo's history.", model="lead_contractor"
        )
        bid = forming.start_bid(session, details, user_id, started, notice)
        if members:
            forming.add_members(session, bid, [members[0].id], "lead", cache, started)
        if members[1:]:
            partners = [m.id for m in members[1:]]
            forming.add_members(session, bid, partners, "partner", cache, started)
        for i, place in enumerate(bid.members):
            forming.answer(session, place, True, "", _after(started, 1 + i, now))
        moves = ["go_no_go", "preparing"]
        if outcome == "won":
            moves += ["submitted", "won"]
        when = started
        for day, stage in enumerate(moves, start=4):
            planned = _after(started, day, now)
            if stage == "submitted" and notice.deadline is not None:
                planned = min(planned, notice.deadline - timedelta(hours=2))
            if stage == "won":
                planned = _after(notice.deadline or started, 7, now)
            # Each step after the one before, even when the tender ran to a short deadline.
            when = max(planned, when + timedelta(hours=1))
            change = stages.StageChange(
                stage, value_won=(notice.value_amount or 120000.0) if stage == "won" else None
            )
            stages.change_stage(session, bid, change, user_id, when)
        bid.updated_at = when
        made += 1
    session.flush()
    return made
