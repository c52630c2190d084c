"""Fixtures for the harvester tests: recorded payloads, Fetchers that never sleep, fake fetch."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from feeds.http import Fetcher, HttpPolicy
from feeds.types import Response

DATA = Path(__file__).parent.parent / "data"


class Recorded:
    """The recorded payloads in tests/data (see its README for where each came from)."""

    PCS_2026 = "pcs_ocds_notices_2026-09_nt102_trimmed.json"
    PCS_2019 = "pcs_ocds_releases_2019-04_apa999.json"
    CF_2022 = "cf_ocds_search_2022-10-20.json"
    FTS_2026 = "fts_release_package_2026-09-11_trimmed.json"

    def path(self, name: str) -> Path:
        return DATA / name

    def bytes(self, name: str) -> bytes:
        """The payload byte for byte."""
        return (DATA / name).read_bytes()

    def json(self, name: str) -> Any:
        """The payload parsed (FTS's 1e9999 becomes inf here: test input only)."""
        return json.loads(self.bytes(name))

    def releases(self, name: str) -> list[dict[str, Any]]:
        """The releases of a package or bare array, as fresh dicts."""
        data = self.json(name)
        return data if isinstance(data, list) else data["releases"]


@pytest.fixture
def recorded() -> Recorded:
    """Access to the recorded payloads."""
    return Recorded()


class FakeFetch:
    """A `Fetch` that answers from a function of (url, params) and remembers the calls."""

    def __init__(self, answer: Callable[[str, Mapping[str, Any]], bytes]):
        self.answer = answer
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def get(self, url: str, params: Mapping[str, Any] | None = None) -> Response:
        self.calls.append((url, dict(params or {})))
        return Response(url, 200, {}, self.answer(url, params or {}))

    def post_json(self, url: str, body: Any) -> Response:
        raise NotImplementedError


@pytest.fixture
def fake_fetch() -> type[FakeFetch]:
    """The FakeFetch class, for tests that build one."""
    return FakeFetch


@pytest.fixture
def sleeps() -> list[float]:
    """Every wait a Fetcher asked for, instead of sleeping."""
    return []


@pytest.fixture
def make_fetcher(sleeps: list[float]) -> Iterator[Callable[..., Fetcher]]:
    """Build Fetchers that record their sleeps; all are closed after the test."""
    made: list[Fetcher] = []

    def make(policy: HttpPolicy | None = None, **changes: Any) -> Fetcher:
        policy = (policy or HttpPolicy(backoff=0.5, retries=2)).updated(changes)
        fetcher = Fetcher(policy, sleep=sleeps.append)
        made.append(fetcher)
        return fetcher

    yield make
    for fetcher in made:
        fetcher.close()
