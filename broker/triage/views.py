"""The triage queue (the home page) and the notice page with its actions."""

from __future__ import annotations

from dataclasses import dataclass

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from markupsafe import Markup
from wtforms import DecimalField, SearchField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, NumberRange, Optional, ValidationError

import matchers
from broker.clock import utcnow
from broker.db import get_session, unit_of_work
from broker.formatting import SOURCE_NAMES, days_left, london, money, source_name
from broker.matching.cache import get_cache
from broker.models import Match, Member, Notice
from broker.models.bids import MODEL_LABELS
from broker.outreach import forwards
from broker.outreach.compose import MailContext
from broker.triage import actions, notice_page, queue
from broker.web.filters import badges
from broker.web.forms import CheckboxesField, choices

bp = Blueprint("triage", __name__)

STATUS_CHOICES = [
    ("open", "Open (new and forwarded)"),
    ("new", "New"),
    ("forwarded", "Forwarded"),
    ("dismissed", "Dismissed"),
    ("bid", "Bid"),
    ("all", "All"),
]


class FilterForm(FlaskForm):
    """The queue's filters: a GET form, so no CSRF token and shareable links."""

    class Meta:
        csrf = False

    q = SearchField("Search title, description and buyer", validators=[Optional()])
    source = SelectField("Source", validators=[Optional()])
    deadline_within = SelectField(
        "Deadline",
        choices=choices(
            [
                ("", "Any time"),
                ("7", "Within 7 days"),
                ("14", "Within 14 days"),
                ("30", "Within 30 days"),
                ("90", "Within 90 days"),
            ]
        ),
        validators=[Optional()],
    )
    min_value = DecimalField(
        "Value from (£)", places=0, validators=[Optional(), NumberRange(min=0)]
    )
    max_value = DecimalField(
        "Value up to (£)", places=0, validators=[Optional(), NumberRange(min=0)]
    )
    region = StringField("Region (council area or NUTS code)", validators=[Optional()])
    reserved = SelectField(
        "Reserved contracts",
        choices=choices([("", "Any"), ("1", "Reserved only")]),
        validators=[Optional()],
    )
    vcse = SelectField(
        "VCSE suitable",
        choices=choices([("", "Any"), ("1", "VCSE suitable only")]),
        validators=[Optional()],
    )
    status = SelectField("Status", choices=choices(STATUS_CHOICES), default="open")
    sort = SelectField("Sort by", choices=choices(queue.SORTS.items()), default="score")


class ForwardForm(FlaskForm):
    members = CheckboxesField("Members to forward to", coerce=int)
    note = TextAreaField("Note", validators=[Length(max=4000)])


class DismissForm(FlaskForm):
    reason = SelectField("Reason", choices=choices((r, r) for r in actions.DISMISS_REASONS))
    detail = StringField("More detail (optional)", validators=[Length(max=500)])


class AddMemberForm(FlaskForm):
    member = StringField("Member", validators=[DataRequired(), Length(max=300)])

    # Set by the view: the ids already listed for the notice; `found` once validated.
    listed: frozenset[int] = frozenset()
    found: tuple[int, str] | None = None

    def validate_member(self, field):
        found = _find_member(notice_page.active_members(get_session()), field.data)
        if found[0] in self.listed:
            raise ValidationError(f"{found[1]} is already listed for this notice.")
        self.found = found


class BidForm(FlaskForm):
    """Start a consortium bid (the bids pages take it from there)."""

    model = SelectField(
        "Consortium model", choices=choices(MODEL_LABELS.items()), default="lead_contractor"
    )


@dataclass(frozen=True)
class QueueRow:
    """One row of the queue with its words ready, made in Python: a page draws fifty, and
    calling the formatting filters through Jinja added about 6% to the request."""

    url: str
    title: str
    buyer: str
    sources: str
    status: str
    badges: Markup
    deadline_iso: str
    deadline: str
    days_left: str
    value: str
    best_score: int
    match_count: int


def _source(source: str, buyer: str | None) -> str:
    """A source's name; a buyer's own opportunity says whose it is."""
    if source == "buyer":
        return f"{source_name(source)}: {buyer or 'organisation not given'}"
    return source_name(source)


def _rows(page: queue.QueuePage, now) -> list[QueueRow]:
    return [
        QueueRow(
            url=url_for("triage.notice", notice_id=n.id),
            title=n.title,
            buyer=n.buyer or "Buyer not given",
            sources=", ".join(_source(s, n.buyer) for s in page.sources[n.id]),
            status="" if n.triage_status == "new" else n.triage_status.capitalize(),
            badges=badges(n),
            deadline_iso=n.deadline.isoformat() if n.deadline else "",
            deadline=london(n.deadline, False),
            days_left=days_left(n.deadline, now),
            value=money(n.value_amount, n.value_currency),
            best_score=n.best_score,
            match_count=n.match_count,
        )
        for n in page.notices
    ]


def _filters(form: FilterForm) -> queue.Filters:
    def number(field):
        return float(field.data) if field.data is not None and not field.errors else None

    return queue.Filters(
        q=form.q.data or "",
        source=form.source.data or "",
        deadline_within=form.deadline_within.data or "",
        min_value=number(form.min_value),
        max_value=number(form.max_value),
        region=form.region.data or "",
        reserved=form.reserved.data == "1",
        vcse=form.vcse.data == "1",
        status=form.status.data or "open",
        sort=form.sort.data or "score",
        page=max(1, request.args.get("page", 1, type=int) or 1),
    )


@bp.get("/")
def index():
    """New and open matched notices, best first, with filters and search."""
    session = get_session()
    form = FilterForm(request.args)
    # Publishers first, then what people entered: a coordinator, or a buyer.
    people = ("manual", "buyer")
    publishers = sorted((k, v) for k, v in SOURCE_NAMES.items() if k not in people)
    form.source.choices = choices(
        [
            ("", "Any source"),
            *sorted(publishers, key=lambda kv: kv[1]),
            *((k, SOURCE_NAMES[k]) for k in people),
        ]
    )
    form.validate()
    filters = _filters(form)
    if filters.region:
        try:
            matchers.resolve_area(filters.region)
        except matchers.AreaError as exc:
            form.region.errors = [str(exc)]
            filters = queue.Filters(**{**filters.__dict__, "region": ""})
    now = utcnow()
    page = queue.queue_page(session, filters, now, current_app.config["SETTINGS"].web.page_size)
    args = {k: v for k, v in request.args.items() if k != "page" and v}
    # An empty open queue: say how many matched notices there are, closed ones included.
    others = 0
    if page.total == 0 and filters.status == "open":
        others = queue.queue_page(session, queue.Filters(status="all"), now, 1).total
    return render_template(
        "triage/index.html",
        form=form,
        page=page,
        rows=_rows(page, now),
        args=args,
        others=others,
    )


def _notice_or_404(notice_id: int) -> Notice:
    notice = get_session().get(Notice, notice_id)
    if notice is None:
        abort(404)
    return notice


def _forward_label(member: Member) -> str:
    """A member to forward to, saying so when they can't be e-mailed."""
    if member.unsubscribed_at is not None:
        return f"{member.name} (unsubscribed: won't be e-mailed)"
    if not member.active:
        return f"{member.name} (inactive: won't be e-mailed)"
    return member.name


SHOWN_CANDIDATES = 5


def _find_member(members, text: str) -> tuple[int, str]:
    """The one member of (id, name) rows that `text` names, or a ValidationError saying why not.

    A whole name wins, case aside; otherwise the text must be part of exactly one name.
    Compared in Python rather than SQL because SQLite's lower() and LIKE fold ASCII only.
    """
    text = text.strip()
    wanted = text.casefold()
    exact = [m for m in members if m[1].casefold() == wanted]
    # Two names may differ only in case: then the one typed exactly as written wins.
    exact = [m for m in exact if m[1] == text] or exact
    if len(exact) == 1:
        return exact[0]
    candidates = exact or [m for m in members if wanted in m[1].casefold()]
    if len(candidates) == 1:
        return candidates[0]
    if not candidates:
        raise ValidationError(f"No active member's name contains “{text}”.")
    names = sorted((name for _id, name in candidates), key=lambda n: (n.casefold(), n))
    shown = ", ".join(names[:SHOWN_CANDIDATES]) + ("…" if len(names) > SHOWN_CANDIDATES else "")
    raise ValidationError(
        f"{len(names)} members' names contain “{text}”: {shown} — type more of the name."
    )


def _action_forms(notice: Notice, matches: list[Match]):
    listed = {m.member_id for m in matches}
    forward = ForwardForm(prefix="forward")
    forward.members.choices = choices((m.member_id, _forward_label(m.member)) for m in matches)
    dismiss = DismissForm(prefix="dismiss")
    add = AddMemberForm(prefix="add")
    add.listed = frozenset(listed)
    bid = BidForm(prefix="bid")
    return {"forward": forward, "dismiss": dismiss, "add": add, "bid": bid}


def _render_notice(notice: Notice, forms=None, matches=None, status: int = 200):
    record = notice_page.notice_record(get_session(), notice, matches)
    return render_template(
        "triage/notice.html",
        notice=notice,
        matches=record.matches,
        sources=record.sources,
        changes=record.changes,
        actions=record.actions,
        forwards=record.forwards,
        responses=record.responses,
        bids=record.bids,
        forms=forms or _action_forms(notice, record.matches),
        now=utcnow(),
        cpv_label=matchers.cpv_label,
        region_label=matchers.region_label,
        bid_models=MODEL_LABELS,
    ), status


@bp.get("/notices/<int:notice_id>")
def notice(notice_id: int):
    """The whole notice, who matched and why, and what has been done with it."""
    return _render_notice(_notice_or_404(notice_id))


def _act(notice: Notice, name: str, do):
    """Validate one action's form and do it in one transaction, then come back to the
    notice; re-show the form with what was wrong."""
    matches = notice_page.matches_of(get_session(), notice)
    forms = _action_forms(notice, matches)
    form = forms[name]
    if form.validate_on_submit():
        try:
            with unit_of_work() as session:
                message = do(form, session)
        except actions.TriageError as exc:
            form.form_errors.append(str(exc))
            matches = None  # read again: the transaction was rolled back
        else:
            flash(message, "success")
            return redirect(url_for("triage.notice", notice_id=notice.id) + f"#{name}")
    return _render_notice(notice, forms, matches, status=400)


@bp.post("/notices/<int:notice_id>/forward")
def forward(notice_id: int):
    """Forward the notice to the chosen members with a note."""
    notice = _notice_or_404(notice_id)

    def do(form: ForwardForm, session) -> str:
        now = utcnow()
        sent = actions.forward(
            session, notice, form.members.data or [], form.note.data or "", current_user.id, now
        )
        # The e-mails go into the outbox in this same transaction, sent after the commit.
        told = forwards.queue_forwards(
            session, notice, sent, current_user, MailContext.for_app(current_app), now
        )
        message = f"Forwarded to {len(sent)} member{'s' if len(sent) != 1 else ''}."
        if told.skipped:
            message += f" Not e-mailed (unsubscribed or inactive): {', '.join(told.skipped)}."
        return message

    return _act(notice, "forward", do)


@bp.post("/notices/<int:notice_id>/dismiss")
def dismiss(notice_id: int):
    """Take the notice out of the queue, with a reason."""
    notice = _notice_or_404(notice_id)

    def do(form: DismissForm, session) -> str:
        reason = form.reason.data + (f": {form.detail.data.strip()}" if form.detail.data else "")
        actions.dismiss(session, notice, reason, current_user.id, utcnow())
        return "Notice dismissed."

    return _act(notice, "dismiss", do)


@bp.post("/notices/<int:notice_id>/reopen")
def reopen(notice_id: int):
    """Put a dismissed notice back in the queue."""
    with unit_of_work() as session:
        notice = _notice_or_404(notice_id)
        actions.reopen(session, notice, current_user.id, utcnow())
    flash("Notice back in the queue.", "success")
    return redirect(url_for("triage.notice", notice_id=notice.id))


@bp.post("/notices/<int:notice_id>/members")
def add_member(notice_id: int):
    """Add a member the engine didn't match."""
    notice = _notice_or_404(notice_id)

    def do(form: AddMemberForm, session) -> str:
        member = session.get(Member, form.found[0])
        if member is None:
            raise actions.TriageError("That member no longer exists.")
        actions.add_member(
            session, notice, member, get_cache(current_app), current_user.id, utcnow()
        )
        return f"Added {member.name}."

    return _act(notice, "add", do)
