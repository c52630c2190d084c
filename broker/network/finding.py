""" "What do you need?": the matching engine the other way round.

The officer's words become a notice and the listed members are ranked against it by
the same engine that matches harvested notices, weighing words with the stored corpus.
Each result says why in short, plain phrases drawn from the engine's reasons.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

import matchers
from broker.matching.corpus import latest_corpus
from broker.matching.inputs import profile_for
from broker.models import CorpusSnapshot, Member
from broker.network.listing import LISTED, Listed, PublicMember, area_words, council_for

RESULTS = 10
# Length caps on what the officer types: the engine reads it all, so keep it short.
MAX_WHAT = 5000
MAX_WHERE = 200


@dataclass(frozen=True)
class Found:
    """A listed member that fits, with its score and why, in plain words."""

    member: PublicMember
    score: int
    why: tuple[str, ...]


class SearchCache:
    """This process's engine over the listed members' profiles, built once per change to
    the listed members or the corpus: a search then scores one notice."""

    def __init__(self, config: matchers.MatchConfig):
        self.config = config
        self.lock = threading.Lock()
        self._key: tuple[Any, ...] | None = None
        self._matcher: matchers.Matcher | None = None

    def matcher(self, session: Session, listed: Listed) -> matchers.Matcher:
        """The engine for the listed members as they are now."""
        corpus_id = session.scalar(select(func.max(CorpusSnapshot.id)))
        key = (listed.version, corpus_id)
        with self.lock:
            if self._matcher is None or self._key != key:
                _id, corpus = latest_corpus(session)
                members = session.scalars(select(Member).where(*LISTED))
                # Without the members' "not for us" answers: those are theirs, not public.
                self._matcher = matchers.Matcher(
                    [profile_for(m) for m in members], self.config, corpus=corpus
                )
                self._key = key
            return self._matcher


def find_members(
    session: Session,
    listed: Listed,
    cache: SearchCache,
    what: str,
    where: str = "",
    threshold: int = 30,
    limit: int = RESULTS,
) -> list[Found]:
    """The listed members that best fit the officer's words, best first."""
    what, where = what.strip()[:MAX_WHAT], " ".join(where.split())[:MAX_WHERE]
    if not what:
        return []
    title, description = split_words(what)
    notice = matchers.Notice(id="search", title=title, description=description, place=where or None)
    matcher = cache.matcher(session, listed)
    with cache.lock:  # one thread at a time may score
        found = matcher.match([notice], threshold=threshold)
    by_id = listed.by_profile
    found = sorted((f for f in found if f.profile_id in by_id), key=lambda f: -f.score)
    if not found:
        return []
    # Scores stop at 100: among equals, the member more of whose words fit comes first.
    # Reasons are written when read, so only for those that might make the cut.
    cut = found[min(limit, len(found)) - 1].score
    ranked = sorted(
        (f for f in found if f.score >= cut),
        key=lambda f: (-f.score, -len(f.reasons), by_id[f.profile_id].name.casefold()),
    )[:limit]
    return [Found(by_id[f.profile_id], f.score, plain_reasons(f.reasons, where)) for f in ranked]


# How long the officer's first line may be to be read as the notice's title.
TITLE_LENGTH = 300


def split_words(what: str) -> tuple[str, str]:
    """The officer's words as a notice's title and description: the first line is the
    title (its first sentence, if it runs on), the rest the description, as a pasted
    notice reads. The engine weighs words in a title more."""
    first, _, rest = what.strip().partition("\n")
    first = " ".join(first.split())
    if len(first) > TITLE_LENGTH:
        cut = first.rfind(". ", 0, TITLE_LENGTH)
        cut = cut + 1 if cut > 0 else TITLE_LENGTH
        first, rest = first[:cut], first[cut:] + "\n" + rest
    return first, rest.strip()


KEYWORD = re.compile(r'^keyword "([^"]+)"')
CPV_LABEL = re.compile(r"^CPV \d+ \(([^)]+)\)")


def plain_reasons(reasons: Sequence[matchers.Reason], where: str) -> tuple[str, ...]:
    """The engine's reasons as the coordinators say them: "does grounds maintenance",
    "serves West Dunbartonshire"."""
    whole: list[str] = []
    partly: list[str] = []
    rest: list[str] = []
    place = _place_words(where)
    for reason in reasons:
        text = reason.text
        if reason.kind == "keyword" and (found := KEYWORD.match(text)):
            (partly if " in part" in text else whole).append(f"does {found.group(1)}")
        elif reason.kind == "cpv" and (found := CPV_LABEL.match(text)):
            rest.append(f"works in {found.group(1).lower()}")
        elif reason.kind == "region":
            if "is one the member serves" in text:
                rest.append(f"serves {place or _named_region(text)}")
            else:
                rest.append(f"doesn't list {place or 'that area'} among its areas")
        elif reason.kind == "reserved":
            rest.append("is a supported business")
        elif reason.kind == "value":
            rest.append(text.replace("the member's", "its"))
        else:
            rest.append(text)
    return tuple(dict.fromkeys([*(whole or partly), *rest]))


def _place_words(where: str) -> str:
    """The officer's "Where?" as it reads best: a council's own name, else as typed."""
    if not where:
        return ""
    return area_words(where) if council_for(where) else where


def _named_region(text: str) -> str:
    found = re.search(r"\(([^)]+)\)", text)
    return found.group(1) if found else "the area"
