"""Sources: each one's health, runs and rejected records; admins can start a run, and add,
edit, disable and delete RSS feeds and HTML listing pages.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import BooleanField, FloatField, IntegerField, StringField, URLField
from wtforms.validators import InputRequired, Length, Optional

from broker.clock import utcnow
from broker.db import get_session, unit_of_work
from broker.errors import UnknownSource
from broker.harvest import health, stored
from broker.harvest.stored import InvalidSource, SourceEntry
from broker.models import ConfiguredSource
from broker.runtime import jobs
from broker.web.security import admin_only

bp = Blueprint("harvest", __name__, url_prefix="/sources")

RUNS_PER_PAGE = 20
REJECTED_PER_PAGE = 50
KEPT_FILTERS = {"": None, "rejected": False, "kept": True}


def _page(name: str) -> int:
    return max(1, request.args.get(name, 1, type=int) or 1)


@bp.get("/")
def index():
    """Every configured source's health, and the file imports."""
    session = get_session()
    settings = current_app.config["SETTINGS"]
    return render_template(
        "harvest/index.html",
        sources=health.overview(session, settings),
        imports=health.imports(session, _page("page"), RUNS_PER_PAGE),
        imports_url=lambda n: url_for("harvest.index", page=n),
        now=utcnow(),
    )


@bp.get("/<name>")
def source(name: str):
    """One source (or file import): its health, its runs, and the records it rejected."""
    session = get_session()
    try:
        detail = health.source_detail(session, current_app.config["SETTINGS"], name)
    except UnknownSource:
        abort(404)
    show = request.args.get("show", "")
    show = show if show in KEPT_FILTERS else ""
    runs_page, rejected_page = _page("runs_page"), _page("rejected_page")

    def page_url(**args: int | str) -> str:
        current = {"runs_page": runs_page, "rejected_page": rejected_page, "show": show}
        wanted = {k: v for k, v in {**current, **args}.items() if v and v != 1}
        return url_for("harvest.source", name=name, **wanted)

    return render_template(
        "harvest/source.html",
        source=detail,
        runs=health.runs(session, name, runs_page, RUNS_PER_PAGE),
        rejected=health.rejected(
            session, name, rejected_page, REJECTED_PER_PAGE, KEPT_FILTERS[show]
        ),
        show=show,
        runs_url=lambda n: page_url(runs_page=n) + "#runs",
        rejected_url=lambda n: page_url(rejected_page=n) + "#rejected",
        now=utcnow(),
    )


@bp.post("/<name>/run")
@admin_only
def run(name: str):
    """Start a harvest of the source now, in the background (admins only)."""
    settings = current_app.config["SETTINGS"]
    session = get_session()
    try:
        detail = health.source_detail(session, settings, name)
        jobs.start_harvest(current_app._get_current_object(), name)
    except UnknownSource:
        abort(404)
    flash(f"Started a run of {name}. Reload this page in a minute to see how it went.", "success")
    if detail.backing_off(utcnow()):
        flash(
            f"{name} has failed {detail.failures} runs in a row; this run goes ahead anyway, "
            "and if it works the source is back on its normal schedule.",
            "info",
        )
    if request.form.get("back") == "index":
        return redirect(url_for("harvest.index"))
    return redirect(url_for("harvest.source", name=name))


# --- sources added on this page (admins) -------------------------------------------


class SourceForm(FlaskForm):
    """What every source added on the page has; the kind's own fields come in subclasses."""

    name = StringField(
        "Name", validators=[InputRequired("Enter a name for the source"), Length(max=60)]
    )
    url = URLField(
        "Web address (URL)", validators=[InputRequired("Enter its web address"), Length(max=2000)]
    )
    interval_minutes = IntegerField(
        "Check it every (minutes)",
        default=60,
        validators=[InputRequired("Enter how often to check it, in minutes")],
    )
    default_buyer = StringField("Buyer, when a notice names none (optional)")
    delay_seconds = FloatField("Pause between requests (seconds, optional)", [Optional()])
    enabled = BooleanField("Harvest it on schedule", default=True)

    OPTIONS: tuple[str, ...] = ("url", "default_buyer")


class RssForm(SourceForm):
    """An RSS 2.0 or Atom feed."""


class HtmlListingForm(SourceForm):
    """A page that lists tenders, read with CSS selectors."""

    item_selector = StringField(
        "Each tender on the page (CSS selector)",
        validators=[InputRequired("Enter the selector of each tender"), Length(max=500)],
    )
    title_selector = StringField("Title, inside a tender (optional)", [Length(max=500)])
    link_selector = StringField(
        "Link to the tender's own page, inside a tender", [Length(max=500)], default="a[href]"
    )
    deadline_selector = StringField("Deadline, inside a tender (optional)", [Length(max=500)])
    buyer_selector = StringField("Buyer, inside a tender (optional)", [Length(max=500)])
    summary_selector = StringField(
        "Short description, inside a tender (optional)", [Length(max=500)]
    )
    detail_selector = StringField(
        "Description on the tender's own page (optional)", [Length(max=500)]
    )
    respect_robots = BooleanField("Obey the site's robots.txt", default=True)

    OPTIONS = (
        "url",
        "item_selector",
        "title_selector",
        "link_selector",
        "deadline_selector",
        "buyer_selector",
        "summary_selector",
        "detail_selector",
        "default_buyer",
        "respect_robots",
    )


FORMS: dict[str, type[SourceForm]] = {"rss": RssForm, "html_listing": HtmlListingForm}


def _entry(form: SourceForm, kind: str, name: str) -> SourceEntry:
    options: dict[str, Any] = {}
    for key in form.OPTIONS:
        value = form[key].data
        options[key] = bool(value) if isinstance(form[key], BooleanField) else (value or "").strip()
    return SourceEntry(
        name=name,
        kind=kind,
        # A number the form could not read has its own error already; any valid one
        # stands in so the other fields still get checked.
        interval_minutes=form.interval_minutes.data or stored.MIN_INTERVAL,
        enabled=bool(form.enabled.data),
        delay_seconds=form.delay_seconds.data,
        options=options,
    )


def _check_the_rest(form: SourceForm, kind: str, name: str, config_names: Any) -> list[str]:
    """After the form's own checks failed, the source's checks too, so every problem shows
    at once; fields that already have an error keep just that one."""
    if "csrf_token" in form.errors:
        return []
    try:
        stored.check_entry(_entry(form, kind, name), config_names)
    except InvalidSource as exc:
        fresh = [e for e in exc.errors if not (e.field in form and form[e.field].errors)]
        return _show_errors(form, fresh)
    return []


def _show_errors(form: SourceForm, errors: list) -> list[str]:
    """Put each error on its field; return those that belong to no field on the form."""
    general = []
    for error in errors:
        if error.field and error.field in form:
            form[error.field].errors = [*form[error.field].errors, error.message]
        else:
            general.append(error.message)
    return general


def _stored_or_404(name: str) -> ConfiguredSource:
    row = stored.stored_row(get_session(), name)
    if row is None or name in current_app.config["SETTINGS"].sources:
        abort(404)
    return row


@bp.route("/add/<kind>", methods=["GET", "POST"])
@admin_only
def add(kind: str):
    """Add an RSS/Atom feed or an HTML listing page (admins only)."""
    if kind not in FORMS:
        abort(404)
    form = FORMS[kind]()
    general: list[str] = []
    if form.validate_on_submit():
        entry = _entry(form, kind, form.name.data or "")
        config_names = current_app.config["SETTINGS"].sources.keys()
        try:
            with unit_of_work() as session:
                row = stored.add_source(session, entry, config_names, current_user.id, utcnow())
        except InvalidSource as exc:
            general = _show_errors(form, exc.errors)
        else:
            when = "within a minute" if row.enabled else "once you enable it"
            flash(f"Added {row.name}. Its first harvest starts {when}.", "success")
            return redirect(url_for("harvest.source", name=row.name))
    elif form.is_submitted():
        config_names = current_app.config["SETTINGS"].sources.keys()
        general = _check_the_rest(form, kind, form.name.data or "", config_names)
    status = 400 if request.method == "POST" else 200
    return render_template(
        "harvest/edit.html", form=form, kind=kind, row=None, general=general
    ), status


@bp.route("/<name>/edit", methods=["GET", "POST"])
@admin_only
def edit(name: str):
    """Change a source added on this page: address, schedule, selectors (admins only)."""
    row = _stored_or_404(name)
    cls = FORMS.get(row.kind)
    if cls is None:
        abort(404)
    settings = stored.source_settings(row)
    values = (
        {key: getattr(settings.options, key) for key in cls.OPTIONS} if settings.options else {}
    )
    form = cls(
        data={
            **values,
            "interval_minutes": row.interval_minutes,
            "delay_seconds": row.delay_seconds,
            "enabled": row.enabled,
        }
    )
    del form.name  # a source keeps its name: its runs and saved state are filed under it
    general: list[str] = []
    if form.validate_on_submit():
        config_names = current_app.config["SETTINGS"].sources.keys()
        try:
            with unit_of_work() as session:
                stored.update_source(
                    session,
                    row,
                    _entry(form, row.kind, row.name),
                    config_names,
                    current_user.id,
                    utcnow(),
                )
        except InvalidSource as exc:
            general = _show_errors(form, exc.errors)
        else:
            flash(f"Saved the changes to {row.name}; they apply from its next run.", "success")
            return redirect(url_for("harvest.source", name=row.name))
    elif form.is_submitted():
        config_names = set(current_app.config["SETTINGS"].sources) - {row.name}
        general = _check_the_rest(form, row.kind, row.name, config_names)
    status = 400 if request.method == "POST" else 200
    return render_template(
        "harvest/edit.html", form=form, kind=row.kind, row=row, general=general
    ), status


@bp.post("/<name>/enabled")
@admin_only
def set_enabled(name: str):
    """Turn a stored source's scheduled harvest on or off (admins only)."""
    with unit_of_work() as session:
        row = _stored_or_404(name)
        stored.set_enabled(
            session, row, request.form.get("enabled") == "1", current_user.id, utcnow()
        )
    if row.enabled:
        flash(f"{name} is harvested on schedule again, from within a minute.", "success")
    else:
        flash(f"{name} is no longer harvested on schedule. Its notices stay.", "success")
    if request.form.get("back") == "index":
        return redirect(url_for("harvest.index"))
    return redirect(url_for("harvest.source", name=name))


@bp.post("/<name>/delete")
@admin_only
def delete(name: str):
    """Delete a source added on this page; its notices and past runs stay (admins only)."""
    with unit_of_work() as session:
        stored.delete_source(session, _stored_or_404(name))
    flash(f"Deleted {name}. The notices it found and its past runs are kept.", "success")
    return redirect(url_for("harvest.index"))
