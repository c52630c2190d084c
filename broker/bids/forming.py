"""Forming a consortium bid: starting it, linking its notice, suggesting partners,
inviting members and their answers, and each member's role, share and lots."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from broker.bids import tasks
from broker.bids.timeline import BidError, record
from broker.formatting import LONDON
from broker.matching.cache import MatcherCache
from broker.matching.inputs import notice_for
from broker.models import Match, Member, MemberResponse, Notice
from broker.models.bids import BID_MODELS, BID_ROLES, Bid, BidMember
from broker.outreach.opportunities import is_cancelled
from broker.triage.actions import mark_bid
from matchers.consortium import Coverage, Suggestion, coverage, lot_label, suggest

ROLE_LABELS = {"lead": "Lead", "partner": "Partner", "subcontractor": "Subcontractor"}
# Members who may be asked: those the engine matched to the notice, best first.
INVITABLE_LIMIT = 40


@dataclass(frozen=True)
class BidDetails:
    """What a coordinator says about a bid; a bid without a notice gives its own deadline
    and value."""

    title: str
    model: str = "lead_contractor"
    note: str = ""
    tender_deadline: datetime | None = None
    estimated_value: float | None = None
    internal_deadline: datetime | None = None


def _check(details: BidDetails) -> None:
    if not details.title.strip():
        raise BidError("Give the bid a title.")
    if details.model not in BID_MODELS:
        raise BidError("Choose one of the three consortium models.")
    if details.estimated_value is not None and details.estimated_value < 0:
        raise BidError("The estimated value can't be negative.")


def known_state(notice: Notice | None) -> dict | None:
    """The notice's deadline and whether it is cancelled, as a bid's members know them."""
    if notice is None:
        return None
    return {
        "deadline": notice.deadline.isoformat() if notice.deadline else None,
        "cancelled": is_cancelled(notice),
    }


def start_bid(
    session: Session,
    details: BidDetails,
    user_id: int | None,
    now: datetime,
    notice: Notice | None = None,
) -> Bid:
    """Start a bid (from a notice, or for an expected re-tender), with the standard
    checklist of tasks dated back from the tender deadline; flushes only."""
    _check(details)
    bid = Bid(
        notice_id=notice.id if notice else None,
        title=details.title.strip()[:300],
        model=details.model,
        note=details.note.strip(),
        tender_deadline=details.tender_deadline,
        estimated_value=details.estimated_value,
        internal_deadline=details.internal_deadline,
        stage="forming",
        notice_known=known_state(notice),
        created_by=user_id,
        created_at=now,
        updated_at=now,
    )
    session.add(bid)
    session.flush()
    deadline = bid.deadline or (notice.deadline if notice else None)
    bid.tasks.extend(tasks.checklist(bid, _day(deadline), now))
    record(session, bid, "created", now, bid.title, user_id=user_id, to_stage="forming")
    if notice is not None:
        mark_bid(session, notice, user_id, now, f"bid “{bid.title}”")
    return bid


def _day(moment: datetime | None):
    return moment.astimezone(LONDON).date() if moment else None


def update_details(
    session: Session, bid: Bid, details: BidDetails, user_id: int | None, now: datetime
) -> None:
    """Change the bid's title, model, description, deadlines or estimated value."""
    _check(details)
    changed = []
    for key in (
        "title",
        "model",
        "note",
        "tender_deadline",
        "estimated_value",
        "internal_deadline",
    ):
        value = getattr(details, key)
        value = value.strip() if isinstance(value, str) else value
        if getattr(bid, key) != value:
            setattr(bid, key, value)
            changed.append(key.replace("_", " "))
    if changed:
        record(session, bid, "details", now, "changed " + ", ".join(changed), user_id=user_id)


def link_notice(
    session: Session, bid: Bid, notice: Notice, user_id: int | None, now: datetime
) -> None:
    """Link a bid started for an expected re-tender to the notice now published."""
    if bid.notice_id == notice.id:
        return
    if bid.notice_id is not None:
        raise BidError("This bid already has its notice.")
    bid.notice_id = notice.id
    bid.notice = notice
    bid.notice_known = known_state(notice)
    record(session, bid, "linked", now, notice.title, user_id=user_id)
    mark_bid(session, notice, user_id, now, f"bid “{bid.title}”")


# --- partners -------------------------------------------------------------------------


def _left_out(session: Session, bid: Bid) -> set[int]:
    """Members never to suggest: said "not for us" to the notice, can't be e-mailed, or
    said they can't join this bid."""
    out = {m.member_id for m in bid.members if m.status == "declined"}
    if bid.notice_id is not None:
        out |= set(
            session.scalars(
                select(MemberResponse.member_id).where(
                    MemberResponse.notice_id == bid.notice_id, MemberResponse.kind == "declined"
                )
            )
        )
    out |= set(
        session.scalars(
            select(Member.id).where(
                (Member.active.is_(False)) | (Member.unsubscribed_at.is_not(None))
            )
        )
    )
    return out


def partner_coverage(session: Session, bid: Bid, cache: MatcherCache) -> Coverage | None:
    """What each member who could join covers of the bid's notice; None without one."""
    if bid.notice is None:
        return None
    left_out = _left_out(session, bid)
    with cache.lock:
        matcher = cache.matcher(session)
        profiles = [p for p in cache.profiles() if int(p.id) not in left_out]
        return coverage(notice_for(bid.notice), matcher, profiles, cache.settings.store_threshold)


@dataclass(frozen=True)
class PartnerSet:
    """A suggestion as the bid page shows it: the members, what each brings, what is left."""

    members: list[tuple[Member, tuple[str, ...]]]
    missing: tuple[str, ...]

    @property
    def member_ids(self) -> list[int]:
        return [m.id for m, _ in self.members]


def suggestions(session: Session, bid: Bid, cache: MatcherCache) -> list[PartnerSet]:
    """A few sets of members who together could deliver the bid's notice, best first."""
    cover = partner_coverage(session, bid, cache)
    if cover is None:
        return []
    found: list[Suggestion] = suggest(cover)
    ids = {int(m) for s in found for m in s.members}
    members = {m.id: m for m in session.scalars(select(Member).where(Member.id.in_(ids)))}
    return [
        PartnerSet(
            members=[(members[int(p.member)], p.words) for p in s.parts],
            missing=s.missing,
        )
        for s in found
    ]


def invitable(session: Session, bid: Bid) -> list[Member]:
    """Members a coordinator may invite: matched to the notice (best first), or with no
    notice every member; never those left out, nor those already in the bid."""
    left_out = _left_out(session, bid) | {m.member_id for m in bid.members}
    if bid.notice_id is not None:
        query = (
            select(Member)
            .join(Match, Match.member_id == Member.id)
            .where(Match.notice_id == bid.notice_id)
            .order_by(Match.score.desc(), Member.name)
        )
    else:
        query = select(Member).where(Member.active).order_by(Member.name)
    return [m for m in session.scalars(query) if m.id not in left_out][:INVITABLE_LIMIT]


def lots_of(bid: Bid) -> list[str]:
    """The bid's notice's lots, as people name them."""
    if bid.notice is None:
        return []
    return [lot_label(i, lot.get("title") or "") for i, lot in enumerate(bid.notice.lots or ())]


def add_members(
    session: Session,
    bid: Bid,
    member_ids: list[int],
    role: str,
    cache: MatcherCache,
    now: datetime,
    status: str = "invited",
) -> list[BidMember]:
    """Put members in the bid as invited (or added), with the role proposed and the lots
    each covers; members already in it keep their place, unless they had said no."""
    if role not in BID_ROLES:
        raise BidError("Choose the role proposed to them.")
    if not member_ids:
        raise BidError("Choose at least one member.")
    chosen = list(session.scalars(select(Member).where(Member.id.in_(member_ids))))
    if len(chosen) != len(set(member_ids)):
        raise BidError("One of the chosen members no longer exists.")
    cover = partner_coverage(session, bid, cache)
    parts = cover.parts if cover is not None else {}
    current = {m.member_id: m for m in bid.members}
    if role == "lead" and (len(chosen) > 1 or _lead(bid) not in (None, *member_ids)):
        raise BidError("A bid has one lead: propose the lead role to one member.")
    placed = []
    for member in sorted(chosen, key=lambda m: m.name):
        place = current.get(member.id)
        if place is not None and place.status != "declined":
            continue
        if place is None:
            place = BidMember(member_id=member.id, member=member)
            bid.members.append(place)
        place.role = role
        place.status = status
        place.invited_at = now if status == "invited" else None
        place.responded_at = None
        place.decline_reason = ""
        part = parts.get(str(member.id))
        place.lots = list(part.lots) if part else []
        placed.append(place)
    session.flush()
    return placed


def _lead(bid: Bid) -> int | None:
    return next(
        (m.member_id for m in bid.members if m.role == "lead" and m.status != "declined"), None
    )


def answer(session: Session, place: BidMember, join: bool, reason: str, now: datetime) -> bool:
    """A member's answer to an invitation; False when it changes nothing (asked twice)."""
    status = "joined" if join else "declined"
    reason = reason.strip()[:2000]
    if place.status == status and (join or place.decline_reason == reason):
        return False
    place.status = status
    place.responded_at = now
    place.decline_reason = "" if join else reason
    detail = f"{place.member.name} joined" if join else f"{place.member.name} can't join"
    if reason and not join:
        detail += f": {reason}"
    record(
        session,
        place.bid,
        "joined" if join else "declined",
        now,
        detail,
        member_id=place.member_id,
    )
    return True


@dataclass(frozen=True)
class PartEntry:
    """A member's part as a coordinator sets it."""

    member_id: int
    role: str
    share_percent: float | None
    lots: tuple[int, ...] = ()


def set_part(
    session: Session, bid: Bid, entry: PartEntry, user_id: int | None, now: datetime
) -> None:
    """Set a member's role, share of the work and lots; the shares add up to 100% at most."""
    place = next((m for m in bid.members if m.member_id == entry.member_id), None)
    if place is None:
        raise BidError("That member is not in this bid.")
    if entry.role not in BID_ROLES:
        raise BidError("Choose lead, partner or subcontractor.")
    if entry.role == "lead" and _lead(bid) not in (None, entry.member_id):
        lead = next(m for m in bid.members if m.member_id == _lead(bid))
        raise BidError(f"{lead.member.name} is the lead; a bid has one.")
    share = entry.share_percent
    if share is not None and not 0 <= share <= 100:
        raise BidError("A share of the work is a percentage, from 0 to 100.")
    others = sum(
        m.share_percent or 0
        for m in bid.members
        if m.member_id != entry.member_id and m.status != "declined"
    )
    if share is not None and others + share > 100:
        raise BidError(
            f"The shares would add up to {others + share:g}%: the other members already "
            f"have {others:g}%, so this one can have at most {100 - others:g}%."
        )
    count = len(bid.notice.lots or ()) if bid.notice else 0
    if any(not 0 <= lot < count for lot in entry.lots):
        raise BidError("Choose lots the notice has.")
    place.role, place.share_percent, place.lots = entry.role, share, sorted(set(entry.lots))
    labels = lots_of(bid)
    words = [ROLE_LABELS[entry.role].lower()]
    if share is not None:
        words.append(f"{share:g}% of the work")
    if place.lots:
        words.append(", ".join(labels[i] for i in place.lots))
    record(
        session,
        bid,
        "part",
        now,
        f"{place.member.name}: {'; '.join(words)}",
        user_id=user_id,
        member_id=place.member_id,
    )


def remove_member(
    session: Session, bid: Bid, member_id: int, user_id: int | None, now: datetime
) -> None:
    """Take a member out of the bid; their tasks keep their titles but lose the owner."""
    place = next((m for m in bid.members if m.member_id == member_id), None)
    if place is None:
        raise BidError("That member is not in this bid.")
    name = place.member.name
    bid.members.remove(place)
    for task in bid.tasks:
        if task.owner_member_id == member_id:
            task.owner_member_id = None
    session.flush()
    record(session, bid, "removed", now, name, user_id=user_id, member_id=member_id)
