"""The dashboard: the funnel's numbers and £ values, week by week, as SVG charts and tables."""

from __future__ import annotations

import re
from datetime import UTC, datetime, time, timedelta

import pytest
from sqlalchemy import select, update

from broker.clock import utcnow
from broker.dashboard.funnel import build, week_start
from broker.formatting import money
from broker.models import Bid, BidEvent, Forward, Match, Member, MemberResponse, Notice

PCS_2019 = "pcs_ocds_releases_2019-04_apa999.json"


def pounds(notices) -> float:
    return sum(n.value_amount or 0 for n in notices if (n.value_currency or "GBP") == "GBP")


@pytest.fixture
def activity(cli_runner, data_dir, sessions):
    """The recorded notices matched to the test members (all this week), with some history
    moved into last week: notices harvested and matched, forwards, answers and bids.

    Returns what the dashboard should show, by stage: {week start: (count, value)}.
    """
    assert cli_runner("members", "import", str(data_dir / "members.csv")).exit_code == 0
    assert cli_runner("import", str(data_dir / PCS_2019)).exit_code == 0
    this_week = week_start(utcnow().date())
    last_week = this_week - timedelta(weeks=1)
    earlier = datetime.combine(last_week, time(12), tzinfo=UTC)
    # Early on Monday: this week, and (almost always) already past.
    lately = datetime.combine(this_week, time(0, 1), tzinfo=UTC)
    with sessions.begin() as s:
        notices = list(s.scalars(select(Notice).order_by(Notice.id)))
        members = list(s.scalars(select(Member).order_by(Member.id)))
        matched_ids = sorted(set(s.scalars(select(Match.notice_id))))
        a, b = (s.get(Notice, i) for i in matched_ids[:2])
        a.value_amount, b.value_amount = 120_000.0, 80_000.0
        a.value_currency = b.value_currency = "GBP"
        # A notice priced in euros is counted, but its value is left out.
        euro = next(n for n in notices if n.id not in matched_ids and n.value_amount)
        euro.value_currency = "EUR"
        old = [*[n for n in notices if n.id not in (a.id, b.id, euro.id)][:10], a]
        for notice in old:
            notice.first_seen_at = earlier
        s.execute(update(Match).where(Match.notice_id == a.id).values(created_at=earlier))
        a.first_matched_at = earlier
        first, second = members[0].id, members[1].id
        s.add_all(
            [
                Forward(notice_id=a.id, member_id=first, created_at=earlier),
                Forward(notice_id=a.id, member_id=second, created_at=earlier),
                Forward(notice_id=a.id, member_id=first, created_at=lately),  # again: not new
                Forward(notice_id=b.id, member_id=first, created_at=lately),
                MemberResponse(
                    member_id=first, notice_id=a.id, kind="interested", created_at=earlier
                ),
                MemberResponse(
                    member_id=first, notice_id=a.id, kind="interested", created_at=lately
                ),  # the same member again: not counted
                MemberResponse(
                    member_id=second, notice_id=a.id, kind="interested", created_at=lately
                ),
                MemberResponse(
                    member_id=second,
                    notice_id=b.id,
                    kind="declined",
                    reason="too_far",
                    created_at=lately,
                ),
                Bid(
                    notice_id=a.id,
                    title="A",
                    stage="won",
                    value_won=50_000.0,
                    created_at=earlier,
                    updated_at=lately,
                ),
                Bid(
                    notice_id=b.id,
                    title="B",
                    stage="preparing",
                    created_at=lately,
                    updated_at=lately,
                ),
                Bid(
                    notice_id=b.id,
                    title="B lost",
                    stage="lost",
                    created_at=earlier,
                    updated_at=lately,
                ),
            ]
        )
        s.flush()
        won, _preparing, lost = s.scalars(select(Bid).order_by(Bid.id))
        # The stages they reached, and when: the funnel reads the bids' timelines.
        s.add_all(
            [
                BidEvent(bid_id=won.id, at=earlier, kind="stage", to_stage="submitted"),
                BidEvent(bid_id=won.id, at=lately, kind="stage", to_stage="won"),
                BidEvent(bid_id=lost.id, at=lately, kind="stage", to_stage="submitted"),
                # Recorded twice (say, by hand and by an import): still one bid submitted.
                BidEvent(bid_id=lost.id, at=lately, kind="stage", to_stage="submitted"),
                BidEvent(bid_id=lost.id, at=lately, kind="stage", to_stage="lost"),
            ]
        )
        new = [n for n in notices if n not in old]
        return {
            "harvested": {last_week: (11, pounds(old)), this_week: (len(new), pounds(new))},
            "matched": {
                last_week: (1, 120_000.0),
                this_week: (
                    len(matched_ids) - 1,
                    pounds([n for n in notices if n.id in matched_ids[1:]]),
                ),
            },
            "forwarded": {last_week: (1, 120_000.0), this_week: (1, 80_000.0)},
            "interested": {last_week: (1, 120_000.0), this_week: (1, 0.0)},
            "bid": {last_week: (2, 200_000.0), this_week: (1, 80_000.0)},
            "submitted": {last_week: (1, 120_000.0), this_week: (1, 80_000.0)},
            "won": {last_week: (0, 0.0), this_week: (1, 50_000.0)},
        }


def weekly_rows(page: str, stage: str) -> dict[str, tuple[str, str]]:
    """A stage's table: week start (ISO) -> (number, value) as shown."""
    start = page.index(f'id="stage-{stage}"')
    section = page[start : page.index("</section>", start)]
    return {
        week: (count, value)
        for week, count, value in re.findall(
            r'<time datetime="([\d-]+)">[^<]*</time></th><td class="num">([^<]*)</td>'
            r'<td class="num">([^<]*)</td>',
            section,
        )
    }


def test_funnel_counts_and_values_match_the_activity(pages, client, coordinator, activity):
    page = pages.text(client.get("/dashboard/"))
    totals = page[page.index('id="funnel-table"') :]
    for label, stage in [
        ("Harvested", "harvested"),
        ("Matched", "matched"),
        ("Forwarded", "forwarded"),
        ("Interested", "interested"),
        ("Bid", "bid"),
        ("Submitted", "submitted"),
        ("Won", "won"),
    ]:
        count = sum(c for c, _v in activity[stage].values())
        value = sum(v for _c, v in activity[stage].values())
        assert (
            f'<th scope="row">{label}</th><td class="num">{count:,}</td>'
            f'<td class="num">{money(value)}</td>'
        ) in totals, label
        rows = weekly_rows(page, stage)
        assert len(rows) == 12
        for week, (count, value) in activity[stage].items():
            assert rows[week.isoformat()] == (f"{count:,}", money(value)), (stage, week)
        others = set(rows) - {w.isoformat() for w in activity[stage]}
        assert all(rows[w] == ("0", "£0") for w in others)


def test_charts_are_labelled_svg_with_their_numbers_in_tables(pages, client, coordinator, activity):
    page = pages.text(client.get("/dashboard/"))
    charts = re.findall(r'<svg class="chart-svg"[^>]*>', page)
    assert len(charts) == 1 + 7 * 2  # the totals, and per stage a count and a £ chart
    for chart in charts:
        ids = re.search(r'aria-labelledby="([\w-]+)-title ([\w-]+)-desc"', chart)
        assert ids and 'role="img"' in chart
        assert f'<title id="{ids.group(1)}-title">' in page
        assert f'<desc id="{ids.group(1)}-desc">' in page
    assert "Harvested: how many each week" in page
    assert re.search(r'<desc id="chart-bid-count-desc">3 in the 12 weeks from', page)
    # Money bars are hatched, not just a different colour, and a key says so.
    assert page.count('fill="url(#chart-hatch)"') >= 7 * 12
    assert '<pattern id="chart-hatch"' in page
    assert "Hatched bars: value in £" in page
    assert "<summary>Harvested week by week, as a table</summary>" in page
    # Nothing the content security policy would block; labelled, headings in order.
    assert "style=" not in page and "<script" not in page
    pages.assert_accessible(page)


def test_the_period_can_be_chosen(pages, client, coordinator, activity):
    page = pages.text(client.get("/dashboard/?weeks=4"))
    assert '<option selected value="4">4 weeks</option>' in page
    assert len(weekly_rows(page, "harvested")) == 4
    assert len(weekly_rows(page, "harvested")) == 4
    # A period not on offer falls back to 12 weeks.
    assert len(weekly_rows(pages.text(client.get("/dashboard/?weeks=7")), "won")) == 12


def test_weeks_run_monday_to_sunday(sessions, clock):
    # 2026-11-20 is a Friday; its week began on Monday 16 November.
    assert week_start(clock().date()).isoformat() == "2026-11-16"
    with sessions.begin() as s:
        for moment in ("2026-11-15T23:59:59", "2026-11-16T00:00:00", "2026-08-30T12:00:00"):
            at = datetime.fromisoformat(moment).replace(tzinfo=UTC)
            s.add(
                Notice(
                    title=moment,
                    primary_source="manual",
                    first_seen_at=at,
                    updated_at=at,
                    value_amount=100.0,
                )
            )
    with sessions() as s:
        result = build(s, clock(), weeks=12)
    harvested = {w.start.isoformat(): w.count for w in result.stages[0].weeks}
    assert result.weeks[0].isoformat() == "2026-08-31" and len(harvested) == 12
    assert harvested["2026-11-09"] == 1 and harvested["2026-11-16"] == 1
    # Before the period: not counted.
    assert sum(harvested.values()) == 2 and result.stages[0].value == 200.0
