"""Fixtures for the network's tests."""

from __future__ import annotations

import pytest
from sqlalchemy import select, update

from broker.models import Member

# --- buyers' submissions (test_buyers.py, test_buyer_views.py) ----------------------------

GREENSPACE = "Greenspace Growers"


@pytest.fixture
def members(cli_runner, data_dir, sessions, make_user) -> dict[str, int]:
    """The test members (tests/data/members.csv) by name, Greenspace Growers alone
    listed, and a coordinator (not logged in) to be told."""
    result = cli_runner("members", "import", str(data_dir / "members.csv"))
    assert result.exit_code == 0, result.output
    make_user()
    with sessions.begin() as s:
        s.execute(update(Member).where(Member.name == GREENSPACE).values(listed=True))
        return dict(s.execute(select(Member.name, Member.id)).all())
