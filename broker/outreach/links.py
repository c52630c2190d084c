"""Signed member links: one click from an e-mail, no password, expiring.

A link carries the member, the notice (or none) and what it does: say "I'm interested",
say "not for us", unsubscribe, or open the member's profile. It is signed with the
app's secret key under a salt of its own, so a session cookie or another signed value
can never pass for one, and stops working after `mail.link_max_age_days`.
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask import Flask
from itsdangerous import BadSignature, SignatureExpired, TimestampSigner, URLSafeTimedSerializer

from broker.clock import utcnow
from broker.config import Settings

SALT = "sen-broker.member-link"
ACTIONS = ("interested", "decline", "unsubscribe", "profile")
# Actions about one notice; the others are about the member alone.
NOTICE_ACTIONS = ("interested", "decline")
# Where the respond blueprint answers, and the one-click unsubscribe under it (RFC 8058).
PREFIX = "/r"
ONE_CLICK = "unsubscribe"


@dataclass(frozen=True)
class MemberLink:
    """What a link says: whose it is, about which notice, and what it does."""

    member_id: int
    action: str
    notice_id: int | None = None


class LinkError(ValueError):
    """Raised by `Links.read` for a link that can't be used."""


class LinkTampered(LinkError):
    """Raised for a link that was not signed by us (cut short, altered, or made up)."""


class LinkExpired(LinkError):
    """Raised for a genuine link older than its maximum age; `link` says what it was."""

    def __init__(self, link: Any, signed_at: datetime | None):
        super().__init__(f"link for member {link.member_id} expired")
        self.link = link
        self.signed_at = signed_at


class _ClockedSigner(TimestampSigner):
    """A TimestampSigner that reads an injected clock, so tests can age links."""

    def __init__(self, *args: Any, clock: Callable[[], datetime] = utcnow, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.clock = clock

    def get_timestamp(self) -> int:
        return int(self.clock().timestamp())


class SignedTokens:
    """Signed, expiring tokens for links in e-mails, under a salt of their own.

    `read` raises LinkTampered for a token we did not sign, and for a genuine one older
    than `max_age_days` returns its payload with `expired` set: what to do with an old
    link (refuse it, or unsubscribe anyway) is the caller's to say.
    """

    def __init__(
        self,
        secret_key: str,
        salt: str,
        max_age_days: int,
        clock: Callable[[], datetime] = utcnow,
    ):
        self.max_age_seconds = max_age_days * 86400
        self._serializer = URLSafeTimedSerializer(
            secret_key, salt=salt, signer=_ClockedSigner, signer_kwargs={"clock": clock}
        )

    def dumps(self, payload: Any) -> str:
        return self._serializer.dumps(payload)

    def open(self, token: str, parse: Callable[[Any], Any]) -> Any:
        """What a token says, as `parse` reads its payload; raises LinkTampered, or
        LinkExpired (with what it said) for a genuine one that is too old."""
        payload, expired_at = self.read(token)
        link = parse(payload)
        if expired_at is not None:
            raise LinkExpired(link, expired_at)
        return link

    def read(self, token: str) -> tuple[Any, datetime | None]:
        """(payload, when it was signed if it has expired, else None)."""
        try:
            return self._serializer.loads(token, max_age=self.max_age_seconds), None
        except SignatureExpired as exc:
            # The signature was checked before the age: this link is genuine, only old.
            return self._serializer.load_payload(exc.payload), exc.date_signed
        except BadSignature:
            raise LinkTampered("the link's signature does not match") from None


class Links:
    """Makes and reads signed member links, as absolute URLs under `base_url`."""

    def __init__(
        self,
        secret_key: str,
        base_url: str,
        max_age_days: int,
        clock: Callable[[], datetime] = utcnow,
    ):
        self.base_url = base_url.rstrip("/")
        self.max_age_days = max_age_days
        self.secret_key = secret_key
        self.clock = clock
        self._tokens = SignedTokens(secret_key, SALT, max_age_days, clock)

    def token(self, member_id: int, action: str, notice_id: int | None = None) -> str:
        """A signed token for one member, action and (for answers) notice."""
        if action not in ACTIONS:
            raise ValueError(f"unknown link action {action!r}")
        if (action in NOTICE_ACTIONS) != (notice_id is not None):
            raise ValueError(
                f"a {action!r} link {'needs' if notice_id is None else 'has no'} notice"
            )
        # A short list rather than a dict keeps the links short.
        return self._tokens.dumps([member_id, notice_id, ACTIONS.index(action)])

    def url(self, member_id: int, action: str, notice_id: int | None = None) -> str:
        """The absolute URL of a member link."""
        return f"{self.base_url}{PREFIX}/{self.token(member_id, action, notice_id)}"

    def one_click_unsubscribe_url(self, member_id: int) -> str:
        """The List-Unsubscribe URL: a POST to it unsubscribes at once (RFC 8058)."""
        return f"{self.url(member_id, 'unsubscribe')}/{ONE_CLICK}"

    def page_url(self, path: str) -> str:
        """An absolute URL for a page of the broker, e.g. a notice for coordinators."""
        return f"{self.base_url}/{path.lstrip('/')}"

    def read(self, token: str) -> MemberLink:
        """What a token says; raises LinkTampered or LinkExpired."""
        return self._tokens.open(token, self._link)

    @staticmethod
    def _link(payload: Any) -> MemberLink:
        try:
            member_id, notice_id, action = payload
            if not isinstance(member_id, int) or not isinstance(action, int):
                raise TypeError
            if notice_id is not None and not isinstance(notice_id, int):
                raise TypeError
            return MemberLink(member_id, ACTIONS[action], notice_id)
        except (TypeError, ValueError, IndexError):
            # Signed by us but not a member link: never expected, treated as tampered.
            raise LinkTampered("the link does not say what to do") from None


# Addresses that mean "every interface": no one can be sent to them.
ANY_ADDRESS = ("", "0.0.0.0", "::")


def base_url(settings: Settings) -> str:
    """The broker's public address: `web.base_url`, else the address `broker up` listens
    on (its --host and --port reach every process through the settings), with the
    machine's name for "every interface"."""
    if settings.web.base_url:
        return settings.web.base_url.rstrip("/")
    host = settings.web.host
    if host in ANY_ADDRESS:
        host = socket.getfqdn()
    if ":" in host:  # an IPv6 address
        host = f"[{host}]"
    return f"http://{host}:{settings.web.port}"


def for_app(app: Flask, clock: Callable[[], datetime] = utcnow) -> Links:
    """The app's member links (its secret key, base URL and link lifetime)."""
    settings: Settings = app.config["SETTINGS"]
    return Links(app.secret_key, base_url(settings), settings.mail.link_max_age_days, clock)
