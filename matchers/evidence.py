"""Evidence that a notice is about a keyword: in its text, and through its CPV codes."""

from __future__ import annotations

from dataclasses import dataclass

from .cpv import lineage, significant


@dataclass(frozen=True, slots=True)
class TextHit:
    """A keyword found in one field: strength (field weight applied), where, and the words."""

    strength: float
    kind: str
    lot: int
    words: tuple[str, ...]
    field: int = 0  # the field's place in the notice: title, description, then lots
    grid: int = 0  # strength on scoring's integer grid, for ranking as scoring does
    missing: tuple[str, ...] = ()  # the keyword's words not found (a partial match)


@dataclass(frozen=True, slots=True)
class CodeHit:
    """A notice CPV code related to a target code: strength, steps up each side, lot."""

    strength: float
    code: str
    target: str
    up_notice: int
    up_target: int
    lot: int


# How far above the code a keyword reaches (or a member listed) two codes may meet and
# still make a match by themselves. One step up is the same trade written less
# precisely ("Refuse disposal and treatment" over "Refuse recycling services"); from
# two steps up the common ancestor is a family of trades ("Accommodation services" over
# "Janitorial services"), which says a notice may include the member's work, not that it
# does: like a generic word, it counts only beside a keyword found in the notice.
ALONE_MAX_UP = 1


def code_strength(up_notice: int, up_target: int, narrower: float, broader: float) -> float:
    """Decay along the CPV tree: gentle below a target, steeper above or beside it."""
    return (narrower**up_notice) * (broader**up_target)


class CodeIndex:
    """Targets (codes reached from keywords or listed by members) by each of their ancestors.

    A notice code meets a target at their nearest common ancestor: walking up the
    notice code's lineage and looking each node up finds every related target
    without scanning them all. Codes meet through ancestors of at least
    `min_digits` significant digits; with `broad`, a broad target itself ("45", a
    division a member chose) is also met by the codes under it.
    """

    def __init__(
        self, min_digits: int, max_steps: int, narrower: float, broader: float, broad: bool = False
    ):
        self._nodes: dict[str, list[tuple[object, str, int, float]]] = {}
        self._min = min_digits
        self._max = max_steps
        self._narrower = narrower
        self._broader = broader
        self._broad = broad

    def add(self, owner: object, target: str, strength: float, related: bool = True) -> None:
        """Index a target code for an owner (a phrase id or a profile id); without
        `related`, only notice codes at or under the target meet it."""
        for j, node in enumerate(lineage(target)):
            if (
                (len(significant(node)) < self._min and not (self._broad and j == 0))
                or j > self._max
                or (j and not related)
            ):
                break
            self._nodes.setdefault(node, []).append((owner, target, j, strength))

    def lookup(
        self, codes: list[tuple[str, int]]
    ) -> tuple[dict[object, CodeHit], dict[object, CodeHit]]:
        """Best hit per owner for a notice's (code, lot) pairs, and best among the hits
        that may make a match by themselves (see ALONE_MAX_UP): the same dict, unless
        some owner's best hit meets far up."""
        out = self._walk(codes, self._max)
        if any(hit.up_target > ALONE_MAX_UP for hit in out.values()):
            return out, self._walk(codes, ALONE_MAX_UP)
        return out, out

    def _walk(self, codes: list[tuple[str, int]], max_up: int) -> dict[object, CodeHit]:
        out: dict[object, CodeHit] = {}
        nodes = self._nodes
        for code, lot in codes:
            for i, node in enumerate(lineage(code)):
                if i > self._max:
                    break
                broad = len(significant(node)) < self._min
                if broad and not self._broad:
                    break
                for owner, target, j, strength in nodes.get(node, ()):
                    if i + j > self._max or (broad and j) or j > max_up:
                        continue
                    s = strength * code_strength(i, j, self._narrower, self._broader)
                    prev = out.get(owner)
                    if prev is None or s > prev.strength:
                        out[owner] = CodeHit(s, code, target, i, j, lot)
        return out
