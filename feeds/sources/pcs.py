"""Public Contracts Scotland (PCS): the OCDS notice API."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from feeds.sources.proactis import ProactisOptions, ProactisSource


@dataclass(frozen=True)
class PcsOptions(ProactisOptions):
    """PCS settings; notice types 2 (contract notice), 102 (site notice), 101 (site PIN)."""

    base_url: str = field(
        default="https://api.publiccontractsscotland.gov.uk/v1",
        metadata={"doc": "API root, up to and including /v1"},
    )
    notice_types: tuple[int, ...] = field(
        default=(2, 102, 101), metadata={"doc": "noticeType codes to sweep each month"}
    )


class PublicContractsScotland(ProactisSource):
    """
    Publisher
      Scottish Government: Public Contracts Scotland, the mandatory portal for Scottish
      public bodies (goods/services from £50k, works from £2m; Quick Quotes below).
    URL
      https://api.publiccontractsscotland.gov.uk/v1/Notices?dateFrom=mm-yyyy&noticeType=N&outputType=0
    Caveats
      One call returns a whole month of one notice type; there is no paging. Some months
      fail with HTTP 500 on the server side, so each month is independent. A package
      without `releases` is an empty month. noticeType 2 duplicates Find a Tender (FTS
      copies link back with a canonical PCS link); 102 is the below-threshold feed.
      The API host omits an intermediate TLS certificate: give HttpPolicy.verify a CA
      bundle that has it if verification fails.
    """

    name: str = "pcs"
    Options: ClassVar[type[ProactisOptions]] = PcsOptions
    notice_type_codes: ClassVar[dict[int, str]] = {
        1: "pipeline",
        101: "pipeline",
        3: "award",
        103: "award",
        104: "award",
    }
