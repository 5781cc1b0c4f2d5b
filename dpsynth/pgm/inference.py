"""Sum-product belief propagation and out-of-clique marginals on a junction tree.

Potentials are log-space tables over the tree's cliques, axes in the tree's
canonical order (:func:`~dpsynth.pgm.junction_tree.axis_order`), so a
separator's table broadcasts into a clique by a plain ``reshape`` (no
transposes in the hot loop). :func:`calibrate` runs the two passes: leaves to
root (each clique sends the logsumexp of its potential times its children's
messages) and root to leaves (each child receives its parent's separator
marginal divided by the message it sent up). Every clique's belief comes out
normalised, so ``exp`` of it is the clique's probability table.

References:
    Koller, D. and Friedman, N. (2009). Probabilistic Graphical Models:
    Principles and Techniques. MIT Press. Sections 10.2-10.3 (sum-product
    message passing in clique trees) and 10.3.3 (out-of-clique queries).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from dpsynth.errors import ValidationError
from dpsynth.pgm.factor import LOG_FLOOR
from dpsynth.pgm.junction_tree import JunctionTree

__all__ = ["Calibration", "TreePlan", "calibrate", "marginal"]

_HUGE = 1e300


@dataclass(frozen=True, eq=False)
class TreePlan:
    """Precomputed axes and broadcast shapes for message passing on a tree.

    For clique ``k`` (not the root) with parent ``p``: ``child_axes[k]`` are the
    axes of ``k`` outside the separator, ``parent_axes[k]`` the axes of ``p``
    outside it, and ``child_shape[k]`` / ``parent_shape[k]`` the shapes that
    broadcast a separator table into ``k`` / ``p``.
    """

    tree: JunctionTree
    child_axes: tuple[tuple[int, ...], ...]
    parent_axes: tuple[tuple[int, ...], ...]
    child_shape: tuple[tuple[int, ...], ...]
    parent_shape: tuple[tuple[int, ...], ...]

    @classmethod
    def of(cls, tree: JunctionTree) -> TreePlan:
        """Builds the plan of ``tree``."""
        child_axes, parent_axes, child_shape, parent_shape = [], [], [], []
        for k, clique in enumerate(tree.cliques):
            sep = set(tree.separators[k])
            parent = tree.cliques[tree.parents[k]] if k else ()
            child_axes.append(tuple(i for i, a in enumerate(clique) if a not in sep))
            parent_axes.append(tuple(i for i, a in enumerate(parent) if a not in sep))
            child_shape.append(_broadcast_shape(tree, clique, sep))
            parent_shape.append(_broadcast_shape(tree, parent, sep))
        return cls(
            tree,
            tuple(child_axes),
            tuple(parent_axes),
            tuple(child_shape),
            tuple(parent_shape),
        )

    def broadcast_shape(self, index: int, attributes: Sequence[str]) -> tuple[int, ...]:
        """The shape broadcasting a table over ``attributes`` into clique ``index``."""
        return _broadcast_shape(self.tree, self.tree.cliques[index], set(attributes))


def _broadcast_shape(
    tree: JunctionTree, clique: Sequence[str], keep: set[str]
) -> tuple[int, ...]:
    return tuple(tree.domain[a] if a in keep else 1 for a in clique)


@dataclass(frozen=True, eq=False)
class Calibration:
    """The result of belief propagation.

    Attributes:
        log_beliefs: per clique, the log-probability table (normalised).
        probabilities: per clique, ``exp(log_beliefs)``: the clique marginal.
        log_partition: log of the normaliser of the product of the potentials.
    """

    log_beliefs: tuple[np.ndarray, ...]
    probabilities: tuple[np.ndarray, ...]
    log_partition: float


def calibrate(
    plan: TreePlan,
    potentials: Sequence[np.ndarray],
    out: Sequence[np.ndarray] | None = None,
    work: Sequence[np.ndarray] | None = None,
    scratch: Sequence[np.ndarray] | None = None,
) -> Calibration:
    """Two-pass sum-product belief propagation (log space).

    Args:
        plan: the tree's message-passing plan.
        potentials: one log-potential table per clique (axes in clique order); not
            modified.
        out: optional arrays (one per clique, right shapes) to write the clique
            probability tables into.
        work: optional arrays (likewise) to hold the log beliefs.
        scratch: optional arrays (likewise) for temporaries.

    Returns:
        The normalised clique marginals and the log partition function.
    """
    parents = plan.tree.parents
    if work is None:
        work = [np.array(p, dtype=np.float64) for p in potentials]
    else:
        for w, p in zip(work, potentials, strict=True):
            np.copyto(w, p)
    tmp: list[np.ndarray | None] = [None] * len(work)
    if scratch is not None:
        tmp = list(scratch)
    up: list[np.ndarray] = [np.empty(0)] * len(work)
    for k in range(len(work) - 1, 0, -1):
        msg = _message(work[k], plan.child_axes[k], tmp[k])
        up[k] = msg
        work[parents[k]] += msg.reshape(plan.parent_shape[k])
    probs = list(out) if out is not None else [np.empty_like(w) for w in work]
    peak = float(work[0].max())
    if not peak > -_HUGE:
        raise ValidationError(
            "The potentials give every assignment probability zero (all -inf). "
            "Give at least one cell of every factor a finite log-value."
        )
    work[0] -= peak
    np.maximum(work[0], LOG_FLOOR, out=work[0])  # no subnormal probabilities
    np.exp(work[0], out=probs[0])
    mass = float(probs[0].sum())
    probs[0] /= mass
    work[0] -= math.log(mass)
    log_z = peak + math.log(mass)
    with np.errstate(divide="ignore"):
        for k in range(1, len(work)):
            marginal = probs[parents[k]].sum(axis=plan.parent_axes[k])
            # Where the child sent -inf its own rows are -inf: any finite
            # stand-in keeps them so (and avoids -inf - -inf = nan).
            down = np.log(marginal) - np.maximum(up[k], -_HUGE)
            work[k] += down.reshape(plan.child_shape[k])
            np.maximum(work[k], LOG_FLOOR, out=work[k])
            np.exp(work[k], out=probs[k])
    return Calibration(tuple(work), tuple(probs), log_z)


def _message(
    values: np.ndarray, axes: tuple[int, ...], scratch: np.ndarray | None
) -> np.ndarray:
    """``logsumexp`` over ``axes`` shifted by the table's maximum (one scalar).

    A per-slice maximum would cost a strided reduction as slow as the sum; with
    one shift, slices more than 700 below the table's maximum come out as
    ``max - 700 + log(cells)`` instead of lower: their probability is 1e-304
    of the largest either way.
    """
    peak = max(float(values.max()), -_HUGE)
    shifted = np.subtract(values, peak, out=scratch)
    np.maximum(shifted, LOG_FLOOR, out=shifted)
    np.exp(shifted, out=shifted)
    out = np.log(shifted.sum(axis=axes)) if axes else np.log(shifted)
    return out + peak


def marginal(
    tree: JunctionTree,
    probabilities: Sequence[np.ndarray],
    attributes: Sequence[str],
    cache: dict[tuple[str, ...], np.ndarray] | None = None,
) -> np.ndarray:
    """The probability table over ``attributes`` (any set), axes as given.

    Leaves of the tree holding no wanted attribute outside their separator are
    pruned first (they sum to one). The subtree left is rooted where the
    messages come out cheapest; then each clique sends towards the root the
    sum, over what neither its neighbour nor the answer needs, of its
    conditional table ``P(clique | separator)`` times the messages it received.
    Messages carry the wanted attributes found behind them. One ``einsum`` per
    clique does the product and the sum, after summing out what only one of
    its operands has.

    Args:
        tree: the junction tree.
        probabilities: its calibrated clique marginals.
        attributes: distinct attributes of the domain.
        cache: optional dict of separator marginals kept between calls.

    Returns:
        The marginal table, axes in the order of ``attributes``.
    """
    wanted = tuple(attributes)
    keep = _pruned(tree, set(wanted))
    links = {k: [j for j in keep if j != k and _adjacent(tree, j, k)] for k in keep}
    root = min(keep, key=lambda r: (_cost(tree, links, r, wanted), r))
    order, towards = [root], {root: -1}
    for k in order:  # breadth first from the root
        for j in links[k]:
            if j not in towards:
                towards[j] = k
                order.append(j)
    seps = {} if cache is None else cache
    messages: dict[int, tuple[tuple[str, ...], np.ndarray]] = {}
    for k in reversed(order):
        clique = tree.cliques[k]
        operands = [(clique, probabilities[k])]
        operands += [messages.pop(j) for j in links[k] if towards[j] == k]
        out: tuple[str, ...] = wanted
        if k != root:
            sep = tuple(a for a in clique if a in tree.cliques[towards[k]])
            if sep not in seps:
                axes = tuple(i for i, a in enumerate(clique) if a not in sep)
                seps[sep] = probabilities[k].sum(axis=axes)
            with np.errstate(divide="ignore"):
                operands.append((sep, np.where(seps[sep] > 0, 1 / seps[sep], 0.0)))
            present = {a for attrs, _ in operands for a in attrs}
            out = sep + tuple(a for a in wanted if a in present and a not in sep)
        messages[k] = (out, _contract(operands, out))
    return messages[root][1]


def _adjacent(tree: JunctionTree, j: int, k: int) -> bool:
    return tree.parents[j] == k or tree.parents[k] == j


def _cost(
    tree: JunctionTree, links: dict[int, list[int]], root: int, wanted: tuple[str, ...]
) -> int:
    """The cells of all messages when the subtree is rooted at ``root``."""
    size = tree.domain.size

    def carried(k: int, came_from: int) -> tuple[set[str], int]:
        below = {a for a in tree.cliques[k] if a in wanted}
        total = 0
        for j in links[k]:
            if j != came_from:
                attrs, cost = carried(j, k)
                below |= attrs
                total += cost
        if came_from >= 0:
            sep = set(tree.cliques[k]) & set(tree.cliques[came_from])
            total += size(sep) * size(below - sep)
        return below, total

    return carried(root, -1)[1]


def _contract(
    operands: list[tuple[tuple[str, ...], np.ndarray]], out: tuple[str, ...]
) -> np.ndarray:
    """The product of tables named by attributes, summed down to ``out``.

    Tables are folded in one at a time, each fold a batched matrix product
    (BLAS) that sums the attributes no later table nor ``out`` needs.
    """
    attrs, acc = operands[0]
    for i in range(1, len(operands)):
        keep = set(out).union(*(set(a) for a, _ in operands[i + 1 :]))
        attrs, acc = _pair(attrs, acc, *operands[i], keep)
    attrs, acc = _sum_out(attrs, acc, set(out))
    return np.transpose(acc, [attrs.index(a) for a in out])


def _sum_out(
    attrs: tuple[str, ...], table: np.ndarray, keep: set[str]
) -> tuple[tuple[str, ...], np.ndarray]:
    axes = tuple(i for i, a in enumerate(attrs) if a not in keep)
    if not axes:
        return attrs, table
    return tuple(a for a in attrs if a in keep), table.sum(axis=axes)


def _pair(
    a_attrs: tuple[str, ...],
    a: np.ndarray,
    b_attrs: tuple[str, ...],
    b: np.ndarray,
    keep: set[str],
) -> tuple[tuple[str, ...], np.ndarray]:
    """``sum`` over shared attributes not in ``keep`` of ``a * b`` (matmul)."""
    a_attrs, a = _sum_out(a_attrs, a, keep | set(b_attrs))
    b_attrs, b = _sum_out(b_attrs, b, keep | set(a_attrs))
    batch = [x for x in a_attrs if x in b_attrs and x in keep]
    summed = [x for x in a_attrs if x in b_attrs and x not in keep]
    a_only = [x for x in a_attrs if x not in b_attrs]
    b_only = [x for x in b_attrs if x not in a_attrs]
    size = {x: n for x, n in zip(a_attrs + b_attrs, a.shape + b.shape, strict=True)}

    def block(names: list[str]) -> int:
        return math.prod(size[x] for x in names)

    left = np.transpose(a, [a_attrs.index(x) for x in batch + a_only + summed])
    right = np.transpose(b, [b_attrs.index(x) for x in batch + summed + b_only])
    product = np.matmul(
        left.reshape(block(batch), block(a_only), block(summed)),
        right.reshape(block(batch), block(summed), block(b_only)),
    )
    names = batch + a_only + b_only
    return tuple(names), product.reshape([size[x] for x in names])


def _pruned(tree: JunctionTree, wanted: set[str]) -> set[int]:
    """Clique indices left after removing leaves that hold no private wanted one.

    A leaf whose attributes outside its separator are all unwanted sums to one
    given the separator, so dropping it leaves the marginal of the rest intact;
    the root is dropped likewise while it has one child left.
    """
    alive = set(range(len(tree.cliques)))
    children = dict.fromkeys(alive, 0)
    for k in range(1, len(tree.cliques)):
        children[tree.parents[k]] += 1
    for k in range(len(tree.cliques) - 1, 0, -1):  # leaves first
        private = set(tree.cliques[k]) - set(tree.separators[k])
        if children[k] == 0 and not private & wanted:
            alive.discard(k)
            children[tree.parents[k]] -= 1
    root = 0
    while len(alive) > 1 and children[root] == 1:
        child = next(k for k in alive if tree.parents[k] == root)
        private = set(tree.cliques[root]) - set(tree.separators[child])
        if private & wanted:
            break
        alive.discard(root)
        root = child
    return alive
