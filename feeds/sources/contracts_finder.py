"""UK Contracts Finder: the OCDS notice search API."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, ClassVar

from feeds.dates import format_utc
from feeds.sources.windowed import WindowedSource


@dataclass(frozen=True)
class ContractsFinderOptions:
    """Contracts Finder settings."""

    base_url: str = field(
        default="https://www.contractsfinder.service.gov.uk/Published/Notices/OCDS/Search",
        metadata={"doc": "OCDS search endpoint"},
    )
    window_days: int = field(
        default=15, metadata={"doc": "days per publishedFrom/publishedTo window"}
    )
    lookback_days: int = field(default=30, metadata={"doc": "days harvested on the first run"})
    limit: int = field(default=100, metadata={"doc": "releases per page (1-100)"})
    stages: tuple[str, ...] = field(
        default=(), metadata={"doc": "planning, tender, award, implementation; empty = all"}
    )


class ContractsFinder(WindowedSource):
    """
    Publisher
      Cabinet Office: Contracts Finder, England's below-threshold notices (and PCR 2015
      above-threshold ones); suitability flags for SMEs and VCSEs on every release.
    URL
      https://www.contractsfinder.service.gov.uk/Published/Notices/OCDS/Search
    Caveats
      Windows of 15 days: longer ones only return data from months ago. "Too many
      requests" comes back as HTTP 403, after which nothing should be asked for five
      minutes. One page can hold several releases of one ocid (tender, amendment,
      award), compiled into one notice. Some text is cp1252 mojibake of UTF-8. Since
      PPN 019 (2025) new Procurement Act notices go to Find a Tender instead.
    """

    name: str = "contracts_finder"
    Options: ClassVar[type[ContractsFinderOptions]] = ContractsFinderOptions
    http_defaults: ClassVar[Mapping[str, Any]] = {"throttle": {403: 300.0}, "delay": 1.0}

    def step(self) -> timedelta:
        """Length of one search window."""
        return timedelta(days=self.options.window_days)

    def window_params(self, start: datetime, end: datetime) -> dict[str, Any]:
        """publishedFrom/publishedTo in ISO 8601 UTC."""
        return {"publishedFrom": format_utc(start), "publishedTo": format_utc(end)}
