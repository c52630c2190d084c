"""Members' signed links, followed through the Flask test client: interested, not for
us (with a reason), unsubscribe (also RFC 8058 one-click), and their own profile."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from itsdangerous import URLSafeTimedSerializer
from sqlalchemy import delete, select

from broker.clock import utcnow
from broker.dashboard import funnel
from broker.matching.inputs import declines_by_member
from broker.models import Match, Member, MemberResponse, Notice, User
from broker.outreach.compose import MailContext
from broker.outreach.links import LinkExpired, Links, LinkTampered, MemberLink, for_app


def changed_signature(link: str) -> str:
    """The link with its signature's first character changed. Not the last one: the
    last base64 character of a 20-byte signature carries four padding bits, so some
    changes to it decode to the very same signature and the link still works."""
    head, _, signature = link.rpartition(".")
    return f"{head}.{'B' if signature[0] == 'A' else 'A'}{signature[1:]}"


@pytest.fixture
def member_links(recorded, app):
    """Member links as the e-mails carry them (signed now, with the app's key)."""
    made = for_app(app)

    def make(member: int, action: str, notice: int | None = None) -> str:
        return recorded.path_of(made.url(member, action, notice))

    return make


def responses(sessions, member: int) -> list[MemberResponse]:
    with sessions() as s:
        return list(
            s.scalars(
                select(MemberResponse)
                .where(MemberResponse.member_id == member)
                .order_by(MemberResponse.id)
            )
        )


# --- the links themselves --------------------------------------------------------------


def test_links_carry_member_notice_and_action_and_reject_anything_else(clock):
    links_ = Links("secret", "https://broker.example.org/", 60, clock)
    url = links_.url(7, "interested", 42)
    assert url.startswith("https://broker.example.org/r/")
    token = url.rsplit("/", 1)[1]
    assert links_.read(token) == MemberLink(7, "interested", 42)
    assert links_.read(links_.token(7, "profile")) == MemberLink(7, "profile", None)
    assert links_.one_click_unsubscribe_url(7).endswith("/unsubscribe")
    with pytest.raises(ValueError):
        links_.token(7, "interested")  # an answer needs its notice
    with pytest.raises(ValueError):
        links_.token(7, "delete-everything")
    # Another key, another salt (what a session cookie is signed with), a cut or changed
    # signature, or plain rubbish: all tampered.
    other_key = Links("another secret", "https://broker.example.org", 60, clock)
    other_salt = URLSafeTimedSerializer("secret", salt="cookie-session").dumps([7, 42, 0])
    for bad in (
        other_key.token(7, "interested", 42),
        other_salt,
        token[:-3],
        changed_signature(token),
        token.replace(token.split(".")[0], "WzcsNDMsMF0"),  # notice 43 instead of 42
        "not-a-link",
    ):
        with pytest.raises(LinkTampered):
            links_.read(bad)


def test_links_expire_after_link_max_age_days(clock):
    links_ = Links("secret", "http://127.0.0.1:5000", 60, clock)
    token = links_.token(7, "decline", 42)
    clock.advance(days=59, hours=23)
    assert links_.read(token).action == "decline"
    clock.advance(hours=2)
    with pytest.raises(LinkExpired) as expired:
        links_.read(token)
    assert expired.value.link == MemberLink(7, "decline", 42)


# --- I'm interested -------------------------------------------------------------------------


def test_interested_asks_first_then_records_it_and_tells_the_coordinators(
    recorded, pages, app, client, stocked, member_links, csrf_token, make_user
):
    make_user()
    make_user("admin@sen.example.org", role="admin", name="Ada Admin")
    gone = make_user("former@sen.example.org", name="Former Coordinator")
    with stocked.begin() as s:
        s.get(User, gone.id).active = False
    green = recorded.member_id(stocked, "Greenspace Growers")
    nid = recorded.notice_id(stocked, recorded.LANDSCAPE)
    url = member_links(green, "interested", nid)
    page = pages.text(client.get(url))
    # A GET (a mail scanner checking the link) changes nothing.
    assert responses(stocked, green) == []
    assert "Tell your Social Enterprise Network you're interested" in page
    assert recorded.LANDSCAPE in page and "Caledonia Housing Association (Bellsmyre HA)" in page
    assert '<button type="submit" class="button">Yes, we\'re interested</button>' in page
    pages.assert_accessible(page)
    # Without the form's token (cookies blocked, say): asked to try again, nothing done.
    refused = pages.text(client.post(url, data={"note": "x"}), 400)
    assert "<h1>Please try again</h1>" in refused
    assert responses(stocked, green) == [] and recorded.outbox(stocked, kind="interest") == []
    response = client.post(url, data={"note": "We could do lot 2.", "csrf_token": csrf_token(page)})
    assert response.status_code == 302 and response.headers["Location"] == url
    after = pages.text(client.get(url))
    assert (
        "we&#39;ve told your Social Enterprise Network that Greenspace Growers is interested"
        in after
    )
    [answer] = responses(stocked, green)
    assert (answer.kind, answer.notice_id, answer.channel, answer.note) == (
        "interested",
        nid,
        "email",
        "We could do lot 2.",
    )
    interest = recorded.outbox(stocked, kind="interest")
    assert sorted(m.to_address for m in interest) == [
        "admin@sen.example.org",
        "coordinator@sen.example.org",
    ]
    for message in interest:
        assert message.subject.startswith(f"Greenspace Growers is interested: {recorded.LANDSCAPE}")
        assert f"http://127.0.0.1:5000/notices/{nid}" in message.text_body
        assert f'href="http://127.0.0.1:5000/notices/{nid}"' in message.html_body
        assert "We could do lot 2." in message.text_body
        assert "hello@greenspace.example.org" in message.text_body
        assert "List-Unsubscribe" not in message.headers
    # A second click records nothing more and tells nobody again.
    client.post(url, data={"note": "", "csrf_token": csrf_token(page)})
    assert len(responses(stocked, green)) == 1
    assert len(recorded.outbox(stocked, kind="interest")) == 2


def test_interest_goes_to_the_notify_address_when_one_is_set(
    recorded, pages, make_settings, stocked, member_links, csrf_token
):
    from broker import create_app

    app = create_app(make_settings({"mail": {"notify_address": "team@sen.example.org"}}))
    client = app.test_client()
    green = recorded.member_id(stocked, "Greenspace Growers")
    url = member_links(green, "interested", recorded.notice_id(stocked, recorded.LANDSCAPE))
    page = pages.text(client.get(url))
    client.post(url, data={"csrf_token": csrf_token(page)})
    assert [m.to_address for m in recorded.outbox(stocked, kind="interest")] == [
        "team@sen.example.org"
    ]
    app.extensions["broker.engine"].dispose()


def test_interested_answers_show_on_the_notice_and_member_pages_and_in_the_funnel(
    recorded, pages, app, client, stocked, member_links, csrf_token, coordinator
):
    green = recorded.member_id(stocked, "Greenspace Growers")
    nid = recorded.notice_id(stocked, recorded.LANDSCAPE)
    url = member_links(green, "interested", nid)
    client.post(url, data={"csrf_token": csrf_token(client.get(url))})
    notice_page = pages.text(client.get(f"/notices/{nid}"))
    assert re.search(
        r"Greenspace Growers: interested · <time[^>]*>[^<]*</time> "
        r'<span class="meta">\(from an e-mail link\)</span>',
        notice_page,
    )
    member_page = pages.text(client.get(f"/members/{green}"))
    assert "<strong>interested</strong>" in member_page
    with stocked() as s:
        shown = funnel.build(s, utcnow(), weeks=4)
    interested = next(st for st in shown.stages if st.info.key == "interested")
    assert interested.count == 1


# --- Not for us ------------------------------------------------------------------------------


def test_not_for_us_asks_one_question_and_feeds_the_matching_feedback(
    recorded, pages, app, client, stocked, member_links, csrf_token, coordinator
):
    wheels = recorded.member_id(stocked, "Shared Wheels Transport")
    with stocked() as s:
        nid = s.scalars(
            select(Match.notice_id).where(Match.member_id == wheels).order_by(Match.score.desc())
        ).first()
    url = member_links(wheels, "decline", nid)
    page = pages.text(client.get(url))
    assert responses(stocked, wheels) == []
    assert "<legend>Why is it not for you?</legend>" in page
    for value, label in (
        ("too_big", "It&#39;s too big for us"),
        ("too_far", "It&#39;s too far away"),
        ("no_accreditation", "We don&#39;t have the accreditation it asks for"),
        ("timescale", "The timescale doesn&#39;t work for us"),
        ("other", "Another reason"),
    ):
        found = re.search(
            rf'<input id="(reason-\d)" name="reason" type="radio" value="{value}">', page
        )
        assert found, value
        assert f'<label for="{found.group(1)}">{label}</label>' in page
    assert '<label for="note">Tell us more (optional)</label>' in page
    pages.assert_accessible(page)
    response = client.post(
        url,
        data={
            "reason": "too_far",
            "note": "Our buses stay in Glasgow.",
            "csrf_token": csrf_token(page),
        },
    )
    assert response.status_code == 302
    assert "we won&#39;t send you this one again" in pages.text(client.get(url))
    [answer] = responses(stocked, wheels)
    assert (answer.kind, answer.reason, answer.note, answer.channel) == (
        "declined",
        "too_far",
        "Our buses stay in Glasgow.",
        "email",
    )
    with stocked() as s:
        declines = declines_by_member(s, [wheels])[wheels]
    assert declines.notices == {nid} and declines.reasons == {"too_far": 1}
    member_page = pages.text(client.get(f"/members/{wheels}"))
    assert "<strong>not for us</strong> (too far): “Our buses stay in Glasgow.”" in member_page
    # Changing the answer replaces it.
    client.post(url, data={"reason": "timescale", "note": "", "csrf_token": csrf_token(page)})
    [answer] = responses(stocked, wheels)
    assert answer.reason == "timescale"
    assert "not for us (timescale)" in pages.text(client.get(f"/notices/{nid}"))


# --- Unsubscribe ----------------------------------------------------------------------------


def test_unsubscribe_confirms_first_then_stops_every_email(
    recorded, pages, app, client, stocked, member_links, csrf_token
):
    wheels = recorded.member_id(stocked, "Shared Wheels Transport")
    url = member_links(wheels, "unsubscribe")
    page = pages.text(client.get(url))
    with stocked() as s:
        assert s.get(Member, wheels).unsubscribed_at is None
    assert "Unsubscribe Shared Wheels Transport</button>" in page
    pages.assert_accessible(page)
    client.post(url, data={"csrf_token": csrf_token(page)})
    with stocked() as s:
        assert s.get(Member, wheels).unsubscribed_at is not None
    again = pages.text(client.get(url))
    assert "You are unsubscribed" in again
    before = len(recorded.outbox(stocked))
    from broker.outreach import digests

    with stocked.begin() as s:
        assert digests.queue_digests(s, "daily", MailContext.for_app(app), utcnow()).emails == 0
    assert len(recorded.outbox(stocked)) == before
    # Changed their mind.
    client.post(url, data={"resubscribe": "1", "csrf_token": csrf_token(again)})
    with stocked() as s:
        assert s.get(Member, wheels).unsubscribed_at is None


def test_one_click_unsubscribe_works_without_csrf_from_the_list_unsubscribe_header(
    recorded, pages, app, stocked, sessions
):
    client = app.test_client()
    [alert] = recorded.outbox(sessions, kind="alert")
    url = recorded.path_of(alert.headers["List-Unsubscribe"].strip("<>"))
    assert url.endswith("/unsubscribe")
    # A POST without the RFC 8058 body is refused (nothing changes)...
    assert client.post(url, data={}).status_code == 400
    with sessions() as s:
        assert s.get(Member, alert.member_id).unsubscribed_at is None
    # ...and with it, unsubscribes at once: no page, no token, no cookie.
    response = client.post(url, data={"List-Unsubscribe": "One-Click"})
    assert response.status_code == 200
    assert "You are unsubscribed" in response.get_data(as_text=True)
    with sessions() as s:
        assert s.get(Member, alert.member_id).unsubscribed_at is not None
    # Opened in a browser, the same address shows the usual page.
    assert "You are unsubscribed" in pages.text(client.get(url))


def test_an_expired_unsubscribe_link_still_unsubscribes(
    recorded, pages, app, client, stocked, csrf_token
):
    old = Links(app.secret_key, "http://127.0.0.1:5000", 60, lambda: utcnow() - timedelta(days=90))
    green = recorded.member_id(stocked, "Greenspace Growers")
    url = recorded.path_of(old.url(green, "unsubscribe"))
    page = pages.text(client.get(url))
    client.post(url, data={"csrf_token": csrf_token(page)})
    with stocked() as s:
        assert s.get(Member, green).unsubscribed_at is not None


# --- Update my profile ------------------------------------------------------------------------


def test_update_my_profile_edits_the_members_own_profile_and_rematches_it(
    recorded, pages, app, client, stocked, member_links, csrf_token
):
    green = recorded.member_id(stocked, "Greenspace Growers")
    url = member_links(green, "profile")
    page = pages.text(client.get(url))
    assert "Greenspace Growers: your profile" in page
    assert 'name="name"' not in page  # the name is the coordinator's to change
    for label in (
        '<label for="email">E-mail addresses</label>',
        '<label for="keywords">Keywords and phrases</label>',
        '<label for="regions">Areas served</label>',
        '<label for="frequency">How often to e-mail opportunities</label>',
    ):
        assert label in page
    assert "grounds maintenance\nlandscape maintenance" in page or "grounds maintenance" in page
    pages.assert_accessible(page)
    with stocked() as s:
        before = set(s.scalars(select(Match.notice_id).where(Match.member_id == green)))
    form = {
        "email": "hello@greenspace.example.org",
        "description": "Cleaning and caretaking by our trainees.",
        "keywords": "cleaning services\nend of tenancy cleaning",
        "exclude": "",
        "cpv": "",
        "regions": "City of Edinburgh",
        "min_value": "",
        "max_value": "",
        "vcse": "y",
        "sme": "y",
        "frequency": "daily",
        "save": "Save my profile",
        "csrf_token": csrf_token(page),
    }
    response = client.post(url, data=form)
    assert response.status_code == 302, response.get_data(as_text=True)[:3000]
    assert "Thank you: your profile is saved." in pages.text(client.get(url))
    with stocked() as s:
        member = s.get(Member, green)
        assert member.keywords == ["cleaning services", "end of tenancy cleaning"]
        assert member.frequency == "daily" and member.name == "Greenspace Growers"
        after = set(s.scalars(select(Match.notice_id).where(Match.member_id == green)))
        titles = set(s.scalars(select(Notice.title).where(Notice.id.in_(after))))
    assert after != before
    assert recorded.END_OF_LEASE in titles


def test_a_bad_profile_is_shown_again_with_the_problems(
    recorded, pages, app, client, stocked, member_links, csrf_token
):
    green = recorded.member_id(stocked, "Greenspace Growers")
    url = member_links(green, "profile")
    page = pages.text(client.get(url))
    response = client.post(
        url,
        data={
            "email": "not an address",
            "keywords": "",
            "regions": "Atlantis",
            "frequency": "daily",
            "csrf_token": csrf_token(page),
        },
    )
    shown = pages.text(response, 400)
    assert "Your profile was not saved" in shown
    assert "Unknown area &#39;Atlantis&#39;" in shown
    assert "&#39;not an address&#39; is not an e-mail address" in shown
    with stocked() as s:
        assert s.get(Member, green).emails == ["hello@greenspace.example.org"]


# --- links that don't work --------------------------------------------------------------------


def test_an_expired_link_gets_a_friendly_page_and_changes_nothing(
    recorded, pages, app, client, stocked, member_links, csrf_token
):
    aged = Links(app.secret_key, "http://127.0.0.1:5000", 60, lambda: utcnow() - timedelta(days=61))
    green = recorded.member_id(stocked, "Greenspace Growers")
    nid = recorded.notice_id(stocked, recorded.LANDSCAPE)
    # A form token from a page that works, so that only the link's age is wrong below.
    token = csrf_token(client.get(member_links(green, "profile")))
    for action, notice in (("interested", nid), ("decline", nid), ("profile", None)):
        response = client.get(recorded.path_of(aged.url(green, action, notice)))
        page = pages.text(response, 410)
        assert "<h1>This link has expired</h1>" in page
        assert "work for 60 days" in page
        assert "ask your coordinator at your Social Enterprise Network to send it again" in page
        assert 'href="mailto:opportunities@sen-broker.example"' in page
        assert "Go to the home page" not in page  # not the error template
        assert response.headers["Content-Security-Policy"]
        # A POST with the expired link does nothing either.
        posted = client.post(
            recorded.path_of(aged.url(green, action, notice)),
            data={"csrf_token": token, "reason": "too_big", "email": "x@y.example.org"},
        )
        assert "<h1>This link has expired</h1>" in pages.text(posted, 410)
    assert responses(stocked, green) == []


def test_a_tampered_link_gets_a_friendly_page(recorded, pages, app, client, stocked, member_links):
    green = recorded.member_id(stocked, "Greenspace Growers")
    url = member_links(green, "interested", recorded.notice_id(stocked, recorded.LANDSCAPE))
    for bad in (url[:-4], changed_signature(url), "/r/rubbish"):
        page = pages.text(client.get(bad), 400)
        assert "<h1>This link doesn't work</h1>" in page
        assert "cut short or changed" in page
        assert "<h1>This link doesn't work</h1>" in pages.text(client.post(bad, data={}), 400)
    # The one-click address needs an unsubscribe link, not any signed link.
    response = client.post(url + "/unsubscribe", data={"List-Unsubscribe": "One-Click"})
    assert response.status_code == 400
    assert responses(stocked, green) == []
    with stocked() as s:
        assert s.get(Member, green).unsubscribed_at is None


def test_a_link_to_a_deleted_notice_or_member_says_so(
    recorded, pages, app, client, stocked, member_links
):
    green = recorded.member_id(stocked, "Greenspace Growers")
    nid = recorded.notice_id(stocked, recorded.LANDSCAPE)
    url = member_links(green, "decline", nid)
    with stocked.begin() as s:
        s.execute(delete(Notice).where(Notice.id == nid))
    assert "This link no longer works" in pages.text(client.get(url), 410)
    profile = member_links(green, "profile")
    with stocked.begin() as s:
        s.execute(delete(Member).where(Member.id == green))
    assert "This link no longer works" in pages.text(client.get(profile), 410)


def test_member_links_need_no_login_but_coordinator_pages_still_do(
    recorded, app, client, stocked, member_links
):
    green = recorded.member_id(stocked, "Greenspace Growers")
    assert client.get(member_links(green, "profile")).status_code == 200
    assert client.get(f"/members/{green}").status_code == 302


def test_links_in_the_emails_work_through_the_app(
    recorded, pages, app, client, stocked, csrf_token
):
    # The alert the import queued: its "Not for us" link, read from the text part.
    [alert] = recorded.outbox(stocked, kind="alert")
    decline = next(
        url
        for url in recorded.links(alert.text_body)
        if for_app(app).read(url.rsplit("/", 1)[1]).action == "decline"
    )
    page = pages.text(client.get(recorded.path_of(decline)))
    client.post(
        recorded.path_of(decline), data={"reason": "too_big", "csrf_token": csrf_token(page)}
    )
    [answer] = responses(stocked, alert.member_id)
    assert (answer.kind, answer.reason, answer.notice_id) == (
        "declined",
        "too_big",
        alert.notice_id,
    )
