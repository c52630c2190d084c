"""What "Test this profile" shows: what an unsaved profile would match among recent
notices, writing nothing."""

from __future__ import annotations

import heapq
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

import matchers
from broker.matching.cache import MatcherCache
from broker.matching.inputs import (
    Declines,
    declines_by_member,
    notice_chunks,
    notice_for,
    profile_for,
)
from broker.models import Member, Notice

# How far back "Test this profile" looks, and how many results it shows.
TRIAL_DAYS = 90
TRIAL_RESULTS = 20


@dataclass(frozen=True)
class TrialHit:
    """One notice an unsaved profile would match, with the engine's score and reasons."""

    notice: Notice
    score: int
    reasons: list[dict[str, str]]


@dataclass
class ProfileTrial:
    """What a profile would have matched among recent notices."""

    since: datetime
    tested: int
    matched: int
    hits: list[TrialHit]


def try_profile(
    session: Session,
    draft: Member,
    cache: MatcherCache,
    now: datetime,
    days: int = TRIAL_DAYS,
    limit: int = TRIAL_RESULTS,
) -> ProfileTrial:
    """Score an unsaved profile against notices first seen or published in the last `days`.

    Nothing is written: `draft` is a Member never added to the session (with the id of the
    member being edited, whose "not for us" answers count, or 0 for a new one), scored in
    an engine of its own that weighs words with the stored corpus as real matching does.
    """
    since = now - timedelta(days=days)
    declines = declines_by_member(session, [draft.id]).get(draft.id) or Declines()
    cache.matcher(session)  # loads the current corpus snapshot
    engine = cache.engine([profile_for(draft, declines)])
    recent = or_(Notice.first_seen_at >= since, Notice.published >= since)
    best: list[tuple[int, int, matchers.Match]] = []
    tested = matched = 0
    for notices in notice_chunks(session, recent):
        tested += len(notices)
        for found in engine.match(
            [notice_for(n) for n in notices], threshold=cache.settings.store_threshold
        ):
            notice_id = int(found.notice_id)
            if notice_id in declines.notices:
                continue
            matched += 1
            # Highest score first, then the newest notice.
            item = (found.score, notice_id, found)
            if len(best) < limit:
                heapq.heappush(best, item)
            else:
                heapq.heappushpop(best, item)
    ranked = sorted(best, key=lambda item: (-item[0], -item[1]))
    notices_by_id = {
        n.id: n
        for n in session.scalars(select(Notice).where(Notice.id.in_([i[1] for i in ranked])))
    }
    hits = [
        TrialHit(
            notices_by_id[notice_id],
            score,
            [{"kind": r.kind, "text": r.text} for r in found.reasons],
        )
        for score, notice_id, found in ranked
    ]
    return ProfileTrial(since=since, tested=tested, matched=matched, hits=hits)
