"""Notices a coordinator enters by hand: Quick Quotes, sub-contract offers, buyers' tips."""

from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    SelectField,
    StringField,
    TextAreaField,
    TimeField,
    URLField,
)
from wtforms.validators import DataRequired, InputRequired, Length, Optional

from broker.clock import utcnow
from broker.db import unit_of_work
from broker.formatting import pounds
from broker.matching.cache import get_cache
from broker.notices import manual
from broker.web.forms import choices
from feeds.errors import FetchError
from feeds.http import Fetcher

bp = Blueprint("notices", __name__, url_prefix="/notices")


class ManualNoticeForm(FlaskForm):
    """An opportunity no harvester can see; the service checks codes, areas and the link."""

    kind = SelectField("What kind of opportunity is it?", choices=choices(manual.KINDS.items()))
    title = StringField("Title", validators=[InputRequired("Enter a title"), Length(max=1000)])
    buyer = StringField("Buyer or main contractor", validators=[Length(max=500)])
    description = TextAreaField("Description", validators=[Length(max=50_000)])
    deadline_date = DateField("Deadline date", validators=[Optional()])
    deadline_time = TimeField("Deadline time (UK time, optional)", validators=[Optional()])
    value = StringField("Value (£, optional)")
    cpv = StringField("CPV codes (optional)")
    areas = TextAreaField("Place or areas")
    reserved = BooleanField("Reserved for supported businesses")
    url = URLField("Link (optional)", validators=[Length(max=2000)])


class PasteForm(FlaskForm):
    """A link to a notice, or its text (a forwarded Quick Quote e-mail, say)."""

    paste = TextAreaField(
        "Web address or text of the notice",
        validators=[
            DataRequired("Paste a web address or the text of a notice"),
            Length(max=50_000),
        ],
        filters=[lambda text: text.strip() if isinstance(text, str) else text],
    )


# What the "we found" message calls each field the extraction can fill in.
FOUND_LABELS = {
    "kind": "kind",
    "title": "title",
    "buyer": "buyer",
    "deadline_date": "deadline",
    "value": "value",
    "cpv": "CPV codes",
    "url": "link",
}


def _entry(form: ManualNoticeForm) -> manual.ManualEntry | None:
    """The form as plain values; None (with errors on the fields) when it doesn't parse."""
    try:
        value = pounds(form.value.data)
    except ValueError:
        form.value.errors = [*form.value.errors, "Enter an amount in pounds, e.g. 25000"]
        return None
    if form.deadline_time.data and not form.deadline_date.data:
        form.deadline_date.errors = [*form.deadline_date.errors, "Enter the date as well"]
        return None
    deadline = (
        manual.uk_deadline(form.deadline_date.data, form.deadline_time.data)
        if form.deadline_date.data
        else None
    )
    return manual.ManualEntry(
        kind=form.kind.data,
        title=form.title.data or "",
        buyer=form.buyer.data or "",
        description=form.description.data or "",
        deadline=deadline,
        value=value,
        cpv=manual.split_items(form.cpv.data or "", ";,\n "),
        areas=manual.split_items(form.areas.data or ""),
        reserved=bool(form.reserved.data),
        url=form.url.data or None,
    )


@bp.route("/new", methods=["GET", "POST"])
def new():
    """Record an opportunity by hand; it is stored, de-duplicated and matched like any other."""
    form = ManualNoticeForm()
    if form.validate_on_submit() and (entry := _entry(form)) is not None:
        try:
            with unit_of_work() as session:
                result = manual.record_manual_notice(
                    session, entry, get_cache(current_app), current_user.id, utcnow()
                )
        except manual.InvalidEntry as exc:
            for error in exc.errors:
                field = getattr(form, error.field, form.title)
                field.errors = [*field.errors, error.message]
        else:
            if result.merged:
                flash("This opportunity was already stored; your entry was added to it.", "success")
            else:
                fit = "member fits" if result.matches == 1 else "members fit"
                flash(f"Notice saved and matched: {result.matches} {fit} it.", "success")
            return redirect(url_for("triage.notice", notice_id=result.notice.id))
    status = 400 if request.method == "POST" else 200
    return render_template("notices/new.html", form=form, paste=PasteForm()), status


@bp.post("/new/extract")
def extract():
    """Fill in the Add a notice form from a pasted link or text; nothing is saved yet."""
    paste = PasteForm()
    form = ManualNoticeForm(formdata=None)
    found = None
    if paste.validate_on_submit():
        text = paste.paste.data
        try:
            fields = _extract(text)
        except FetchError as exc:
            paste.paste.errors = [*paste.paste.errors, f"That page could not be read: {exc.reason}"]
        else:
            values = manual.suggested_values(fields, text)
            form = ManualNoticeForm(formdata=None, data=values)
            found = [label for name, label in FOUND_LABELS.items() if values.get(name)]
    status = 200 if found is not None else 400
    return render_template("notices/new.html", form=form, paste=paste, found=found), status


def _extract(text: str):
    if not manual.is_link(text):
        return manual.extract(text)
    # The network, at the edge: the configured limits, and one try, as a person is waiting.
    # A pasted link must not reach into the broker's own network (SSRF).
    settings = current_app.config["SETTINGS"]
    policy = settings.http.policy(retries=0, public_only=not settings.web.extract_private_links)
    with Fetcher(policy) as fetch:
        return manual.extract(text, fetch)
