"""Coordinators' and admins' accounts: creating them, passwords, deactivating."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.security import generate_password_hash

from broker.errors import BrokerError
from broker.models.accounts import ROLES, User

MIN_PASSWORD = 10


class UserError(BrokerError):
    """Raised for a bad new account: taken e-mail, weak password, unknown role."""


def create_user(
    session: Session, email: str, password: str, role: str, now: datetime, name: str = ""
) -> User:
    """Add a coordinator or admin (the password is stored as an scrypt hash); flushes only."""
    email = email.strip().lower()
    if "@" not in email or len(email) > 320:
        raise UserError(f"'{email}' is not an e-mail address")
    if role not in ROLES:
        raise UserError(f"role must be one of {', '.join(ROLES)}")
    if len(password) < MIN_PASSWORD:
        raise UserError(f"the password must be at least {MIN_PASSWORD} characters")
    if session.scalar(select(User.id).where(User.email == email)) is not None:
        raise UserError(f"there is already a user {email}")
    user = User(
        email=email,
        name=name.strip(),
        role=role,
        active=True,
        created_at=now,
        password_hash=generate_password_hash(password),
    )
    session.add(user)
    session.flush()
    return user


def set_password(user: User, password: str) -> None:
    """Replace a user's password."""
    if len(password) < MIN_PASSWORD:
        raise UserError(f"the password must be at least {MIN_PASSWORD} characters")
    user.password_hash = generate_password_hash(password)


def all_users(session: Session) -> list[User]:
    """Every account: active ones first, then by e-mail."""
    return list(session.scalars(select(User).order_by(User.active.desc(), User.email)))


def set_active(user: User, active: bool, acting: User) -> None:
    """Let a user log in again, or stop them; an admin can't lock themselves out."""
    if not active and user.id == acting.id:
        raise UserError("you can't deactivate your own account")
    user.active = active


def reset_password(user: User, password: str, confirm: str) -> None:
    """Give a user a new password, typed twice."""
    if password != confirm:
        raise UserError("the two passwords are different")
    set_password(user, password)
