"""The funders' report: each member's month, counted once per notice and bid, with their
part of what was won; and its CSV from the dashboard."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

from sqlalchemy import select

from broker.bids import forming, stages
from broker.bids.stages import StageChange
from broker.dashboard import report
from broker.models import Forward, Match, Member, MemberResponse, Notice

PCS_2019 = "pcs_ocds_releases_2019-04_apa999.json"
OCTOBER, NOVEMBER = datetime(2026, 10, 14, 10, tzinfo=UTC), datetime(2026, 11, 3, 10, tzinfo=UTC)


def test_each_member_s_month_and_their_part_of_what_was_won(cli_runner, data_dir, sessions, cache):
    assert cli_runner("members", "import", str(data_dir / "members.csv")).exit_code == 0
    assert cli_runner("import", str(data_dir / PCS_2019)).exit_code == 0
    with sessions.begin() as s:
        members = {m.name: m for m in s.scalars(select(Member))}
        green, clean = members["Greenspace Growers"], members["Clean Start Services"]
        green_notices = list(
            s.scalars(select(Match.notice_id).where(Match.member_id == green.id).order_by(Match.id))
        )
        # Green's matches: two made in October, the rest in November.
        for match in s.scalars(select(Match).where(Match.member_id == green.id)):
            match.created_at = OCTOBER if match.notice_id in green_notices[:2] else NOVEMBER
        a, b = green_notices[:2]
        s.add_all(
            [
                Forward(notice_id=a, member_id=green.id, created_at=OCTOBER),
                Forward(notice_id=a, member_id=green.id, created_at=OCTOBER),  # again: once
                Forward(notice_id=b, member_id=green.id, created_at=NOVEMBER),
                MemberResponse(
                    member_id=green.id, notice_id=a, kind="interested", created_at=OCTOBER
                ),
                MemberResponse(
                    member_id=green.id, notice_id=b, kind="declined", created_at=NOVEMBER
                ),
            ]
        )
        # A bid won in November by Green (70%) and Clean (30%): £200,000.
        bid = forming.start_bid(
            s, forming.BidDetails(title="Parks"), None, OCTOBER, s.get(Notice, a)
        )
        forming.add_members(s, bid, [green.id, clean.id], "partner", cache, OCTOBER, "added")
        for place in bid.members:
            share = 70.0 if place.member_id == green.id else 30.0
            forming.set_part(
                s, bid, forming.PartEntry(place.member_id, place.role, share), None, OCTOBER
            )
        for stage in ("go_no_go", "preparing", "submitted"):
            stages.change_stage(s, bid, StageChange(stage), None, OCTOBER)
        stages.change_stage(s, bid, StageChange("won", value_won=200_000.0), None, NOVEMBER)
        # A bid lost: joined, not won.
        lost = forming.start_bid(s, forming.BidDetails(title="Lost one"), None, NOVEMBER)
        forming.add_members(s, lost, [green.id], "lead", cache, NOVEMBER, "added")
        matched_in_november = len(green_notices) - 2
    with sessions() as s:
        rows = report.report(
            s, datetime(2026, 10, 1, tzinfo=UTC), datetime(2026, 12, 1, tzinfo=UTC)
        )
    by = {(r.month, r.member): r for r in rows}
    october, november = by[("2026-10", "Greenspace Growers")], by[("2026-11", "Greenspace Growers")]
    assert (october.matched, october.forwarded, october.interested) == (2, 1, 1)
    assert (october.bids_joined, october.bids_won, october.won_value) == (1, 0, 0.0)
    assert (november.matched, november.forwarded, november.interested) == (
        matched_in_november,
        1,
        0,
    )
    assert (november.bids_joined, november.bids_won, november.won_value) == (1, 1, 140_000.0)
    clean_november = by[("2026-11", "Clean Start Services")]
    assert (clean_november.bids_won, clean_november.won_value) == (1, 60_000.0)
    # Before anything happened: nothing.
    with sessions() as s:
        assert (
            report.report(s, datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 10, 1, tzinfo=UTC))
            == []
        )
    text = report.report_csv(rows)
    table = list(csv.DictReader(io.StringIO(text)))
    assert list(table[0]) == report.COLUMNS
    green_row = next(
        r for r in table if r["member"] == "Greenspace Growers" and r["month"] == "2026-11"
    )
    assert green_row["won_value"] == "140000.00" and green_row["bids_won"] == "1"


def test_the_dashboard_offers_the_report_as_a_csv(pages, client, coordinator, sessions):
    page = pages.text(client.get("/dashboard/?weeks=4"))
    assert '<a href="/dashboard/members.csv?weeks=4" download>Download as CSV</a>' in page
    response = client.get("/dashboard/members.csv?weeks=4")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert "attachment; filename=" in response.headers["Content-Disposition"]
    body = response.get_data(as_text=True).lstrip("\ufeff")
    assert body.splitlines()[0] == ",".join(report.COLUMNS)


def test_the_report_needs_a_login(client):
    assert client.get("/dashboard/members.csv").status_code == 302


def test_a_member_name_never_runs_as_a_spreadsheet_formula():
    rows = [report.MemberMonth("2026-11", '=HYPERLINK("http://evil.example")', matched=3)]
    cells = list(csv.reader(io.StringIO(report.report_csv(rows))))
    assert cells[1][:3] == ["2026-11", '\'=HYPERLINK("http://evil.example")', "3"]
