"""Logging in and out."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import login_user, logout_user
from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField
from wtforms.validators import DataRequired

from broker.clock import utcnow
from broker.db import get_session
from broker.users import attempt_login

bp = Blueprint("auth", __name__)


class LoginForm(FlaskForm):
    email = EmailField("Email", validators=[DataRequired()])
    password = PasswordField("Password", validators=[DataRequired()])


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
        session = get_session()
        outcome = attempt_login(
            session, form.email.data, form.password.data, request.remote_addr or "", utcnow()
        )
        session.commit()
        if outcome.user is not None:
            login_user(outcome.user)
            return redirect(_safe_next(request.args.get("next")))
        form.password.errors.append(outcome.error)
        status = 429 if outcome.limited else 200
    return render_template("auth/login.html", form=form), status


@bp.post("/logout")
def logout():
    """Log out (a form post, so another site can't log people out)."""
    logout_user()
    flash("You have logged out.", "info")
    return redirect(url_for("auth.login"))
