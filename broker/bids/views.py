"""The bids pages: the board, a bid's page with everything a coordinator does on it, the
calendar feed, and the members' own pages from their signed links (no password)."""

from __future__ import annotations

from datetime import datetime, time

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
from flask_login import current_user
from sqlalchemy import func, select

from broker.bids import board, calendar, forming, stages, tasks, timeline
from broker.bids.forms import (
    DeclineForm,
    DetailsForm,
    InviteForm,
    LinkForm,
    NoteForm,
    PartForm,
    StageForm,
    StartForm,
    TaskForm,
)
from broker.bids.links import BidLinks
from broker.bids.messages import brief, queue_invitation
from broker.bids.timeline import BidError
from broker.clock import utcnow
from broker.db import get_session, unit_of_work
from broker.formatting import LONDON
from broker.matching.cache import get_cache
from broker.models import Member, Notice, User
from broker.models.bids import MODEL_LABELS, Bid, BidMember, BidTask
from broker.outreach.compose import MailContext, can_email
from broker.outreach.links import LinkExpired, LinkTampered, base_url
from broker.web.errors import bad_link
from broker.web.forms import ButtonForm, choices

bp = Blueprint("bids", __name__, url_prefix="/bids")


def _bid_or_404(bid_id: int) -> Bid:
    bid = get_session().get(Bid, bid_id)
    if bid is None:
        abort(404)
    return bid


def _moment(day, at: time | None) -> datetime | None:
    """A date (and UK time, noon if none) as an aware UTC moment."""
    if day is None:
        return None
    return datetime.combine(day, at or time(12, 0), tzinfo=LONDON)


def _details(form: DetailsForm, bid: Bid | None = None) -> forming.BidDetails:
    linked = bid is not None and bid.notice_id is not None
    return forming.BidDetails(
        title=form.title.data or "",
        model=form.model.data,
        note=form.note.data or "",
        tender_deadline=None
        if linked
        else _moment(form.deadline_date.data, form.deadline_time.data),
        estimated_value=None
        if linked or form.estimated_value.data is None
        else float(form.estimated_value.data),
        internal_deadline=_moment(form.internal_date.data, time(17, 0)),
    )


# --- the board, new bids and the calendar -------------------------------------------


@bp.get("/")
def index():
    """Every bid by stage: the tender deadline, the next task due, what needs attention."""
    session = get_session()
    now = utcnow()
    user = session.get(User, current_user.id)
    feed_token = calendar.token(current_app.secret_key, user)
    return render_template(
        "bids/index.html",
        board=board.board(session, now),
        stage_labels=stages.STAGE_LABELS,
        now=now,
        feed_url=url_for("bids.calendar_feed", token=feed_token, _external=True)
        if feed_token
        else None,
        feed_form=ButtonForm(prefix="feed"),
    )


@bp.route("/new", methods=["GET", "POST"])
def new():
    """Start a bid from scratch: for an expected re-tender, linked to its notice later."""
    form = DetailsForm()
    if form.validate_on_submit():
        try:
            with unit_of_work() as session:
                bid = forming.start_bid(session, _details(form), current_user.id, utcnow())
        except BidError as exc:
            form.form_errors.append(str(exc))
        else:
            flash("Bid started, with the standard checklist of tasks.", "success")
            return redirect(url_for("bids.bid", bid_id=bid.id))
    status = 400 if request.method == "POST" else 200
    return render_template("bids/new.html", form=form), status


@bp.post("/start/<int:notice_id>")
def start(notice_id: int):
    """Start a consortium bid from a notice page."""
    form = StartForm(prefix="bid")
    if not form.validate_on_submit():
        abort(400)
    with unit_of_work() as session:
        notice = session.get(Notice, notice_id)
        if notice is None:
            abort(404)
        details = forming.BidDetails(title=notice.title[:300], model=form.model.data)
        bid = forming.start_bid(session, details, current_user.id, utcnow(), notice)
    flash("Consortium bid started: choose its partners below.", "success")
    return redirect(url_for("bids.bid", bid_id=bid.id))


@bp.post("/calendar/<action>")
def calendar_address(action: str):
    """Make, renew or stop this coordinator's calendar feed."""
    if action not in ("renew", "revoke") or not ButtonForm(prefix="feed").validate_on_submit():
        abort(400)
    with unit_of_work() as session:
        user = session.get(User, current_user.id)
        (calendar.renew if action == "renew" else calendar.revoke)(user)
    message = (
        "A new calendar address: the old one no longer works."
        if action == "renew"
        else "The calendar feed is stopped: its address no longer works."
    )
    flash(message, "success")
    return redirect(url_for("bids.index") + "#calendar")


@bp.get("/calendar/<token>.ics")
def calendar_feed(token: str):
    """The open bids' deadlines and tasks, for a calendar program (no login: the address
    is the secret)."""
    session = get_session()
    if calendar.user_for(session, current_app.secret_key, token) is None:
        abort(404)
    body = calendar.feed(session, base_url(current_app.config["SETTINGS"]), utcnow())
    return Response(
        body,
        mimetype="text/calendar",
        headers={"Content-Disposition": 'inline; filename="bids.ics"', "Cache-Control": "no-store"},
    )


# --- a bid's page ------------------------------------------------------------------------


def _owner_choices(bid: Bid) -> list:
    users = get_session().scalars(
        select(User).where(User.active.is_(True)).order_by(func.lower(User.name), User.email)
    )
    members = [m for m in bid.members if m.status != "declined"]
    return choices(
        [("", "Nobody yet")]
        + [(f"user:{u.id}", f"{u.display_name} (coordinator)") for u in users]
        + [(f"member:{m.member_id}", m.member.name) for m in members]
    )


def _forms(bid: Bid, chosen=()) -> dict:
    owners = _owner_choices(bid)
    lots = forming.lots_of(bid)
    details = DetailsForm(
        prefix="details",
        data={
            "title": bid.title,
            "note": bid.note,
            "model": bid.model,
            "deadline_date": bid.tender_deadline.astimezone(LONDON).date()
            if bid.tender_deadline
            else None,
            "deadline_time": bid.tender_deadline.astimezone(LONDON).time()
            if bid.tender_deadline
            else None,
            "estimated_value": bid.estimated_value,
            "internal_date": bid.internal_deadline.astimezone(LONDON).date()
            if bid.internal_deadline
            else None,
        },
    )
    parts = {}
    for place in bid.members:
        form = PartForm(
            prefix=f"part-{place.member_id}",
            data={"role": place.role, "share": place.share_percent, "lots": place.lots},
        )
        form.lots.choices = choices(enumerate(lots))
        parts[place.member_id] = form
    add_task = TaskForm(prefix="task")
    add_task.owner.choices = owners
    stage = StageForm(prefix="stage")
    stage.stage.choices = choices(
        (s, stages.STAGE_LABELS[s]) for s in stages.allowed(bid)
    ) or choices([(bid.stage, stages.STAGE_LABELS[bid.stage])])
    invite = InviteForm(prefix="invite")
    _invitation(invite, bid, chosen)
    return {
        "details": details,
        "link": LinkForm(prefix="link"),
        "invite": invite,
        "parts": parts,
        "add_task": add_task,
        "stage": stage,
        "note": NoteForm(prefix="note"),
        "button": ButtonForm(),
    }


def _invitation(form: InviteForm, bid: Bid, chosen=()) -> None:
    """The members the invitation form offers: those matched to the notice, and those a
    suggestion's "Use these partners" ticked (who may not be among them), or posted."""
    session = get_session()
    invitable = forming.invitable(session, bid)
    ids = {m.id for m in invitable}
    wanted = set(chosen) | set(form.members.data or ())
    extra = [
        m for m in session.scalars(select(Member).where(Member.id.in_(wanted))) if m.id not in ids
    ]
    in_bid = {m.member_id for m in bid.members if m.status != "declined"}
    candidates = [m for m in extra if m.id not in in_bid] + invitable
    form.members.choices = choices(
        (m.id, m.name if can_email(m) else f"{m.name} (can't be e-mailed)") for m in candidates
    )
    if chosen and not form.members.data:
        form.members.data = [c for c in chosen if c not in in_bid]


def _render_bid(bid: Bid, forms: dict | None = None, status: int = 200, chosen=()):
    session = get_session()
    forms = forms or _forms(bid, chosen)
    suggestions = forming.suggestions(session, bid, get_cache(current_app))
    events = timeline.events(session, bid)
    return render_template(
        "bids/bid.html",
        bid=bid,
        forms=forms,
        suggestions=suggestions,
        lots=forming.lots_of(bid),
        events=events,
        notice_changes=[e for e in events if e.kind == "notice_changed"],
        stage_labels=stages.STAGE_LABELS,
        role_labels=forming.ROLE_LABELS,
        model_labels=MODEL_LABELS,
        now=utcnow(),
    ), status


@bp.get("/<int:bid_id>")
def bid(bid_id: int):
    """The whole bid: notice, partners, members, tasks, stage and timeline."""
    chosen = [int(i) for i in request.args.getlist("use") if i.isdigit()]
    return _render_bid(_bid_or_404(bid_id), chosen=chosen)


def _act(bid: Bid, form_name: str, do, anchor: str):
    """Validate one of the page's forms, do it in one transaction and come back; on a
    problem, show the page again with the message by the form."""
    forms = _forms(bid)
    form = (
        forms[form_name] if not isinstance(form_name, tuple) else forms[form_name[0]][form_name[1]]
    )
    if form.validate_on_submit():
        try:
            with unit_of_work() as session:
                message = do(session, form)
        except BidError as exc:
            form.form_errors.append(str(exc))
            get_session().expire_all()
        else:
            flash(message, "success")
            return redirect(url_for("bids.bid", bid_id=bid.id) + f"#{anchor}")
    return _render_bid(_bid_or_404(bid.id), forms, status=400)


@bp.post("/<int:bid_id>/details")
def details(bid_id: int):
    bid = _bid_or_404(bid_id)

    def do(session, form):
        forming.update_details(session, bid, _details(form, bid), current_user.id, utcnow())
        return "Details saved."

    return _act(bid, "details", do, "details")


def _find_notice(session, text: str) -> Notice:
    text = text.strip().lstrip("#")
    if text.isdigit():
        notice = session.get(Notice, int(text))
        if notice is None:
            raise BidError(f"There is no notice number {text}.")
        return notice
    pattern = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    found = list(
        session.scalars(
            select(Notice)
            .where(func.lower(Notice.title).like(pattern.lower(), escape="\\"))
            .limit(6)
        )
    )
    if len(found) == 1:
        return found[0]
    if not found:
        raise BidError(f"No notice's title contains “{text}”.")
    raise BidError(
        f"Several notices' titles contain “{text}”: type more of it, or the notice's number."
    )


@bp.post("/<int:bid_id>/link")
def link(bid_id: int):
    """Link a bid started for an expected re-tender to its notice."""
    bid = _bid_or_404(bid_id)

    def do(session, form):
        notice = _find_notice(session, form.notice.data or "")
        forming.link_notice(session, bid, notice, current_user.id, utcnow())
        return f"Linked to “{notice.title}”."

    return _act(bid, "link", do, "notice")


@bp.post("/<int:bid_id>/invite")
def invite(bid_id: int):
    """Invite the chosen members by e-mail, each with the role proposed and their lots."""
    bid = _bid_or_404(bid_id)

    def do(session, form):
        now = utcnow()
        placed = forming.add_members(
            session, bid, form.members.data or [], form.role.data, get_cache(current_app), now
        )
        context = MailContext.for_app(current_app)
        sender = current_user.display_name
        sent, skipped = [], []
        for place in placed:
            if can_email(place.member) and queue_invitation(
                session, bid, place, context, sender, now
            ):
                sent.append(place.member.name)
            else:
                skipped.append(place.member.name)
            timeline.record(
                session,
                bid,
                "invited",
                now,
                f"{place.member.name} as {forming.ROLE_LABELS[place.role].lower()}",
                user_id=current_user.id,
                member_id=place.member_id,
            )
        message = f"Invited {len(sent)} member{'s' if len(sent) != 1 else ''}."
        if skipped:
            message += f" Not e-mailed (unsubscribed or no address): {', '.join(skipped)}."
        return message

    return _act(bid, "invite", do, "members")


@bp.post("/<int:bid_id>/members/<int:member_id>")
def part(bid_id: int, member_id: int):
    """A member's role, share of the work and lots."""
    bid = _bid_or_404(bid_id)
    if member_id not in {m.member_id for m in bid.members}:
        abort(404)

    def do(session, form):
        share = float(form.share.data) if form.share.data is not None else None
        entry = forming.PartEntry(member_id, form.role.data, share, tuple(form.lots.data or ()))
        forming.set_part(session, bid, entry, current_user.id, utcnow())
        return "Part saved."

    return _act(bid, ("parts", member_id), do, f"member-{member_id}")


@bp.post("/<int:bid_id>/members/<int:member_id>/remove")
def remove(bid_id: int, member_id: int):
    bid = _bid_or_404(bid_id)

    def do(session, form):
        forming.remove_member(session, bid, member_id, current_user.id, utcnow())
        return "Taken out of the bid."

    return _act(bid, "button", do, "members")


@bp.post("/<int:bid_id>/tasks")
def add_task(bid_id: int):
    bid = _bid_or_404(bid_id)

    def do(session, form):
        entry = tasks.TaskEntry(form.title.data or "", form.owner.data or "", form.due.data)
        tasks.add_task(session, bid, entry, current_user.id, utcnow())
        return "Task added."

    return _act(bid, "add_task", do, "tasks")


def _task_or_404(bid: Bid, task_id: int) -> BidTask:
    task = next((t for t in bid.tasks if t.id == task_id), None)
    if task is None:
        abort(404)
    return task


@bp.route("/<int:bid_id>/tasks/<int:task_id>", methods=["GET", "POST"])
def edit_task(bid_id: int, task_id: int):
    """Change a task's title, owner or due date."""
    bid = _bid_or_404(bid_id)
    task = _task_or_404(bid, task_id)
    owner = (
        f"user:{task.owner_user_id}"
        if task.owner_user_id
        else f"member:{task.owner_member_id}"
        if task.owner_member_id
        else ""
    )
    form = TaskForm(data={"title": task.title, "owner": owner, "due": task.due_on})
    form.owner.choices = _owner_choices(bid)
    if form.validate_on_submit():
        entry = tasks.TaskEntry(form.title.data or "", form.owner.data or "", form.due.data)
        try:
            with unit_of_work() as session:
                tasks.update_task(session, bid, task, entry, current_user.id, utcnow())
        except BidError as exc:
            form.form_errors.append(str(exc))
        else:
            flash("Task saved.", "success")
            return redirect(url_for("bids.bid", bid_id=bid.id) + "#tasks")
    status = 400 if request.method == "POST" else 200
    return render_template("bids/task.html", bid=bid, task=task, form=form), status


@bp.post("/<int:bid_id>/tasks/<int:task_id>/<action>")
def task_action(bid_id: int, task_id: int, action: str):
    """Mark a task done or not done, or delete it."""
    bid = _bid_or_404(bid_id)
    task = _task_or_404(bid, task_id)
    if action not in ("done", "open", "delete"):
        abort(404)
    user = get_session().get(User, current_user.id)

    def do(session, form):
        if action == "delete":
            tasks.delete_task(session, bid, task, current_user.id, utcnow())
            return "Task deleted."
        tasks.set_done(session, bid, task, action == "done", utcnow(), user=user)
        return "Task marked done." if action == "done" else "Task open again."

    return _act(bid, "button", do, "tasks")


@bp.post("/<int:bid_id>/stage")
def stage(bid_id: int):
    """Move the bid on: go/no-go, preparing, submitted, and the outcome."""
    bid = _bid_or_404(bid_id)

    def do(session, form):
        change = stages.StageChange(
            stage=form.stage.data,
            note=form.note.data or "",
            value_won=float(form.value_won.data) if form.value_won.data is not None else None,
            reason=form.reason.data or "",
            feedback=form.feedback.data or "",
            lessons=form.lessons.data or "",
        )
        stages.change_stage(session, bid, change, current_user.id, utcnow())
        return f"The bid is now {stages.STAGE_LABELS[bid.stage].lower()}."

    return _act(bid, "stage", do, "stage")


@bp.post("/<int:bid_id>/notes")
def note(bid_id: int):
    bid = _bid_or_404(bid_id)

    def do(session, form):
        timeline.add_note(session, bid, form.text.data or "", current_user.id, utcnow())
        return "Added to the timeline."

    return _act(bid, "note", do, "timeline")


# --- the members' own pages ------------------------------------------------------------------


def _open(token: str):
    """The link's bid and the member's place in it, or the page to show instead."""
    links = BidLinks(MailContext.for_app(current_app).links)
    try:
        link = links.read(token)
    except LinkExpired as exc:
        return None, bad_link("expired", 410, signed_at=exc.signed_at)
    except LinkTampered:
        return None, bad_link("tampered", 400)
    session = get_session()
    place = session.get(BidMember, (link.bid_id, link.member_id))
    if place is None:
        return None, bad_link("gone", 410)
    return (link, place), None


def _member_page(template: str, token: str, place: BidMember, status: int = 200, **kw):
    bid = place.bid
    now = utcnow()
    return render_template(
        f"bids/{template}",
        token=token,
        bid=bid,
        place=place,
        brief=brief(bid, now, place),
        own_tasks=[t for t in bid.tasks if t.owner_member_id == place.member_id],
        network_name=current_app.config["SETTINGS"].mail.network_name,
        role_labels=forming.ROLE_LABELS,
        now=now,
        **kw,
    ), status


@bp.route("/m/<token>", methods=["GET", "POST"])
def member_link(token: str):
    """A member's link: join the bid, say they can't, or their page for the bid."""
    opened, problem = _open(token)
    if problem is not None:
        return problem
    link, place = opened
    if link.action == "page":
        return _member_page("member.html", token, place, form=ButtonForm())
    form = ButtonForm() if link.action == "join" else DeclineForm()
    if form.validate_on_submit():
        join = link.action == "join"
        with unit_of_work() as session:
            changed = forming.answer(
                session, place, join, "" if join else form.reason.data or "", utcnow()
            )
        if join:
            message = "Thank you: you are in the bid." if changed else "You are already in the bid."
        else:
            message = "Thank you: we've told the network you can't join this one."
        flash(message, "success")
        if join:
            links = BidLinks(MailContext.for_app(current_app).links)
            token = links.token(place.member_id, place.bid_id, "page")
        return redirect(url_for("bids.member_link", token=token))
    status = 400 if request.method == "POST" else 200
    template = "member_join.html" if link.action == "join" else "member_decline.html"
    return _member_page(template, token, place, status, form=form)


@bp.post("/m/<token>/tasks/<int:task_id>")
def member_task(token: str, task_id: int):
    """A member marks one of their tasks done from their page."""
    opened, problem = _open(token)
    if problem is not None:
        return problem
    link, place = opened
    if link.action != "page" or not ButtonForm().validate_on_submit():
        abort(400)
    task = _task_or_404(place.bid, task_id)
    try:
        with unit_of_work() as session:
            tasks.set_done(session, place.bid, task, True, utcnow(), member=place.member)
    except BidError as exc:
        flash(str(exc), "error")
    else:
        flash(f"Marked done: {task.title}.", "success")
    return redirect(url_for("bids.member_link", token=token))
