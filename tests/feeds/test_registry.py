"""Every registered harvester is documented, configurable and yields notices."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from datetime import UTC, datetime

import pytest

import feeds
from feeds.http import HttpPolicy
from feeds.types import Notice, Page

NOW = datetime(2026, 9, 19, 12, 0, tzinfo=UTC)


def recorded_answer(kind: str, recorded):
    """One recorded page for the first request of `kind`, then empty pages."""
    if kind == "sell2wales":  # no Sell2Wales recording: a PCS page with its OCIDs stands in
        body = recorded.bytes(recorded.PCS_2026).replace(b"ocds-r6ebe6", b"ocds-kuma6s")
    else:
        body = recorded.bytes(
            {
                "pcs": recorded.PCS_2026,
                "contracts_finder": recorded.CF_2022,
                "find_a_tender": recorded.FTS_2026,
            }[kind]
        )
    served = []

    def answer(url, params):
        served.append(url)
        return body if len(served) == 1 else b'{"releases": []}'

    return answer


@pytest.mark.parametrize("kind", sorted(feeds.REGISTRY))
def test_harvester_is_documented_and_configurable(kind):
    cls = feeds.get(kind)
    assert cls.name == kind
    for heading in ("Publisher", "URL", "Caveats"):
        assert heading in (cls.__doc__ or "")
    options = cls.Options()
    assert dataclasses.is_dataclass(options)
    with pytest.raises(dataclasses.FrozenInstanceError):
        options.base_url = "x"
    for f in dataclasses.fields(options):
        assert f.metadata.get("doc"), f"{kind}.{f.name} has no doc"
    assert options.base_url.startswith("https://")
    HttpPolicy().updated(cls.http_defaults)  # the broker merges these


@pytest.mark.parametrize("kind", sorted(feeds.REGISTRY))
def test_harvester_yields_valid_notices_from_its_recording(kind, recorded, fake_fetch):
    fetch = fake_fetch(recorded_answer(kind, recorded))
    pages = list(feeds.get(kind)().pages(fetch, {}, NOW))
    assert pages and all(isinstance(p, Page) for p in pages)
    notices = [n for p in pages for n in p.notices]
    assert notices and all(isinstance(n, Notice) and n.title for n in notices)
    assert all(p.error is None and p.state is not None for p in pages)
    assert all(url.startswith("https://") for url, _ in fetch.calls)


def test_unknown_kind_names_the_known_ones():
    with pytest.raises(KeyError, match="unknown source kind 'ted'; known: pcs, sell2wales"):
        feeds.get("ted")


def test_feeds_imports_no_web_or_database_code():
    code = (
        "import sys, feeds, feeds.http, feeds.files, feeds.packages, feeds.ocds, feeds.text;"
        "top = {m.split('.')[0] for m in sys.modules};"
        "bad = {'flask', 'sqlalchemy', 'broker', 'matchers'} & top;"
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
