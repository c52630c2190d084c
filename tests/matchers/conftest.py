"""Factories for matcher tests: plain data in, Match out, no app."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from matchers import Match, MatchConfig, Matcher, Notice, Profile, notice_from_json

DATA = Path(__file__).resolve().parent.parent / "data"


@pytest.fixture(scope="session")
def eval_sample() -> dict[str, Notice]:
    """Real notices copied from shared/eval, by title prefix."""
    lines = (DATA / "matchers_eval_sample.jsonl").read_text(encoding="utf-8").splitlines()
    rows = [json.loads(line) for line in lines]
    return {r["title"]: notice_from_json(r) for r in rows}


def _notice(title: str, description: str = "", **kw) -> Notice:
    """A notice with defaults; id from the title."""
    return Notice(id=kw.pop("id", title[:40]), title=title, description=description, **kw)


def _profile(*keywords: str, **kw) -> Profile:
    """A profile with defaults."""
    return Profile(id=kw.pop("id", "member"), name="Member", keywords=keywords, **kw)


def _explain(n: Notice, p: Profile, config: MatchConfig | None = None) -> Match:
    """Score one pair whatever the result."""
    return Matcher([p], config).explain(n, p.id)


def _kinds(m: Match) -> list[str]:
    """The reason kinds of a match, in order."""
    return [r.kind for r in m.reasons]


@pytest.fixture
def notice():
    """Factory: notice(title, description="", **fields)."""
    return _notice


@pytest.fixture
def profile():
    """Factory: profile(*keywords, **fields)."""
    return _profile


@pytest.fixture
def explain():
    """explain(notice, profile, config=None) -> Match, whatever the score."""
    return _explain


@pytest.fixture
def kinds():
    """kinds(match) -> reason kinds in order."""
    return _kinds


@pytest.fixture
def data_dir() -> Path:
    """tests/data."""
    return DATA
