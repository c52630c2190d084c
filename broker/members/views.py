"""Members: the directory, capability profiles (edit, test, re-match), CSV import and export."""

from __future__ import annotations

import csv
import io
import re

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import BooleanField, SearchField, SelectField, StringField, SubmitField, TextAreaField
from wtforms.validators import Optional

from broker.clock import utcnow
from broker.db import get_session
from broker.matching import trial
from broker.matching.cache import get_cache
from broker.members import csv_format, directory, profiles
from broker.members.csv_format import CSV_COLUMNS, OPTIONAL_COLUMNS, BadCsv
from broker.members.profiles import InvalidProfile, ProfileInput, parse_profile
from broker.models import Member
from broker.web.forms import choices

bp = Blueprint("members", __name__, url_prefix="/members")

FREQUENCY_CHOICES = {
    "instant": "Straight away, one e-mail per notice",
    "daily": "A daily digest",
    "weekly": "A weekly digest",
    "off": "Only what a coordinator forwards by hand",
}
LIST_FIELDS = ("email", "keywords", "exclude", "cpv", "regions")
# parse_profile's messages follow a field name ("min_value: is required"); on a form
# they sit under the field's label, so some read better reworded.
FORM_MESSAGES = {
    "is required": "Enter the member's name",
    "needs at least one address": "Enter at least one e-mail address",
    "is smaller than min_value": "The largest contract can't be smaller than the smallest",
}


class SearchForm(FlaskForm):
    """The directory's search: a GET form, so no CSRF token and shareable links."""

    class Meta:
        csrf = False

    q = SearchField("Search names, keywords and descriptions", validators=[Optional()])


class ProfileForm(FlaskForm):
    """A member's capability profile; parse_profile does the checking."""

    name = StringField("Name")
    email = TextAreaField("E-mail addresses")
    description = TextAreaField("What we do")
    keywords = TextAreaField("Keywords and phrases")
    exclude = TextAreaField("Exclusions")
    cpv = StringField("CPV codes (optional)")
    regions = TextAreaField("Areas served")
    min_value = StringField("Smallest contract worth bidding for (£)")
    max_value = StringField("Largest contract the member can deliver (£)")
    supported_business = BooleanField("Supported business (can bid for reserved contracts)")
    vcse = BooleanField("Voluntary, community or social enterprise (VCSE)")
    sme = BooleanField("Small or medium-sized enterprise (SME)")
    frequency = SelectField(
        "How often to e-mail opportunities", choices=choices(FREQUENCY_CHOICES.items())
    )
    save = SubmitField("Save profile")
    test = SubmitField("Test this profile")


class ImportForm(FlaskForm):
    file = FileField("CSV file of members", validators=[FileRequired("Choose a CSV file")])


def form_data(member: Member) -> dict[str, object]:
    """A member's profile as the form shows it: lists one item per line."""
    lines = "\n".join
    return {
        "name": member.name,
        "email": lines(member.emails),
        "description": member.description,
        "keywords": lines(member.keywords),
        "exclude": lines(member.exclude),
        "cpv": " ".join(member.cpv),
        "regions": lines(member.regions),
        "min_value": _amount_text(member.min_value),
        "max_value": _amount_text(member.max_value),
        "supported_business": member.supported_business,
        "vcse": member.vcse,
        "sme": member.sme,
        "frequency": member.frequency,
    }


def _amount_text(value: float | None) -> str:
    if value is None:
        return ""
    return f"{value:.0f}" if value == int(value) else f"{value:.2f}"


def entered(form: ProfileForm, name: str | None = None) -> ProfileInput:
    """The form's values, in the ';'-separated shape parse_profile (and the CSV) use;
    `name` for a form without the name field (a member editing its own profile)."""
    raw: dict[str, object] = {
        field: form[field].data
        for field in (
            "description",
            "min_value",
            "max_value",
            "frequency",
            "supported_business",
            "vcse",
            "sme",
        )
    }
    raw["name"] = form.name.data if name is None else name
    for field in LIST_FIELDS:
        raw[field] = ";".join((form[field].data or "").splitlines())
    # CPV codes are digits, so commas and spaces can safely separate them too.
    raw["cpv"] = re.sub(r"[,\s]+", ";", form.cpv.data or "")
    return parse_profile(raw)


def show_errors(form: ProfileForm, exc: InvalidProfile) -> None:
    """Put parse_profile's messages under the fields they are about."""
    for error in exc.errors:
        field = form[error.field] if error.field in form else form["email"]
        message = FORM_MESSAGES.get(error.message, error.message)
        field.errors = [*field.errors, message[:1].upper() + message[1:]]


def _member_or_404(member_id: int) -> Member:
    member = get_session().get(Member, member_id)
    if member is None:
        abort(404)
    return member


@bp.get("/")
def index():
    """The directory: every member, searchable, a page at a time."""
    session = get_session()
    form = SearchForm(request.args)
    q = (form.q.data or "").strip()
    page = directory.search_members(
        session,
        q,
        max(1, request.args.get("page", 1, type=int) or 1),
        current_app.config["SETTINGS"].web.page_size,
    )
    counts = directory.match_counts(session, [m.id for m in page.items])
    return render_template("members/index.html", form=form, q=q, page=page, counts=counts)


def _render_profile(member: Member | None, form: ProfileForm, trial=None, status: int = 200):
    session = get_session()
    matches = history = None
    if member is not None:
        page_number = max(1, request.args.get("page", 1, type=int) or 1)
        matches = directory.member_matches(session, member.id, page_number, 25)
        history = directory.member_history(session, member.id)
    return render_template(
        "members/profile.html",
        member=member,
        form=form,
        trial=trial,
        matches=matches,
        history=history,
        now=utcnow(),
    ), status


def _edit(member: Member | None):
    """Save the profile (re-matching the member), or test it without saving."""
    session = get_session()
    form = ProfileForm(
        data=form_data(member) if member else {"vcse": True, "sme": True, "frequency": "weekly"}
    )
    if not form.validate_on_submit():
        return _render_profile(member, form, status=400 if request.method == "POST" else 200)
    cache = get_cache(current_app)
    try:
        entered_profile = entered(form)
        if form.test.data:
            tried = trial.try_profile(session, entered_profile, cache, utcnow(), member)
            return _render_profile(member, form, tried)
        member, result = profiles.save_profile(session, entered_profile, cache, utcnow(), member)
    except InvalidProfile as exc:
        session.rollback()
        show_errors(form, exc)
        return _render_profile(member, form, status=400)
    session.commit()
    if result is None:
        flash(f"Saved {member.name}.", "success")
    else:
        notices = "notice" if result.stored == 1 else "notices"
        flash(
            f"Saved {member.name} and re-matched it: {result.stored} matching {notices}.", "success"
        )
    return redirect(url_for("members.profile", member_id=member.id))


@bp.route("/new", methods=["GET", "POST"])
def new():
    """Add a member: the empty profile form."""
    return _edit(None)


@bp.route("/<int:member_id>", methods=["GET", "POST"])
def profile(member_id: int):
    """A member's profile (editable and testable), matches and history."""
    return _edit(_member_or_404(member_id))


@bp.route("/import", methods=["GET", "POST"])
def import_csv():
    """Upload a CSV of members (the CLI's format); shows what was created, updated, refused."""
    session = get_session()
    form = ImportForm()
    result = matched = None
    status = 200
    if form.validate_on_submit():
        upload = form.file.data
        name = upload.filename or "upload.csv"
        # utf-8-sig: spreadsheets often start a UTF-8 CSV with a byte-order mark.
        handle = io.TextIOWrapper(upload.stream, encoding="utf-8-sig", newline="")
        try:
            result, matched = csv_format.import_members(
                session, handle, get_cache(current_app), utcnow(), where=name
            )
        except (BadCsv, UnicodeDecodeError, csv.Error) as exc:
            session.rollback()
            message = str(exc)
            if isinstance(exc, UnicodeDecodeError):
                message = f"{name} is not a UTF-8 text file; save it as “CSV UTF-8” and try again"
            form.file.errors = [*form.file.errors, message]
            result = None
            status = 400
        else:
            session.commit()
    elif request.method == "POST":
        status = 400
    return render_template(
        "members/import.html",
        form=form,
        result=result,
        matched=matched,
        columns=",".join(CSV_COLUMNS + OPTIONAL_COLUMNS),
    ), status


@bp.get("/export.csv")
def export_csv():
    """Every member as a CSV download, in the import format."""
    # The byte-order mark makes spreadsheet programs read the file as UTF-8; import skips it.
    body = "\ufeff" + csv_format.members_csv(get_session())
    filename = f"members-{utcnow():%Y-%m-%d}.csv"
    return Response(
        body,
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
