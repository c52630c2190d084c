"""The SMTP side of sending: a connection per [mail], one transaction with a point
between the body and the final "." for the caller to record the hand-over, and the
message as it goes on the wire. See broker.mail for why the hand-over point matters.
"""

from __future__ import annotations

import re
import smtplib
import socket
import ssl
from collections.abc import Callable
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime

from broker.config import MailSettings
from broker.models.mail import OutboxMessage

# 7-bit bodies (quoted-printable or base64 when needed) go through any server.
POLICY = SMTP.clone(cte_type="7bit")
# Extra headers may not replace the ones the sender sets itself.
OWN_HEADERS = frozenset({"from", "to", "reply-to", "subject", "date", "message-id"})


class Unreachable(Exception):
    """Raised by `connect` when the server can't be reached or won't talk to us."""


class Deferred(Exception):
    """A temporary refusal (4xx) of one message; `closing` when the server hangs up."""

    def __init__(self, reason: str, closing: bool = False):
        super().__init__(reason)
        self.closing = closing


class Refused(Exception):
    """A permanent refusal (5xx) of one message, or one that can't be sent at all."""


class Dropped(Exception):
    """The connection was lost; `handed_over` once the body was committed as transmitted."""

    def __init__(self, reason: str, handed_over: bool):
        super().__init__(reason)
        self.handed_over = handed_over


# --- one transaction ---------------------------------------------------------------------


def transmit(
    smtp: smtplib.SMTP,
    data: bytes,
    from_address: str,
    to_address: str,
    handed_over: Callable[[], None],
    server: str = "the server",
) -> str:
    """One SMTP transaction; calls `handed_over` after the body, before the final ".".

    Returns the server's acceptance; raises Deferred, Refused or Dropped.
    """
    try:
        try:
            _expect(smtp.mail(from_address), (250,), "MAIL FROM")
            _expect(smtp.rcpt(to_address), (250, 251), "RCPT TO")
        except UnicodeEncodeError:
            raise Refused(
                f"the address {to_address!r} has characters this sender can't send"
            ) from None
        smtp.putcmd("data")
        _expect(smtp.getreply(), (354,), "DATA")
        smtp.send(_dot_stuffed(data))
    except OSError as exc:  # smtplib's own errors are OSErrors too
        raise Dropped(f"connection to {server} lost: {_describe(exc)}", handed_over=False) from exc
    handed_over()
    try:
        smtp.send(b".\r\n")
        reply = smtp.getreply()
    except OSError as exc:
        raise Dropped(
            f"connection to {server} lost after the message was sent: {_describe(exc)}",
            handed_over=True,
        ) from exc
    return _expect(reply, (250,), "the message")


def _expect(reply: tuple[int, bytes], ok: tuple[int, ...], step: str) -> str:
    code, raw = reply
    text = raw.decode("utf-8", "replace").replace("\n", " ").strip()
    said = f"{code} {text}".strip()
    if code in ok:
        return said
    if 500 <= code < 600:
        raise Refused(said)
    if code == 421:
        raise Deferred(said, closing=True)
    if 400 <= code < 500:
        raise Deferred(said)
    # Anything else means we no longer understand each other: start afresh later.
    raise Deferred(f"unexpected reply to {step}: {said or 'nothing'}", closing=True)


def _dot_stuffed(data: bytes) -> bytes:
    # A line starting with "." gets another, so no line of the body reads as the end.
    stuffed = re.sub(rb"(?m)^\.", b"..", data)
    return stuffed if stuffed.endswith(b"\r\n") else stuffed + b"\r\n"


def reset(smtp: smtplib.SMTP) -> bool:
    """RSET after a refused message, so the next starts clean; False if the line is gone."""
    try:
        code, _ = smtp.rset()
    except OSError:
        return False
    return code == 250


def hang_up(smtp: smtplib.SMTP) -> None:
    """QUIT politely; just close when the line is already gone."""
    try:
        smtp.quit()
    except OSError:
        smtp.close()


# --- the connection and the message ------------------------------------------------------


def connect(mail: MailSettings) -> smtplib.SMTP:
    """An SMTP connection per [mail]: TLS as configured, logged in when a user is set.

    Raises Unreachable with a reason a person can act on.
    """
    at = where(mail)
    try:
        smtp = _open(mail)
        try:
            # The final "." is a tiny write after the body: without this, Nagle's
            # algorithm holds it back until the server's delayed ACK, ~40 ms a message.
            smtp.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            smtp.ehlo_or_helo_if_needed()
            if mail.security == "starttls":
                smtp.starttls(context=ssl.create_default_context())
                smtp.ehlo()
            if mail.username:
                smtp.login(mail.username, mail.password)
        except BaseException:
            smtp.close()
            raise
    except smtplib.SMTPNotSupportedError:
        raise Unreachable(f"{at} does not offer STARTTLS ([mail] security)") from None
    except smtplib.SMTPAuthenticationError as exc:
        said = f"{exc.smtp_code} {exc.smtp_error.decode('utf-8', 'replace')}"
        raise Unreachable(f"{at} refused the login for {mail.username}: {said}") from None
    except smtplib.SMTPResponseException as exc:
        said = f"{exc.smtp_code} {exc.smtp_error.decode('utf-8', 'replace')}"
        raise Unreachable(f"{at} refused to talk: {said}") from None
    except smtplib.SMTPException as exc:
        raise Unreachable(f"{at}: {_describe(exc)}") from None
    except ssl.SSLError as exc:
        raise Unreachable(
            f"TLS with {at} failed ({exc.reason or exc}); check [mail] security and port"
        ) from None
    except ConnectionRefusedError:
        raise Unreachable(f"connection refused by {at}") from None
    except TimeoutError:
        raise Unreachable(f"no answer from {at} within {mail.timeout_seconds:g} seconds") from None
    except socket.gaierror as exc:
        raise Unreachable(f"can't find the mail server {mail.host}: {exc.strerror}") from None
    except OSError as exc:
        raise Unreachable(f"can't connect to {at}: {_describe(exc)}") from None
    return smtp


def _open(mail: MailSettings) -> smtplib.SMTP:
    if mail.security == "ssl":
        return smtplib.SMTP_SSL(
            mail.host, mail.port, timeout=mail.timeout_seconds, context=ssl.create_default_context()
        )
    return smtplib.SMTP(mail.host, mail.port, timeout=mail.timeout_seconds)


def where(mail: MailSettings) -> str:
    """The server as named in reasons: "host:port"."""
    return f"{mail.host}:{mail.port}"


def _describe(exc: BaseException) -> str:
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        return "the server closed the connection"
    if isinstance(exc, TimeoutError):
        return "no answer in time"
    return getattr(exc, "strerror", None) or str(exc) or type(exc).__name__


def render(message: OutboxMessage, mail: MailSettings) -> bytes:
    """The message as sent: headers, then text and HTML alternatives, CRLF line ends."""
    email = EmailMessage(policy=POLICY)
    email["From"] = Address(mail.from_name, addr_spec=mail.from_address)
    email["To"] = message.to_address
    # A message may name its own Reply-To: a buyer's message to a member is answered to
    # the buyer.
    extra = dict(message.headers or {})
    reply_to = extra.pop("Reply-To", "") or mail.reply_to
    if reply_to:
        email["Reply-To"] = reply_to
    email["Subject"] = message.subject
    # When it was written, so every retry sends the same message.
    email["Date"] = format_datetime(message.created_at)
    email["Message-ID"] = message.message_id
    for name, value in extra.items():
        if name.lower() in OWN_HEADERS:
            raise ValueError(f"the extra header {name} would replace the sender's own")
        email[name] = value
    email.set_content(message.text_body, subtype="plain", charset="utf-8")
    email.add_alternative(message.html_body, subtype="html", charset="utf-8")
    return email.as_bytes(policy=POLICY)
