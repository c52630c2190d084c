"""Consortium partners: small sets of members who, together, can deliver one notice.

A notice asks for several things at once, and a social enterprise rarely has them all:

- each lot, as the engine matches that lot's own text, codes, place and value;
- the kinds of work the notice names (its CPV codes, by class), through the members'
  keywords and codes;
- the places of delivery: the areas each lot's title names, else the notice's regions;
- a supported business, when the contract is reserved for them;
- the capacity: a lot's value within a member's size range, and the whole contract
  within the partners' combined range.

`coverage` says which member covers what; `suggest` picks the smallest sets that cover
the most, best first, and says in words what each member brings and what nobody covers.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from .cpv import cpv_label, significant
from .engine import Matcher
from .errors import AreaError
from .fit import money
from .regions import inside, notice_regions, region_label, resolve_area
from .types import Match, Notice, Profile

MAX_PARTNERS = 4
SUGGESTIONS = 3
# How many of the best-covering members the sets are made from: 20 choose 4 is a few
# thousand sets, enough to find the small covering ones without trying every member.
CANDIDATES = 20
# Past these, a notice's kinds of work and places are listed by the first ones only.
MAX_WORK = 6
MAX_PLACES = 10
# What a set must cover first: the lots (the work itself), then the reserved status and
# the size of the whole contract, then the places, then each kind of work.
WEIGHTS = {"lot": 8, "reserved": 4, "capacity": 4, "place": 2, "work": 1}
LOT_LABEL = 70


@dataclass(frozen=True)
class Need:
    """One thing the notice asks for, in words ("Lot 2: Aberdeenshire North")."""

    key: str
    kind: str
    label: str

    @property
    def weight(self) -> int:
        return WEIGHTS[self.kind]


@dataclass(frozen=True)
class Part:
    """What one member could bring: the needs it covers, each in words."""

    member: str
    needs: frozenset[str]
    words: tuple[str, ...]
    # The lots it covers, by position in the notice's lots (empty: no lots, or none).
    lots: tuple[int, ...]
    score: int


@dataclass(frozen=True)
class Coverage:
    """A notice's needs, and each member's part; a member covering nothing is left out."""

    needs: tuple[Need, ...]
    parts: dict[str, Part]
    # The whole contract's value, and each member's largest contract (None: no limit).
    value: float | None
    capacity: dict[str, float | None]


@dataclass(frozen=True)
class Suggestion:
    """A set of members, what each brings, and what nobody in it covers, in words."""

    members: tuple[str, ...]
    parts: tuple[Part, ...]
    missing: tuple[str, ...]

    @property
    def complete(self) -> bool:
        return not self.missing


def lot_label(index: int, title: str) -> str:
    """A lot as people refer to it: its own title when it says "Lot N", else numbered."""
    title = " ".join(title.split())
    if len(title) > LOT_LABEL:
        title = title[: LOT_LABEL - 1].rstrip() + "…"
    if re.match(r"(?i)lot\b", title):
        return title
    return f"Lot {index + 1}: {title}" if title else f"Lot {index + 1}"


def places_named(text: str) -> frozenset[str]:
    """The NUTS codes of the areas a short text names ("Lot 6: Angus West and Dundee")."""
    return frozenset().union(*named_places(text).values()) if text else frozenset()


def named_places(text: str) -> dict[str, frozenset[str]]:
    """The areas a short text names, as written, with their NUTS codes.

    Longest names first, each word used once; words that name no area are skipped, so
    a lot titled by its goods names none.
    """
    words = re.findall(r"[A-Za-z][A-Za-z'&.-]*", text)
    found: dict[str, frozenset[str]] = {}
    used = [False] * len(words)
    for size in range(min(5, len(words)), 0, -1):
        for start in range(len(words) - size + 1):
            if any(used[start : start + size]):
                continue
            phrase = " ".join(words[start : start + size])
            try:
                codes = resolve_area(phrase)
            except AreaError:
                continue
            if "UK" in codes or phrase.lower() in _TOO_WIDE:
                continue
            found[phrase] = codes
            used[start : start + size] = [True] * size
    return found


# Words that resolve to an area but say nothing about where a lot is delivered.
_TOO_WIDE = frozenset({"england", "scotland", "wales", "nationwide", "any region"})


def _most_specific(codes: Iterable[str]) -> list[str]:
    """Codes with those that hold a more specific listed code left out, sorted."""
    codes = set(codes)
    return sorted(c for c in codes if not any(o != c and o.startswith(c) for o in codes))


def _work_classes(notice: Notice) -> list[str]:
    """The kinds of work the notice's CPV codes name, one code per class (first four
    digits), main first. A division or group code ("45000000 Construction work") names
    a whole field, not a kind of work a partner brings, and is left out."""
    seen: dict[str, str] = {}
    for code in (*notice.cpv, *(c for lot in notice.lots for c in lot.cpv)):
        if len(significant(code)) >= 4:
            seen.setdefault(code[:4], code)
    return list(seen.values())[:MAX_WORK]


def _lot_notices(notice: Notice) -> list[tuple[Need, Notice]]:
    """One need and one engine notice per lot (or the whole contract when it has none)."""
    if not notice.lots:
        whole = Notice(
            id="lot:all",
            title=notice.title,
            description=notice.description,
            buyer=notice.buyer,
            cpv=notice.cpv,
            regions=notice.regions,
            place=notice.place,
            value=notice.value,
            reserved=notice.reserved,
            published=notice.published,
            deadline=notice.deadline,
        )
        return [(Need("lot:all", "lot", "the whole contract"), whole)]
    pairs = []
    area = notice_regions(notice.regions, notice.place)
    for index, lot in enumerate(notice.lots):
        places = _within(places_named(lot.title), area)
        pairs.append(
            (
                Need(f"lot:{index}", "lot", lot_label(index, lot.title)),
                Notice(
                    id=f"lot:{index}",
                    # A lot is read within its notice: "Lot 5: Moray" is about kitchens
                    # because the notice is a kitchen and bathroom framework.
                    title=f"{notice.title}: {lot.title}",
                    description="\n\n".join(filter(None, (lot.description, notice.description))),
                    buyer=notice.buyer,
                    cpv=lot.cpv or notice.cpv,
                    regions=tuple(sorted(places)) or notice.regions,
                    place=None if places else notice.place,
                    value=lot.value,
                    reserved=notice.reserved,
                    published=notice.published,
                    deadline=notice.deadline,
                ),
            )
        )
    return pairs


def _places(notice: Notice) -> list[tuple[str, str]]:
    """The places of delivery as (NUTS code, words), most specific first.

    Where the lots are places ("Lot 5: Moray"), each lot's own match already asks for a
    member who serves it, so the places come from the notice's regions only.
    """
    codes = _most_specific(notice_regions(notice.regions, notice.place))
    return [(code, region_label(code)) for code in codes][:MAX_PLACES]


def _within(codes: frozenset[str], area: frozenset[str]) -> frozenset[str]:
    """The codes that lie in (or hold part of) `area`; all of them when `area` is unknown.

    A lot's words are read inside its notice: "North East Scotland" in a Scottish notice is
    not England's North East, whose name the phrase begins with.
    """
    if not area:
        return codes
    return frozenset(c for c in codes if any(inside(c, a) or inside(a, c) for a in area))


def _areas(profile: Profile) -> frozenset[str] | None:
    """The NUTS codes a member serves; None for anywhere (no areas given)."""
    codes: set[str] = set()
    for area in profile.regions:
        try:
            codes |= resolve_area(area)
        except AreaError:
            continue
    return frozenset(codes) if profile.regions else None


def serves(profile: Profile, code: str) -> bool:
    """Whether a member works in a place: anywhere, inside its areas, or part of it."""
    areas = _areas(profile)
    if areas is None or "UK" in areas:
        return True
    return any(inside(code, area) or inside(area, code) for area in areas)


def _lot_values(notice: Notice) -> list[float | None]:
    """Each lot's value; where no lot gives one, the notice's value shared equally, which
    is what a framework of regional lots usually means."""
    values = [lot.value for lot in notice.lots]
    if notice.value is not None and notice.lots and all(v is None for v in values):
        return [notice.value / len(notice.lots)] * len(notice.lots)
    return values


def _fits_size(profile: Profile, value: float | None) -> bool:
    """A lot's value is within what the member can deliver (unknown values fit)."""
    return value is None or profile.max_value is None or value <= profile.max_value


def _what(match: Match) -> str:
    """The words a match rests on: the member's keyword, else the CPV label it reached."""
    for reason in match.reasons:
        if reason.kind == "keyword":
            quoted = re.search(r'"([^"]+)"', reason.text)
            if quoted:
                return quoted.group(1)
    for reason in match.reasons:
        if reason.kind == "cpv":
            label = re.search(r"\(([^)]+)\)", reason.text)
            return label.group(1) if label else reason.text
    return ""


def coverage(
    notice: Notice, matcher: Matcher, profiles: Sequence[Profile], threshold: float
) -> Coverage:
    """What each of `profiles` (all in `matcher`) covers of `notice`'s needs.

    A member covers a lot when the engine matches it to that lot at `threshold` and the
    lot's value is within its range; a kind of work when it matches that class's CPV
    label and code; a place when it serves it; the reserved status when it is a
    supported business.
    """
    by_id = {p.id: p for p in profiles}
    lots = _lot_notices(notice)
    works = [(code, cpv_label(code) or code) for code in _work_classes(notice)]
    work_notices = [Notice(id=f"work:{code}", title=label, cpv=(code,)) for code, label in works]
    needs: list[Need] = [need for need, _ in lots]
    if notice.reserved:
        needs.append(
            Need("reserved", "reserved", "a supported business (the contract is reserved)")
        )
    places = _places(notice)
    needs.extend(Need(f"place:{code}", "place", words) for code, words in places)
    needs.extend(Need(f"work:{code}", "work", label) for code, label in works)

    covered: dict[str, set[str]] = {p: set() for p in by_id}
    words: dict[str, list[str]] = {p: [] for p in by_id}
    lot_index: dict[str, list[int]] = {p: [] for p in by_id}
    best: dict[str, int] = dict.fromkeys(by_id, 0)
    lot_value = {f"lot:{i}": value for i, value in enumerate(_lot_values(notice))}
    lot_value["lot:all"] = notice.value
    # Where a lot is a place ("Lot 5: Moray"), its partner must work there: the engine
    # weighs a place among other things, and a strong keyword can outweigh it.
    lot_places = {
        f"lot:{i}": places_named(lot.title) & frozenset(sub.regions)
        for i, (lot, (_need, sub)) in enumerate(zip(notice.lots, lots, strict=False))
    }
    labels = {need.key: need.label for need in needs}
    for match in matcher.match([sub for _, sub in lots] + work_notices, threshold):
        member, key = match.profile_id, str(match.notice_id)
        if member not in by_id:
            continue
        if key.startswith("work:"):
            covered[member].add(key)
            continue
        if not _fits_size(by_id[member], lot_value.get(key)):
            continue
        if lot_places.get(key) and not any(serves(by_id[member], c) for c in lot_places[key]):
            continue
        covered[member].add(key)
        best[member] = max(best[member], match.score)
        what = _what(match)
        words[member].append(f"{labels[key]}, {what}" if what else labels[key])
        if key != "lot:all":
            lot_index[member].append(int(key.split(":")[1]))
    for member, profile in by_id.items():
        # Places, reserved status and kinds of work count only for a member that can do
        # some of the work itself.
        if not any(k.startswith("lot:") for k in covered[member]):
            continue
        if notice.reserved and profile.supported_business:
            covered[member].add("reserved")
            words[member].append("supported business")
        served = [(code, name) for code, name in places if serves(profile, code)]
        covered[member].update(f"place:{code}" for code, _name in served)
        if served and len(served) < len(places):
            words[member].append("serves " + _and([name for _code, name in served]))
    parts = {
        member: Part(
            member=member,
            needs=frozenset(covered[member]),
            words=tuple(words[member]),
            lots=tuple(sorted(lot_index[member])),
            score=best[member],
        )
        for member in by_id
        if any(k.startswith("lot:") for k in covered[member])
    }
    capacity = {member: by_id[member].max_value for member in parts}
    return Coverage(tuple(needs), parts, notice.value, capacity)


def _and(items: Sequence[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def suggest(
    cover: Coverage, max_partners: int = MAX_PARTNERS, count: int = SUGGESTIONS
) -> list[Suggestion]:
    """Up to `count` sets of at most `max_partners` members, best first.

    Best means: covers the most (lots first, see WEIGHTS), then fewer members, then the
    stronger matches. A set is only suggested when each of its members adds something
    the others don't, and not when it merely adds members to a better set.
    """
    needs = {need.key: need for need in cover.needs}
    bit = {key: 1 << i for i, key in enumerate(needs)}

    def big_enough(group: Sequence[Part]) -> bool:
        """Whether the partners together can take the whole contract (unknown: yes)."""
        limits = [cover.capacity[p.member] for p in group]
        return cover.value is None or None in limits or sum(limits) >= cover.value

    weight = {bit[k]: needs[k].weight for k in needs}

    def mask(part: Part) -> int:
        return sum(bit[k] for k in part.needs if k in bit)

    def value(covered: int) -> int:
        return sum(w for b, w in weight.items() if covered & b)

    def worth_without(group: Sequence[Part], left_out: Part) -> int:
        rest = [p for p in group if p is not left_out]
        return value(_union(masks, rest)) + WEIGHTS["capacity"] * big_enough(rest)

    ranked = sorted(cover.parts.values(), key=lambda p: (-value(mask(p)), -p.score, p.member))[
        :CANDIDATES
    ]
    masks = {p.member: mask(p) for p in ranked}
    found = []
    for size in range(1, max_partners + 1):
        for group in itertools.combinations(ranked, size):
            worth = value(_union(masks, group)) + WEIGHTS["capacity"] * big_enough(group)
            if size > 1 and any(worth_without(group, part) == worth for part in group):
                continue  # a member who adds nothing
            found.append((-worth, size, -sum(p.score for p in group), group))
    found.sort(key=lambda f: (f[0], f[1], f[2], [p.member for p in f[3]]))
    chosen: list[tuple[Part, ...]] = []
    for *_rank, group in found:
        members = {p.member for p in group}
        # Not a better set with members added, nor a part of one already suggested.
        if any(
            {p.member for p in c} <= members or members <= {p.member for p in c} for c in chosen
        ):
            continue
        chosen.append(group)
        if len(chosen) == count:
            break
    return [_suggestion(cover, needs, bit, masks, group) for group in chosen]


def _union(masks: dict[str, int], group: Sequence[Part]) -> int:
    covered = 0
    for part in group:
        covered |= masks[part.member]
    return covered


def _suggestion(
    cover: Coverage,
    needs: dict[str, Need],
    bit: dict[str, int],
    masks: dict[str, int],
    group: Sequence[Part],
) -> Suggestion:
    covered = 0
    for part in group:
        covered |= masks[part.member]
    missing = [f"no member covers {needs[k].label}" for k in needs if not covered & bit[k]]
    limits = [cover.capacity[p.member] for p in group]
    if cover.value is not None and None not in limits and sum(limits) < cover.value:
        missing.append(
            f"together they take contracts up to {money(sum(limits))}; "
            f"this one is worth {money(cover.value)}"
        )
    ordered = sorted(group, key=lambda p: (min(p.lots, default=99), -p.score, p.member))
    return Suggestion(
        members=tuple(p.member for p in ordered), parts=tuple(ordered), missing=tuple(missing)
    )


def suggest_partners(
    notice: Notice,
    matcher: Matcher,
    profiles: Sequence[Profile],
    threshold: float,
    max_partners: int = MAX_PARTNERS,
    count: int = SUGGESTIONS,
) -> list[Suggestion]:
    """`suggest` over `coverage`: the partner sets for a notice."""
    return suggest(coverage(notice, matcher, profiles, threshold), max_partners, count)
