"""Member e-mails: forwards, instant alerts, digests and change notices, on the real
recorded PCS notices (moved forward so they are open today)."""

from __future__ import annotations

import html
import re
from datetime import timedelta

from markupsafe import escape
from sqlalchemy import func, select, update

from broker.clock import utcnow
from broker.models import Match, Member, Notice, NoticeSource, ToldNotice, User
from broker.outreach import digests
from broker.outreach import forwards as outreach
from broker.outreach.compose import MailContext
from broker.outreach.links import for_app
from broker.runtime import jobs
from broker.runtime.scheduler import build_scheduler
from broker.triage import actions as triage

LANDSCAPE_TITLE = (
    "Caledonia Housing Association - Landscape Maintenance 2019 - 2023 (West Dunbartonshire)"
)
NOTE = 'Worth a look: you did the Bellsmyre one & the "Renton" one <b>last year</b>.'


def titles_in(html_body: str) -> list[str]:
    """The opportunities' titles in an HTML e-mail, in order."""
    return [html.unescape(t) for t in re.findall(r"<h3[^>]*>(.*?)</h3>", html_body, re.S)]


def sections_of(html_body: str) -> dict[str, list[str]]:
    """A digest's sections (New, Updated) and the titles in each."""
    parts = re.split(r"<h2[^>]*>(New|Updated)</h2>", html_body)
    return {parts[i]: titles_in(parts[i + 1]) for i in range(1, len(parts), 2)}


def scores(sessions, member: int) -> dict[str, int]:
    with sessions() as s:
        return dict(
            s.execute(
                select(Notice.title, Match.score)
                .join(Match, Match.notice_id == Notice.id)
                .where(Match.member_id == member)
            ).all()
        )


def set_member(sessions, name: str, recorded, **values) -> int:
    with sessions.begin() as s:
        s.execute(update(Member).where(Member.name == name).values(**values))
    return recorded.member_id(sessions, name)


def forward(app, sessions, title: str, names: list[str], note: str = NOTE, sender=None):
    """Forward a notice as the notice page does: the Forward rows and the e-mails together."""
    with sessions.begin() as s:
        notice = s.scalars(select(Notice).where(Notice.title.startswith(title))).one()
        ids = list(s.scalars(select(Member.id).where(Member.name.in_(names))))
        user = s.get(User, sender.id) if sender else None
        sent = triage.forward(s, notice, ids, note, user.id if user else None, utcnow())
        return outreach.queue_forwards(s, notice, sent, user, MailContext.for_app(app), utcnow())


def queue_digests(app, sessions, period: str):
    with sessions.begin() as s:
        return digests.queue_digests(s, period, MailContext.for_app(app), utcnow())


# --- forwards ------------------------------------------------------------------------


def test_a_forward_queues_one_email_per_member_and_address_with_the_note(
    recorded, app, client, coordinator, stocked, csrf_token
):
    nid = recorded.notice_id(stocked, recorded.LANDSCAPE)
    green = recorded.member_id(stocked, "Greenspace Growers")
    wheels = recorded.member_id(stocked, "Shared Wheels Transport")
    url = f"/notices/{nid}"
    token = csrf_token(client.get(url))
    added = client.post(
        f"{url}/members", data={"add-member": "Shared Wheels Transport", "csrf_token": token}
    )
    assert added.status_code == 302
    token = csrf_token(client.get(url))
    response = client.post(
        f"{url}/forward",
        data={"forward-members": [green, wheels], "forward-note": NOTE, "csrf_token": token},
    )
    assert response.status_code == 302
    sent = recorded.outbox(stocked, kind="forward")
    assert sorted((m.member_id, m.to_address) for m in sent) == sorted(
        [
            (green, "hello@greenspace.example.org"),
            (wheels, "bookings@sharedwheels.example.org"),
            (wheels, "ops@sharedwheels.example.org"),
        ]
    )
    reader = for_app(app)
    for message in sent:
        assert message.notice_id == nid and message.status == "queued"
        assert message.subject == f"Forwarded by Casey Coordinator: {LANDSCAPE_TITLE}"
        # The note and who sent it, in both parts; escaped in the HTML one.
        assert "Casey Coordinator" in message.text_body and "Casey Coordinator" in message.html_body
        assert "you did the Bellsmyre one & the" in message.text_body
        assert '"Renton" one <b>last' in message.text_body
        assert "the &#34;Renton&#34; one &lt;b&gt;last year&lt;/b&gt;." in message.html_body
        assert recorded.LANDSCAPE in message.text_body
        assert html.escape(recorded.LANDSCAPE, quote=False) in message.html_body
        # The same links in both parts: interested, not for us, profile, unsubscribe.
        text_links, html_links = (
            recorded.links(message.text_body),
            recorded.links(message.html_body),
        )
        assert set(text_links) == set(html_links)
        read = [reader.read(url.rsplit("/", 1)[-1]) for url in text_links]
        assert {link.action for link in read} == {
            "interested",
            "decline",
            "profile",
            "unsubscribe",
        }
        assert {link.member_id for link in read} == {message.member_id}
        assert {link.notice_id for link in read if link.action in ("interested", "decline")} == {
            nid
        }
        # One-click unsubscribe headers (RFC 8058).
        assert re.fullmatch(
            r"<http://127\.0\.0\.1:5000/r/[^>]+/unsubscribe>", message.headers["List-Unsubscribe"]
        )
        assert message.headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        assert message.message_id.endswith("@sen-broker.example>")
    with stocked() as s:
        told = {
            t.member_id for t in s.scalars(select(ToldNotice).where(ToldNotice.notice_id == nid))
        }
    assert told == {green, wheels}


def test_every_opportunity_says_what_who_where_value_deadline_why_and_the_flags(
    recorded, app, stocked, sessions
):
    forward(app, sessions, recorded.LANDSCAPE, ["Greenspace Growers"])
    [message] = recorded.outbox(sessions, kind="forward")
    text = message.text_body
    assert "Landscape Maintenance Services Contract for areas located in Renton" in text
    assert "Buyer:    Caledonia Housing Association (Bellsmyre HA)" in text
    assert "Where:    East Dunbartonshire, West Dunbartonshire and Helensburgh & Lomond" in text
    assert "Value:    £270,000" in text
    assert re.search(r"Deadline: \d+ \w+ 20\d\d, \d\d:\d\d \(\d+ days left\)", text)
    assert '- Keyword "landscape maintenance" ≈ "landscape maintenance" (title)' in text
    assert "is one you serve" in text  # the engine's reasons, addressed to the member
    assert "* Includes community benefits" in text
    assert (
        "https://www.publiccontractsscotland.gov.uk/search/show/search_view.aspx?ID=APR350426"
        in text
    )
    assert "Sent by your Social Enterprise Network" in text
    assert "Casey" not in text and "A coordinator at your Social Enterprise Network" in text
    for words in ("I'm interested", "Not for us", "Update my profile", "Unsubscribe"):
        assert words in text
        assert escape(words) in message.html_body


def test_reserved_and_vcse_flags_are_in_words(recorded, app, stocked, sessions):
    with sessions.begin() as s:
        s.execute(
            update(Notice)
            .where(Notice.title.startswith(recorded.LANDSCAPE))
            .values(reserved=True, vcse=True)
        )
    forward(app, sessions, recorded.LANDSCAPE, ["Greenspace Growers"])
    [message] = recorded.outbox(sessions, kind="forward")
    for body in (message.text_body, message.html_body):
        assert "Reserved for supported businesses" in body
        assert "Suitable for voluntary, community and social enterprises (VCSE)" in body


def test_unsubscribed_members_get_no_forward_and_the_form_says_so(
    recorded, pages, app, client, coordinator, stocked, csrf_token
):
    nid = recorded.notice_id(stocked, recorded.LANDSCAPE)
    green = set_member(stocked, "Greenspace Growers", unsubscribed_at=utcnow(), recorded=recorded)
    url = f"/notices/{nid}"
    page = pages.text(client.get(url))
    assert "Greenspace Growers (unsubscribed: won&#39;t be e-mailed)" in page
    response = client.post(
        f"{url}/forward",
        data={"forward-members": [green], "forward-note": "", "csrf_token": csrf_token(page)},
    )
    assert response.status_code == 302
    assert "Not e-mailed (unsubscribed or inactive): Greenspace Growers" in pages.text(
        client.get(url)
    )
    assert recorded.outbox(stocked, kind="forward") == []


def test_notice_text_cannot_inject_markup_into_the_html_email(recorded, app, stocked, sessions):
    with sessions.begin() as s:
        notice = s.scalars(select(Notice).where(Notice.title.startswith(recorded.LANDSCAPE))).one()
        notice.title = 'Landscape <img src=x onerror=alert(1)> "quoted"'
        notice.description = "<script>alert('x')</script> Grass & hedges. <a href='//evil'>x</a>"
        notice.buyer = '"><b onmouseover=alert(2)>Buyer</b>'
        notice.place = "<iframe src=//evil></iframe>"
        s.execute(
            update(NoticeSource)
            .where(NoticeSource.notice_id == notice.id)
            .values(url="javascript:alert(document.cookie)")
        )
    forward(app, sessions, "Landscape <img", ["Greenspace Growers"], note="<script>x</script>")
    [message] = recorded.outbox(sessions, kind="forward")
    body = message.html_body
    for markup in (
        "<script",
        "<img",
        "<iframe",
        "<b onmouseover",
        "<a href='//evil'",
        "javascript:",
    ):
        assert markup not in body
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; Grass &amp; hedges." in body
    assert "Landscape &lt;img src=x onerror=alert(1)&gt; &#34;quoted&#34;" in body
    # Plain text has no markup to break: it says what the notice says.
    assert "<script>alert('x')</script> Grass & hedges." in message.text_body
    assert "javascript:" not in message.text_body
    assert "\n" not in message.subject


def test_the_html_part_is_one_narrow_column_with_inline_styles_only(
    recorded, app, stocked, sessions
):
    forward(app, sessions, recorded.LANDSCAPE, ["Greenspace Growers"])
    [message] = recorded.outbox(sessions, kind="forward")
    body = message.html_body
    assert "max-width:600px" in body
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in body
    for forbidden in ("<script", "<style", "<link", "<img", "<form", "http://cdn", "src="):
        assert forbidden not in body
    # Every link goes to the broker or the publisher, and every one is http(s) or mailto.
    for href in re.findall(r'href="([^"]+)"', body):
        assert href.startswith(
            ("http://127.0.0.1:5000/r/", "https://www.publiccontractsscotland", "mailto:")
        )


# --- instant alerts ------------------------------------------------------------------------


def test_instant_members_get_one_alert_listing_their_new_matches_best_first(
    recorded, app, stocked, sessions
):
    # The import that stored the notices told the one "instant" member straight away.
    clean = recorded.member_id(sessions, "Clean Start Services")
    [alert] = recorded.outbox(sessions, kind="alert")
    assert alert.member_id == clean and alert.to_address == "tenders@cleanstart.example.org"
    assert alert.subject == f"New opportunity: {recorded.END_OF_LEASE}"
    assert titles_in(alert.html_body) == [recorded.END_OF_LEASE]
    # Switch another member to instant: one e-mail per address, every new match, best first.
    wheels = set_member(sessions, "Shared Wheels Transport", frequency="instant", recorded=recorded)
    notified = jobs.tell_members(app)
    assert notified.alerts.emails == 2 and notified.alerts.members == 1
    first, second = recorded.outbox(sessions, kind="alert", member_id=wheels)
    assert first.html_body == second.html_body
    listed = titles_in(first.html_body)
    assert first.subject == f"{len(listed)} new opportunities for Shared Wheels Transport"
    matched = scores(sessions, wheels)
    assert len(listed) > 3
    assert [matched[t] for t in listed] == sorted((matched[t] for t in listed), reverse=True)
    threshold = app.config["SETTINGS"].matching.engine.notify_threshold
    assert all(matched[t] >= threshold for t in listed)
    with sessions() as s:
        open_matches = s.scalar(
            select(func.count(Match.id))
            .join(Notice, Notice.id == Match.notice_id)
            .where(Match.member_id == wheels, Match.score >= threshold, Notice.deadline > utcnow())
        )
        told = s.scalar(select(func.count(ToldNotice.id)).where(ToldNotice.member_id == wheels))
    assert len(listed) == open_matches == told
    # Told once: another run finds nothing new.
    again = jobs.tell_members(app)
    assert again.alerts.emails == 0 and again.changes.emails == 0


def test_frequency_off_or_unsubscribed_members_get_no_alerts_or_digests(
    recorded, app, stocked, sessions
):
    before = len(recorded.outbox(sessions))
    set_member(
        sessions,
        "Shared Wheels Transport",
        frequency="instant",
        unsubscribed_at=utcnow(),
        recorded=recorded,
    )
    set_member(sessions, "Greenspace Growers", frequency="off", recorded=recorded)
    set_member(sessions, "Clean Start Services", frequency="daily", active=False, recorded=recorded)
    jobs.tell_members(app)
    for period in ("daily", "weekly"):
        assert queue_digests(app, sessions, period).emails == 0
    assert len(recorded.outbox(sessions)) == before


def test_the_match_command_tells_instant_members(recorded, app, stocked, sessions, cli_runner):
    set_member(sessions, "Greenspace Growers", frequency="instant", recorded=recorded)
    result = cli_runner("match")
    assert result.exit_code == 0, result.output
    assert "Queued 1 alerts to 1 members" in result.output
    [alert] = recorded.outbox(
        sessions, kind="alert", member_id=recorded.member_id(sessions, "Greenspace Growers")
    )
    assert LANDSCAPE_TITLE in titles_in(alert.html_body)


# --- digests ----------------------------------------------------------------------------


def test_a_digest_has_new_then_updated_best_first_and_leaves_out_passed_deadlines(
    recorded, app, stocked, sessions, releases, import_releases
):
    wheels = recorded.member_id(sessions, "Shared Wheels Transport")  # daily, two addresses
    matched = scores(sessions, wheels)
    # One of its matches closes before the digest: it must be left out.
    closing = max(matched, key=matched.get)
    past = (utcnow() - timedelta(hours=1)).isoformat()
    import_releases(
        [recorded.amended(recorded.release_of(releases, closing), tenderPeriod={"endDate": past})],
        "closed.json",
    )
    queue_digests(app, sessions, "daily")
    first = recorded.outbox(sessions, kind="digest", member_id=wheels)
    assert len(first) == 2
    sections = sections_of(first[0].html_body)
    assert list(sections) == ["New"]
    new = sections["New"]
    assert closing not in new and len(new) >= 3
    assert [matched[t] for t in new] == sorted((matched[t] for t in new), reverse=True)
    assert first[0].subject == f"Your daily opportunities: {len(new)} new"
    with sessions() as s:
        digest_at = s.get(Member, wheels).last_digest_at
    assert digest_at is not None

    # Then three told notices change: a new deadline, an amended description, a cancellation.
    moved, reworded, cancelled = new[0], new[1], new[2]
    later = (utcnow() + timedelta(days=45)).replace(microsecond=0).isoformat()
    import_releases(
        [
            recorded.amended(recorded.release_of(releases, moved), tenderPeriod={"endDate": later}),
            recorded.amended(
                recorded.release_of(releases, reworded),
                description="Transport for pupils, now including escorts for every route.",
            ),
            recorded.amended(recorded.release_of(releases, cancelled), status="cancelled"),
        ],
        "amendments.json",
    )
    assert recorded.outbox(sessions, kind="change", member_id=wheels) == []  # digests carry them
    queue_digests(app, sessions, "daily")
    second = recorded.outbox(sessions, kind="digest", member_id=wheels)[2:]
    assert len(second) == 2
    body = second[0].html_body
    updated = sections_of(body)["Updated"]
    assert sorted(updated) == sorted([moved, reworded, cancelled])
    now_scores = scores(sessions, wheels)
    assert [now_scores.get(t, -1) for t in updated] == sorted(
        (now_scores.get(t, -1) for t in updated), reverse=True
    )
    assert "The deadline moved from" in body
    assert "The buyer amended the description." in body
    assert "Cancelled by the buyer." in body
    assert second[0].subject.endswith("3 updated")
    assert "CANCELLED by the buyer." in second[0].text_body
    assert "what has come in since" in second[0].text_body


def test_an_empty_digest_is_never_queued_and_last_digest_at_stays(recorded, app, stocked, sessions):
    wheels = recorded.member_id(sessions, "Shared Wheels Transport")
    assert queue_digests(app, sessions, "daily").members == 1
    with sessions() as s:
        first = s.get(Member, wheels).last_digest_at
    count = len(recorded.outbox(sessions))
    again = queue_digests(app, sessions, "daily")
    assert again.emails == 0
    assert len(recorded.outbox(sessions)) == count
    with sessions() as s:
        assert s.get(Member, wheels).last_digest_at == first


def test_weekly_digests_are_only_for_weekly_members(recorded, app, stocked, sessions):
    green = recorded.member_id(sessions, "Greenspace Growers")  # weekly
    told = queue_digests(app, sessions, "weekly")
    assert {m.member_id for m in recorded.outbox(sessions, kind="digest")} == {green}
    assert told.members == 1


def test_digests_run_at_digest_time_london_every_day_and_on_the_weekday(make_settings):
    from broker import create_app

    app = create_app(make_settings({"mail": {"digest_time": "06:45", "digest_weekday": "thu"}}))
    scheduler = build_scheduler(app)
    scheduler.start(paused=True)
    found = {job.id: job for job in scheduler.get_jobs()}
    scheduler.shutdown(wait=False)
    daily, weekly = found["digest:daily"], found["digest:weekly"]
    assert daily.args == (app, "daily") and weekly.args == (app, "weekly")
    for job in (daily, weekly):
        fields = {f.name: str(f) for f in job.trigger.fields}
        assert (fields["hour"], fields["minute"]) == ("6", "45")
        assert str(job.trigger.timezone) == "Europe/London"
        assert job.max_instances == 1 and job.coalesce
    assert {f.name: str(f) for f in weekly.trigger.fields}["day_of_week"] == "thu"
    assert {f.name: str(f) for f in daily.trigger.fields}["day_of_week"] == "*"
    app.extensions["broker.engine"].dispose()


def test_mail_preview_prints_the_next_digest_and_changes_nothing(
    recorded, stocked, sessions, cli_runner
):
    wheels = recorded.member_id(sessions, "Shared Wheels Transport")
    before = len(recorded.outbox(sessions))
    result = cli_runner("mail", "preview", "Shared Wheels Transport")
    assert result.exit_code == 0, result.output
    assert result.output.startswith("Subject: Your daily opportunities: ")
    assert "Hello Shared Wheels Transport," in result.output
    assert "NEW\n---" in result.output and recorded.ISLAY in result.output
    # By id too; the links may be signed a second later, so they are left out.
    by_id = cli_runner("mail", "preview", str(wheels)).output
    assert re.sub(r"/r/\S+", "/r/LINK", by_id) == re.sub(r"/r/\S+", "/r/LINK", result.output)
    with sessions() as s:
        assert s.get(Member, wheels).last_digest_at is None
        assert (
            s.scalar(select(func.count(ToldNotice.id)).where(ToldNotice.member_id == wheels)) == 0
        )
    assert len(recorded.outbox(sessions)) == before


def test_mail_preview_says_when_there_is_nothing_new(app, stocked, sessions, cli_runner):
    queue_digests(app, sessions, "daily")
    result = cli_runner("mail", "preview", "Shared Wheels Transport")
    assert result.exit_code == 0, result.output
    assert re.fullmatch(
        r"Nothing new for Shared Wheels Transport since its last digest on \d+ \w+ \d{4}\.\n",
        result.output,
    )
    unknown = cli_runner("mail", "preview", "Nobody Ltd")
    assert unknown.exit_code != 0 and "no member has the id or name 'Nobody Ltd'" in unknown.output


# --- change notices ------------------------------------------------------------------------


def test_a_new_deadline_or_a_cancellation_is_told_to_members_who_were_told_only(
    recorded, app, stocked, sessions, releases, import_releases
):
    clean = recorded.member_id(sessions, "Clean Start Services")  # instant, alerted at import
    green = set_member(sessions, "Greenspace Growers", frequency="off", recorded=recorded)
    forward(app, sessions, recorded.LANDSCAPE, ["Greenspace Growers"])  # forward-only member
    wheels = recorded.member_id(sessions, "Shared Wheels Transport")  # daily, told nothing
    later = (utcnow() + timedelta(days=50)).replace(microsecond=0).isoformat()
    import_releases(
        [
            recorded.amended(
                recorded.release_of(releases, recorded.END_OF_LEASE),
                tenderPeriod={"endDate": later},
            ),
            recorded.amended(recorded.release_of(releases, recorded.LANDSCAPE), status="cancelled"),
        ],
        "changes.json",
    )
    changes = recorded.outbox(sessions, kind="change")
    assert sorted((m.member_id, m.subject) for m in changes) == sorted(
        [
            (clean, f"Deadline changed: {recorded.END_OF_LEASE}"),
            (green, f"Cancelled: {LANDSCAPE_TITLE}"),
        ]
    )
    deadline_change = next(m for m in changes if m.member_id == clean)
    assert "The deadline moved from" in deadline_change.text_body
    assert "I'm interested" in deadline_change.text_body
    cancellation = next(m for m in changes if m.member_id == green)
    assert "CANCELLED by the buyer." in cancellation.text_body
    assert "I'm interested" not in cancellation.text_body  # nothing left to answer
    assert not [m for m in changes if m.member_id == wheels]
    with sessions() as s:
        told = s.scalars(select(ToldNotice).where(ToldNotice.member_id == green)).one()
        assert told.cancelled is True
    # Told once: the same releases again change nothing.
    import_releases(
        [
            recorded.amended(
                recorded.release_of(releases, recorded.END_OF_LEASE),
                tenderPeriod={"endDate": later},
            ),
            recorded.amended(recorded.release_of(releases, recorded.LANDSCAPE), status="cancelled"),
        ],
        "again.json",
    )
    assert len(recorded.outbox(sessions, kind="change")) == 2


def test_members_who_declined_hear_no_more_about_it(
    recorded, app, stocked, sessions, releases, import_releases
):
    from broker.outreach import answers

    clean = recorded.member_id(sessions, "Clean Start Services")
    with sessions.begin() as s:
        member = s.get(Member, clean)
        notice = s.get(Notice, recorded.notice_id(sessions, recorded.END_OF_LEASE))
        answers.declined(s, member, notice, "too_big", "", utcnow())
    later = (utcnow() + timedelta(days=50)).replace(microsecond=0).isoformat()
    import_releases(
        [
            recorded.amended(
                recorded.release_of(releases, recorded.END_OF_LEASE),
                tenderPeriod={"endDate": later},
            )
        ],
        "x.json",
    )
    assert recorded.outbox(sessions, kind="change") == []
