"""Sending the outbox to a real SMTP server on loopback: what arrives, temporary and
permanent failures, a stopped server, a sender killed mid-send, the rate limit, the
Outbox page and `broker mail`.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import timedelta

import pytest
from apscheduler.events import EVENT_JOB_EXECUTED
from sqlalchemy import select

from broker.clock import utcnow
from broker.locks import exclusive
from broker.mail.outbox import Email, enqueue
from broker.mail.runs import SEND_JOB_ID, kick
from broker.mail.sender import SENDER_LOCK, recover, send_outbox
from broker.mail.status import counts, messages_for
from broker.models import Member, Notice, OutboxMessage

UNSUBSCRIBE = "<https://broker.example.org/u/abc123>, <mailto:unsubscribe@sen-broker.example>"


@pytest.fixture
def settings(make_settings, smtp_server):
    return make_settings({"mail": mail_options(smtp_server)})


def mail_options(smtp_server, **options):
    return {
        "host": "127.0.0.1",
        "port": smtp_server.port,
        "timeout_seconds": 5.0,
        "reply_to": "coordinator@sen.example.org",
        **options,
    }


def no_sleep(seconds: float) -> None:
    raise AssertionError(f"the sender paused {seconds}s without a rate limit to keep")


def queue(
    sessions, settings, now, to: str = "ops@greenroots.example.org", **fields
) -> OutboxMessage:
    """Put one e-mail in the outbox and commit, as an action would."""
    email = Email(
        kind=fields.pop("kind", "forward"),
        to_address=to,
        subject=fields.pop("subject", "Grounds maintenance in Glasgow"),
        text_body=fields.pop("text_body", "A notice you may want.\n"),
        html_body=fields.pop("html_body", "<p>A notice you may want.</p>"),
        headers=fields.pop(
            "headers",
            {
                "List-Unsubscribe": UNSUBSCRIBE,
                "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
            },
        ),
        **fields,
    )
    with sessions.begin() as s:
        message = enqueue(s, email, settings.mail.from_address, now)
        s.expunge(message)
    return message


def body(message, subtype: str) -> str:
    """One part's text, with the wire's CRLF line ends read back as newlines."""
    return message.get_body((subtype,)).get_content().replace("\r\n", "\n")


def row(sessions, outbox_id: int) -> OutboxMessage:
    with sessions() as s:
        return s.get_one(OutboxMessage, outbox_id)


# --- what arrives ----------------------------------------------------------------------


def test_a_queued_message_arrives_with_its_envelope_headers_and_both_parts(
    sessions, settings, smtp_server, clock
):
    text = "Hello from the café — £50k.\n.\n.A line that starts with a dot\n"
    queued = queue(
        sessions,
        settings,
        clock(),
        subject="Grounds maintenance — Glasgow, £50,000",
        text_body=text,
        html_body="<p>Hello from the café — £50k.</p>",
    )
    report = send_outbox(sessions, settings, clock, sleep=no_sleep)
    assert (report.sent, report.failed, report.deferred, report.waiting) == (1, [], [], 0)
    [(mail_from, recipients, message)] = smtp_server.handler.received
    assert mail_from == "opportunities@sen-broker.example"
    assert recipients == ["ops@greenroots.example.org"]
    assert message["Subject"] == "Grounds maintenance — Glasgow, £50,000"
    sender = message["From"].addresses[0]
    assert (sender.display_name, sender.addr_spec) == (
        "SEN Opportunity Broker",
        "opportunities@sen-broker.example",
    )
    assert message["To"] == "ops@greenroots.example.org"
    assert message["Reply-To"] == "coordinator@sen.example.org"
    assert message["Message-ID"] == queued.message_id
    assert message["Date"].datetime == clock()
    assert message["List-Unsubscribe"] == UNSUBSCRIBE
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert message.get_content_type() == "multipart/alternative"
    parts = [part.get_content_type() for part in message.iter_parts()]
    assert parts == ["text/plain", "text/html"]
    # Dot-stuffing round trip: lines of the body that start with "." arrive whole.
    assert body(message, "plain") == text
    assert body(message, "html") == "<p>Hello from the café — £50k.</p>\n"
    sent = row(sessions, queued.id)
    assert (sent.status, sent.attempts, sent.last_error) == ("sent", 1, "")
    assert sent.sent_at == clock() and sent.transmitted_at == clock()


def test_messages_go_oldest_first_and_only_when_due(sessions, settings, smtp_server, clock):
    later = queue(sessions, settings, clock() + timedelta(minutes=5), to="later@example.org")
    first = queue(sessions, settings, clock() - timedelta(minutes=5), to="first@example.org")
    second = queue(sessions, settings, clock(), to="second@example.org")
    report = send_outbox(sessions, settings, clock, sleep=no_sleep)
    assert (report.sent, report.waiting) == (2, 1)
    assert [r[1][0] for r in smtp_server.handler.received] == [
        "first@example.org",
        "second@example.org",
    ]
    assert row(sessions, later.id).status == "queued"
    assert {first.id, second.id} == {m.id for m in messages_for_status(sessions, "sent")}


def messages_for_status(sessions, status: str) -> list[OutboxMessage]:
    with sessions() as s:
        return list(s.scalars(select(OutboxMessage).where(OutboxMessage.status == status)))


# --- a server that is down -------------------------------------------------------------


def test_with_the_server_down_mail_waits_then_goes_exactly_once(
    sessions, settings, smtp_server, clock
):
    smtp_server.stop()
    one = queue(sessions, settings, clock(), to="one@example.org")
    two = queue(sessions, settings, clock(), to="two@example.org")
    report = send_outbox(sessions, settings, clock, sleep=no_sleep)
    refused = f"connection refused by 127.0.0.1:{smtp_server.port}"
    assert report.sent == 0 and report.connection_failed and report.stopped == refused
    assert report.waiting == 2 and len(report.deferred) == 2
    for outbox_id in (one.id, two.id):
        waiting = row(sessions, outbox_id)
        assert (waiting.status, waiting.attempts, waiting.last_error) == ("queued", 1, refused)
        assert waiting.next_attempt_at == clock() + timedelta(seconds=60)

    # Before the backoff is over nothing is tried: a down server isn't hammered.
    clock.advance(seconds=30)
    assert send_outbox(sessions, settings, clock, sleep=no_sleep).deferred == []
    assert row(sessions, one.id).attempts == 1

    smtp_server.start()
    clock.advance(seconds=30)
    assert send_outbox(sessions, settings, clock, sleep=no_sleep).sent == 2
    assert send_outbox(sessions, settings, clock, sleep=no_sleep).sent == 0
    clock.advance(hours=1)
    assert send_outbox(sessions, settings, clock, sleep=no_sleep).sent == 0
    assert smtp_server.count_by_message_id() == {one.message_id: 1, two.message_id: 1}
    assert row(sessions, one.id).status == row(sessions, two.id).status == "sent"


# --- a sender killed mid-send ------------------------------------------------------------

# The sender, in a process of its own, with the test's database and mail server.
SENDER = """
import json, sys
from broker.clock import utcnow
from broker.config import load_settings
from broker.db import make_engine, make_sessionmaker
from broker.mail.sender import send_outbox

settings = load_settings(sys.argv[1], environ={}, overrides=json.loads(sys.argv[2]))
engine = make_engine(settings.database_url)
print(send_outbox(make_sessionmaker(engine), settings, utcnow).line(), flush=True)
"""


def run_sender_until_killed(tmp_path, database_url, smtp_server, hook: str) -> None:
    """Run the sender in a subprocess that the SMTP server SIGKILLs from `hook`."""
    config = tmp_path / "sender.toml"
    config.write_text("")
    overrides = {
        "testing": True,
        "database": {"url": database_url},
        "mail": mail_options(smtp_server),
    }
    victim: dict[str, int] = {}
    setattr(smtp_server.handler, hook, lambda *_: os.kill(victim["pid"], signal.SIGKILL))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    process = subprocess.Popen(
        [sys.executable, "-c", SENDER, str(config), json.dumps(overrides)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    victim["pid"] = process.pid
    out, err = process.communicate(timeout=120)
    setattr(smtp_server.handler, hook, None)
    assert process.returncode == -signal.SIGKILL, (out, err)


def send_when_the_lock_is_free(sessions, settings):
    """Run the sender; a killed process's PostgreSQL lock goes when its server notices."""
    deadline = time.monotonic() + 20
    while True:
        report = send_outbox(sessions, settings, utcnow, sleep=no_sleep)
        if "another process" not in report.stopped or time.monotonic() > deadline:
            return report
        time.sleep(0.2)


def test_a_sender_killed_after_handing_a_message_over_never_sends_it_twice(
    sessions, settings, smtp_server, database_url, tmp_path
):
    message = queue(sessions, settings, utcnow())
    run_sender_until_killed(tmp_path, database_url, smtp_server, "on_data")
    # The server has the message; the sender died before its reply.
    assert smtp_server.count_by_message_id() == {message.message_id: 1}
    stranded = row(sessions, message.id)
    assert stranded.status == "queued" and stranded.transmitted_at is not None

    report = send_when_the_lock_is_free(sessions, settings)
    assert (report.recovered, report.sent, report.waiting) == (1, 0, 0)
    recovered = row(sessions, message.id)
    assert recovered.status == "sent" and recovered.sent_at == stranded.transmitted_at
    assert "taken as delivered" in recovered.last_error
    send_outbox(sessions, settings, utcnow, sleep=no_sleep)
    assert smtp_server.count_by_message_id() == {message.message_id: 1}


def test_a_sender_killed_before_handing_a_message_over_sends_it_next_time_once(
    sessions, settings, smtp_server, database_url, tmp_path
):
    message = queue(sessions, settings, utcnow())
    run_sender_until_killed(tmp_path, database_url, smtp_server, "on_rcpt")
    assert smtp_server.handler.received == []
    untouched = row(sessions, message.id)
    assert (untouched.status, untouched.transmitted_at, untouched.attempts) == ("queued", None, 0)

    report = send_when_the_lock_is_free(sessions, settings)
    assert (report.recovered, report.sent) == (0, 1)
    assert smtp_server.count_by_message_id() == {message.message_id: 1}


def test_only_one_sender_runs_at_a_time(sessions, settings, smtp_server, clock):
    message = queue(sessions, settings, clock())
    with exclusive(sessions.kw["bind"], SENDER_LOCK) as held:
        assert held
        report = send_outbox(sessions, settings, clock, sleep=no_sleep)
        assert recover(sessions) is None
    assert report.stopped == "another process is sending the outbox"
    assert (report.sent, report.waiting) == (0, 1)
    assert row(sessions, message.id).attempts == 0
    assert send_outbox(sessions, settings, clock, sleep=no_sleep).sent == 1


# --- refusals -----------------------------------------------------------------------------


def test_a_550_fails_the_message_with_the_reason_and_the_rest_still_go(
    sessions, settings, smtp_server, clock
):
    smtp_server.handler.rcpt_replies["nobody@example.org"] = "550 5.1.1 no such user here"
    bad = queue(sessions, settings, clock(), to="nobody@example.org")
    good = queue(sessions, settings, clock(), to="somebody@example.org")
    report = send_outbox(sessions, settings, clock, sleep=no_sleep)
    assert report.sent == 1 and report.deferred == []
    [failure] = report.failed
    assert (failure.outbox_id, failure.reason) == (bad.id, "550 5.1.1 no such user here")
    failed = row(sessions, bad.id)
    assert (failed.status, failed.last_error, failed.attempts) == (
        "failed",
        "550 5.1.1 no such user here",
        1,
    )
    assert smtp_server.count_by_message_id() == {good.message_id: 1}
    # A failed message is never tried again by itself.
    clock.advance(days=1)
    assert send_outbox(sessions, settings, clock, sleep=no_sleep).failed == []


def test_a_550_to_the_message_itself_fails_it(sessions, settings, smtp_server, clock):
    smtp_server.handler.data_replies["ops@greenroots.example.org"] = "554 5.7.1 looks like spam"
    message = queue(sessions, settings, clock())
    report = send_outbox(sessions, settings, clock, sleep=no_sleep)
    assert [p.reason for p in report.failed] == ["554 5.7.1 looks like spam"]
    failed = row(sessions, message.id)
    assert (failed.status, failed.transmitted_at) == ("failed", None)


def test_a_451_is_retried_after_the_backoff_and_then_delivered(
    sessions, settings, smtp_server, clock
):
    smtp_server.handler.rcpt_replies["busy@example.org"] = ["451 4.2.1 mailbox busy, try later"]
    message = queue(sessions, settings, clock(), to="busy@example.org")
    report = send_outbox(sessions, settings, clock, sleep=no_sleep)
    [deferred] = report.deferred
    assert deferred.reason == "451 4.2.1 mailbox busy, try later"
    assert deferred.next_attempt_at == clock() + timedelta(seconds=60)
    waiting = row(sessions, message.id)
    assert (waiting.status, waiting.attempts) == ("queued", 1)
    assert waiting.last_error == "451 4.2.1 mailbox busy, try later"

    clock.advance(seconds=60)
    assert send_outbox(sessions, settings, clock, sleep=no_sleep).sent == 1
    assert smtp_server.count_by_message_id() == {message.message_id: 1}
    assert row(sessions, message.id).attempts == 2


def test_a_server_closing_the_line_ends_the_run_and_the_rest_wait(
    sessions, settings, smtp_server, clock
):
    smtp_server.handler.rcpt_replies["first@example.org"] = ["421 4.3.2 shutting down"]
    first = queue(sessions, settings, clock(), to="first@example.org")
    second = queue(sessions, settings, clock(), to="second@example.org")
    report = send_outbox(sessions, settings, clock, sleep=no_sleep)
    assert report.sent == 0 and [p.reason for p in report.deferred] == ["421 4.3.2 shutting down"]
    assert (
        report.stopped
        == f"127.0.0.1:{smtp_server.port} ended the connection: 421 4.3.2 shutting down"
    )
    assert row(sessions, first.id).attempts == 1
    untouched = row(sessions, second.id)
    assert (untouched.status, untouched.attempts, untouched.next_attempt_at) == (
        "queued",
        0,
        clock(),
    )
    clock.advance(minutes=1)
    assert send_outbox(sessions, settings, clock, sleep=no_sleep).sent == 2
    assert smtp_server.count_by_message_id() == {first.message_id: 1, second.message_id: 1}


def test_a_451_to_the_whole_message_is_retried_and_not_taken_as_delivered(
    sessions, settings, smtp_server, clock
):
    smtp_server.handler.data_replies["ops@greenroots.example.org"] = ["451 4.3.0 queue full"]
    message = queue(sessions, settings, clock())
    assert [p.reason for p in send_outbox(sessions, settings, clock, sleep=no_sleep).deferred] == [
        "451 4.3.0 queue full"
    ]
    waiting = row(sessions, message.id)
    assert (waiting.status, waiting.transmitted_at) == ("queued", None)
    # A restart now must not take it as handed over.
    clock.advance(minutes=1)
    report = send_outbox(sessions, settings, clock, sleep=no_sleep)
    assert (report.recovered, report.sent) == (0, 1)
    assert smtp_server.count_by_message_id() == {message.message_id: 1}


def test_too_many_temporary_failures_fail_the_message(make_settings, sessions, smtp_server, clock):
    settings = make_settings({"mail": mail_options(smtp_server, max_attempts=3)})
    smtp_server.handler.rcpt_replies["busy@example.org"] = "450 mailbox busy"
    message = queue(sessions, settings, clock(), to="busy@example.org")
    waits = []
    for _ in range(2):
        report = send_outbox(sessions, settings, clock, sleep=no_sleep)
        waits.append(report.deferred[0].next_attempt_at - clock())
        clock.advance(seconds=waits[-1].total_seconds())
    assert waits == [timedelta(seconds=60), timedelta(seconds=120)]
    report = send_outbox(sessions, settings, clock, sleep=no_sleep)
    assert [p.reason for p in report.failed] == ["450 mailbox busy (gave up after 3 tries)"]
    failed = row(sessions, message.id)
    assert (failed.status, failed.attempts) == ("failed", 3)
    assert failed.last_error == "450 mailbox busy (gave up after 3 tries)"


def test_a_message_the_library_cannot_write_fails_alone(sessions, settings, smtp_server, clock):
    broken = queue(
        sessions, settings, clock(), headers={"X-Note": "one\r\nBcc: victim@example.org"}
    )
    fine = queue(sessions, settings, clock(), to="fine@example.org")
    report = send_outbox(sessions, settings, clock, sleep=no_sleep)
    assert report.sent == 1
    [failure] = report.failed
    assert failure.outbox_id == broken.id
    assert failure.reason.startswith("could not build the message:")
    assert smtp_server.count_by_message_id() == {fine.message_id: 1}
    assert all(r[1] == ["fine@example.org"] for r in smtp_server.handler.received)


# --- settings -----------------------------------------------------------------------------


def test_the_rate_limit_holds_in_every_minute(make_settings, sessions, smtp_server, clock):
    settings = make_settings({"mail": mail_options(smtp_server, rate_per_minute=2)})
    pauses: list[float] = []

    def sleep(seconds: float) -> None:
        pauses.append(seconds)
        clock.advance(seconds=seconds)

    for n in range(5):
        queue(sessions, settings, clock(), to=f"member{n}@example.org")
    assert send_outbox(sessions, settings, clock, sleep=sleep).sent == 5
    assert pauses == [60, 60]
    # The next run counts what the last one sent in the past minute.
    for n in range(5, 7):
        queue(sessions, settings, clock(), to=f"member{n}@example.org")
    assert send_outbox(sessions, settings, clock, sleep=sleep).sent == 2
    assert pauses == [60, 60, 60]
    with sessions() as s:
        times = sorted(s.scalars(select(OutboxMessage.sent_at)))
    assert len(times) == 7
    for first, third in zip(times, times[2:], strict=False):
        assert third - first >= timedelta(seconds=60)


def test_with_mail_off_nothing_is_sent_and_messages_wait(
    make_settings, sessions, smtp_server, clock
):
    settings = make_settings({"mail": mail_options(smtp_server, enabled=False)})
    message = queue(sessions, settings, clock())
    report = send_outbox(sessions, settings, clock, sleep=no_sleep)
    assert report.stopped == "sending is off: [mail] enabled = false"
    assert (report.sent, report.waiting) == (0, 1)
    assert smtp_server.handler.received == []
    assert row(sessions, message.id).attempts == 0


def test_ssl_security_speaks_tls_and_says_so_to_a_plain_server(
    make_settings, sessions, smtp_server, clock
):
    settings = make_settings({"mail": mail_options(smtp_server, security="ssl")})
    message = queue(sessions, settings, clock())
    report = send_outbox(sessions, settings, clock, sleep=no_sleep)
    assert report.connection_failed and report.sent == 0
    assert report.stopped.startswith(f"TLS with 127.0.0.1:{smtp_server.port} failed")
    assert report.stopped.endswith("check [mail] security and port")
    waiting = row(sessions, message.id)
    assert (waiting.status, waiting.last_error) == ("queued", report.stopped)
    assert smtp_server.handler.received == []


def test_starttls_security_refuses_a_server_without_it(make_settings, sessions, smtp_server, clock):
    settings = make_settings({"mail": mail_options(smtp_server, security="starttls")})
    queue(sessions, settings, clock())
    report = send_outbox(sessions, settings, clock, sleep=no_sleep)
    assert report.stopped == (
        f"127.0.0.1:{smtp_server.port} does not offer STARTTLS ([mail] security)"
    )
    assert smtp_server.handler.received == []


# --- the scheduler ------------------------------------------------------------------------


def test_kick_runs_the_scheduled_send_at_once(make_settings, sessions, smtp_server):
    from broker import create_app
    from broker.runtime.scheduler import build_scheduler

    # An hour between runs: only the kick can send the message within the test.
    app = create_app(make_settings({"mail": mail_options(smtp_server, send_interval_seconds=3600)}))
    assert kick(app) is False  # no scheduler in this process yet
    scheduler = build_scheduler(app)
    assert SEND_JOB_ID in [job.id for job in scheduler.get_jobs()]
    runs = []  # the send job's runs (the heartbeat runs at start too)
    scheduler.add_listener(
        lambda event: runs.append(event) if event.job_id == SEND_JOB_ID else None,
        EVENT_JOB_EXECUTED,
    )
    scheduler.start()
    try:
        # The run at start (which recovers first) finishes; the next is an hour away.
        wait_for(lambda: runs)
        message = queue(sessions, app.config["SETTINGS"], utcnow())
        assert kick(app) is True
        wait_for(lambda: len(runs) == 2)  # the kicked run, done
    finally:
        scheduler.shutdown(wait=True)
        app.extensions["broker.engine"].dispose()
    assert smtp_server.count_by_message_id() == {message.message_id: 1}
    assert row(sessions, message.id).status == "sent"


def wait_for(condition, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_a_kick_during_a_run_makes_it_go_round_once_more():
    import threading

    from broker.mail.runs import SendRuns

    runs = SendRuns()
    sending, release, calls = threading.Event(), threading.Event(), []

    def send():
        calls.append(len(calls))
        if len(calls) == 1:
            sending.set()
            release.wait(10)

    assert runs.kick_running() is False
    worker = threading.Thread(target=runs.run, args=(send,))
    worker.start()
    assert sending.wait(10)
    assert runs.kick_running() is True
    assert runs.kick_running() is True  # two kicks in one run: one more round
    release.set()
    worker.join(10)
    assert calls == [0, 1]
    assert runs.kick_running() is False


def test_no_mail_jobs_when_mail_is_off(make_settings, smtp_server):
    from broker import create_app
    from broker.runtime.scheduler import build_scheduler

    app = create_app(make_settings({"mail": mail_options(smtp_server, enabled=False)}))
    try:
        jobs = {job.id for job in build_scheduler(app).get_jobs()}
        # No mail:send, no digests; buyers' unconfirmed submissions are still deleted.
        assert jobs == {"sources:sync", "scheduler:heartbeat", "network:forget", "matching:warm"}
        assert kick(app) is False
    finally:
        app.extensions["broker.engine"].dispose()


# --- the Outbox page, the helper and the command -----------------------------------------


def test_the_outbox_page_shows_why_a_message_failed_and_an_admin_retries_it(
    pages, client, admin, sessions, settings, smtp_server, clock, csrf_token
):
    smtp_server.handler.rcpt_replies["nobody@example.org"] = ["550 5.1.1 no such user here"]
    message = queue(sessions, settings, clock(), to="nobody@example.org", subject="A bid for you")
    send_outbox(sessions, settings, clock, sleep=no_sleep)

    response = client.get("/outbox/?status=failed")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    pages.assert_accessible(page)
    assert "Failed (1)" in page and 'aria-current="page">Failed (1)' in page
    assert "A bid for you" in page and "nobody@example.org" in page
    assert "<strong>Not sent:</strong> 550 5.1.1 no such user here" in page
    assert 'Retry<span class="visually-hidden"> the message to nobody@example.org' in page

    response = client.post(
        f"/outbox/{message.id}/retry", data={"csrf_token": csrf_token(page), "status": "failed"}
    )
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/outbox/?status=failed")
    again = row(sessions, message.id)
    assert (again.status, again.attempts, again.next_attempt_at <= utcnow()) == ("queued", 0, True)
    assert "queued again" in client.get("/outbox/?status=failed").get_data(as_text=True)

    assert send_outbox(sessions, settings, utcnow, sleep=no_sleep).sent == 1
    assert smtp_server.count_by_message_id() == {message.message_id: 1}
    sent_page = client.get("/outbox/?status=sent").get_data(as_text=True)
    assert '<span class="status status-ok">Sent</span>' in sent_page


def test_coordinators_see_the_outbox_but_only_admins_retry(
    client, coordinator, sessions, settings, smtp_server, clock, csrf_token
):
    smtp_server.handler.rcpt_replies["nobody@example.org"] = "550 5.1.1 no such user here"
    message = queue(sessions, settings, clock(), to="nobody@example.org")
    send_outbox(sessions, settings, clock, sleep=no_sleep)
    page = client.get("/outbox/").get_data(as_text=True)
    assert 'href="/outbox/"' in page and ">Outbox</a>" in page  # in the navigation
    assert "550 5.1.1 no such user here" in page
    assert "Retry" not in page
    response = client.post(f"/outbox/{message.id}/retry", data={"csrf_token": csrf_token(page)})
    assert response.status_code == 403
    assert row(sessions, message.id).status == "failed"


def test_the_outbox_needs_a_login(client):
    response = client.get("/outbox/")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_retry_needs_the_csrf_token(client, admin, sessions, settings, clock):
    message = queue(sessions, settings, clock())
    assert client.post(f"/outbox/{message.id}/retry").status_code == 400


def test_retrying_a_message_that_has_not_failed_says_so(
    client, admin, sessions, settings, clock, csrf_token
):
    message = queue(sessions, settings, clock())
    page = client.get("/outbox/").get_data(as_text=True)
    response = client.post(
        f"/outbox/{message.id}/retry", data={"csrf_token": csrf_token(page)}, follow_redirects=True
    )
    assert f"Can&#39;t retry: message {message.id} has not failed (it is queued)." in (
        response.get_data(as_text=True)
    )


def test_the_outbox_page_pages_and_shows_members_and_notices(
    client, coordinator, make_settings, sessions, clock
):
    now = clock()
    with sessions.begin() as s:
        member = Member(
            name="Green Roots CIC", created_at=now, updated_at=now, profile_changed_at=now
        )
        notice = Notice(
            title="Grounds maintenance, Fife",
            description="",
            buyer="Fife Council",
            regions=[],
            primary_source="pcs",
            first_seen_at=now,
            updated_at=now,
            triage_status="new",
        )
        s.add_all([member, notice])
        s.flush()
        member_id, notice_id = member.id, notice.id
    settings = client.application.config["SETTINGS"]
    about = queue(sessions, settings, now, member_id=member_id, notice_id=notice_id)
    for n in range(settings.web.page_size):
        queue(sessions, settings, now + timedelta(seconds=n + 1), to=f"m{n}@example.org")
    first = client.get("/outbox/").get_data(as_text=True)
    assert "Page 1 of 2" in first and "Green Roots CIC" not in first  # newest first
    second = client.get("/outbox/?page=2").get_data(as_text=True)
    assert f'href="/members/{member_id}">Green Roots CIC</a>' in second
    assert f'href="/notices/{notice_id}">Grounds maintenance, Fife</a>' in second
    waiting = client.get("/outbox/?status=queued").get_data(as_text=True)
    assert "Green Roots CIC" in waiting  # waiting ones go oldest first

    with sessions() as s:
        assert [m.id for m in messages_for(s, notice_id=notice_id)] == [about.id]
        assert [m.id for m in messages_for(s, member_id=member_id)] == [about.id]
        assert messages_for(s, notice_id=notice_id, member_id=member_id + 1) == []
        state = counts(s)
        assert (state.queued, state.sent, state.failed) == (settings.web.page_size + 1, 0, 0)
        assert state.oldest_waiting.id == about.id


def test_broker_mail_send_and_status(cli_runner, sessions, settings, smtp_server, clock):
    smtp_server.handler.rcpt_replies["nobody@example.org"] = "550 5.1.1 no such user here"
    good = queue(sessions, settings, clock(), subject="Weekly digest")
    bad = queue(sessions, settings, clock(), to="nobody@example.org")

    status = cli_runner("mail", "status")
    assert status.exit_code == 0, status.output
    assert "Outbox: 2 waiting, 0 sent, 0 failed." in status.output
    assert f'Oldest waiting: #{good.id} to ops@greenroots.example.org, "Weekly digest"' in (
        status.output
    )

    sent = cli_runner("mail", "send")
    assert sent.exit_code == 0, sent.output
    assert f"Failed: #{bad.id} to nobody@example.org: 550 5.1.1 no such user here" in sent.output
    assert "Done: 1 sent, 1 failed, 0 waiting." in sent.output

    status = cli_runner("mail", "status")
    assert "Outbox: 0 waiting, 1 sent, 1 failed." in status.output
    assert f"#{bad.id} to nobody@example.org: 550 5.1.1 no such user here" in status.output

    smtp_server.stop()
    late = queue(sessions, settings, clock(), to="late@example.org")
    down = cli_runner("mail", "send")
    assert down.exit_code == 1, down.output
    refused = f"connection refused by 127.0.0.1:{smtp_server.port}"
    assert f"Will retry: #{late.id} to late@example.org: {refused} (next try" in down.output
    assert f"Done: 0 sent, 1 to retry, 0 failed, 1 waiting ({refused})." in down.output

    smtp_server.start()
    assert cli_runner("mail", "send").output.startswith("Done: 0 sent")  # not due yet
    forced = cli_runner("mail", "send", "--all")
    assert "Done: 1 sent, 0 failed, 0 waiting." in forced.output
    assert smtp_server.count_by_message_id() == {good.message_id: 1, late.message_id: 1}


# --- [mail] backend = "log" and a message as the member gets it ---------------------------


def test_the_log_backend_keeps_each_message_as_delivered_and_sends_nothing(
    make_settings, sessions, smtp_server, clock, cli_runner
):
    settings = make_settings({"mail": mail_options(smtp_server, backend="log")})
    first = queue(sessions, settings, clock(), subject="Grass cutting, Fife")
    later = queue(sessions, settings, clock() + timedelta(hours=1))
    report = send_outbox(sessions, settings, clock, sleep=no_sleep)
    assert (report.kept, report.sent, report.waiting) == (1, 0, 1)
    assert "1 kept unsent ([mail] backend = log)" in report.line()
    kept = row(sessions, first.id)
    assert (kept.status, kept.sent_at, kept.attempts) == ("sent", clock(), 1)
    assert 'backend is "log"' in kept.last_error
    assert row(sessions, later.id).status == "queued"  # not due yet
    assert smtp_server.handler.received == []  # nothing left the machine


def test_an_unwritable_message_fails_under_the_log_backend_too(
    make_settings, sessions, smtp_server, clock
):
    settings = make_settings({"mail": mail_options(smtp_server, backend="log")})
    bad = queue(sessions, settings, clock(), headers={"X-Note": "line\nbreak"})
    report = send_outbox(sessions, settings, clock, sleep=no_sleep)
    assert [p.outbox_id for p in report.failed] == [bad.id]
    assert row(sessions, bad.id).status == "failed"


def test_a_bad_mail_backend_is_refused_by_name(make_settings):
    from broker.errors import ConfigError

    with pytest.raises(ConfigError, match=r"'mail\.backend' is 'carrier-pigeon'; use smtp or log"):
        make_settings({"mail": {"backend": "carrier-pigeon"}})


def test_the_outbox_shows_a_message_as_the_member_gets_it(
    pages, client, coordinator, make_settings, sessions, smtp_server, clock
):
    from broker.web.security import CSP

    settings = make_settings({"mail": mail_options(smtp_server, backend="log")})
    client.application.config["SETTINGS"] = settings
    message = queue(
        sessions,
        settings,
        clock(),
        subject="Forwarded: Grounds maintenance",
        text_body="Have a look: https://broker.example.org/r/abc.def\nThanks.\n",
        html_body=(
            "<!doctype html><html><head><title>x</title></head><body>"
            '<p style="color: #1d4f91">Have a <a href="https://broker.example.org/r/abc.def">'
            "look</a>.</p><script>document.title = 'ran'</script></body></html>"
        ),
    )
    send_outbox(sessions, settings, clock, sleep=no_sleep)
    listing = client.get("/outbox/").get_data(as_text=True)
    assert f'href="/outbox/{message.id}">Forwarded: Grounds maintenance</a>' in listing
    assert 'kept, not sent (<code>[mail] backend = "log"</code>)' in listing

    response = client.get(f"/outbox/{message.id}")
    assert response.status_code == 200
    assert response.headers["Content-Security-Policy"] == CSP  # the site's own, unchanged
    page = response.get_data(as_text=True)
    pages.assert_accessible(page)
    # The headers as sent, in order, the extra ones included.
    for name, value in (
        ("From", "SEN Opportunity Broker &lt;opportunities@sen-broker.example&gt;"),
        ("To", "ops@greenroots.example.org"),
        ("Reply-To", "coordinator@sen.example.org"),
        ("Message-ID", message.message_id.replace("<", "&lt;").replace(">", "&gt;")),
        ("List-Unsubscribe-Post", "List-Unsubscribe=One-Click"),
    ):
        assert f"<dt>{name}</dt><dd><code>{value}</code></dd>" in page
    # The text part, escaped; the links, each working.
    assert '<pre class="email-text">Have a look: https://broker.example.org/r/abc.def' in page
    assert '<a href="https://broker.example.org/r/abc.def">' in page
    assert '<a href="https://broker.example.org/u/abc123">' in page  # List-Unsubscribe
    # The HTML part only in a sandboxed frame: never in the page itself.
    assert "document.title" not in page
    assert (
        f'<iframe class="email-frame" src="/outbox/{message.id}/html" '
        'sandbox="allow-popups allow-popups-to-escape-sandbox"'
    ) in page

    part = client.get(f"/outbox/{message.id}/html")
    assert part.status_code == 200 and part.mimetype == "text/html"
    policy = part.headers["Content-Security-Policy"]
    assert "script-src" not in policy and "default-src 'none'" in policy
    assert "sandbox allow-popups allow-popups-to-escape-sandbox" in policy
    assert "frame-ancestors 'self'" in policy
    assert part.headers["X-Frame-Options"] == "SAMEORIGIN"
    html = part.get_data(as_text=True)
    assert '<head><base target="_blank"><title>x</title>' in html  # links leave the frame
    assert '<p style="color: #1d4f91">' in html  # as the member sees it


def test_a_message_that_is_not_there_is_not_found(client, coordinator, sessions, clock):
    assert client.get("/outbox/999999").status_code == 404
    assert client.get("/outbox/999999/html").status_code == 404
