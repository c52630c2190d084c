"""Buyers' submissions as services: nothing happens until the buyer confirms, confirming
acts exactly once, limits, expiry, and the member's address never reaches the buyer."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import func, select, update

from broker.models import Member, Notice, NoticeSource, OutboxMessage
from broker.models.network import BuyerSubmission
from broker.network import buyers
from broker.outreach.compose import MailContext

GREENSPACE = "Greenspace Growers"
GREENSPACE_EMAIL = "hello@greenspace.example.org"
OFFICER = buyers.Buyer(
    "Olu Officer", "olu.officer@council.example.gov.uk", "West Dunbartonshire Council"
)
RULES = buyers.Rules(per_hour=5, confirm_hours=48)


@pytest.fixture
def context(app, clock):
    return MailContext.for_app(app, clock)


def _submit(sessions, context, clock, request, ip="203.0.113.7"):
    sender = buyers.Sender.of("test-secret", ip, request.buyer.email)
    tokens = RULES.tokens("test-secret", clock)
    with sessions.begin() as s:
        submission = buyers.submit(
            s,
            request,
            sender,
            RULES,
            context,
            lambda sub: f"http://broker.test/network/confirm/{buyers.link_token(tokens, sub)}",
            clock(),
        )
        return submission.id, submission.nonce


def _confirm(sessions, cache, context, clock, submission_id, nonce):
    with sessions.begin() as s:
        done = buyers.confirm(s, submission_id, nonce, cache, context, RULES, clock())
        return done.outcome, done.matches


def _outbox(sessions):
    with sessions() as s:
        return [(m.kind, m.to_address, m) for m in s.scalars(select(OutboxMessage))]


def _opportunity(**changes):
    values = {
        "buyer": OFFICER,
        "title": "Grounds maintenance of Dalmuir Park",
        "needed": "Grass cutting, hedge trimming and litter picking in Dalmuir Park, "
        "April to October, for a supported business or a social enterprise.",
        "deadline": date(2026, 12, 18),
        "value": 24000.0,
        "place": "West Dunbartonshire",
    }
    return buyers.OpportunityRequest(**(values | changes))


def test_an_unconfirmed_opportunity_only_asks_the_buyer_to_confirm(
    sessions, members, context, clock
):
    _submit(sessions, context, clock, _opportunity())
    sent = _outbox(sessions)
    assert [(kind, to) for kind, to, _ in sent] == [("buyer_confirm", OFFICER.email)]
    with sessions() as s:
        assert s.scalar(select(func.count(Notice.id))) == 0


def test_confirming_an_opportunity_makes_one_matched_buyer_notice_once(
    sessions, members, context, clock, cache
):
    submission_id, nonce = _submit(sessions, context, clock, _opportunity())
    assert _confirm(sessions, cache, context, clock, submission_id, nonce)[0] == "confirmed"
    assert _confirm(sessions, cache, context, clock, submission_id, nonce)[0] == "already"
    with sessions() as s:
        notice = s.scalars(select(Notice)).one()
        assert notice.title == "Grounds maintenance of Dalmuir Park"
        assert notice.buyer == "West Dunbartonshire Council"
        assert notice.value_amount == 24000.0
        sources = s.scalars(select(NoticeSource.source).where(NoticeSource.notice_id == notice.id))
        assert list(sources) == ["buyer"]
        assert notice.match_count >= 1
        submission = s.get(BuyerSubmission, submission_id)
        assert submission.notice_id == notice.id
        assert submission.needed == "" and submission.confirmed_at == clock()
    kinds = [(kind, to) for kind, to, _ in _outbox(sessions)]
    assert kinds == [
        ("buyer_confirm", OFFICER.email),
        ("buyer_opportunity", "coordinator@sen.example.org"),
    ]


def test_a_wrong_nonce_or_an_old_submission_confirms_nothing(
    sessions, members, context, clock, cache
):
    submission_id, nonce = _submit(sessions, context, clock, _opportunity())
    assert _confirm(sessions, cache, context, clock, submission_id, "0" * 32)[0] == "gone"
    clock.advance(hours=48, seconds=1)
    assert _confirm(sessions, cache, context, clock, submission_id, nonce)[0] == "gone"
    with sessions() as s:
        assert s.scalar(select(func.count(Notice.id))) == 0


def test_a_confirmed_message_reaches_the_member_and_coordinators_answered_to_the_buyer(
    sessions, members, context, clock, cache
):
    request = buyers.ContactRequest(
        members[GREENSPACE], OFFICER, "Could you quote for Dalmuir Park?"
    )
    submission_id, nonce = _submit(sessions, context, clock, request)
    [(_, _, confirm)] = _outbox(sessions)
    assert GREENSPACE_EMAIL not in confirm.text_body + confirm.html_body + confirm.subject
    assert GREENSPACE in confirm.text_body
    assert _confirm(sessions, cache, context, clock, submission_id, nonce)[0] == "confirmed"
    assert _confirm(sessions, cache, context, clock, submission_id, nonce)[0] == "already"
    sent = _outbox(sessions)
    assert [(k, t) for k, t, _ in sent] == [
        ("buyer_confirm", OFFICER.email),
        ("buyer_contact", GREENSPACE_EMAIL),
        ("buyer_contact", "coordinator@sen.example.org"),
    ]
    for _, _, message in sent[1:]:
        assert message.headers["Reply-To"] == OFFICER.email
        assert "Could you quote for Dalmuir Park?" in message.text_body
    # Nothing the buyer gets names the member's address.
    assert all(
        GREENSPACE_EMAIL not in m.text_body + m.html_body
        for _, to, m in sent
        if to == OFFICER.email
    )


def test_an_unlisted_member_cannot_be_contacted(sessions, members, context, clock):
    request = buyers.ContactRequest(members["Clean Start Services"], OFFICER, "Hello")
    with pytest.raises(LookupError):
        _submit(sessions, context, clock, request)
    assert _outbox(sessions) == []


def test_limits_count_per_address_and_per_email(sessions, members, context, clock):
    for n in range(5):
        buyer = buyers.Buyer("Olu", f"olu{n}@council.example.gov.uk", "Council")
        _submit(sessions, context, clock, _opportunity(buyer=buyer))
    # A sixth from the same address, whatever the e-mail.
    with pytest.raises(buyers.TooManySubmissions):
        _submit(sessions, context, clock, _opportunity())
    # The same e-mail from five addresses, then a sixth.
    for n in range(5):
        _submit(sessions, context, clock, _opportunity(), ip=f"198.51.100.{n}")
    with pytest.raises(buyers.TooManySubmissions):
        _submit(sessions, context, clock, _opportunity(), ip="198.51.100.99")
    clock.advance(hours=1, seconds=1)
    _submit(sessions, context, clock, _opportunity(), ip="198.51.100.99")


def test_forgetting_deletes_only_unconfirmed_submissions_past_their_time(
    sessions, members, context, clock, cache
):
    kept_id, kept_nonce = _submit(sessions, context, clock, _opportunity())
    _submit(sessions, context, clock, _opportunity(title="Hedge trimming"))
    _confirm(sessions, cache, context, clock, kept_id, kept_nonce)
    clock.advance(hours=47)
    _submit(sessions, context, clock, _opportunity(title="Litter picking"))
    clock.advance(hours=1)
    with sessions.begin() as s:
        assert buyers.forget_unconfirmed(s, RULES.max_age, clock()) == 1
    with sessions() as s:
        assert sorted(s.scalars(select(BuyerSubmission.title))) == [
            "Grounds maintenance of Dalmuir Park",
            "Litter picking",
        ]


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"title": "x" * 301}, "title"),
        ({"needed": ""}, "needed"),
        ({"buyer": buyers.Buyer("Olu", "olu@x\r\nBcc: a@b.example", "Council")}, "email"),
        ({"value": -1.0}, "value"),
    ],
)
def test_bad_fields_are_refused_with_a_message_each(changes, field):
    with pytest.raises(buyers.InvalidSubmission) as refused:
        buyers.check(_opportunity(**changes))
    assert [e.field for e in refused.value.errors] == [field]


def test_confirmation_links_expire_and_cannot_be_forged(clock):
    tokens = RULES.tokens("test-secret", clock)
    token = tokens.dumps([7, "abc"])
    assert buyers.read_link(tokens, token) == (7, "abc")
    with pytest.raises(buyers.LinkUnusable) as forged:
        buyers.read_link(RULES.tokens("another-secret", clock), token)
    assert not forged.value.expired
    clock.advance(hours=48, seconds=1)
    with pytest.raises(buyers.LinkUnusable) as old:
        buyers.read_link(tokens, token)
    assert old.value.expired


def test_the_member_message_as_sent_answers_the_buyer_not_the_network(
    sessions, members, context, clock, cache, make_settings
):
    import email
    import email.policy

    from broker.mail.smtp import render

    mail = make_settings({"mail": {"reply_to": "coordinator@sen.example.org"}}).mail
    request = buyers.ContactRequest(members[GREENSPACE], OFFICER, "Hello")
    submission_id, nonce = _submit(sessions, context, clock, request)
    _confirm(sessions, cache, context, clock, submission_id, nonce)
    sent = {to: m for kind, to, m in _outbox(sessions) if kind != "buyer_confirm"}
    to_member = email.message_from_bytes(
        render(sent[GREENSPACE_EMAIL], mail), policy=email.policy.default
    )
    assert to_member.get_all("Reply-To") == [OFFICER.email]
    assert to_member["List-Unsubscribe"].startswith("<http")
    confirm = next(m for kind, _, m in _outbox(sessions) if kind == "buyer_confirm")
    as_sent = email.message_from_bytes(render(confirm, mail), policy=email.policy.default)
    assert as_sent.get_all("Reply-To") == ["coordinator@sen.example.org"]


def test_broker_network_forget_and_the_hourly_job_delete_what_was_never_confirmed(
    app, sessions, members, context, clock, cli_runner
):
    from broker.runtime.jobs import forget_buyers_job
    from broker.runtime.scheduler import FORGET_BUYERS_JOB, build_scheduler

    _submit(sessions, context, clock, _opportunity())
    result = cli_runner("network", "forget")
    assert result.exit_code == 0, result.output
    # Submitted at the test clock's 2026-11-20, long before today: past its time.
    assert "Done: 1 unconfirmed submission older than 48 hours deleted." in result.output
    with sessions() as s:
        assert s.scalar(select(func.count(BuyerSubmission.id))) == 0
    clock.advance(hours=1)
    _submit(sessions, context, clock, _opportunity())
    assert forget_buyers_job(app, clock) == 0
    assert forget_buyers_job(app, lambda: clock() + RULES.max_age) == 1
    scheduler = build_scheduler(app)
    job = scheduler.get_job(FORGET_BUYERS_JOB)
    assert job.trigger.interval.total_seconds() == 3600
    assert job.args == (app,)


def test_a_member_unlisted_before_the_buyer_confirms_is_not_written_to(
    sessions, members, context, clock, cache
):
    request = buyers.ContactRequest(members[GREENSPACE], OFFICER, "Could you quote?")
    submission_id, nonce = _submit(sessions, context, clock, request)
    with sessions.begin() as s:
        s.execute(update(Member).values(listed=False))
    assert _confirm(sessions, cache, context, clock, submission_id, nonce)[0] == "confirmed"
    sent = _outbox(sessions)
    assert [(k, t) for k, t, _ in sent][1:] == [("buyer_contact", "coordinator@sen.example.org")]
    assert "no longer listed" in sent[1][2].text_body


def test_a_confirmation_racing_another_sends_nothing_more(sessions, members, context, clock, cache):
    """Two confirmations at once (a double click, two tabs): the second read the row
    unconfirmed, but the conditional UPDATE finds it confirmed and does nothing."""
    submission_id, nonce = _submit(sessions, context, clock, _opportunity())
    with sessions() as late:
        assert late.get(BuyerSubmission, submission_id).confirmed_at is None
        late.commit()  # ends its read; its identity map still holds the stale row
        assert _confirm(sessions, cache, context, clock, submission_id, nonce)[0] == "confirmed"
        with late.begin():
            done = buyers.confirm(late, submission_id, nonce, cache, context, RULES, clock())
        assert done.outcome == "already"
    with sessions() as s:
        assert s.scalar(select(func.count(Notice.id))) == 1
        kinds = list(s.scalars(select(OutboxMessage.kind)))
    assert kinds.count("buyer_opportunity") == 1
