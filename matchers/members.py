"""Profiles compiled for scoring, and the Roster: every member as columns of arrays.

The MemberIndex changes one profile at a time. Scoring reads a Roster, an
immutable snapshot of it made on demand: members by slot, which members use each
phrase, their sizes, feedback and areas as arrays, and caches of per-place and
per-CPV-set evidence. A match keeps the Roster that scored it, so its reasons can
be written later even if the profiles have changed since.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from .arrays import INDEX, Growing, ragged
from .config import MatchConfig
from .cpv import normalise_code
from .errors import AreaError, ProfileError
from .evidence import CodeHit, CodeIndex
from .fit import Areas
from .regions import resolve_area
from .types import Profile

# (member slots, best CPV strengths, best strengths that may make a match alone)
Evidence3 = tuple[np.ndarray, np.ndarray, np.ndarray]

# Place states, as stored in the Roster's per-region arrays.
UNKNOWN, INSIDE, BROADER, OUTSIDE = 0, 1, 2, 3


@dataclass(frozen=True, slots=True)
class Member:
    """A profile compiled for scoring: phrase ids, NUTS areas and CPV codes."""

    profile: Profile
    keywords: tuple[int, ...]
    excludes: tuple[int, ...]
    areas: Areas | None
    cpv: tuple[str, ...]
    feedback: dict[str, int]


class MemberIndex:
    """Members by id, in the order they were added."""

    def __init__(self) -> None:
        self.members: dict[str, Member] = {}
        self.version = 0

    def update(self, profile: Profile, phrase: Callable[[str], int | None]) -> Member:
        """Compile and index a profile, replacing any with the same id."""
        if not profile.id:
            raise ProfileError("a profile needs an id")
        keywords = tuple(dict.fromkeys(p for p in map(phrase, profile.keywords) if p is not None))
        excludes = tuple(dict.fromkeys(p for p in map(phrase, profile.exclude) if p is not None))
        try:
            codes = tuple(dict.fromkeys(normalise_code(c) for c in profile.cpv))
        except ValueError as e:
            raise ProfileError(f"profile {profile.id!r}: {e}") from None
        if not keywords and not codes:
            raise ProfileError(f"profile {profile.id!r} has no usable keywords or CPV codes")
        areas = None
        if profile.regions:
            found: dict[str, str] = {}
            try:
                for name in profile.regions:
                    for code in sorted(resolve_area(name)):
                        found.setdefault(code, name)
            except AreaError as e:
                raise ProfileError(f"profile {profile.id!r}: {e}") from None
            areas = Areas(frozenset(found), found)
        member = Member(profile, keywords, excludes, areas, codes, dict(profile.feedback))
        # Replacing keeps the member's place in the order, as a dict assignment does.
        self.members[profile.id] = member
        self.version += 1
        return member

    def remove(self, profile_id: str) -> None:
        """Forget a profile."""
        if self.members.pop(profile_id, None) is not None:
            self.version += 1


def _csr(
    lists: Sequence[Sequence[int]], size: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(start, count, items, place): for each key 0..size-1 the lists holding it, and
    where in that list it is; `lists` is indexed by item."""
    pairs = sorted((k, s, i) for s, keys in enumerate(lists) for i, k in enumerate(keys))
    keys = np.array([k for k, _, _ in pairs], INDEX)
    items = np.array([s for _, s, _ in pairs], INDEX)
    place = np.array([i for _, _, i in pairs], INDEX)
    count = np.bincount(keys, minlength=size).astype(INDEX)
    start = np.concatenate(([0], np.cumsum(count)[:-1])).astype(INDEX)
    return start, count, items, place


class Roster:
    """An immutable snapshot of the members as arrays, by slot (their order)."""

    def __init__(self, members: Sequence[Member], n_phrases: int, config: MatchConfig):
        c = config
        self.members = list(members)
        self.ids = [m.profile.id for m in self.members]
        self.slot = {pid: i for i, pid in enumerate(self.ids)}
        n = self.size = len(self.members)
        # Ties are listed by profile id.
        self.rank = np.empty(n, INDEX)
        self.rank[np.argsort(np.array(self.ids, dtype=object), kind="stable")] = np.arange(n)
        # Phrase -> the members using it; `keyword_place`: its place in their keywords.
        start, count, items, place = _csr([m.keywords for m in self.members], n_phrases)
        self.users = (start, count, items)
        self.keyword_place = place
        self.excluders = _csr([m.excludes for m in self.members], n_phrases)[:3]
        self.has_excludes = any(m.excludes for m in self.members)

        def column(get: Callable[[Profile], float | None]) -> np.ndarray:
            return np.array([get(m.profile) for m in self.members], np.float64)

        self.min_value = column(lambda p: p.min_value)
        self.max_value = column(lambda p: p.max_value)
        self.has_range = ~(np.isnan(self.min_value) & np.isnan(self.max_value))
        # Members with the same size range share an id (their size reasons are the same).
        ranges: dict[tuple[float | None, float | None], int] = {}
        self.range_id = np.array(
            [
                ranges.setdefault((m.profile.min_value, m.profile.max_value), len(ranges))
                for m in self.members
            ],
            INDEX,
        )
        self.supported = np.array([m.profile.supported_business for m in self.members], bool)
        fb = [m.feedback for m in self.members]
        self.too_big = np.array([f.get("too_big", 0) for f in fb], INDEX)
        self.too_far = np.array([f.get("too_far", 0) for f in fb], INDEX)
        self.timescale = np.array([f.get("timescale", 0) for f in fb], INDEX)
        self.accreditation = np.array([f.get("no_accreditation", 0) for f in fb], INDEX)
        self.has_feedback = (
            (self.too_big > 0)
            | (self.too_far > 0)
            | (self.timescale > 0)
            | (self.accreditation > 0)
        )
        # "too big" compares with the smallest of the member's ceilings that are set.
        self.ceiling = np.array(
            [
                min(
                    (v for v in (m.profile.max_value, m.profile.declined_value) if v),
                    default=np.nan,
                )
                for m in self.members
            ],
            np.float64,
        )
        self.saturation = c.feedback_saturation
        # Places: which members hold an area, and which serve part of a wider region.
        self._holders: dict[str, list[int]] = {}
        self._within: dict[str, list[int]] = {}
        self.no_area = np.zeros(n, bool)
        for s, m in enumerate(self.members):
            if m.areas is None:
                self.no_area[s] = True
                continue
            for a in m.areas.codes:
                self._holders.setdefault(a, []).append(s)
                # NUTS codes nest by prefix: a member in UKM82 serves part of UKM8 and UKM.
                for k in range(2, len(a)):
                    self._within.setdefault(a[:k], []).append(s)
        self._places: dict[frozenset[str], np.ndarray] = {}
        # Explicit member codes, looked up along the CPV tree.
        self.explicit = CodeIndex(
            c.cpv_min_common_digits,
            c.cpv_max_steps,
            c.cpv_narrower_decay,
            c.cpv_broader_decay,
            broad=True,
        )
        owners: dict[str, list[int]] = {}
        for s, m in enumerate(self.members):
            for code in m.cpv:
                if code not in owners:
                    owners[code] = []
                    self.explicit.add(code, code, 1.0)
                owners[code].append(s)
        self.code_owners = {k: np.array(v, INDEX) for k, v in owners.items()}
        self._codes: dict[tuple[tuple[str, int], ...], Evidence3] = {}
        self._single: dict[str, Evidence3] = {}
        self.n_phrases = n_phrases
        self._reset_groups()

    # Groups: the members a notice can match at all, by what rules the others out.

    def _reset_groups(self) -> None:
        self._group_ids: dict[bytes, int] = {}
        self._group_masks: list[np.ndarray] = []
        self._group_start = Growing(INDEX)
        self._group_count = Growing(INDEX)
        self._group_items = Growing(INDEX)
        self._group_codes: dict[tuple[object, int], Evidence3] = {}
        self.group_cache: dict[object, int] = {}  # scoring's (regions, ...) -> group

    def groups(self, masks: np.ndarray) -> np.ndarray:
        """Group id for each row of `masks` (which members are open), registered on first use.

        A group keeps its own phrase -> member lists, so members ruled out never cost a row.
        """
        if len(self._group_masks) > 1024:
            self._reset_groups()
        out = np.empty(len(masks), INDEX)
        for i, mask in enumerate(masks):
            key = np.packbits(mask).tobytes()
            g = self._group_ids.get(key)
            if g is None:
                g = self._group_ids[key] = len(self._group_masks)
                self._group_masks.append(mask.copy())
                _, count, items = self.users
                keep = mask[items]
                owner = np.repeat(np.arange(self.n_phrases, dtype=INDEX), count)[keep]
                n = np.bincount(owner, minlength=self.n_phrases).astype(INDEX)
                first = len(self._group_items)
                self._group_start.extend(first + np.concatenate(([0], np.cumsum(n)[:-1])))
                self._group_count.extend(n)
                self._group_items.extend(items[keep])
            out[i] = g
        return out

    def group_users(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(start, count, items) indexed by group * n_phrases + phrase."""
        return self._group_start.view, self._group_count.view, self._group_items.view

    def group_code_evidence(
        self, codes: tuple[tuple[str, int], ...], key: object, group: int, derived: CodeIndex
    ) -> Evidence3:
        """code_evidence() for the members open in a group; `key` names `codes` cheaply."""
        found = self._group_codes.get((key, group))
        if found is None:
            if len(self._group_codes) > 262_144:
                self._group_codes.clear()
            slots, strength, alone = self.code_evidence(codes, derived)
            keep = self._group_masks[group][slots]
            found = (slots[keep], strength[keep], alone[keep])
            self._group_codes[(key, group)] = found
        return found

    def places(self, regions: frozenset[str]) -> np.ndarray:
        """Each member's place state (UNKNOWN, INSIDE, BROADER, OUTSIDE) for these regions."""
        states = self._places.get(regions)
        if states is None:
            states = np.full(self.size, UNKNOWN, np.int8)
            if regions:
                inside: set[int] = set()
                broader: set[int] = set()
                for r in regions:
                    # Prefixes of the region ("UK", "UKM", "UKM8" for UKM82) hold it.
                    for k in range(2, len(r) + 1):
                        inside.update(self._holders.get(r[:k], ()))
                    broader.update(self._within.get(r, ()))
                states[~self.no_area] = OUTSIDE
                states[sorted(broader - inside)] = BROADER
                states[sorted(inside)] = INSIDE
            if len(self._places) > 4096:
                self._places.clear()
            self._places[regions] = states
        return states

    def code_evidence(self, codes: tuple[tuple[str, int], ...], derived: CodeIndex) -> Evidence3:
        """(slots, strengths, strengths alone): each member's best CPV evidence for a
        notice's codes, and the best of what may make a match by itself (see
        evidence.ALONE_MAX_UP; 0 where there is none)."""
        found = self._codes.get(codes)
        if found is None:
            per_code = [
                self._code_evidence(code, derived)
                for code in dict.fromkeys(code for code, _ in codes)
            ]
            if not per_code:
                found = (np.zeros(0, INDEX), np.zeros(0, np.float64), np.zeros(0, np.float64))
            elif len(per_code) == 1:
                found = per_code[0]
            else:
                best = np.zeros(self.size, np.float64)
                best_alone = np.zeros(self.size, np.float64)
                for slots, strength, alone in per_code:
                    np.maximum.at(best, slots, strength)
                    np.maximum.at(best_alone, slots, alone)
                slots = np.flatnonzero(best > 0.0)
                found = (slots, best[slots], best_alone[slots])
            if len(self._codes) > 65536:
                self._codes.clear()
            self._codes[codes] = found
        return found

    def _code_evidence(self, code: str, derived: CodeIndex) -> Evidence3:
        """code_evidence() for one notice code, through keywords and members' own codes."""
        found = self._single.get(code)
        if found is None:
            derived_hits = derived.lookup([(code, 0)])
            explicit_hits = self.explicit.lookup([(code, 0)])
            best = self._strengths(derived_hits[0], explicit_hits[0])
            # Mostly no code meets far up, and the strengths are the same.
            same = derived_hits[1] is derived_hits[0] and explicit_hits[1] is explicit_hits[0]
            best_alone = best if same else self._strengths(derived_hits[1], explicit_hits[1])
            slots = np.flatnonzero(best > 0.0)
            found = (slots, best[slots], best_alone[slots])
            if len(self._single) > 65536:
                self._single.clear()
            self._single[code] = found
        return found

    def _strengths(
        self, derived: dict[object, CodeHit], explicit: dict[object, CodeHit]
    ) -> np.ndarray:
        """Each member's best strength among these hits of keywords' and members' codes."""
        best = np.zeros(self.size, np.float64)
        start, count, items = self.users
        pids = np.array([p for p in derived if p < len(count)], INDEX)
        strength = np.array([derived[p].strength for p in pids.tolist()], np.float64)
        n_users = count[pids]
        who = [items[ragged(start[pids], n_users)]]
        how = [np.repeat(strength, n_users)]
        for target, hit in explicit.items():
            who.append(self.code_owners[target])
            how.append(np.full(len(who[-1]), hit.strength))
        np.maximum.at(best, np.concatenate(who), np.concatenate(how))
        return best
