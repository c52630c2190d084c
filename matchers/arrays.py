"""Small numpy helpers shared by the vectorised parts of the engine."""

from __future__ import annotations

import numpy as np

INDEX = np.int64


def ragged(starts: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Concatenated ranges: starts[i], starts[i] + 1, ... (counts[i] of them) for each i."""
    counts = counts.astype(INDEX, copy=False)
    total = int(counts.sum())
    if total == 0:
        return np.zeros(0, INDEX)
    ends = np.cumsum(counts)
    shift = np.repeat(starts.astype(INDEX, copy=False) - (ends - counts), counts)
    return shift + np.arange(total, dtype=INDEX)


def owners(counts: np.ndarray) -> np.ndarray:
    """For ragged rows made from `counts`: the index of the range each row came from."""
    return np.repeat(np.arange(len(counts), dtype=INDEX), counts)


def group_starts(sorted_keys: np.ndarray) -> np.ndarray:
    """Where each run of equal keys starts in a sorted array."""
    if len(sorted_keys) == 0:
        return np.zeros(0, INDEX)
    change = np.empty(len(sorted_keys), bool)
    change[0] = True
    np.not_equal(sorted_keys[1:], sorted_keys[:-1], out=change[1:])
    return np.flatnonzero(change)


def distinct(values: np.ndarray) -> np.ndarray:
    """Sorted distinct values (np.unique, by sorting rather than hashing)."""
    values = np.sort(values)
    return values[group_starts(values)]


def first_max(values: np.ndarray, starts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per run (given by its starts): the maximum, and the index of its first occurrence."""
    best = np.maximum.reduceat(values, starts)
    sizes = np.diff(np.append(starts, len(values)))
    run = np.repeat(np.arange(len(starts)), sizes)
    at = np.flatnonzero(values == best[run])
    # Every run holds its maximum, and runs are in order: the first hit per run id.
    return best, at[group_starts(run[at])]


def first_min(values: np.ndarray, starts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per run: the minimum, and the index of its first occurrence."""
    best = np.minimum.reduceat(values, starts)
    sizes = np.diff(np.append(starts, len(values)))
    run = np.repeat(np.arange(len(starts)), sizes)
    at = np.flatnonzero(values == best[run])
    return best, at[group_starts(run[at])]


class Growing:
    """A 1-d array that grows by appending, with amortised copying."""

    __slots__ = ("_data", "_size")

    def __init__(self, dtype: type | np.dtype, capacity: int = 1024):
        self._data = np.zeros(capacity, dtype)
        self._size = 0

    def extend(self, values: np.ndarray | list) -> None:
        """Append values."""
        values = np.asarray(values, dtype=self._data.dtype)
        need = self._size + len(values)
        if need > len(self._data):
            grown = np.zeros(max(need, 2 * len(self._data)), self._data.dtype)
            grown[: self._size] = self._data[: self._size]
            self._data = grown
        self._data[self._size : need] = values
        self._size = need

    def __len__(self) -> int:
        return self._size

    @property
    def view(self) -> np.ndarray:
        """The values so far (a view: valid until the next extend)."""
        return self._data[: self._size]
