"""What scoring needs to know about notices, beyond their text, as arrays.

Values, reserved flags, CPV code lists and NUTS region sets. Notices share code
lists and places far more often than text, so each is worked out once per Matcher
(`Keys`) and a batch refers to them by id.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .arrays import INDEX
from .cpv import normalise_code
from .regions import notice_regions
from .types import Notice


@dataclass(slots=True)
class NoticeFacts:
    """What scoring needs of each notice of a batch, as arrays."""

    value: np.ndarray  # NaN when unknown
    reserved: np.ndarray
    code_set: np.ndarray  # index into `sets`
    sets: list[tuple[tuple[str, int], ...]]  # distinct (CPV code, lot) lists
    set_keys: list[tuple[int, int]]  # a cheap cache key for each of them
    region_set: np.ndarray  # index into `regions`
    regions: list[frozenset[str]]
    lot_values: np.ndarray  # notices with a lot whose value is known
    lot_start: np.ndarray  # where each notice's lots start in `lot_value`
    lot_count: np.ndarray
    lot_value: np.ndarray  # every lot's value, NaN when unknown


class Keys:
    """CPV code lists and NUTS region sets by the notice fields they come from.

    Notices share both far more often than text, so each is worked out once per
    Matcher; ids are handed out in order of first sight.
    """

    LIMIT = 200_000  # entries kept before starting afresh (between batches only)
    _generations = itertools.count()

    def __init__(self) -> None:
        # Ids are only meaningful within one generation (caches elsewhere key on both).
        self.generation = next(Keys._generations)
        self._codes: dict[object, int] = {}
        self.code_sets: list[tuple[tuple[str, int], ...]] = []
        self._places: dict[tuple[tuple[str, ...], str | None], int] = {}
        self.region_sets: list[frozenset[str]] = []
        self._normal: dict[str, str] = {}

    def trim(self) -> None:
        """Forget everything if the caches have grown too big."""
        if len(self._codes) + len(self._places) > self.LIMIT:
            self.__init__()  # type: ignore[misc]

    def _code(self, raw: str) -> str:
        code = self._normal.get(raw)
        if code is None:
            code = self._normal[raw] = normalise_code(raw)
        return code

    def codes(self, n: Notice) -> int:
        """Id of the notice's (CPV code, lot) list; lot codes count too, with their lot."""
        key = (n.cpv, tuple(lot.cpv for lot in n.lots)) if n.lots else n.cpv
        k = self._codes.get(key)
        if k is None:
            codes = [(self._code(x), 0) for x in n.cpv]
            codes += [(self._code(x), j) for j, lot in enumerate(n.lots, 1) for x in lot.cpv]
            k = self._codes[key] = len(self.code_sets)
            self.code_sets.append(tuple(codes))
        return k

    def places(self, n: Notice) -> int:
        """Id of the notice's NUTS regions (its `regions`, else what `place` names)."""
        key = (n.regions, n.place)
        k = self._places.get(key)
        if k is None:
            k = self._places[key] = len(self.region_sets)
            self.region_sets.append(notice_regions(n.regions, n.place))
        return k


def _local(ids: list[int], table: list) -> tuple[np.ndarray, list, list[int]]:
    """Batch-local ids (0..k) for global ones, the k entries, and their global ids."""
    seen: dict[int, int] = {}
    local = [seen.setdefault(g, len(seen)) for g in ids]
    return np.array(local, INDEX), [table[g] for g in seen], list(seen)


def facts_of(notices: Sequence[Notice], keys: Keys) -> NoticeFacts:
    """Values, reserved flags, CPV code sets and region sets of a batch."""
    value = np.array([n.value for n in notices], np.float64)
    reserved = np.array([n.reserved for n in notices], bool)
    code_set, sets, code_ids = _local([keys.codes(n) for n in notices], keys.code_sets)
    region_set, regions, _ = _local([keys.places(n) for n in notices], keys.region_sets)
    lot_values = np.zeros(len(notices), bool)
    lot_start = np.zeros(len(notices), INDEX)
    lot_count = np.array([len(n.lots) for n in notices], INDEX)
    lot_value: list[float | None] = []
    for i, n in enumerate(notices):
        if n.lots:
            lot_start[i] = len(lot_value)
            lot_value += [lot.value for lot in n.lots]
            lot_values[i] = any(lot.value is not None for lot in n.lots)
    return NoticeFacts(
        value,
        reserved,
        code_set,
        sets,
        [(keys.generation, k) for k in code_ids],
        region_set,
        regions,
        lot_values,
        lot_start,
        lot_count,
        np.array(lot_value, np.float64),
    )
