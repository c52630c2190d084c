"""The dashboard: the funnel from harvested to won, week by week, as charts and tables."""

from __future__ import annotations

from flask import Blueprint, Response, render_template, request
from flask_wtf import FlaskForm
from wtforms import SelectField

from broker.clock import utcnow
from broker.dashboard import charts, funnel, report
from broker.db import get_session
from broker.web.forms import choices

bp = Blueprint("dashboard", __name__, url_prefix="/dashboard")


class PeriodForm(FlaskForm):
    """How many weeks to show: a GET form, so no CSRF token and shareable links."""

    class Meta:
        csrf = False

    weeks = SelectField(
        "Show the last",
        choices=choices((str(n), f"{n} weeks") for n in funnel.PERIODS),
        default=str(funnel.DEFAULT_WEEKS),
    )


def _period() -> PeriodForm:
    form = PeriodForm(request.args)
    if not form.validate():
        # An unknown period (a hand-edited link) falls back to the default.
        form.weeks.data, form.weeks.errors = str(funnel.DEFAULT_WEEKS), []
    return form


@bp.get("/")
def index():
    """The funnel's totals and each stage week by week, in £ and in numbers."""
    form = _period()
    shown = funnel.build(get_session(), utcnow(), int(form.weeks.data))
    totals = [charts.FunnelRow(s.info.label, s.count, s.value, s.info.unit) for s in shown.stages]
    return render_template(
        "dashboard/index.html", form=form, funnel=shown, totals=totals, charts=charts
    )


@bp.get("/members.csv")
def members_csv():
    """The funders' report for the period shown: each member, month by month."""
    weeks = int(_period().weeks.data)
    start, end = funnel.period(utcnow(), weeks)
    body = "\ufeff" + report.report_csv(report.report(get_session(), start, end))
    name = f"members-{start:%Y-%m-%d}-to-{end:%Y-%m-%d}.csv"
    return Response(
        body,
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
