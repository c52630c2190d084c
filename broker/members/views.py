"""Members: the directory, capability profiles (edit, test, re-match), CSV import and export."""

from __future__ import annotations

import io

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
from wtforms import SearchField
from wtforms.validators import Optional

from broker.clock import utcnow
from broker.db import get_session, unit_of_work
from broker.matching import trial
from broker.matching.cache import get_cache
from broker.members import csv_format, directory, profiles
from broker.members.csv_format import CSV_COLUMNS, OPTIONAL_COLUMNS, BadCsv
from broker.members.forms import ProfileForm, entered, form_data, show_errors
from broker.members.profiles import InvalidProfile
from broker.models import Member

bp = Blueprint("members", __name__, url_prefix="/members")


class SearchForm(FlaskForm):
    """The directory's search: a GET form, so no CSRF token and shareable links."""

    class Meta:
        csrf = False

    q = SearchField("Search names, keywords and descriptions", validators=[Optional()])


class ImportForm(FlaskForm):
    file = FileField("CSV file of members", validators=[FileRequired("Choose a CSV file")])


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
    form = ProfileForm(
        data=form_data(member) if member else {"vcse": True, "sme": True, "frequency": "weekly"}
    )
    if not form.validate_on_submit():
        return _render_profile(member, form, status=400 if request.method == "POST" else 200)
    cache = get_cache(current_app)
    try:
        entered_profile = entered(form)
        if form.test.data:
            draft = profiles.draft(entered_profile, member)
            tried = trial.try_profile(get_session(), draft, cache, utcnow())
            return _render_profile(member, form, tried)
        with unit_of_work() as session:
            member, result = profiles.save_profile(
                session, entered_profile, cache, utcnow(), member
            )
    except InvalidProfile as exc:
        show_errors(form, exc)
        return _render_profile(member, form, status=400)
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
    form = ImportForm()
    result = matched = None
    status = 200
    if form.validate_on_submit():
        upload = form.file.data
        name = upload.filename or "upload.csv"
        # utf-8-sig: spreadsheets often start a UTF-8 CSV with a byte-order mark.
        handle = io.TextIOWrapper(upload.stream, encoding="utf-8-sig", newline="")
        try:
            with unit_of_work() as session:
                result, matched = csv_format.import_members(
                    session, handle, get_cache(current_app), utcnow(), where=name
                )
        except BadCsv as exc:
            form.file.errors = [*form.file.errors, str(exc)]
            result = None
            status = 400
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
