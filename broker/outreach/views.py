"""Members' one-click answers from their e-mails: signed links, no password.

Opening a link only shows what it will do: mail scanners fetch links to check them, so
nothing is ever done on a GET. The member confirms with a button (a CSRF-protected
POST). The one exception is RFC 8058's one-click unsubscribe, which mail programs POST
without a page: `POST /r/<token>/unsubscribe` with `List-Unsubscribe=One-Click`.
"""

from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_wtf import FlaskForm
from flask_wtf.csrf import CSRFError
from wtforms import BooleanField, RadioField, SubmitField, TextAreaField
from wtforms.validators import Length, Optional

import matchers
from broker.clock import utcnow
from broker.db import get_session, unit_of_work
from broker.matching.cache import get_cache
from broker.members import directory, profiles
from broker.members.forms import ProfileForm, entered, form_data, show_errors
from broker.members.profiles import InvalidProfile
from broker.models import Member, Notice
from broker.outreach import answers
from broker.outreach.compose import MailContext
from broker.outreach.links import LinkExpired, LinkTampered, MemberLink, for_app
from broker.outreach.opportunities import flags, summarise, value_text, where
from broker.web.errors import bad_link
from broker.web.forms import choices
from broker.web.security import csrf

bp = Blueprint("outreach", __name__, url_prefix="/r")


class InterestedForm(FlaskForm):
    note = TextAreaField(
        "Anything the coordinator should know? (optional)", validators=[Length(max=2000)]
    )


class DeclineForm(FlaskForm):
    reason = RadioField(
        "Why is it not for you?",
        choices=choices(matchers.FEEDBACK_REASONS.items()),
        validators=[Optional()],
    )
    note = TextAreaField("Tell us more (optional)", validators=[Length(max=2000)])


class UnsubscribeForm(FlaskForm):
    """Just the CSRF token: the button is the answer."""


class MemberProfileForm(ProfileForm):
    """The member's own profile: the coordinator's form without the name or the test."""

    name = None
    test = None
    save = SubmitField("Save my profile")
    resubscribe = BooleanField("Send us e-mails again")


@bp.errorhandler(CSRFError)
def _form_expired(_exc: CSRFError):
    """A form sent without its token (cookies off, or the page kept open for days);
    but a link that doesn't work is the thing to explain first."""
    token = (request.view_args or {}).get("token", "")
    _opened, problem = _open(token)
    return problem if problem is not None else bad_link("form_expired", 400)


def _open(token: str):
    """The link's member (and notice), or the friendly page to show instead."""
    try:
        link = for_app(current_app).read(token)
    except LinkExpired as exc:
        # An old unsubscribe link still unsubscribes: it was ours, and stopping mail
        # that someone no longer wants is never the wrong thing to do.
        if exc.link.action != "unsubscribe":
            return None, bad_link("expired", 410, signed_at=exc.signed_at)
        link = exc.link
    except LinkTampered:
        return None, bad_link("tampered", 400)
    session = get_session()
    member = session.get(Member, link.member_id)
    notice = session.get(Notice, link.notice_id) if link.notice_id is not None else None
    if member is None or (link.notice_id is not None and notice is None):
        return None, bad_link("gone", 410)
    return (link, member, notice), None


def _page(template: str, link: MemberLink, member: Member, notice: Notice | None, status=200, **kw):
    now = utcnow()
    settings = current_app.config["SETTINGS"]
    return render_template(
        f"outreach/{template}",
        token=request.view_args["token"],
        link=link,
        member=member,
        notice=notice,
        now=now,
        network_name=settings.mail.network_name,
        summary=summarise(notice.description, notice.title) if notice else "",
        place=where(notice) if notice else None,
        value=value_text(notice) if notice else None,
        flags=flags(notice) if notice else [],
        **kw,
    ), status


@bp.route("/<token>", methods=["GET", "POST"])
def link(token: str):
    """What the link does, and the button (or form) that does it."""
    opened, problem = _open(token)
    if problem is not None:
        return problem
    link, member, notice = opened
    handler = {
        "interested": _interested,
        "decline": _decline,
        "unsubscribe": _unsubscribe,
        "profile": _profile,
    }[link.action]
    return handler(token, link, member, notice)


def _done(token: str, message: str):
    """After the answer is committed: say thank you on the link's own page."""
    flash(message, "success")
    return redirect(url_for("outreach.link", token=token))


def _interested(token: str, link: MemberLink, member: Member, notice: Notice):
    form = InterestedForm()
    if form.validate_on_submit():
        context = MailContext.for_app(current_app)
        with unit_of_work() as session:
            _response, new = answers.interested(
                session, member, notice, form.note.data or "", context, utcnow()
            )
        message = (
            f"Thank you: we've told {context.network_name} that {member.name} is interested."
            if new
            else "Thank you: we already knew you were interested."
        )
        return _done(token, message)
    status = 400 if request.method == "POST" else 200
    earlier = answers.latest(get_session(), member, notice, "interested")
    return _page("interested.html", link, member, notice, status, form=form, earlier=earlier)


def _decline(token: str, link: MemberLink, member: Member, notice: Notice):
    earlier = answers.latest(get_session(), member, notice, "declined")
    data = {"reason": earlier.reason, "note": earlier.note} if earlier else None
    form = DeclineForm(data=data)
    if form.validate_on_submit():
        with unit_of_work() as session:
            answers.declined(
                session, member, notice, form.reason.data or None, form.note.data or "", utcnow()
            )
        return _done(token, "Thank you: we won't send you this one again.")
    status = 400 if request.method == "POST" else 200
    return _page(
        "decline.html",
        link,
        member,
        notice,
        status,
        form=form,
        earlier=earlier,
        reasons=matchers.FEEDBACK_REASONS,
    )


def _unsubscribe(token: str, link: MemberLink, member: Member, notice: Notice | None):
    form = UnsubscribeForm()
    if form.validate_on_submit():
        if request.form.get("resubscribe"):
            with unit_of_work() as session:
                answers.resubscribe(session, member, utcnow())
            return _done(token, f"Welcome back: {member.name} will get e-mails again.")
        with unit_of_work() as session:
            answers.unsubscribe(session, member, utcnow())
        return _done(token, f"Done: {member.name} won't get any more e-mails from us.")
    status = 400 if request.method == "POST" else 200
    return _page("unsubscribe.html", link, member, notice, status, form=form)


def _profile(token: str, link: MemberLink, member: Member, notice: Notice | None):
    form = MemberProfileForm(data=form_data(member))
    if form.validate_on_submit():
        try:
            profile = entered(form, name=member.name)
            with unit_of_work() as session:
                _member, result = profiles.save_profile(
                    session, profile, get_cache(current_app), utcnow(), member
                )
                if form.resubscribe.data:
                    answers.resubscribe(session, member, utcnow())
        except InvalidProfile as exc:
            show_errors(form, exc)
        else:
            message = "Thank you: your profile is saved."
            if result is not None:
                count = directory.match_counts(get_session(), [member.id]).get(member.id, 0)
                noun = "opportunity now matches" if count == 1 else "opportunities now match"
                message += f" {count} {noun} it."
            return _done(token, message)
    status = 400 if request.method == "POST" else 200
    return _page("profile.html", link, member, notice, status, form=form)


@bp.route("/<token>/unsubscribe", methods=["GET", "POST"])
@csrf.exempt
def one_click(token: str):
    """RFC 8058 one-click unsubscribe: a POST with `List-Unsubscribe=One-Click` from the
    member's mail program. Opened in a browser, it is the usual confirmation page."""
    opened, problem = _open(token)
    if problem is not None:
        return problem
    link, member, notice = opened
    if link.action != "unsubscribe":
        return bad_link("tampered", 400)
    if request.method == "GET":
        return _unsubscribe(token, link, member, notice)
    if request.form.get("List-Unsubscribe") != "One-Click":
        return bad_link("not_one_click", 400)
    with unit_of_work() as session:
        answers.unsubscribe(session, member, utcnow())
    return _page("unsubscribed.html", link, member, notice)
