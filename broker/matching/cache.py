"""A warm Matcher for this process, refreshed member by member as profiles change."""

from __future__ import annotations

import threading
from collections.abc import Iterable
from typing import Any

from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session

import matchers
from broker.config import MatchingSettings
from broker.matching.corpus import latest_corpus
from broker.matching.inputs import (
    Declines,
    declines_by_member,
    matchable,
    notice_for,
    profile_for,
)
from broker.models import CorpusSnapshot, Member, MemberResponse, Notice

# How many of the newest stored notices `warm` reads: about what a harvest brings.
WARM_NOTICES = 1_000


def init_app(app: Flask) -> None:
    """Give the app its warm Matcher."""
    app.extensions["broker.matcher"] = MatcherCache(app.config["SETTINGS"].matching)


def get_cache(app: Flask) -> MatcherCache:
    """The app's warm Matcher."""
    return app.extensions["broker.matcher"]


class MatcherCache:
    """A warm Matcher for this process, refreshed member by member when profiles change.

    Building the engine's index for every member is the expensive part; a harvest
    that stores many pages reuses it, and an edit to one profile rebuilds only that one.
    A new corpus snapshot rebuilds it all.
    """

    def __init__(self, settings: MatchingSettings):
        self.settings = settings
        self.lock = threading.RLock()
        self._matcher: matchers.Matcher | None = None
        self._corpus_id: int | None = None
        self.corpus: matchers.CorpusStats | None = None
        self._versions: dict[int, tuple[Any, ...]] = {}
        self._profiles: dict[int, matchers.Profile] = {}
        self.declines: dict[int, Declines] = {}

    def engine(self, profiles: Iterable[matchers.Profile]) -> matchers.Matcher:
        """A separate Matcher for some profiles, weighing words as this one does."""
        return matchers.Matcher(profiles, self.settings.engine, corpus=self.corpus)

    def _load_corpus(self, session: Session) -> None:
        """Hold the newest word statistics; new ones mean a new Matcher (hold the lock)."""
        newest = session.scalar(select(func.max(CorpusSnapshot.id)))
        if newest != self._corpus_id:
            self._corpus_id, self.corpus = latest_corpus(session)
            self._matcher = None

    def corpus_out_of_date(self, session: Session) -> bool:
        """Whether there are no word statistics yet, or the newest count another
        stemmer's stems (the engine was upgraded since they were counted)."""
        with self.lock:
            self._load_corpus(session)
            return self.corpus is None or not self.corpus.current

    def matcher(self, session: Session) -> matchers.Matcher:
        """The Matcher, brought up to date with the stored members and their feedback."""
        with self.lock:
            self._load_corpus(session)
            if self._matcher is None:
                self._matcher = self.engine(())
                self._versions.clear()
                self._profiles.clear()
            current = _member_versions(session)
            changed = [m for m, v in current.items() if self._versions.get(m) != v]
            removed = [m for m in self._versions if m not in current]
            for member_id in removed:
                self._matcher.remove(str(member_id))
                self._versions.pop(member_id)
                self._profiles.pop(member_id, None)
                self.declines.pop(member_id, None)
            if changed:
                declines = declines_by_member(session, changed)
                members = session.scalars(select(Member).where(Member.id.in_(changed)))
                for member in members:
                    self.declines[member.id] = declines.get(member.id, Declines())
                    profile = profile_for(member, self.declines[member.id])
                    self._matcher.update(profile)
                    self._profiles[member.id] = profile
                    self._versions[member.id] = current[member.id]
            return self._matcher

    def warm(self, session: Session, notices: int = WARM_NOTICES) -> int:
        """Build the Matcher and have it read the newest stored notices, storing nothing;
        how many it read.

        A Matcher looks at each notice token, and at each set of codes, the first time
        it meets them. Built cold, the first harvest after a start pays for that: on the
        realistic load of bench/match_all.py its first 1,000 new notices took 1.2 to
        2.0 s, against 0.6 to 0.9 s for the next. New notices share most of their words and
        codes with the newest stored ones, so the scheduler has those read at start.
        """
        with self.lock:
            matcher = self.matcher(session)
            if not matcher.profile_ids:
                return 0
            newest = session.scalars(
                matchable(select(Notice)).order_by(Notice.id.desc()).limit(notices)
            ).all()
            # Scored and explained as match_notices does, so the same caches fill.
            for _ in matcher.columns(
                [notice_for(n) for n in newest], threshold=self.settings.store_threshold
            ):
                pass
            return len(newest)

    def profiles(self) -> list[matchers.Profile]:
        """The profiles in the Matcher, as of the last `matcher()` call (hold the lock)."""
        return list(self._profiles.values())


def _member_versions(session: Session) -> dict[int, tuple[Any, ...]]:
    """For each active member, what its engine profile depends on."""
    last_decline = {
        member_id: last
        for member_id, last in session.execute(
            select(MemberResponse.member_id, func.max(MemberResponse.id))
            .where(MemberResponse.kind == "declined")
            .group_by(MemberResponse.member_id)
        )
    }
    rows = session.execute(select(Member.id, Member.profile_changed_at).where(Member.active))
    return {mid: (changed_at, last_decline.get(mid)) for mid, changed_at in rows}
