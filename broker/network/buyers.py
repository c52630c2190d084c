"""What buyers send through the network's public pages: a message for a listed member, or
an opportunity for the network.

Nothing a buyer sends does anything until they confirm their address from the link we
e-mail them, so nobody can write in someone else's name: a submission is stored
unconfirmed, and confirming it (once, whatever happens) sends the message to the member
or turns the opportunity into a notice from source "buyer", matched like any other.
Unconfirmed submissions are deleted after `network.confirm_hours`.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

import matchers
from broker.clock import utcnow
from broker.errors import BrokerError, FieldError, InvalidFields
from broker.matching.cache import MatcherCache
from broker.models import Member
from broker.models.network import BuyerSubmission
from broker.network import buyer_mail
from broker.network.listing import listed_row
from broker.notices import manual
from broker.outreach.compose import MailContext
from broker.outreach.links import LinkTampered, SignedTokens

SOURCE = "buyer"
# Length caps, shared by the forms (their validators) and `check` (the last word).
MAX_LENGTHS = {
    "name": 200,
    "email": 320,
    "organisation": 300,
    "message": 5000,
    "title": 300,
    "needed": 10000,
    "place": 300,
}
# Deliberately plain: one @, no spaces or line breaks (which could start a new header).
EMAIL = re.compile(r"^[^@\s<>,;\"]+@[^@\s<>,;\"]+\.[^@\s<>,;\"]+$")
RATE_WINDOW = timedelta(hours=1)
# The confirmation links' own salt: no other signed value can pass for one.
SALT = "sen-broker.buyer-confirm"


class TooManySubmissions(BrokerError):
    """Raised by `submit` when the address or the e-mail has sent its share this hour."""


class InvalidSubmission(InvalidFields):
    """Raised by `check` with every problem found, each naming its form field."""


@dataclass(frozen=True)
class Buyer:
    """Who is writing: their name, e-mail and organisation."""

    name: str
    email: str
    organisation: str


@dataclass(frozen=True)
class ContactRequest:
    """A buyer's message for one listed member."""

    member_id: int
    buyer: Buyer
    message: str


@dataclass(frozen=True)
class OpportunityRequest:
    """A buyer's opportunity for the network."""

    buyer: Buyer
    title: str
    needed: str
    deadline: date | None = None
    value: float | None = None
    place: str = ""


@dataclass(frozen=True)
class Rules:
    """The [network] limits: submissions per hour (per address and per e-mail), and
    the hours a buyer has to confirm."""

    per_hour: int = 5
    confirm_hours: int = 48

    @property
    def max_age(self) -> timedelta:
        return timedelta(hours=self.confirm_hours)

    def tokens(self, secret_key: str, clock: Callable[[], datetime] = utcnow) -> SignedTokens:
        """The signer of confirmation links, expiring after `confirm_hours`."""
        return SignedTokens(secret_key, SALT, self.confirm_hours / 24, clock)


class LinkUnusable(BrokerError):
    """Raised by `read_link` for a link we did not sign; `expired` for one too old."""

    def __init__(self, expired: bool):
        super().__init__("the link has expired" if expired else "the link is not ours")
        self.expired = expired


def link_token(tokens: SignedTokens, submission: BuyerSubmission) -> str:
    """The signed token of a submission's confirmation link."""
    return tokens.dumps([submission.id, submission.nonce])


def read_link(tokens: SignedTokens, token: str) -> tuple[int, str]:
    """(submission id, nonce) from a confirmation token; raises LinkUnusable."""
    try:
        payload, expired_at = tokens.read(token)
    except LinkTampered:
        raise LinkUnusable(expired=False) from None
    if expired_at is not None:
        raise LinkUnusable(expired=True)
    try:
        submission_id, nonce = payload
    except (TypeError, ValueError):
        raise LinkUnusable(expired=False) from None
    if not isinstance(submission_id, int) or not isinstance(nonce, str):
        raise LinkUnusable(expired=False)
    return submission_id, nonce


@dataclass(frozen=True)
class Sender:
    """Where a submission came from, as keyed hashes (we count, we don't keep addresses)."""

    ip_hash: str
    email_hash: str

    @classmethod
    def of(cls, secret_key: str, ip: str, email: str) -> Sender:
        return cls(keyed_hash(secret_key, "ip", ip), keyed_hash(secret_key, "email", email))


@dataclass(frozen=True)
class Confirmed:
    """What confirming did: "confirmed" now, "already" confirmed before, or "gone"
    (expired and deleted, or never there)."""

    outcome: str
    submission: BuyerSubmission | None = None
    matches: int = 0


def keyed_hash(secret_key: str, what: str, value: str) -> str:
    """An HMAC of a normalised value: the same address always counts as the same."""
    message = f"{what}:{value.strip().lower()}".encode()
    return hmac.new(secret_key.encode(), message, hashlib.sha256).hexdigest()


def _clean(text: str) -> str:
    """One line: collapsed spaces and no line breaks."""
    return " ".join((text or "").split())


def check(request: ContactRequest | OpportunityRequest) -> None:
    """Raise InvalidSubmission for a missing field, a bad e-mail or text over its cap."""
    errors: list[FieldError] = []
    buyer = request.buyer
    fields = {"name": buyer.name, "email": buyer.email, "organisation": buyer.organisation}
    if isinstance(request, ContactRequest):
        fields["message"] = request.message
    else:
        fields |= {"title": request.title, "needed": request.needed, "place": request.place}
    optional = {"place"}
    for field, value in fields.items():
        if not (value or "").strip() and field not in optional:
            errors.append(FieldError(field, "This can't be empty"))
        elif len(value or "") > MAX_LENGTHS[field]:
            errors.append(FieldError(field, f"Keep this to {MAX_LENGTHS[field]:,} characters"))
    if buyer.email.strip() and not EMAIL.match(buyer.email.strip()):
        errors.append(FieldError("email", "Enter an e-mail address, like name@example.org"))
    value = request.value if isinstance(request, OpportunityRequest) else None
    if value is not None and not 0 <= value < 1e13:
        errors.append(FieldError("value", "Enter an amount in pounds, e.g. 25000"))
    if errors:
        raise InvalidSubmission(errors)


def check_rate(session: Session, sender: Sender, per_hour: int, now: datetime) -> None:
    """Raise TooManySubmissions when this address, or this e-mail, has sent `per_hour`
    submissions in the last hour."""
    since = now - RATE_WINDOW
    for column, value in (
        (BuyerSubmission.ip_hash, sender.ip_hash),
        (BuyerSubmission.email_hash, sender.email_hash),
    ):
        sent = session.scalar(
            select(func.count(BuyerSubmission.id)).where(
                column == value, BuyerSubmission.created_at >= since
            )
        )
        if sent >= per_hour:
            raise TooManySubmissions(f"{sent} submissions in the last hour")


def submit(
    session: Session,
    request: ContactRequest | OpportunityRequest,
    sender: Sender,
    rules: Rules,
    context: MailContext,
    confirm_url: Callable[[BuyerSubmission], str],
    now: datetime,
) -> BuyerSubmission:
    """Store an unconfirmed submission and queue the one e-mail asking the buyer to
    confirm it; flushes only. `confirm_url(submission)` makes the signed link.

    Raises InvalidSubmission, TooManySubmissions, or LookupError for a member who is
    not (or no longer) listed.
    """
    check(request)
    check_rate(session, sender, rules.per_hour, now)
    buyer = request.buyer
    submission = BuyerSubmission(
        nonce=secrets.token_hex(16),
        name=_clean(buyer.name),
        email=buyer.email.strip(),
        organisation=_clean(buyer.organisation),
        ip_hash=sender.ip_hash,
        email_hash=sender.email_hash,
        created_at=now,
        mail_ids=[],
    )
    if isinstance(request, ContactRequest):
        member = listed_row(session, request.member_id)
        if member is None:
            raise LookupError(f"member {request.member_id} is not listed")
        submission.kind = "contact"
        submission.member_id = member.id
        submission.message = request.message.strip()
    else:
        member = None
        submission.kind = "opportunity"
        submission.title = _clean(request.title)
        submission.needed = request.needed.strip()
        submission.deadline = request.deadline
        submission.value = request.value
        submission.place = _clean(request.place)
    session.add(submission)
    session.flush()
    buyer_mail.queue_confirmation(
        session, submission, member, confirm_url(submission), rules.confirm_hours, context, now
    )
    return submission


def find(session: Session, submission_id: int, nonce: str) -> BuyerSubmission | None:
    """The submission a link names, if it is still there and the link is its own."""
    submission = session.get(BuyerSubmission, submission_id)
    if submission is None or not hmac.compare_digest(submission.nonce, nonce):
        return None
    return submission


def confirm(
    session: Session,
    submission_id: int,
    nonce: str,
    cache: MatcherCache,
    context: MailContext,
    rules: Rules,
    now: datetime,
) -> Confirmed:
    """Confirm a submission exactly once and do what it asks; flushes only.

    A conditional UPDATE marks it confirmed, so of two confirmations racing only one
    finds it unconfirmed; the other (and any later one) is told "already".
    """
    claimed = session.execute(
        update(BuyerSubmission)
        .where(
            BuyerSubmission.id == submission_id,
            BuyerSubmission.nonce == nonce,
            BuyerSubmission.confirmed_at.is_(None),
            BuyerSubmission.created_at > now - rules.max_age,
        )
        .values(confirmed_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount
    submission = find(session, submission_id, nonce)
    if submission is None:
        return Confirmed("gone")
    session.refresh(submission)
    if claimed != 1:
        return Confirmed("already" if submission.confirmed_at else "gone", submission)
    matches = 0
    if submission.kind == "contact":
        member = session.get(Member, submission.member_id)
        messages = buyer_mail.queue_contact(session, submission, member, context, now)
    else:
        # Who sent it stays with the notice, for the coordinators to answer.
        sent_by = (
            f"{submission.name} ({submission.email}) of {submission.organisation}, "
            "who confirmed their e-mail address"
        )
        result = manual.record_manual_notice(
            session, _entry(submission), cache, None, now, logged=("sent_by", sent_by)
        )
        submission.notice_id = result.notice.id
        matches = result.matches
        messages = buyer_mail.queue_opportunity(
            session, submission, result.notice, matches, context, now
        )
    submission.mail_ids = [m.id for m in messages]
    # The text lives on in the notice or the e-mails; the row keeps who sent it.
    submission.message = submission.needed = submission.place = ""
    session.flush()
    return Confirmed("confirmed", submission, matches)


def _entry(submission: BuyerSubmission) -> manual.ManualEntry:
    """A confirmed opportunity as the notice entered by hand it becomes."""
    # Areas the matcher knows set the notice's regions; the buyer's words stay in the text.
    areas = []
    for item in manual.split_items(submission.place, ";,\n"):
        try:
            matchers.resolve_area(item)
        except matchers.AreaError:
            continue
        areas.append(item)
    description = submission.needed
    if submission.place:
        description += f"\n\nWhere: {submission.place}"
    return manual.ManualEntry(
        kind="buyer_tip",
        title=submission.title,
        buyer=submission.organisation,
        description=description,
        deadline=manual.uk_deadline(submission.deadline) if submission.deadline else None,
        value=submission.value,
        areas=tuple(areas),
        source=SOURCE,
    )


def forget_unconfirmed(session: Session, max_age: timedelta, now: datetime) -> int:
    """Delete submissions never confirmed within `max_age`; returns how many."""
    return session.execute(
        delete(BuyerSubmission)
        .where(BuyerSubmission.confirmed_at.is_(None), BuyerSubmission.created_at <= now - max_age)
        .execution_options(synchronize_session=False)
    ).rowcount


def waiting(session: Session) -> int:
    """How many submissions wait for their buyer to confirm."""
    return session.scalar(
        select(func.count(BuyerSubmission.id)).where(BuyerSubmission.confirmed_at.is_(None))
    )
