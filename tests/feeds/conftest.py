"""Fixtures for the harvester tests: recorded payloads, Fetchers that never sleep, fake fetch."""

from __future__ import annotations

import json
import socket
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from feeds.http import Fetcher, HttpPolicy
from feeds.types import Response

DATA = Path(__file__).parent.parent / "data"
LOCAL_HOSTS = {"localhost", "127.0.0.1", "::1"}


@pytest.fixture(autouse=True)
def no_internet(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail any test that tries to reach a host other than the local test server."""
    real_getaddrinfo = socket.getaddrinfo

    def local_only(host: Any, *args: Any, **kwargs: Any) -> Any:
        name = host.decode() if isinstance(host, bytes) else str(host)
        if name not in LOCAL_HOSTS:
            raise OSError(f"test tried to reach {name}: tests must not use the network")
        return real_getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", local_only)


class Recorded:
    """The recorded payloads in tests/data (see its README for where each came from)."""

    PCS_2026 = "pcs_ocds_notices_2026-09_nt102_trimmed.json"
    PCS_2019 = "pcs_ocds_releases_2019-04_apa999.json"
    CF_2022 = "cf_ocds_search_2022-10-20.json"
    FTS_2026 = "fts_release_package_2026-09-11_trimmed.json"
    TED_SEARCH = "ted_api_v3_search_response_trimmed.json"
    EFORMS_CN_DE = "ted_eforms_cn_standard_622691-2023.xml"
    EFORMS_PIN_ES = "ted_eforms_pin_reserved_262891-2023.xml"
    EFORMS_CUMBRIA = "eforms_sdk_example_cn_24_cumbria.xml"
    EFORMS_MAXIMAL = "eforms_sdk_example_cn_24_maximal.xml"
    R209_F02_SCOTLAND = "ted_r209_f02_cn_scotland_20-156983.xml"
    R209_F21_FRANCE = "ted_r209_f21_reserved_fr_19-090974.xml"
    # Written for these tests (no real tender feed or portal page was found to copy).
    RSS_COUNCIL = "rss_council_tenders.xml"
    ATOM_FRAMEWORK = "atom_framework_tenders.xml"
    HTML_LISTING = "html_listing_council.html"
    HTML_DETAIL = "html_listing_detail.html"

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
    """A `Fetch` that answers from a function of (url, params or JSON body).

    The answer is the body (bytes) or a whole Response, and may raise FetchError.
    Every call is remembered, with its query parameters or its posted body.
    """

    def __init__(self, answer: Callable[[str, Any], bytes | Response]):
        self.answer = answer
        self.calls: list[tuple[str, Any]] = []

    def get(self, url: str, params: Mapping[str, Any] | None = None) -> Response:
        self.calls.append((url, dict(params or {})))
        return self._respond(url, self.answer(url, params or {}))

    def post_json(self, url: str, body: Any) -> Response:
        self.calls.append((url, body))
        return self._respond(url, self.answer(url, body))

    @staticmethod
    def _respond(url: str, answer: bytes | Response) -> Response:
        return answer if isinstance(answer, Response) else Response(url, 200, {}, answer)


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
