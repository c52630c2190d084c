"""Managing accounts from the users page: listing, deactivating, reactivating, new passwords.

Creating accounts and hashing passwords live in `broker.users`, shared with the CLI.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from broker.models.users import User
from broker.users import UserError, set_password


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
