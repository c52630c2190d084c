"""The network's public pages: the directory, each listed member's page, "What do you
need?", the privacy page and robots.txt, and the buyers' forms with their confirmation
links. No login; nothing but what members chose to show.
"""

from __future__ import annotations

from datetime import timedelta

from flask import (
    Blueprint,
    Flask,
    Response,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from broker.clock import utcnow
from broker.db import get_session, unit_of_work
from broker.formatting import pounds
from broker.matching.cache import get_cache
from broker.models import Member
from broker.network import buyers, export, finding
from broker.network.forms import BuyerForm, ContactForm, DirectoryFilters, FindForm, OpportunityForm
from broker.network.limits import RateLimiter
from broker.network.listing import Filters, Listed, ListedCache, PublicMember, listed_member
from broker.outreach.compose import MailContext
from broker.web.forms import ButtonForm, choices

bp = Blueprint("network", __name__, url_prefix="/network")

# Listed members per directory page.
PAGE_SIZE = 20


# --- The directory, member pages, "What do you need?", privacy, robots.txt ---------------


@bp.context_processor
def _network() -> dict[str, str]:
    mail = current_app.config["SETTINGS"].mail
    return {"network_name": mail.network_name, "contact": mail.reply_to or mail.from_address}


@bp.errorhandler(404)
@bp.errorhandler(429)
def _error(exc: HTTPException):
    """The directory's own error pages: no link into the coordinators' pages."""
    return render_template("network/error.html", error=exc), exc.code


def _state(app: Flask) -> tuple[ListedCache, finding.SearchCache, RateLimiter]:
    """This process's listed members, search engine and search limit."""
    found = app.extensions.get("broker.network")
    if found is None:
        settings = app.config["SETTINGS"]
        found = app.extensions["broker.network"] = (
            ListedCache(),
            finding.SearchCache(settings.matching.engine),
            RateLimiter(settings.network.search_per_minute, timedelta(minutes=1)),
        )
    return found


def _listed() -> Listed:
    return _state(current_app)[0].listed(get_session())


def _filters(listed: Listed) -> tuple[DirectoryFilters, Filters]:
    """The filters asked for; an area or kind no listed member has is ignored."""
    form = DirectoryFilters(request.args)
    form.area.choices = choices([("", "Anywhere"), *listed.areas])
    form.work.choices = choices([("", "Any kind of work"), *listed.kinds])
    area = form.area.data if form.area.data in dict(listed.areas) else ""
    work = form.work.data if form.work.data in dict(listed.kinds) else ""
    return form, Filters(area=area, work=work, supported=bool(form.supported.data))


def member_url(member: PublicMember, external: bool = False) -> str:
    """A listed member's public page."""
    return url_for("network.member", key=member.slug, _external=external)


@bp.route("/")
def index():
    """The directory: listed members, filtered, a page at a time, and "What do you need?"."""
    listed = _listed()
    form, filters = _filters(listed)
    page = listed.page(filters, request.args.get("page", 1, type=int) or 1, PAGE_SIZE)
    return render_template(
        "network/index.html",
        form=form,
        filters=filters,
        find=FindForm(formdata=None),
        page=page,
        listed=listed,
    )


@bp.route("/directory.csv")
def directory_csv():
    """The filtered directory as CSV, for a Quick Quote list."""
    listed = _listed()
    _form, filters = _filters(listed)
    members = [m for m in listed.members if filters.admits(m)]
    body = export.directory_csv(members, lambda m: member_url(m, external=True))
    return Response(
        "\ufeff" + body,  # so spreadsheets read it as UTF-8
        mimetype="text/csv",
        headers={"Content-Disposition": 'attachment; filename="social-enterprises.csv"'},
    )


@bp.route("/find")
def find():
    """The listed members that fit what the officer needs, best first, with why."""
    form = FindForm(request.args)
    what = (form.what.data or "").strip()
    if not what:
        return render_template("network/find.html", form=form, results=None)
    if not form.validate():
        return render_template("network/find.html", form=form, results=None), 400
    listed_cache, search, limiter = _state(current_app)
    if not limiter.allow(request.remote_addr or "", utcnow()):
        abort(
            429,
            description="You have searched many times in a minute. "
            "Please wait a minute, then search again.",
        )
    session = get_session()
    listed = listed_cache.listed(session)
    results = finding.find_members(
        session,
        listed,
        search,
        what,
        form.where.data or "",
        threshold=current_app.config["SETTINGS"].matching.store_threshold,
    )
    return render_template("network/find.html", form=form, results=results, what=what)


@bp.route("/members/<key>")
def member(key: str):
    """A listed member's public page; an unlisted or unknown member is not found."""
    member_id = _listed().find(key)
    found = listed_member(get_session(), member_id) if member_id is not None else None
    if found is None:
        abort(404)
    return render_template("network/member.html", member=found)


@bp.route("/privacy")
def privacy():
    """What the directory shows, why, and how a member leaves it."""
    return render_template("network/privacy.html")


def robots_txt():
    """Search engines may index the directory and nothing else; not even a buyer's
    confirmation link (the longest rule wins)."""
    body = "User-agent: *\nAllow: /network/\nDisallow: /network/confirm/\nDisallow: /\n"
    return Response(body, mimetype="text/plain")


@bp.record_once
def _robots(state) -> None:
    # At the site's root, outside the blueprint's /network prefix.
    state.app.add_url_rule("/robots.txt", "network.robots_txt", robots_txt)


# --- "Contact this social enterprise" and "Tell us about an opportunity" ---------------
# A buyer's message or opportunity is only stored, and the buyer e-mailed a link, until
# they confirm from it (broker.network.buyers); a GET never confirms.


def _rules() -> buyers.Rules:
    network = current_app.config["SETTINGS"].network
    return buyers.Rules(network.submissions_per_hour, network.confirm_hours)


def _submit(form: BuyerForm, request_: buyers.ContactRequest | buyers.OpportunityRequest):
    """Store the submission and e-mail the buyer the link; the answer to a valid form."""
    context = MailContext.for_app(current_app)
    rules = _rules()
    tokens = rules.tokens(current_app.secret_key)
    sender = buyers.Sender.of(
        current_app.secret_key, request.remote_addr or "", request_.buyer.email
    )

    def confirm_url(submission) -> str:
        token = buyers.link_token(tokens, submission)
        return context.links.page_url(url_for("network.confirm", token=token))

    try:
        with unit_of_work() as session:
            buyers.submit(session, request_, sender, rules, context, confirm_url, utcnow())
    except buyers.TooManySubmissions:
        abort(
            429,
            description=(
                "You have sent us several messages in the last hour. To keep our members "
                "safe from spam we take only a few an hour: please try again in an hour."
            ),
        )
    except buyers.InvalidSubmission as invalid:
        form.show(invalid)
        return None
    except LookupError:
        abort(404)
    return redirect(url_for("network.check_email"), 303)


@bp.errorhandler(CSRFError)
def _form_expired(exc: CSRFError):
    """A buyer's form without its token (cookies blocked, or a page kept open across a
    restart): say what to do, on the directory's own page."""
    exc.description = (
        "We couldn't accept this form: it may have been open for a long time, or your "
        "browser blocked our cookie. Please go back, reload the page and send it again."
    )
    return render_template("network/error.html", error=exc), 400


@bp.route("/members/<int:member_id>/contact", methods=["GET", "POST"])
def contact(member_id: int):
    """ "Contact this social enterprise": the message reaches them once the buyer confirms."""
    member = listed_member(get_session(), member_id)
    if member is None:
        abort(404)
    form = ContactForm()
    if form.validate_on_submit():
        if form.homepage.data:
            # A bot: the same answer as a person gets, and nothing stored or sent.
            return redirect(url_for("network.check_email"), 303)
        done = _submit(form, buyers.ContactRequest(member.id, form.buyer(), form.message.data))
        if done is not None:
            return done
    status = 400 if request.method == "POST" else 200
    return render_template("network/contact.html", form=form, member=member), status


@bp.route("/opportunity", methods=["GET", "POST"])
def opportunity():
    """ "Tell us about an opportunity": a notice for the coordinators once confirmed."""
    form = OpportunityForm()
    if form.validate_on_submit():
        if form.homepage.data:
            return redirect(url_for("network.check_email"), 303)
        try:
            value = pounds(form.value.data)
        except ValueError:
            form.value.errors = [*form.value.errors, "Enter an amount in pounds, e.g. 25000"]
        else:
            done = _submit(
                form,
                buyers.OpportunityRequest(
                    buyer=form.buyer(),
                    title=form.title.data or "",
                    needed=form.needed.data or "",
                    deadline=form.deadline.data,
                    value=value,
                    place=form.where.data or "",
                ),
            )
            if done is not None:
                return done
    status = 400 if request.method == "POST" else 200
    return render_template("network/opportunity.html", form=form), status


@bp.route("/check-your-email")
def check_email():
    """What every sender is told, a bot included: the link is in their e-mail."""
    return render_template("network/check_email.html", hours=_rules().confirm_hours)


def _linked(token: str):
    """The submission a confirmation link names, or the page saying why it can't be used."""
    try:
        submission_id, nonce = buyers.read_link(_rules().tokens(current_app.secret_key), token)
    except buyers.LinkUnusable as unusable:
        reason = "expired" if unusable.expired else "broken"
        return None, _link_page(reason, 410 if unusable.expired else 404)
    submission = buyers.find(get_session(), submission_id, nonce)
    if submission is None:
        # Deleted unconfirmed after its time, so it has expired.
        return None, _link_page("expired", 410)
    return submission, None


def _link_page(reason: str, status: int):
    page = render_template("network/link.html", reason=reason, hours=_rules().confirm_hours)
    return page, status


@bp.get("/confirm/<token>")
def confirm(token: str):
    """What confirming will do, and the "Confirm" button; opening it changes nothing."""
    submission, refused = _linked(token)
    if refused is not None:
        return refused
    member = get_session().get(Member, submission.member_id) if submission.member_id else None
    return render_template(
        "network/confirm.html",
        submission=submission,
        member=member,
        form=ButtonForm(),
        token=token,
    )


@bp.post("/confirm/<token>")
def confirm_post(token: str):
    """Confirm once: the message goes to the member, or the opportunity to the network."""
    form = ButtonForm()
    if not form.validate_on_submit():
        abort(400)
    submission, refused = _linked(token)
    if refused is not None:
        return refused
    with unit_of_work() as session:
        done = buyers.confirm(
            session,
            submission.id,
            submission.nonce,
            get_cache(current_app),
            MailContext.for_app(current_app),
            _rules(),
            utcnow(),
        )
    if done.outcome == "gone":
        return _link_page("expired", 410)
    if done.outcome == "already":
        flash("You had already confirmed this: nothing more was sent.", "info")
    else:
        flash("Thank you: your e-mail address is confirmed.", "success")
    return redirect(url_for("network.confirm", token=token), 303)
