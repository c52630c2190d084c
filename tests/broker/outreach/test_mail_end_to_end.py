"""Member e-mail end to end: composed by the app, sent over real SMTP (aiosmtpd on
loopback), read back as the member's mail program would, and answered by its links."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, update

from broker.clock import utcnow
from broker.mail.sender import send_outbox
from broker.models import Member, MemberResponse, OutboxMessage
from broker.outreach import digests
from broker.outreach.compose import MailContext

NOTE = "Worth a look: you did the Bellsmyre contract & know the estates."


@pytest.fixture
def settings(make_settings, smtp_server):
    return make_settings(
        {"mail": {"host": "127.0.0.1", "port": smtp_server.port, "timeout_seconds": 5.0}}
    )


def no_sleep(seconds: float) -> None:
    raise AssertionError(f"the sender paused {seconds}s with no rate limit to keep")


def send(sessions, settings, later: timedelta = timedelta(0)):
    return send_outbox(sessions, settings, lambda: utcnow() + later, sleep=no_sleep)


def forward_from_the_notice_page(client, csrf_token, nid: int, members: list[int]) -> None:
    page = client.get(f"/notices/{nid}").get_data(as_text=True)
    response = client.post(
        f"/notices/{nid}/forward",
        data={"forward-members": members, "forward-note": NOTE, "csrf_token": csrf_token(page)},
    )
    assert response.status_code == 302


def parts(message) -> tuple[str, str]:
    text = message.get_body(preferencelist=("plain",)).get_content()
    html = message.get_body(preferencelist=("html",)).get_content()
    return text, html


def test_a_forward_arrives_with_the_note_both_parts_and_links_that_work(
    recorded, client, coordinator, stocked, csrf_token, settings, smtp_server
):
    nid = recorded.notice_id(stocked, recorded.LANDSCAPE)
    green = recorded.member_id(stocked, "Greenspace Growers")
    forward_from_the_notice_page(client, csrf_token, nid, [green])
    with stocked() as s:
        queued = s.scalars(select(OutboxMessage.message_id).where(OutboxMessage.kind == "forward"))
        [forward_id] = list(queued)
    send(stocked, settings)

    # Other members' alerts from the import go too; this is the forward.
    [(mail_from, recipients, message)] = [
        r for r in smtp_server.handler.received if r[2]["Message-ID"] == forward_id
    ]
    assert recipients == ["hello@greenspace.example.org"]
    assert mail_from == settings.mail.from_address
    assert message["Subject"].startswith("Forwarded by Casey Coordinator: ")
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    text, html = parts(message)
    for body in (text, html):
        assert recorded.LANDSCAPE.split(" - ")[0] in body
        assert "Casey Coordinator" in body
    assert NOTE in text
    assert NOTE.replace("&", "&amp;") in html

    # "Not for us" from the received mail, as the member would click it.
    decline_urls = []
    for url in recorded.links(text):
        page = client.get(recorded.path_of(url)).get_data(as_text=True)
        if "Why is it not for you?" in page:
            decline_urls.append((url, page))
    assert len(decline_urls) == 1, "one Not-for-us link in the e-mail"
    url, page = decline_urls[0]
    response = client.post(
        recorded.path_of(url),
        data={
            "reason": "too_big",
            "note": "Three estates is beyond us.",
            "csrf_token": csrf_token(page),
        },
    )
    assert response.status_code == 302
    with stocked() as s:
        answer = s.scalars(select(MemberResponse).where(MemberResponse.member_id == green)).one()
    assert (answer.notice_id, answer.kind, answer.reason) == (nid, "declined", "too_big")
    member_page = client.get(f"/members/{green}").get_data(as_text=True)
    assert "Three estates is beyond us." in member_page


def test_with_the_server_down_forwards_and_digests_queue_then_arrive_exactly_once(
    recorded, app, client, coordinator, stocked, csrf_token, settings, smtp_server
):
    green = recorded.member_id(stocked, "Greenspace Growers")
    wheels = recorded.member_id(stocked, "Shared Wheels Transport")
    with stocked.begin() as s:
        s.execute(update(Member).where(Member.id == wheels).values(frequency="daily"))
    smtp_server.stop()

    forward_from_the_notice_page(
        client, csrf_token, recorded.notice_id(stocked, recorded.LANDSCAPE), [green]
    )
    with stocked.begin() as s:
        queued = digests.queue_digests(s, "daily", MailContext.for_app(app), utcnow())
    assert queued.emails >= 1
    down = send(stocked, settings)
    assert down.sent == 0
    with stocked() as s:
        waiting = list(s.scalars(select(OutboxMessage)))
    # The import's instant alerts wait with them.
    assert {"forward", "digest"} <= {m.kind for m in waiting}
    assert all(m.status == "queued" and m.attempts == 1 and m.last_error for m in waiting)

    smtp_server.start()
    # Twice, past every backoff: the second run finds nothing left to send.
    first = send(stocked, settings, later=timedelta(hours=1))
    again = send(stocked, settings, later=timedelta(hours=2))
    assert first.sent == len(waiting) and again.sent == 0
    counts = smtp_server.count_by_message_id()
    assert sorted(counts) == sorted(m.message_id for m in waiting)
    assert set(counts.values()) == {1}
    received = {str(m["To"]): str(m["Subject"]) for m in smtp_server.messages}
    assert received["hello@greenspace.example.org"].startswith("Forwarded by Casey Coordinator")
    assert [to for to in received if "sharedwheels" in to]
