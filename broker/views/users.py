"""Accounts for coordinators and admins (admins only: see ADMIN_BLUEPRINTS)."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField, SelectField, StringField
from wtforms.validators import EqualTo, InputRequired, Length

from broker import accounts
from broker.clock import utcnow
from broker.db import get_session
from broker.models.users import User
from broker.users import MIN_PASSWORD, UserError, create_user
from broker.views.forms import choices

bp = Blueprint("users", __name__, url_prefix="/users")

ROLE_CHOICES = {
    "coordinator": "Coordinator",
    "admin": "Admin (also manages users and runs sources)",
}


def _password_fields(label: str = "Password") -> tuple[PasswordField, PasswordField]:
    password = PasswordField(
        label,
        validators=[
            InputRequired("Enter a password"),
            Length(min=MIN_PASSWORD, message=f"Use at least {MIN_PASSWORD} characters"),
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


def _user_or_404(user_id: int) -> User:
    user = get_session().get(User, user_id)
    if user is None:
        abort(404)
    return user


def _render_index(form: AddUserForm, status: int = 200):
    users = accounts.all_users(get_session())
    return render_template("users/index.html", users=users, form=form), status


@bp.get("/")
def index():
    """Every account, and the form to add one."""
    return _render_index(AddUserForm(prefix="add"))


@bp.post("/")
def add():
    """Add a coordinator or admin."""
    form = AddUserForm(prefix="add")
    if form.validate_on_submit():
        session = get_session()
        try:
            user = create_user(
                session,
                form.email.data,
                form.password.data,
                form.role.data,
                utcnow(),
                name=form.name.data or "",
            )
        except UserError as exc:
            session.rollback()
            message = str(exc)
            target = form.password if "password" in message else form.email
            target.errors = [*target.errors, message[:1].upper() + message[1:]]
        else:
            session.commit()
            flash(f"Added {user.email} as {user.role}.", "success")
            return redirect(url_for("users.index"))
    return _render_index(form, status=400)


@bp.post("/<int:user_id>/active")
def set_active(user_id: int):
    """Deactivate a user (they can no longer log in) or reactivate them."""
    user = _user_or_404(user_id)
    active = request.form.get("active") == "1"
    try:
        accounts.set_active(user, active, current_user)
    except UserError as exc:
        flash(str(exc)[:1].upper() + str(exc)[1:] + ".", "error")
        return redirect(url_for("users.index"))
    get_session().commit()
    flash(f"{user.email} {'can log in again' if active else 'can no longer log in'}.", "success")
    return redirect(url_for("users.index"))


@bp.route("/<int:user_id>/password", methods=["GET", "POST"])
def password(user_id: int):
    """Set a new password for a user (tell them it, or ask them to change it)."""
    user = _user_or_404(user_id)
    form = PasswordForm()
    if form.validate_on_submit():
        try:
            accounts.reset_password(user, form.password.data, form.confirm.data)
        except UserError as exc:
            get_session().rollback()
            form.password.errors = [*form.password.errors, str(exc)]
        else:
            get_session().commit()
            flash(f"New password set for {user.email}.", "success")
            return redirect(url_for("users.index"))
    status = 400 if request.method == "POST" else 200
    return render_template("users/password.html", user=user, form=form), status
