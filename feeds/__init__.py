"""Harvesters: fetch public tender notices and turn them into plain `Notice` dataclasses.

Nothing here imports flask, sqlalchemy or broker; only `feeds.http` touches the network.
"""

from __future__ import annotations

from feeds.sources.contracts_finder import ContractsFinder
from feeds.sources.find_a_tender import FindATender
from feeds.sources.html_listing import HtmlListing
from feeds.sources.pcs import PublicContractsScotland
from feeds.sources.rss import RssFeed
from feeds.sources.sell2wales import Sell2Wales
from feeds.sources.ted import TedSearch

# Every harvester kind, by the name used in config.toml. Add new sources here.
REGISTRY: dict[str, type] = {
    "pcs": PublicContractsScotland,
    "sell2wales": Sell2Wales,
    "contracts_finder": ContractsFinder,
    "find_a_tender": FindATender,
    "ted": TedSearch,
    "rss": RssFeed,
    "html_listing": HtmlListing,
}


def get(kind: str) -> type:
    """Return the harvester class registered as `kind`; raise KeyError naming the choices."""
    try:
        return REGISTRY[kind]
    except KeyError:
        raise KeyError(f"unknown source kind {kind!r}; known: {', '.join(REGISTRY)}") from None
