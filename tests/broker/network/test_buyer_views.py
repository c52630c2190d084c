"""The buyers' public forms end to end through the app: "Tell us about an opportunity",
"Contact this social enterprise", their confirmation links, and the abuse they refuse."""

from __future__ import annotations

import html
import re
from datetime import timedelta

from sqlalchemy import func, select, update

from broker.clock import utcnow
from broker.models import Member, Notice, OutboxMessage
from broker.models.network import BuyerSubmission
from broker.network import buyers

GREENSPACE = "Greenspace Growers"
GREENSPACE_EMAIL = "hello@greenspace.example.org"
OFFICER_EMAIL = "olu.officer@council.example.gov.uk"
CONFIRM_LINK = re.compile(r"https?://[^\s\"'<>]+(/network/confirm/[A-Za-z0-9_.\-]+)")
XSS = "<script>alert(1)</script>\"'><img src=x onerror=alert(2)>"


def opportunity_data(**changes) -> dict[str, str]:
    return {
        "title": "Grounds maintenance of Dalmuir Park",
        "needed": "Grass cutting, hedge trimming and litter picking in Dalmuir Park, "
        "April to October 2027.",
        "deadline": "2026-12-18",
        "value": "£24,000",
        "where": "West Dunbartonshire",
        "your_name": "Olu Officer",
        "your_email": OFFICER_EMAIL,
        "organisation": "West Dunbartonshire Council",
        "homepage": "",
    } | changes


def contact_data(**changes) -> dict[str, str]:
    return {
        "message": "Could you quote for grass cutting in Dalmuir Park?",
        "your_name": "Olu Officer",
        "your_email": OFFICER_EMAIL,
        "organisation": "West Dunbartonshire Council",
        "homepage": "",
    } | changes


def post_form(client, csrf_token, path, data, **kwargs):
    token = csrf_token(client.get(path, **kwargs))
    return client.post(path, data={**data, "csrf_token": token}, **kwargs)


def outbox(sessions) -> list[OutboxMessage]:
    with sessions() as s:
        return list(s.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


def confirm_path(sessions) -> str:
    """The confirmation link from the last e-mail to the buyer, as a path."""
    message = [m for m in outbox(sessions) if m.kind == "buyer_confirm"][-1]
    found = CONFIRM_LINK.search(message.text_body)
    assert found, message.text_body
    assert found.group(1) in html.unescape(message.html_body)
    return found.group(1)


def count(sessions, model) -> int:
    with sessions() as s:
        return s.scalar(select(func.count()).select_from(model))


def test_an_opportunity_is_a_matched_notice_from_a_buyer_only_once_confirmed(
    client, csrf_token, pages, sessions, members, login
):
    form = pages.text(client.get("/network/opportunity"))
    pages.assert_accessible(form)
    for label in ("Title", "What is needed", "Deadline", "Estimated value (£)", "Where"):
        assert f">{label}</label>" in form
    for label in ("Your name", "Your e-mail", "Organisation"):
        assert f">{label}</label>" in form
    assert '<button type="submit" class="button">Send to the network</button>' in form

    response = post_form(client, csrf_token, "/network/opportunity", opportunity_data())
    assert response.status_code == 303
    assert response.headers["Location"].endswith("/network/check-your-email")
    assert "Check your e-mail" in pages.text(client.get(response.headers["Location"]))
    # Only the buyer hears, and nothing is a notice yet.
    assert [(m.kind, m.to_address) for m in outbox(sessions)] == [("buyer_confirm", OFFICER_EMAIL)]
    assert count(sessions, Notice) == 0

    path = confirm_path(sessions)
    page = pages.text(client.get(path))
    pages.assert_accessible(page)
    assert "Grounds maintenance of Dalmuir Park" in page
    assert '<button type="submit" class="button">Confirm</button>' in page
    # Opening the link, however often, changes nothing.
    client.get(path)
    assert count(sessions, Notice) == 0

    token = csrf_token(page)
    done = client.post(path, data={"csrf_token": token})
    assert done.status_code == 303
    page = pages.text(client.get(done.headers["Location"]))
    assert "Thank you: your e-mail address is confirmed." in page
    assert "<h1>Confirmed</h1>" in page
    again = client.post(path, data={"csrf_token": token})
    assert "already confirmed this" in pages.text(client.get(again.headers["Location"]))

    with sessions() as s:
        notice = s.scalars(select(Notice)).one()
        notice_id = notice.id
        assert notice.buyer == "West Dunbartonshire Council"
        assert notice.match_count >= 1
    told = [m for m in outbox(sessions) if m.kind == "buyer_opportunity"]
    assert [m.to_address for m in told] == ["coordinator@sen.example.org"]
    assert f"/notices/{notice_id}" in told[0].text_body

    # The coordinator sees it on triage, from the buyer, with its matched member.
    login()
    queue = pages.text(client.get("/"))
    assert "From a buyer: West Dunbartonshire Council" in queue
    assert "Grounds maintenance of Dalmuir Park" in queue
    notice_page = pages.text(client.get(f"/notices/{notice_id}"))
    assert "From a buyer: West Dunbartonshire Council" in notice_page
    # Who sent it, to answer them.
    assert (
        f"Sent by Olu Officer ({OFFICER_EMAIL}) of West Dunbartonshire Council, who confirmed"
        in notice_page
    )
    assert GREENSPACE in notice_page
    filtered = pages.text(client.get("/?source=buyer"))
    assert "Grounds maintenance of Dalmuir Park" in filtered


def test_a_message_reaches_the_member_once_confirmed_and_their_address_never_the_buyer(
    client, csrf_token, pages, sessions, members
):
    member_id = members[GREENSPACE]
    path = f"/network/members/{member_id}/contact"
    form = pages.text(client.get(path))
    pages.assert_accessible(form)
    assert '<button type="submit" class="button">Send message</button>' in form
    for label in ("Your name", "Your e-mail", "Organisation", "Message"):
        assert f">{label}</label>" in form

    response = post_form(client, csrf_token, path, contact_data())
    assert response.status_code == 303
    assert [m.kind for m in outbox(sessions)] == ["buyer_confirm"]
    link = confirm_path(sessions)
    page = pages.text(client.get(link))
    seen = [form, page, pages.text(client.get("/network/check-your-email"))]
    client.post(link, data={"csrf_token": csrf_token(page)})
    seen.append(pages.text(client.get(link)))

    sent = outbox(sessions)
    assert [(m.kind, m.to_address) for m in sent] == [
        ("buyer_confirm", OFFICER_EMAIL),
        ("buyer_contact", GREENSPACE_EMAIL),
        ("buyer_contact", "coordinator@sen.example.org"),
    ]
    assert all(m.headers.get("Reply-To") == OFFICER_EMAIL for m in sent[1:])
    to_buyer = [m for m in sent if m.to_address == OFFICER_EMAIL]
    with sessions() as s:
        addresses = [a for emails in s.scalars(select(Member.emails)) for a in emails]
    assert GREENSPACE_EMAIL in addresses and len(addresses) >= 4
    for text in seen + [m.text_body + m.html_body + m.subject for m in to_buyer]:
        for address in addresses:
            assert address not in text
            assert address.partition("@")[2] not in text


def test_an_unlisted_member_cannot_be_contacted(client, csrf_token, pages, sessions, members):
    path = f"/network/members/{members['Clean Start Services']}/contact"
    assert client.get(path).status_code == 404
    listed = f"/network/members/{members[GREENSPACE]}/contact"
    token = csrf_token(client.get(listed))
    with sessions.begin() as s:
        s.execute(update(Member).values(listed=False))
    assert client.post(listed, data={**contact_data(), "csrf_token": token}).status_code == 404
    assert outbox(sessions) == []


def test_a_filled_honeypot_gets_the_same_answer_and_nothing_is_kept_or_sent(
    client, csrf_token, sessions, members
):
    for path, data in (
        ("/network/opportunity", opportunity_data(homepage="http://spam.example")),
        (f"/network/members/{members[GREENSPACE]}/contact", contact_data(homepage="x")),
    ):
        response = post_form(client, csrf_token, path, data)
        assert response.status_code == 303
        assert response.headers["Location"].endswith("/network/check-your-email")
    assert count(sessions, BuyerSubmission) == 0
    assert outbox(sessions) == []


def test_the_honeypot_is_hidden_from_people_and_screen_readers(client, pages, members):
    page = pages.text(client.get("/network/opportunity"))
    honeypot = re.search(r'<div class="honeypot" aria-hidden="true">(.*?)</div>', page, re.S)
    assert honeypot, "no hidden honeypot"
    assert '<label for="homepage">' in honeypot.group(1)
    assert 'tabindex="-1"' in honeypot.group(1)
    with client.get("/static/style.css") as response:
        css = response.get_data(as_text=True)
    assert re.search(r"\.honeypot \{ position: absolute; left: -10000px", css)


def test_a_form_without_its_csrf_token_is_refused(client, pages, sessions, members):
    page = pages.text(client.post("/network/opportunity", data=opportunity_data()), 400)
    assert "reload the page and send it again" in page
    assert "Go to the directory" in page
    assert count(sessions, BuyerSubmission) == 0


def test_too_long_or_missing_fields_are_refused_with_clear_messages(
    client, csrf_token, pages, sessions, members
):
    response = post_form(
        client,
        csrf_token,
        "/network/opportunity",
        opportunity_data(title="x" * 301, needed="", your_email="not an address", value="lots"),
    )
    page = pages.text(response, 400)
    assert pages.field_errors(page, "title") == ["Keep the title to 300 characters"]
    assert pages.field_errors(page, "needed") == ["Say what is needed"]
    assert pages.field_errors(page, "your_email") == [
        "Enter an e-mail address, like name@example.org"
    ]
    long_message = contact_data(message="x" * 5001)
    path = f"/network/members/{members[GREENSPACE]}/contact"
    page = pages.text(post_form(client, csrf_token, path, long_message), 400)
    assert pages.field_errors(page, "message") == ["Keep your message to 5,000 characters"]
    assert count(sessions, BuyerSubmission) == 0


def test_limits_per_address_and_per_email_get_the_friendly_429_page(
    client, csrf_token, pages, sessions, members
):
    def send(ip: str, email: str):
        return post_form(
            client,
            csrf_token,
            "/network/opportunity",
            opportunity_data(your_email=email),
            environ_base={"REMOTE_ADDR": ip},
        )

    for n in range(5):
        assert send("203.0.113.7", f"officer{n}@council.example.gov.uk").status_code == 303
    refused = send("203.0.113.7", "someone.else@council.example.gov.uk")
    page = pages.text(refused, 429)
    assert "please try again in an hour" in page
    assert "Traceback" not in page and "Go to the directory" in page
    # The same e-mail from many addresses is counted too.
    for n in range(5):
        assert send(f"198.51.100.{n}", OFFICER_EMAIL).status_code == 303
    assert send("198.51.100.77", OFFICER_EMAIL).status_code == 429
    assert count(sessions, BuyerSubmission) == 10
    assert len(outbox(sessions)) == 10


def test_an_expired_link_gets_a_clear_page_and_confirms_nothing(
    app, client, csrf_token, pages, sessions, members
):
    post_form(client, csrf_token, "/network/opportunity", opportunity_data())
    with sessions() as s:
        submission = s.scalars(select(BuyerSubmission)).one()
    aged = buyers.Rules().tokens(app.secret_key, lambda: utcnow() - timedelta(hours=49))
    path = f"/network/confirm/{buyers.link_token(aged, submission)}"
    page = pages.text(client.get(path), 410)
    assert "<h1>This link has expired</h1>" in page
    assert "work for 48 hours" in page
    token = csrf_token(client.get("/network/opportunity"))
    assert client.post(path, data={"csrf_token": token}).status_code == 410
    assert count(sessions, Notice) == 0

    # A link whose submission was deleted after its time says the same.
    fresh = confirm_path(sessions)
    with sessions.begin() as s:
        s.execute(update(BuyerSubmission).values(created_at=utcnow() - timedelta(hours=49)))
        assert buyers.forget_unconfirmed(s, buyers.Rules().max_age, utcnow()) == 1
    assert "<h1>This link has expired</h1>" in pages.text(client.get(fresh), 410)
    # And a made-up one doesn't work at all.
    made_up = pages.text(client.get("/network/confirm/abc.def"), 404)
    assert "<h1>This link doesn't work</h1>" in made_up


def test_an_xss_payload_in_every_field_is_escaped_in_every_page_and_email(
    client, csrf_token, pages, sessions, members, login
):
    opportunity = {k: f"{k} {XSS}" for k in ("title", "needed", "your_name", "organisation")}
    response = post_form(
        client,
        csrf_token,
        "/network/opportunity",
        opportunity_data(where=f"Govan {XSS}", **opportunity),
    )
    assert response.status_code == 303
    contact = contact_data(message=f"m {XSS}", your_name=f"n {XSS}", organisation=f"o {XSS}")
    member_path = f"/network/members/{members[GREENSPACE]}/contact"
    assert post_form(client, csrf_token, member_path, contact).status_code == 303
    # The payload as an e-mail address, or a value, is refused and shown escaped.
    refused = post_form(
        client, csrf_token, "/network/opportunity", opportunity_data(your_email=XSS, value=XSS)
    )
    shown = [pages.text(refused, 400)]

    links = [
        CONFIRM_LINK.search(m.text_body).group(1)
        for m in outbox(sessions)
        if m.kind == "buyer_confirm"
    ]
    assert len(links) == 2
    for link in links:
        page = pages.text(client.get(link))
        shown.append(page)
        client.post(link, data={"csrf_token": csrf_token(page)})
        shown.append(pages.text(client.get(link)))
    login()
    with sessions() as s:
        notice_id = s.scalar(select(Notice.id))
    shown += [pages.text(client.get("/")), pages.text(client.get(f"/notices/{notice_id}"))]
    messages = outbox(sessions)
    assert {m.kind for m in messages} == {"buyer_confirm", "buyer_contact", "buyer_opportunity"}
    shown += [m.html_body for m in messages]
    for page in shown:
        assert "<script>alert(1)" not in page
        assert "<img src=x" not in page
    everywhere = "".join(shown)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in everywhere
    assert "&lt;img src=x onerror=alert(2)&gt;" in everywhere
    # Subjects are single lines: nothing starts a new header.
    assert all("\n" not in m.subject and "\r" not in m.subject for m in messages)
