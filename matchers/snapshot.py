"""What scoring read, kept for writing reasons later, and the sentences shared across them."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from .config import MatchConfig
from .evidence import CodeIndex
from .index import KeywordIndex
from .keywords import Phrase
from .members import Roster
from .types import Reason
from .vocab import Vocabulary


class Sentences:
    """Reasons shared across notices (CPV, place, size), by id and by what they say."""

    # Kept before starting afresh (between blocks only): sentences, sets of notice codes
    # and sets of regions (each of those holds arrays over the members).
    LIMIT = 200_000
    LIMIT_CODES = 20_000
    LIMIT_PLACES = 2_000

    def __init__(self) -> None:
        # Reasons may be read on several threads: ids are handed out under this lock.
        self.lock = threading.RLock()
        self.items: list[Reason] = []
        self._ids: dict[object, int] = {}
        # (a notice's codes, alone) -> (member slots, their CPV reason ids), by slot; see
        # explain._code_ids.
        self.codes: dict[
            tuple[tuple[tuple[str, int], ...], bool], tuple[np.ndarray, np.ndarray]
        ] = {}
        # Regions -> per member slot: place reason id (-2: not yet worked out), state.
        self.places: dict[frozenset[str], tuple[np.ndarray, np.ndarray]] = {}

    def id(self, key: object, make: Callable[[], Reason | None]) -> int:
        """The id of the sentence `key` names, written by `make` the first time (-1: none)."""
        found = self._ids.get(key)
        if found is None:
            reason = make()
            found = -1
            if reason is not None:
                found = len(self.items)
                self.items.append(reason)
            self._ids[key] = found
        return found

    def trim(self) -> None:
        """Start afresh if the caches have grown too big."""
        if (
            len(self.items) + len(self._ids) > self.LIMIT
            or len(self.codes) > self.LIMIT_CODES
            or len(self.places) > self.LIMIT_PLACES
        ):
            lock = self.lock
            self.__init__()  # type: ignore[misc]
            self.lock = lock


@dataclass(frozen=True, slots=True)
class Snapshot:
    """Everything scoring read: reasons written later use the same."""

    config: MatchConfig
    roster: Roster
    index: KeywordIndex
    phrases: list[Phrase]  # append-only: later phrases are never read through this index
    derived: CodeIndex
    vocab: Vocabulary  # grows, but what a word stands for never changes
    text_rank: np.ndarray  # phrase id -> place of its text in sorted order (ties in reasons)
    sentences: Sentences = field(default_factory=Sentences)
