"""Logging in, and slowing down password guessing (5 failures per address or e-mail in
15 minutes)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from broker.models.accounts import LoginAttempt, User

# Failed logins allowed per address and per e-mail within the window.
MAX_FAILURES = 5


WINDOW = timedelta(minutes=15)


# A hash to check against when the account doesn't exist, so timing reveals nothing.
_DUMMY_HASH = generate_password_hash("not a real password")


@dataclass(frozen=True)
class LoginOutcome:
    """The user when the login worked; otherwise why not, in words for the form."""

    user: User | None
    error: str | None = None
    limited: bool = False


def attempt_login(
    session: Session, email: str, password: str, ip: str, now: datetime
) -> LoginOutcome:
    """Check a login, counting failures per address and per e-mail; flushes only."""
    email = email.strip().lower()
    since = now - WINDOW
    failures = session.scalar(
        select(func.count(LoginAttempt.id)).where(
            LoginAttempt.at >= since,
            LoginAttempt.succeeded.is_(False),
            (LoginAttempt.email == email) | (LoginAttempt.ip == ip),
        )
    )
    if failures >= MAX_FAILURES:
        return LoginOutcome(
            None, "Too many failed logins. Please wait 15 minutes and try again.", limited=True
        )
    user = session.scalar(select(User).where(User.email == email))
    ok = check_password_hash(user.password_hash if user else _DUMMY_HASH, password)
    ok = ok and user is not None and user.active
    session.add(LoginAttempt(email=email, ip=ip, succeeded=ok, at=now))
    # Old attempts have served their purpose.
    session.execute(delete(LoginAttempt).where(LoginAttempt.at < now - 2 * WINDOW))
    if not ok:
        return LoginOutcome(None, "That e-mail address and password don't match an account.")
    user.last_login_at = now
    return LoginOutcome(user)
