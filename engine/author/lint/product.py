"""Enumerating assignments with the set of conjunctions each one satisfies: what the table,
coverage and shadowing analyses ask ("is every combination matched, and by which rule
first?") without testing every rule against every combination."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from engine.author.lint.index import pins
from engine.core.model import Test


class Positions:
    """Where each value sits in one space of values, to find a pinning test's values fast."""

    def __init__(self, space: Sequence):
        self.space = space
        self._where: dict[object, list[int]] | None = None

    def matching(self, tests: Sequence[Test]) -> list[int]:
        """The positions, in order, of the values for which every test holds."""
        candidates: Sequence[int] = range(len(self.space))
        pinned = pins(tests)
        if pinned is not None:
            try:
                if self._where is None:
                    where: dict[object, list[int]] = {}
                    for pos, v in enumerate(self.space):
                        where.setdefault(v, []).append(pos)
                    self._where = where
                found = self._where
                candidates = sorted({p for v in pinned for p in found.get(v, ())})
            except TypeError:  # unhashable values: test every position
                pass
        space = self.space
        return [pos for pos in candidates if all(t.holds(space[pos]) for t in tests)]


def value_masks(names: Sequence[str], spaces: Sequence[Sequence],
                conjs: Sequence[dict[str, list[Test]]]) -> list[list[int]]:
    """For each path and each of its values in `spaces`, the conjunctions (tests grouped by
    path, every path among `names`) whose tests on that path hold for that value."""
    where = {n: i for i, n in enumerate(names)}
    masks = [[0] * len(s) for s in spaces]
    tested = [0] * len(names)
    positions = [Positions(s) for s in spaces]
    for k, conj in enumerate(conjs):
        bit = 1 << k
        for path, tests in conj.items():
            i = where[path]
            tested[i] |= bit
            row = masks[i]
            for pos in positions[i].matching(tests):
                row[pos] |= bit
    full = (1 << len(conjs)) - 1
    for i, row in enumerate(masks):
        free = full & ~tested[i]
        if free:
            masks[i] = [m | free for m in row]
    return masks


def product_masks(spaces: Sequence[Sequence], masks: Sequence[Sequence[int]], start: int
                  ) -> Iterator[tuple[tuple, int]]:
    """`itertools.product(*spaces)` in its order, each combination with `start` narrowed to
    the conjunctions all of its values satisfy (the AND of their `value_masks`)."""
    depth = len(spaces)
    if depth == 0:
        yield (), start
        return

    def walk(i: int, acc: int, combo: tuple) -> Iterator[tuple[tuple, int]]:
        if i == depth - 1:
            for v, m in zip(spaces[i], masks[i], strict=True):
                yield (*combo, v), acc & m
            return
        for v, m in zip(spaces[i], masks[i], strict=True):
            yield from walk(i + 1, acc & m, (*combo, v))

    yield from walk(0, start, ())
