"""Sending the outbox over SMTP, each message at most once, and retrying what can be.

Exactly once, and why it holds
------------------------------
SMTP has one moment at which a message passes to the server: the "." that ends DATA.
Until the server has read it, the server holds at most part of a message, and a dropped
connection makes it throw that away. Once it has read it, the server may deliver the
message, even if its "250" reply never reaches us. So, for each message, the sender:

1. sends MAIL FROM, RCPT TO, DATA and the whole body, but not the final ".";
2. sets `transmitted_at` and commits;
3. sends the "." and reads the reply: 250 makes the message `sent`; a 4xx or 5xx
   clears `transmitted_at` and defers or fails it.

A crash before step 2 commits leaves `transmitted_at` empty: the server never had a
complete message, so sending it again is safe, and the next run does. A crash after
step 2 leaves a queued message with `transmitted_at` set: the server may have it, so
the next run's `recover()` marks it sent and never sends it again. The window in which
this guess is wrong (the process dies between the commit and the write of ".") is one
small write; we accept losing a message there rather than ever sending one twice. A
connection that drops while we wait for the reply to "." is taken the same way.

Only one sender runs at a time (`broker.locks.exclusive(engine, "mail-sender")`), so
`recover()`, which runs under that lock, never mistakes a message another process is
sending for one whose sender died. Each message keeps the Message-ID it was queued with,
so a receiving server that sees it twice after all can still tell.

Failures
--------
A temporary failure (no connection, a 4xx reply, a connection lost before step 2) adds
an attempt and waits `backoff_seconds * 2 ** (attempts - 1)` before the next try, and
fails the message after `max_attempts` tries. A 5xx reply fails it at once, with the
reply as the reason. A failure of one message never stops the others, but a server that
can't be reached, or drops the connection, ends the run: the rest stay queued for later.

SMTP lives only in this package (the wire in `broker.mail.smtp`, `kick` and the
scheduled runs in `broker.mail.runs`); the clock (`now_fn`) and the pause (`sleep`) are
passed in, so tests run it against a real server with a hand-wound clock.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from broker.config import MailSettings, Settings
from broker.locks import exclusive
from broker.mail.runs import SEND_JOB_ID, SendRuns, kick, send_runs
from broker.mail.smtp import (
    Deferred,
    Dropped,
    Refused,
    Unreachable,
    connect,
    hang_up,
    render,
    reset,
    transmit,
    where,
)
from broker.models.mail import OutboxMessage

if TYPE_CHECKING:
    import smtplib

__all__ = [
    "SENDER_LOCK",
    "SEND_JOB_ID",
    "Problem",
    "RateLimit",
    "SendReport",
    "SendRuns",
    "backoff",
    "kick",
    "recover",
    "send_outbox",
    "send_runs",
]

logger = logging.getLogger(__name__)

SENDER_LOCK = "mail-sender"
RATE_WINDOW = timedelta(seconds=60)
# However many attempts are allowed, a retry never waits longer than this.
MAX_BACKOFF = timedelta(days=1)
RECOVERED_NOTE = (
    "The sender stopped after handing this message to the server and before the "
    "server's reply; it is taken as delivered and not sent again."
)
UNANSWERED_NOTE = (
    "The connection was lost while waiting for the server to confirm this message; "
    "it is taken as delivered and not sent again."
)
KEPT_NOTE = 'Not sent: [mail] backend is "log", so it was kept here as delivered.'


@dataclass(frozen=True)
class Problem:
    """A message that could not be sent in this run, and why."""

    outbox_id: int
    to_address: str
    reason: str
    # When it is tried again; None once it has failed for good.
    next_attempt_at: datetime | None = None


@dataclass
class SendReport:
    """What one run of the sender did."""

    sent: int = 0
    # [mail] backend = "log": messages kept as delivered, none sent.
    kept: int = 0
    # Messages a dead sender had handed over, now marked sent (see `recover`).
    recovered: int = 0
    # Temporary failures, tried again later.
    deferred: list[Problem] = field(default_factory=list)
    # Failed for good in this run (a 5xx reply, or too many temporary failures).
    failed: list[Problem] = field(default_factory=list)
    # Still queued after the run, due now or later.
    waiting: int = 0
    # Why the run sent nothing, or stopped before the end; empty when it ran through.
    stopped: str = ""
    # The server could not be reached, or dropped the connection.
    connection_failed: bool = False

    def line(self) -> str:
        """A one-line summary, e.g. "3 sent, 1 failed, 2 waiting"."""
        parts = [f"{self.sent} sent"]
        if self.kept:
            parts.append(f"{self.kept} kept unsent ([mail] backend = log)")
        if self.recovered:
            parts.append(f"{self.recovered} recovered as sent")
        if self.deferred:
            parts.append(f"{len(self.deferred)} to retry")
        parts.append(f"{len(self.failed)} failed")
        parts.append(f"{self.waiting} waiting")
        text = ", ".join(parts)
        return f"{text} ({self.stopped})" if self.stopped else text


# --- the run -------------------------------------------------------------------------


def send_outbox(
    sessions: sessionmaker[Session],
    settings: Settings,
    now_fn: Callable[[], datetime],
    *,
    sleep: Callable[[float], Any] = time.sleep,
    include_waiting: bool = False,
) -> SendReport:
    """Send the queued messages that are due, oldest first; commits as it goes.

    `include_waiting` also sends messages still waiting for their next retry.
    """
    mail = settings.mail
    report = SendReport()
    if not mail.enabled:
        report.stopped = "sending is off: [mail] enabled = false"
    else:
        with exclusive(_engine(sessions), SENDER_LOCK) as ours:
            if not ours:
                report.stopped = "another process is sending the outbox"
            else:
                report.recovered = _recover(sessions)
                if mail.backend == "log":
                    _keep_due(sessions, mail, now_fn, include_waiting, report)
                else:
                    _send_due(sessions, mail, now_fn, sleep, include_waiting, report)
    with sessions() as session:
        report.waiting = (
            session.scalar(
                select(func.count(OutboxMessage.id)).where(OutboxMessage.status == "queued")
            )
            or 0
        )
    return report


def recover(sessions: sessionmaker[Session]) -> int | None:
    """Mark sent what a dead sender handed over; None if a sender is running now."""
    with exclusive(_engine(sessions), SENDER_LOCK) as ours:
        return _recover(sessions) if ours else None


def _recover(sessions: sessionmaker[Session]) -> int:
    # Only called holding the sender lock: a queued message with transmitted_at set
    # belongs to a sender that died after handing it over.
    with sessions.begin() as session:
        stranded = session.scalars(
            select(OutboxMessage).where(
                OutboxMessage.status == "queued", OutboxMessage.transmitted_at.is_not(None)
            )
        ).all()
        for message in stranded:
            message.status = "sent"
            message.sent_at = message.transmitted_at
            message.last_error = RECOVERED_NOTE
            logger.warning("outbox message %s recovered as sent (sender stopped)", message.id)
    return len(stranded)


def _engine(sessions: sessionmaker[Session]) -> Any:
    return sessions.kw["bind"]


def _send_due(
    sessions: sessionmaker[Session],
    mail: MailSettings,
    now_fn: Callable[[], datetime],
    sleep: Callable[[float], Any],
    include_waiting: bool,
    report: SendReport,
) -> None:
    now = now_fn()
    due = _due(sessions, now, include_waiting)
    with sessions() as session:
        # Sends of earlier runs count towards the rate too.
        recent = list(
            session.scalars(
                select(OutboxMessage.sent_at).where(OutboxMessage.sent_at > now - RATE_WINDOW)
            )
        )
    if not due:
        return
    rate = RateLimit(mail.rate_per_minute, recent, now_fn, sleep)
    smtp: smtplib.SMTP | None = None
    try:
        for index, outbox_id in enumerate(due):
            rate.wait_turn()
            if smtp is None:
                try:
                    smtp = connect(mail)
                except Unreachable as exc:
                    # Every message waiting now waits for the server: none is tried alone.
                    report.stopped = str(exc)
                    report.connection_failed = True
                    logger.warning("outbox: %s; %d messages wait", exc, len(due) - index)
                    _record_temporary(sessions, mail, due[index:], str(exc), now_fn(), report)
                    return
            if not _send_one(smtp, sessions, mail, outbox_id, now_fn, report):
                return
    except BaseException:
        # Perhaps mid-message (say, the database failed at the hand-over): a QUIT now
        # would only join the body, so drop the line and the server discards the message.
        if smtp is not None:
            smtp.close()
            smtp = None
        raise
    finally:
        if smtp is not None:
            hang_up(smtp)


def _due(sessions: sessionmaker[Session], now: datetime, include_waiting: bool) -> list[int]:
    """The queued messages to send now, oldest first."""
    with sessions() as session:
        query = select(OutboxMessage.id).where(
            OutboxMessage.status == "queued", OutboxMessage.transmitted_at.is_(None)
        )
        if not include_waiting:
            query = query.where(OutboxMessage.next_attempt_at <= now)
        return list(session.scalars(query.order_by(OutboxMessage.created_at, OutboxMessage.id)))


def _keep_due(
    sessions: sessionmaker[Session],
    mail: MailSettings,
    now_fn: Callable[[], datetime],
    include_waiting: bool,
    report: SendReport,
) -> None:
    """[mail] backend = "log": render each due message, as it would be sent, and keep it
    as delivered; nothing leaves the machine. The Outbox page shows it as the member
    would get it."""
    for outbox_id in _due(sessions, now_fn(), include_waiting):
        with sessions.begin() as session:
            message = session.get(OutboxMessage, outbox_id)
            if message is None or message.status != "queued":
                continue
            to_address, subject = message.to_address, message.subject
            try:
                size = len(render(message, mail))
            except (ValueError, TypeError, IndexError) as exc:
                unwritable = f"could not build the message: {exc}"
            else:
                unwritable = ""
                message.status = "sent"
                message.sent_at = now_fn()
                message.attempts += 1
                message.last_error = KEPT_NOTE
        if unwritable:
            _record_failed(sessions, outbox_id, unwritable, report, to_address)
            continue
        report.kept += 1
        logger.info(
            "outbox message %s to %s kept, not sent ([mail] backend = log): %r, %d bytes",
            outbox_id,
            to_address,
            subject,
            size,
        )


class RateLimit:
    """At most `per_minute` messages in any 60 seconds; `wait_turn` sleeps when full."""

    def __init__(
        self,
        per_minute: int,
        recent: Iterable[datetime],
        now_fn: Callable[[], datetime],
        sleep: Callable[[float], Any],
    ):
        self.per_minute = per_minute
        self.times: deque[datetime] = deque(sorted(recent))
        self.now_fn = now_fn
        self.sleep = sleep

    def wait_turn(self) -> datetime:
        """Wait until one more message fits in the window, and count it."""
        now = self.now_fn()
        while True:
            while self.times and self.times[0] <= now - RATE_WINDOW:
                self.times.popleft()
            if len(self.times) < self.per_minute:
                break
            self.sleep((self.times[0] + RATE_WINDOW - now).total_seconds())
            now = self.now_fn()
        self.times.append(now)
        return now


# --- one message -----------------------------------------------------------------------


def _send_one(
    smtp: smtplib.SMTP,
    sessions: sessionmaker[Session],
    mail: MailSettings,
    outbox_id: int,
    now_fn: Callable[[], datetime],
    report: SendReport,
) -> bool:
    """Send one message and record the outcome; False when the connection is gone."""
    with sessions() as session:
        message = session.get(OutboxMessage, outbox_id)
        if message is None or message.status != "queued" or message.transmitted_at is not None:
            return True
        to_address = message.to_address
        try:
            data: bytes | None = render(message, mail)
        except (ValueError, TypeError, IndexError) as exc:
            # A header the e-mail library can't write (say, a line break in it).
            data, unwritable = None, f"could not build the message: {exc}"
    if data is None:
        _record_failed(sessions, outbox_id, unwritable, report, to_address)
        return True

    def handed_over() -> None:
        with sessions.begin() as session:
            session.get_one(OutboxMessage, outbox_id).transmitted_at = now_fn()

    try:
        reply = transmit(smtp, data, mail.from_address, to_address, handed_over, where(mail))
    except Deferred as exc:
        _record_temporary(sessions, mail, [outbox_id], str(exc), now_fn(), report)
        if exc.closing:
            report.stopped = f"{where(mail)} ended the connection: {exc}"
            return False
        return reset(smtp)
    except Refused as exc:
        _record_failed(sessions, outbox_id, str(exc), report, to_address)
        return reset(smtp)
    except Dropped as exc:
        if exc.handed_over:
            _record_sent(sessions, outbox_id, now_fn(), note=f"{UNANSWERED_NOTE} ({exc})")
            report.sent += 1
        else:
            _record_temporary(sessions, mail, [outbox_id], str(exc), now_fn(), report)
        report.stopped = str(exc)
        report.connection_failed = True
        return False
    _record_sent(sessions, outbox_id, now_fn())
    report.sent += 1
    logger.info("outbox message %s sent to %s: %s", outbox_id, to_address, reply)
    return True


# --- recording outcomes ----------------------------------------------------------------


def _record_sent(
    sessions: sessionmaker[Session], outbox_id: int, now: datetime, note: str = ""
) -> None:
    with sessions.begin() as session:
        message = session.get_one(OutboxMessage, outbox_id)
        message.status = "sent"
        message.sent_at = now
        message.attempts += 1
        message.last_error = note


def _record_temporary(
    sessions: sessionmaker[Session],
    mail: MailSettings,
    outbox_ids: list[int],
    reason: str,
    now: datetime,
    report: SendReport,
) -> None:
    """A temporary failure: try again after the backoff, or give up after max_attempts."""
    with sessions.begin() as session:
        messages = session.scalars(
            select(OutboxMessage).where(OutboxMessage.id.in_(outbox_ids)).order_by(OutboxMessage.id)
        )
        for message in messages:
            message.attempts += 1
            message.transmitted_at = None
            if message.attempts >= mail.max_attempts:
                message.status = "failed"
                message.last_error = f"{reason} (gave up after {message.attempts} tries)"
                report.failed.append(Problem(message.id, message.to_address, message.last_error))
                logger.warning("outbox message %s failed: %s", message.id, message.last_error)
                continue
            message.last_error = reason
            message.next_attempt_at = now + backoff(mail.backoff_seconds, message.attempts)
            report.deferred.append(
                Problem(message.id, message.to_address, reason, message.next_attempt_at)
            )
            logger.info("outbox message %s deferred: %s", message.id, reason)


def _record_failed(
    sessions: sessionmaker[Session],
    outbox_id: int,
    reason: str,
    report: SendReport,
    to_address: str,
) -> None:
    with sessions.begin() as session:
        message = session.get_one(OutboxMessage, outbox_id)
        message.attempts += 1
        message.transmitted_at = None
        message.status = "failed"
        message.last_error = reason
    report.failed.append(Problem(outbox_id, to_address, reason))
    logger.warning("outbox message %s to %s failed: %s", outbox_id, to_address, reason)


def backoff(base_seconds: float, attempts: int) -> timedelta:
    """The wait before the next try after `attempts` temporary failures."""
    # The exponent is capped so that many attempts can't overflow a timedelta.
    seconds = base_seconds * 2 ** min(attempts - 1, 32)
    return min(timedelta(seconds=seconds), MAX_BACKOFF)
