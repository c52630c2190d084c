"""`broker users add` and `broker users list`."""

from __future__ import annotations

import sys

import click

from broker.clock import utcnow
from broker.db import unit_of_work
from broker.runtime.terminal import Runtime, pass_runtime


@click.group()
def users() -> None:
    """Coordinators and admins who log in to the web app."""


@users.command("add")
@click.argument("email")
@click.option(
    "--role",
    type=click.Choice(["coordinator", "admin"]),
    default="coordinator",
    show_default=True,
    help="Admins also manage users and sources.",
)
@click.option("--name", default="", help="The name shown in the app.")
@pass_runtime
def users_add(rt: Runtime, email: str, role: str, name: str) -> None:
    """Add a user; the password is read from standard input or asked for twice."""
    from broker.accounts.users import create_user

    if sys.stdin.isatty():
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    else:
        password = sys.stdin.readline().rstrip("\r\n")
    with unit_of_work(rt.app) as session:
        user = create_user(session, email, password, role, utcnow(), name=name)
        click.echo(f"Added {user.role} {user.email}.")


@users.command("list")
@pass_runtime
def users_list(rt: Runtime) -> None:
    """Every user with their role and last login, as the Users page lists them."""
    from broker.accounts.users import all_users

    with rt.sessions() as session:
        for user in all_users(session):
            last = user.last_login_at.strftime("%Y-%m-%d %H:%M") if user.last_login_at else "never"
            state = "" if user.active else " (deactivated)"
            click.echo(f"{user.email}\t{user.role}{state}\tlast login {last}")
