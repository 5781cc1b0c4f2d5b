"""Many marginals of one large clique table, sharing the intermediate sums.

Estimation needs, at every step, the marginal of each measured column set from
the clique table that holds it, and the reverse: each measurement's gradient
spread (broadcast) over that table. Done one by one, that is one pass over a
possibly large table per measurement. A :class:`ReductionPlan` arranges the
measured sets of a clique into a forest: a set inside a larger measured set is
summed from that set's small table; and sets that all lack one column ``a``
are summed from a *virtual* table over ``clique - {a}``, when that saves
passes. Gradients flow the other way, folded into their host before touching
the clique.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from dpsynth.pgm.junction_tree import JunctionTree

__all__ = ["ReductionPlan"]

_MIN_VIRTUAL = 4096  # cells a table must have for a virtual node to pay off


@dataclass(frozen=True, eq=False)
class _Node:
    """A table summed from a source: a clique (``host`` None) or another node.

    ``axes`` are the source's axes summed out; ``shape`` broadcasts the node
    back into the source. ``target`` is the index of the measured set, or None
    for a virtual node.
    """

    attributes: tuple[str, ...]
    clique: int
    host: int | None
    axes: tuple[int, ...]
    shape: tuple[int, ...]
    target: int | None


class ReductionPlan:
    """Computes target marginals of clique tables and spreads gradients back.

    Args:
        tree: the junction tree.
        targets: per target, its attributes (in clique axis order) and the index of
            a clique that holds them. Attribute sets must be distinct.
    """

    def __init__(
        self, tree: JunctionTree, targets: Sequence[tuple[tuple[str, ...], int]]
    ) -> None:
        self._tree = tree
        self._targets = list(targets)
        self.nodes: list[_Node] = []
        for k, clique in enumerate(tree.cliques):
            members = [i for i, (_, c) in enumerate(self._targets) if c == k]
            self._build(clique, k, None, members)
        virtual = [n for n in self.nodes if n.target is None]
        sizes = [tree.domain.size(n.attributes) for n in virtual]
        self._aux = np.empty(sum(sizes))
        self._aux_grad = np.empty(sum(sizes))
        self._aux_index: dict[int, tuple[int, int]] = {}
        start = 0
        for node, size in zip(virtual, sizes, strict=True):
            self._aux_index[id(node)] = (start, start + size)
            start += size

    def _size(self, attrs: Sequence[str]) -> int:
        return self._tree.domain.size(attrs)

    def _build(
        self,
        source: tuple[str, ...],
        clique: int,
        host: int | None,
        members: list[int],
    ) -> None:
        """Links ``members`` (targets inside ``source``) under ``host``, greedily."""
        items = list(members)
        while items:
            best = self._best_group(source, items)
            if best is None:
                break
            attrs, group, existing = best
            node = self._add(attrs, clique, host, source, existing)
            items = [i for i in items if i not in group and i != existing]
            self._build(attrs, clique, node, [i for i in group if i != existing])
        for i in items:
            self._add(self._targets[i][0], clique, host, source, i)

    def _best_group(
        self, source: tuple[str, ...], items: list[int]
    ) -> tuple[tuple[str, ...], list[int], int | None] | None:
        """The host (a member, or a virtual table) that saves the most cells."""
        big = self._size(source)
        best: tuple[int, tuple[str, ...], list[int], int | None] | None = None
        for h in items:
            attrs = self._targets[h][0]
            inside = [i for i in items if set(self._targets[i][0]) < set(attrs)]
            saving = len(inside) * (big - self._size(attrs))
            if saving > 0 and (best is None or saving > best[0]):
                best = (saving, attrs, inside, h)
        if big >= _MIN_VIRTUAL:
            for a in source:
                attrs = tuple(b for b in source if b != a)
                inside = [i for i in items if a not in self._targets[i][0]]
                exact = [i for i in inside if self._targets[i][0] == attrs]
                cost = 0 if exact else big
                saving = len(inside) * big - cost - len(inside) * self._size(attrs)
                if len(inside) > 1 and saving > 0 and (not best or saving > best[0]):
                    best = (saving, attrs, inside, exact[0] if exact else None)
        return None if best is None else best[1:]

    def _add(
        self,
        attrs: tuple[str, ...],
        clique: int,
        host: int | None,
        source: tuple[str, ...],
        target: int | None,
    ) -> int:
        axes = tuple(i for i, a in enumerate(source) if a not in attrs)
        shape = tuple(self._tree.domain[a] if a in attrs else 1 for a in source)
        self.nodes.append(_Node(attrs, clique, host, axes, shape, target))
        return len(self.nodes) - 1

    def _views(
        self, targets: Sequence[np.ndarray], aux: np.ndarray
    ) -> list[np.ndarray]:
        views = []
        for node in self.nodes:
            if node.target is not None:
                views.append(targets[node.target])
            else:
                lo, hi = self._aux_index[id(node)]
                shape = tuple(self._tree.domain[a] for a in node.attributes)
                views.append(aux[lo:hi].reshape(shape))
        return views

    def marginals(
        self, tables: Sequence[np.ndarray], out: Sequence[np.ndarray]
    ) -> None:
        """Writes the marginal of each target (from clique ``tables``) to ``out``."""
        views = self._views(out, self._aux)
        for node, view in zip(self.nodes, views, strict=True):
            source = tables[node.clique] if node.host is None else views[node.host]
            if node.axes:
                np.sum(source, axis=node.axes, out=view)
            else:
                view[...] = source

    def spread(
        self,
        parts: Sequence[np.ndarray],
        src: Sequence[np.ndarray],
        dst: Sequence[np.ndarray],
    ) -> None:
        """``dst[k] = src[k] - sum of the parts of clique k's targets, broadcast``.

        ``parts`` (one table per target) are modified (folded into hosts).
        """
        self._aux_grad.fill(0.0)
        views = self._views(parts, self._aux_grad)
        done = [False] * len(dst)
        for pos in range(len(self.nodes) - 1, -1, -1):  # members after hosts
            node = self.nodes[pos]
            grad = views[pos].reshape(node.shape)
            if node.host is not None:
                views[node.host] += grad
            elif done[node.clique]:
                dst[node.clique] -= grad
            else:
                np.subtract(src[node.clique], grad, out=dst[node.clique])
                done[node.clique] = True
        for k, flag in enumerate(done):
            if not flag:
                np.copyto(dst[k], src[k])
