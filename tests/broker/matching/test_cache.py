"""The process's warm matcher: warmed at start on the newest stored notices."""

from __future__ import annotations

import logging

from sqlalchemy import delete, select

from broker.matching.cache import MatcherCache, get_cache
from broker.matching.inputs import matchable
from broker.matching.store import match_notices
from broker.models import Match, Member, Notice
from broker.runtime.jobs import warm_matcher_job

PCS_2019 = "pcs_ocds_releases_2019-04_apa999.json"


def _newest(session, count: int) -> list[int]:
    query = matchable(select(Notice.id)).order_by(Notice.id.desc()).limit(count)
    return list(session.scalars(query))


def test_warming_reads_the_newest_notices_so_a_harvest_of_them_has_nothing_new_to_read(
    cli_runner, data_dir, sessions, app, clock
):
    assert cli_runner("members", "import", str(data_dir / "members.csv")).exit_code == 0
    assert cli_runner("import", str(data_dir / PCS_2019)).exit_code == 0
    cache = MatcherCache(app.config["SETTINGS"].matching)  # cold, as in a fresh process
    with sessions() as s:
        assert cache.warm(s, notices=3) == 3
        matcher = cache.matcher(s)
        read = matcher.tokens_read
        newest = _newest(s, 3)
        older = _newest(s, 10)[3:]
    assert read > 0
    # Matching the notices it read finds no token it has not seen, in the same matcher.
    with sessions.begin() as s:
        s.execute(delete(Match))
        assert match_notices(s, newest, cache, clock()).stored > 0
        assert cache.matcher(s) is matcher
    assert matcher.tokens_read == read
    # Older ones it never read have words of their own.
    with sessions.begin() as s:
        match_notices(s, older, cache, clock())
    assert matcher.tokens_read > read


def test_with_no_members_there_is_nothing_to_warm(cli_runner, data_dir, sessions, app):
    assert cli_runner("import", str(data_dir / PCS_2019)).exit_code == 0
    cache = MatcherCache(app.config["SETTINGS"].matching)
    with sessions() as s:
        assert s.scalar(select(Member.id)) is None
        assert cache.warm(s) == 0
        assert cache.matcher(s).tokens_read == 0


def test_the_scheduler_job_warms_the_apps_matcher_and_survives_a_failure(
    cli_runner, data_dir, sessions, app, caplog, monkeypatch
):
    assert cli_runner("members", "import", str(data_dir / "members.csv")).exit_code == 0
    assert cli_runner("import", str(data_dir / PCS_2019)).exit_code == 0
    with caplog.at_level(logging.INFO, logger="broker.runtime.jobs"):
        warm_matcher_job(app)
    with sessions() as s:
        assert get_cache(app).matcher(s).tokens_read > 0
        stored = len(list(s.scalars(matchable(select(Notice.id)))))
    assert f"read the newest {min(stored, 1000)} notices" in caplog.text

    def broken(self, session, notices=0):
        raise RuntimeError("database is locked")

    monkeypatch.setattr(MatcherCache, "warm", broken)
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="broker.runtime.jobs"):
        warm_matcher_job(app)  # logged, not raised: the first harvest builds it instead
    assert "could not warm the matcher" in caplog.text
