"""Fixtures for the consortium bids tests: the real TED kitchen and bathroom framework
(seven regional lots, north-east Scotland) with members who fit parts of it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update

from broker.bids import forming
from broker.models import Member, Notice
from broker.models.bids import Bid
from broker.outreach.compose import MailContext

KITCHENS = "ted_r209_f02_cn_scotland_20-156983.xml"
# Members who fit parts of it (tests/data/kitchen_members.csv); its own tender deadline
# passed in 2020, so the tests move it to be open.
MEMBERS = "kitchen_members.csv"


@pytest.fixture
def kitchens(cli_runner, data_dir, sessions, clock):
    """The framework, open (its deadline moved 30 days past the clock), and the members,
    matched to it. Returns the notice's id."""
    assert cli_runner("members", "import", str(data_dir / MEMBERS)).exit_code == 0
    result = cli_runner("import", str(data_dir / KITCHENS))
    assert result.exit_code == 0, result.output
    with sessions.begin() as s:
        notice = s.scalars(select(Notice).where(Notice.title.startswith("Kitchen and"))).one()
        s.execute(
            update(Notice)
            .where(Notice.id == notice.id)
            .values(deadline=clock() + timedelta(days=30))
        )
        return notice.id


@pytest.fixture
def member_ids(sessions):
    def ids() -> dict[str, int]:
        with sessions() as s:
            return dict(s.execute(select(Member.name, Member.id)).all())

    return ids


@pytest.fixture
def make_bid(sessions, clock):
    """Start a bid through the service: from a notice, or from scratch."""

    def make(notice_id: int | None = None, user_id: int | None = None, **details) -> int:
        with sessions.begin() as s:
            notice = s.get(Notice, notice_id) if notice_id else None
            details.setdefault("title", notice.title if notice else "Grounds maintenance re-tender")
            bid = forming.start_bid(s, forming.BidDetails(**details), user_id, clock(), notice)
            return bid.id

    return make


@pytest.fixture
def context(app, clock):
    """What composing e-mails needs, signing links with the test's clock."""
    return MailContext.for_app(app, clock)


def at(day: str) -> datetime:
    """Noon UTC on an ISO date."""
    return datetime.fromisoformat(day).replace(hour=12, tzinfo=UTC)


@pytest.fixture
def bid_of(sessions):
    def load(bid_id: int):
        s = sessions()
        return s, s.get(Bid, bid_id)

    return load
