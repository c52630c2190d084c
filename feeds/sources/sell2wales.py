"""Sell2Wales: the Welsh Government's OCDS notice API (same platform as PCS)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from feeds.sources.proactis import ProactisOptions, ProactisSource


@dataclass(frozen=True)
class Sell2WalesOptions(ProactisOptions):
    """Sell2Wales settings; notice types 51 (invitation to tender) and 52 (PIN)."""

    base_url: str = field(
        default="https://api.sell2wales.gov.wales/v1",
        metadata={"doc": "API root, up to and including /v1"},
    )
    notice_types: tuple[int, ...] = field(
        default=(51, 52), metadata={"doc": "noticeType codes to sweep each month"}
    )


class Sell2Wales(ProactisSource):
    """
    Publisher
      Welsh Government: Sell2Wales, the national procurement website for Wales.
    URL
      https://api.sell2wales.gov.wales/v1/Notices?dateFrom=mm-yyyy&noticeType=N&outputType=0&locale=2057
    Caveats
      Same platform and quirks as PCS. Site notice types are 51 ITT, 52 PIN, 53 award
      (54-56 sub-contract); OJEU types 1-25 duplicate Find a Tender. In September 2026
      every /v1/Notices call answered HTTP 500 while /v1/Notice?id= worked: expect
      failed months, which are retried on the next run.
    """

    name: str = "sell2wales"
    Options: ClassVar[type[ProactisOptions]] = Sell2WalesOptions
    notice_type_codes: ClassVar[dict[int, str]] = {52: "pipeline", 53: "award", 1: "pipeline"}
    # 2057 = English; 1106 would ask for Welsh.
    extra_params: ClassVar[Mapping[str, Any]] = {"locale": 2057}
