"""Plain frozen data that crosses the seam between the broker and the engine."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, overload

REASON_KINDS = ("keyword", "cpv", "region", "value", "reserved", "exclude", "feedback")
# Why a member says "not for us", each as the member's form words it: the one list of
# them. The engine counts each member's answers by these keys as feedback.
FEEDBACK_REASONS = {
    "too_big": "It's too big for us",
    "too_far": "It's too far away",
    "no_accreditation": "We don't have the accreditation it asks for",
    "timescale": "The timescale doesn't work for us",
    "other": "Another reason",
}


@dataclass(frozen=True, slots=True)
class Lot:
    """One lot of a notice, matched on its own text and CPV codes."""

    title: str
    description: str = ""
    cpv: tuple[str, ...] = ()
    value: float | None = None


@dataclass(frozen=True, slots=True)
class Notice:
    """A tender notice as the engine sees it; only `id` and `title` are required."""

    id: str | int
    title: str
    description: str = ""
    buyer: str | None = None
    cpv: tuple[str, ...] = ()
    regions: tuple[str, ...] = ()
    place: str | None = None
    value: float | None = None
    reserved: bool = False
    lots: tuple[Lot, ...] = ()
    # ISO-8601 strings; only their difference (the tender period) is used, never a clock.
    published: str | None = None
    deadline: str | None = None


@dataclass(frozen=True, slots=True)
class Profile:
    """A member's capability profile.

    `regions` holds what the member typed (council names, GSS or NUTS codes,
    "Scotland", "UK"); `feedback` counts "not for us" answers by reason, and
    `declined_value` is the typical value of the notices declined as too big.
    """

    id: str
    name: str = ""
    keywords: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    cpv: tuple[str, ...] = ()
    regions: tuple[str, ...] = ()
    min_value: float | None = None
    max_value: float | None = None
    supported_business: bool = False
    feedback: Mapping[str, int] = field(default_factory=dict, hash=False)
    declined_value: float | None = None


@dataclass(frozen=True, slots=True)
class Reason:
    """Why a score moved: `kind` is one of REASON_KINDS, `text` a sentence for people."""

    kind: str
    text: str


class LazyReasons(Sequence[Reason]):
    """Reasons written on first read: a large batch yields millions of matches, most never shown.

    Equal to (and hashes like) the tuple of its reasons.
    """

    __slots__ = ("_args", "_build", "_items")

    def __init__(self, build: Callable[..., tuple[Reason, ...]], *args: Any):
        self._build: Callable[..., tuple[Reason, ...]] | None = build
        self._args = args
        self._items: tuple[Reason, ...] = ()

    def _all(self) -> tuple[Reason, ...]:
        if self._build is not None:
            self._items = self._build(*self._args)
            self._build, self._args = None, ()
        return self._items

    @overload
    def __getitem__(self, i: int) -> Reason: ...
    @overload
    def __getitem__(self, i: slice) -> tuple[Reason, ...]: ...
    def __getitem__(self, i: int | slice) -> Reason | tuple[Reason, ...]:
        return self._all()[i]

    def __len__(self) -> int:
        return len(self._all())

    def __iter__(self) -> Iterator[Reason]:
        return iter(self._all())

    # Comparing forces the reasons to be written: equality must mean the same sentences.
    def __eq__(self, other: object) -> bool:
        if isinstance(other, Sequence):
            return self._all() == tuple(other)
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self._all())

    def __repr__(self) -> str:
        return repr(self._all())


@dataclass(frozen=True, slots=True)
class Match:
    """A scored (profile, notice) pair with its reasons, strongest evidence first."""

    profile_id: str
    notice_id: str | int
    score: int
    reasons: Sequence[Reason]
