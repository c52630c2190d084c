"""UK Find a Tender: the OCDS release package API."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

from feeds.sources.windowed import WindowedSource


@dataclass(frozen=True)
class FindATenderOptions:
    """Find a Tender settings."""

    base_url: str = field(
        default="https://www.find-tender.service.gov.uk/api/1.0/ocdsReleasePackages",
        metadata={"doc": "OCDS release package endpoint"},
    )
    window_hours: int = field(default=6, metadata={"doc": "hours per updatedFrom/updatedTo window"})
    lookback_days: int = field(default=7, metadata={"doc": "days harvested on the first run"})
    limit: int = field(default=100, metadata={"doc": "releases per page (1-100)"})
    stages: tuple[str, ...] = field(
        default=("planning", "tender"), metadata={"doc": "planning, tender, award; empty = all"}
    )


class FindATender(WindowedSource):
    """
    Publisher
      Cabinet Office: Find a Tender, the UK's notice service since 2021 and the Central
      Digital Platform for every Procurement Act 2023 notice since February 2025.
    URL
      https://www.find-tender.service.gov.uk/api/1.0/ocdsReleasePackages
    Caveats
      Windows of 6 hours: longer ones miss releases. 12 requests per 2 minutes, answered
      with 429 or 503 and usually Retry-After. Numbers such as 1e9999 are not valid
      JSON floats. Deadlines may be dates without a time. Scottish notices are copies
      of PCS ones whose canonical link names the PCS ocid (merge key "pcs:NNN").
    """

    name: str = "find_a_tender"
    Options: ClassVar[type[FindATenderOptions]] = FindATenderOptions
    http_defaults: ClassVar[Mapping[str, Any]] = {
        "throttle": {429: 30.0, 503: 30.0},
        "delay": 10.0,
    }

    def step(self) -> timedelta:
        """Length of one search window."""
        return timedelta(hours=self.options.window_hours)

    def window_params(self, start: datetime, end: datetime) -> dict[str, Any]:
        """updatedFrom/updatedTo as YYYY-MM-DDTHH:MM:SS in UTC, without a zone."""
        return {
            "updatedFrom": start.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S"),
            "updatedTo": end.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S"),
        }
