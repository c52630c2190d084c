"""Sources: each one's health, runs and rejected records; admins can start a run."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user

from .. import health
from ..clock import utcnow
from ..db import get_session
from ..errors import UnknownSource

bp = Blueprint("sources", __name__, url_prefix="/sources")

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
        "sources/index.html",
        sources=health.overview(session, settings),
        imports=health.imports(session, _page("page"), RUNS_PER_PAGE),
        imports_url=lambda n: url_for("sources.index", page=n),
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
        return url_for("sources.source", name=name, **wanted)

    return render_template(
        "sources/source.html",
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
def run(name: str):
    """Start a harvest of the source now, in the background (admins only)."""
    if not current_user.is_admin:
        abort(403)
    settings = current_app.config["SETTINGS"]
    try:
        detail = health.source_detail(get_session(), settings, name)
        health.start_harvest(current_app._get_current_object(), settings, name)
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
        return redirect(url_for("sources.index"))
    return redirect(url_for("sources.source", name=name))
