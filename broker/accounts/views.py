"""Logging in and out, and the Users page where admins manage accounts."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_user, logout_user
from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField, SelectField, StringField
from wtforms.validators import DataRequired, EqualTo, InputRequired, Length

from broker.accounts import users
from broker.accounts.login import attempt_login
from broker.clock import utcnow
from broker.db import get_session, unit_of_work
from broker.models.accounts import User
from broker.web.forms import choices
from broker.web.security import admin_only

bp = Blueprint("accounts", __name__)

ROLE_CHOICES = {
    "coordinator": "Coordinator",
    "admin": "Admin (also manages users and runs sources)",
}


class LoginForm(FlaskForm):
    email = EmailField("Email", validators=[DataRequired()])
    password = PasswordField("Password", validators=[DataRequired()])


def _password_fields(label: str = "Password") -> tuple[PasswordField, PasswordField]:
    password = PasswordField(
        label,
        validators=[
            InputRequired("Enter a password"),
            Length(min=users.MIN_PASSWORD, message=f"Use at least {users.MIN_PASSWORD} characters"),
        ],
    )
    confirm = PasswordField(
        "Type the password again",
        validators=[
            InputRequired("Type the password again"),
            EqualTo("password", "The two passwords are different"),
        ],
    )
    return password, confirm


class AddUserForm(FlaskForm):
    email = EmailField("E-mail address", validators=[InputRequired("Enter an e-mail address")])
    name = StringField("Name", validators=[Length(max=200)])
    role = SelectField("Role", choices=choices(ROLE_CHOICES.items()), default="coordinator")
    password, confirm = _password_fields()


class PasswordForm(FlaskForm):
    password, confirm = _password_fields("New password")


def _safe_next(target: str | None) -> str:
    """Only ever redirect within the broker after logging in."""
    if target and target.startswith("/") and not target.startswith("//"):
        parts = urlsplit(target)
        if not parts.scheme and not parts.netloc:
            return target
    return url_for("triage.index")


@bp.route("/login", methods=["GET", "POST"])
def login():
    """The login form; too many failures in a row are refused for a while."""
    form = LoginForm()
    status = 200
    if form.validate_on_submit():
        # Committed whatever the outcome: a failure counts towards the rate limit.
        with unit_of_work() as session:
            outcome = attempt_login(
                session, form.email.data, form.password.data, request.remote_addr or "", utcnow()
            )
        if outcome.user is not None:
            login_user(outcome.user)
            return redirect(_safe_next(request.args.get("next")))
        form.password.errors.append(outcome.error)
        status = 429 if outcome.limited else 200
    return render_template("accounts/login.html", form=form), status


@bp.post("/logout")
def logout():
    """Log out (a form post, so another site can't log people out)."""
    logout_user()
    flash("You have logged out.", "info")
    return redirect(url_for("accounts.login"))


def _user_or_404(user_id: int) -> User:
    user = get_session().get(User, user_id)
    if user is None:
        abort(404)
    return user


def _render_users(form: AddUserForm, status: int = 200):
    return render_template(
        "accounts/users.html", users=users.all_users(get_session()), form=form
    ), status


@bp.get("/users/")
@admin_only
def user_list():
    """Every account, and the form to add one."""
    return _render_users(AddUserForm(prefix="add"))


@bp.post("/users/")
@admin_only
def add_user():
    """Add a coordinator or admin."""
    form = AddUserForm(prefix="add")
    if form.validate_on_submit():
        try:
            with unit_of_work() as session:
                user = users.create_user(
                    session,
                    form.email.data,
                    form.password.data,
                    form.role.data,
                    utcnow(),
                    name=form.name.data or "",
                )
        except users.UserError as exc:
            message = str(exc)
            target = form.password if "password" in message else form.email
            target.errors = [*target.errors, message[:1].upper() + message[1:]]
        else:
            flash(f"Added {user.email} as {user.role}.", "success")
            return redirect(url_for("accounts.user_list"))
    return _render_users(form, status=400)


@bp.post("/users/<int:user_id>/active")
@admin_only
def set_active(user_id: int):
    """Deactivate a user (they can no longer log in) or reactivate them."""
    active = request.form.get("active") == "1"
    try:
        with unit_of_work():
            user = _user_or_404(user_id)
            users.set_active(user, active, current_user)
    except users.UserError as exc:
        flash(str(exc)[:1].upper() + str(exc)[1:] + ".", "error")
        return redirect(url_for("accounts.user_list"))
    flash(f"{user.email} {'can log in again' if active else 'can no longer log in'}.", "success")
    return redirect(url_for("accounts.user_list"))


@bp.route("/users/<int:user_id>/password", methods=["GET", "POST"])
@admin_only
def password(user_id: int):
    """Set a new password for a user (tell them it, or ask them to change it)."""
    user = _user_or_404(user_id)
    form = PasswordForm()
    if form.validate_on_submit():
        try:
            with unit_of_work():
                users.reset_password(user, form.password.data, form.confirm.data)
        except users.UserError as exc:
            form.password.errors = [*form.password.errors, str(exc)]
        else:
            flash(f"New password set for {user.email}.", "success")
            return redirect(url_for("accounts.user_list"))
    status = 400 if request.method == "POST" else 200
    return render_template("accounts/password.html", user=user, form=form), status
