"""Plain data that crosses the seam between the harvesters and the broker."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

NOTICE_TYPES = ("pipeline", "tender", "award", "amendment")


@dataclass(frozen=True, slots=True)
class Money:
    """An amount with its currency; min/max hold a published range."""

    amount: float | None
    currency: str | None = None
    min: float | None = None
    max: float | None = None


@dataclass(frozen=True, slots=True)
class Lot:
    """One lot of a tender, matched on its own text and CPV codes."""

    id: str | None
    title: str
    description: str = ""
    cpv: tuple[str, ...] = ()
    value: Money | None = None
    reserved: bool = False


@dataclass(frozen=True, slots=True)
class Notice:
    """One notice from one source, normalised.

    `source` names the publisher (``pcs``, ``sell2wales``, ``contracts_finder``,
    ``find_a_tender``, ...), not the configured harvester, so a file import and a
    harvest of the same publisher land on the same stored record.
    """

    source: str
    source_id: str
    title: str
    description: str = ""
    url: str | None = None
    buyer: str | None = None
    cpv: tuple[str, ...] = ()
    regions: tuple[str, ...] = ()
    place: str | None = None
    value: Money | None = None
    published: datetime | None = None
    deadline: datetime | None = None
    procedure: str | None = None
    notice_type: str = "tender"
    status: str | None = None
    lots: tuple[Lot, ...] = ()
    reserved: bool = False
    reserved_kinds: tuple[str, ...] = ()
    sme: bool | None = None
    vcse: bool | None = None
    community_benefits: bool = False
    # Keys that identify the same opportunity on another publisher, e.g. "pcs:843372"
    # for a Find a Tender release whose canonical link is PCS notice 843372.
    merge_keys: tuple[str, ...] = ()
    # Problems that did not stop the record, e.g. "value.amount 1e9999 is not a number".
    problems: tuple[str, ...] = ()
    # Which release this notice was built from; the latest release date wins.
    release_id: str | None = None
    release_date: datetime | None = None
    # The source payload it was built from: an OCDS release dict, the list of releases
    # compiled into it, an XML string...
    raw: Any = field(default=None, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class Rejection:
    """A record that could not be turned into a notice, and why."""

    source: str
    position: str
    reason: str
    record_id: str | None = None


@dataclass(frozen=True, slots=True)
class Page:
    """One unit of harvesting: what to store, what was rejected, and the state after it.

    The broker stores `notices` and `rejections` and saves `state` in one transaction,
    so a crash between pages resumes from the last page stored.
    """

    label: str
    notices: tuple[Notice, ...] = ()
    rejections: tuple[Rejection, ...] = ()
    state: Mapping[str, Any] | None = None
    # A failure that lost this page (but not the harvest), e.g. one month of PCS.
    error: str | None = None


@dataclass(frozen=True, slots=True)
class Response:
    """What `feeds.http` returns for one request."""

    url: str
    status: int
    headers: Mapping[str, str]
    content: bytes


class Fetch(Protocol):
    """The network, as harvesters see it (implemented by `feeds.http.Fetcher`)."""

    def get(self, url: str, params: Mapping[str, Any] | None = None) -> Response: ...

    def post_json(self, url: str, body: Any) -> Response: ...


class Harvester(Protocol):
    """A configured source: walks its pages from a saved state."""

    name: str

    def pages(self, fetch: Fetch, state: Mapping[str, Any], now: datetime) -> Iterator[Page]: ...
