"""What a coordinator does to a notice, at the service level."""

from __future__ import annotations

from sqlalchemy import select

from broker.clock import utcnow
from broker.dashboard import funnel
from broker.matching.cache import get_cache
from broker.members.profiles import parse_profile, save_member
from broker.models import Match, Notice
from broker.triage import actions

PCS_2019 = "pcs_ocds_releases_2019-04_apa999.json"
LANDSCAPE = "Caledonia Housing Association - Landscape Maintenance 2019 - 2023"


def matched_this_period(session, now) -> int:
    stages = {s.info.key: s for s in funnel.build(session, now, weeks=4).stages}
    return stages["matched"].count


def test_a_member_added_by_hand_as_a_notice_s_first_match_counts_as_matched(
    app, cli_runner, data_dir, sessions
):
    # The real notices, with no members yet: none of them is matched.
    assert cli_runner("import", str(data_dir / PCS_2019)).exit_code == 0
    now = utcnow()
    with sessions.begin() as s:
        notice = s.scalars(select(Notice).where(Notice.title.startswith(LANDSCAPE))).one()
        assert (notice.best_score, notice.match_count, notice.first_matched_at) == (None, 0, None)
        assert matched_this_period(s, now) == 0
        # A member whose profile the engine would never match to landscaping.
        profile = parse_profile(
            {"name": "Print Works", "email": "hello@printworks.example", "keywords": "printing"}
        )
        member, _changed = save_member(s, profile, now)
        match = actions.add_member(s, notice, member, get_cache(app), None, now)
        assert match.reasons[-1] == {"kind": "manual", "text": "added by a coordinator"}
    with sessions() as s:
        notice = s.scalars(select(Notice).where(Notice.title.startswith(LANDSCAPE))).one()
        assert notice.match_count == 1
        assert notice.best_score == s.scalar(
            select(Match.score).where(Match.notice_id == notice.id)
        )
        assert notice.first_matched_at == now
        # The dashboard's funnel reads the Matched stage from first_matched_at.
        assert matched_this_period(s, now) == 1
