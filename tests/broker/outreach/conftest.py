"""Fixtures for the member e-mail tests: the recorded April 2019 PCS notices, moved so that
they are open today, the test members matched to them, and `recorded`, the titles and
helpers the tests find things with."""

from __future__ import annotations

import copy
import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from broker.clock import utcnow
from broker.models import Member, Notice, OutboxMessage

PCS_2019 = "pcs_ocds_releases_2019-04_apa999.json"
LANDSCAPE = "Caledonia Housing Association - Landscape Maintenance 2019 - 2023"
END_OF_LEASE = "EC0849 ACE End of Lease Cleaning Services"
ISLAY = "Provision of School Transport on Islay (2019-2024)"
RECORDED_AT = datetime(2019, 4, 20, tzinfo=UTC)
LINK = re.compile(r"https?://[^\s\"'<>]+/r/[A-Za-z0-9_.\-]+(?:/unsubscribe)?")


def shifted_releases(data_dir: Path, shift: timedelta) -> list[dict]:
    """The recorded April 2019 PCS releases with every deadline moved by `shift`, so the
    real notices are open today."""
    releases = json.loads((data_dir / PCS_2019).read_text())
    for release in releases:
        period = release.get("tender", {}).get("tenderPeriod") or {}
        if period.get("endDate"):
            period["endDate"] = _shift(period["endDate"], shift)
    return releases


def _shift(stamp: str, shift: timedelta) -> str:
    return (datetime.fromisoformat(stamp.replace("Z", "+00:00")) + shift).isoformat()


def amended(release: dict, *, when: str = "2019-05-01T00:00:00Z", **tender) -> dict:
    """A later release of a recorded one (an amendment or a cancellation)."""
    change = copy.deepcopy(release)
    cancelled = tender.get("status") == "cancelled"
    change["tag"] = ["tenderCancellation" if cancelled else "tenderAmendment"]
    change["id"] = f"{release.get('id', release['ocid'])}-{change['tag'][0]}-{when}"
    change["date"] = when
    change["tender"].update(tender)
    return change


@pytest.fixture
def shift() -> timedelta:
    """How far the recorded notices are moved so that they are open now."""
    return utcnow() - RECORDED_AT


@pytest.fixture
def releases(data_dir, shift) -> list[dict]:
    return shifted_releases(data_dir, shift)


@pytest.fixture
def import_releases(cli_runner, tmp_path):
    """Import releases through `broker import` (which matches and then tells members)."""

    def run(items: list[dict], name: str = "releases.json"):
        path = tmp_path / name
        path.write_text(json.dumps(items))
        result = cli_runner("import", str(path))
        assert result.exit_code == 0, result.output
        return result

    return run


@pytest.fixture
def stocked(cli_runner, data_dir, sessions, releases, import_releases):
    """The test members, then the real April 2019 PCS notices (open today), matched."""
    assert cli_runner("members", "import", str(data_dir / "members.csv")).exit_code == 0
    import_releases(releases)
    return sessions


def member_id(sessions, name: str) -> int:
    with sessions() as s:
        return s.scalar(select(Member.id).where(Member.name == name))


def notice_id(sessions, title_start: str) -> int:
    with sessions() as s:
        return s.scalar(select(Notice.id).where(Notice.title.startswith(title_start)))


def release_of(releases: list[dict], title_start: str) -> dict:
    return next(r for r in releases if r["tender"]["title"].startswith(title_start))


def outbox(sessions, **where) -> list[OutboxMessage]:
    """Queued messages, oldest first, optionally only those with these column values."""
    with sessions() as s:
        query = select(OutboxMessage).order_by(OutboxMessage.id)
        for column, value in where.items():
            query = query.where(getattr(OutboxMessage, column) == value)
        return list(s.scalars(query))


def links(body: str) -> list[str]:
    """The member links in an e-mail body (HTML entities undone)."""
    return [u.replace("&amp;", "&") for u in LINK.findall(body)]


def path_of(url: str) -> str:
    """A link's path, for the test client."""
    return "/" + url.split("://", 1)[1].split("/", 1)[1]


class Recorded:
    """The recorded notices' titles that tests pick, and helpers to find rows and links."""

    PCS_2019 = PCS_2019
    LANDSCAPE = LANDSCAPE
    END_OF_LEASE = END_OF_LEASE
    ISLAY = ISLAY
    amended = staticmethod(amended)
    member_id = staticmethod(member_id)
    notice_id = staticmethod(notice_id)
    release_of = staticmethod(release_of)
    outbox = staticmethod(outbox)
    links = staticmethod(links)
    path_of = staticmethod(path_of)


@pytest.fixture
def recorded() -> type[Recorded]:
    return Recorded
