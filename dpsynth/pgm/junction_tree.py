"""Junction trees: triangulation (min-fill), maximal cliques, spanning tree.

The cliques a model must contain (its measured marginals, plus a singleton for
every attribute of the domain) define a graph on the attributes. The graph is
triangulated by eliminating, at each step, the attribute whose elimination adds
the fewest fill-in edges (ties: the smallest table, then domain order). The
elimination cliques that are maximal are the nodes of the junction tree; a
maximum spanning tree of the clique graph, weighted by the number of shared
attributes, has the running-intersection property. Cliques of different
connected components are joined by empty separators, so there is always one tree.

References:
    Koller, D. and Friedman, N. (2009). Probabilistic Graphical Models:
    Principles and Techniques. MIT Press. Sections 9.4 and 10.4.
"""

from __future__ import annotations

import functools
import itertools
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import networkx as nx

from dpsynth.data.domain import Domain
from dpsynth.errors import InternalError, ModelTooLargeError, ValidationError

__all__ = [
    "JunctionTree",
    "axis_order",
    "build_junction_tree",
    "check_model_size",
    "model_size",
]


def axis_order(domain: Domain) -> dict[str, int]:
    """The rank of each column in the canonical axis order of clique tables.

    Columns with fewer codes come first (ties: domain order), so the innermost
    axis of a table is its largest: numpy reductions over any axes then run
    over long contiguous rows instead of crawling through size-2 axes.
    """
    ranked = sorted(range(len(domain)), key=lambda i: (domain.shape[i], i))
    return {domain.attributes[i]: r for r, i in enumerate(ranked)}


@dataclass(frozen=True, eq=False)
class JunctionTree:
    """A junction tree over a domain, cliques listed root first (parents first).

    Attributes:
        domain: the domain of the attributes.
        cliques: the maximal cliques, each in :func:`axis_order`;
            ``cliques[0]`` is the root and every clique comes after its parent.
        parents: the index of each clique's parent (``-1`` for the root).
        separators: each clique's intersection with its parent, in the same
            order (``()`` for the root and across components).
    """

    domain: Domain
    cliques: tuple[tuple[str, ...], ...]
    parents: tuple[int, ...]
    separators: tuple[tuple[str, ...], ...]

    @property
    def size(self) -> int:
        """The number of cells of all clique tables together."""
        return sum(self.domain.size(c) for c in self.cliques)

    def shape(self, index: int) -> tuple[int, ...]:
        """The table shape of clique ``index``."""
        return tuple(self.domain[a] for a in self.cliques[index])

    def containing(self, attributes: Iterable[str]) -> int | None:
        """The index of the smallest clique that holds ``attributes``, or None."""
        wanted = set(attributes)
        best: int | None = None
        for i, clique in enumerate(self.cliques):
            if wanted.issubset(clique) and (
                best is None
                or self.domain.size(clique) < self.domain.size(self.cliques[best])
            ):
                best = i
        return best

    def home(self, attributes: Iterable[str]) -> int:
        """Like :meth:`containing`, for attribute sets the tree was built from."""
        k = self.containing(attributes)
        if k is None:  # pragma: no cover - the tree holds every set it was built on
            raise InternalError(f"No clique holds {attributes!r}; please report.")
        return k


def normalize_cliques(
    domain: Domain, cliques: Iterable[Sequence[str]], name: str = "cliques"
) -> tuple[tuple[str, ...], ...]:
    """Validates ``cliques`` and returns each in :func:`axis_order`, deduplicated.

    Raises:
        ValidationError: if ``cliques`` is not an iterable of column sequences, or a
            clique names an unknown column or repeats one.
    """
    if isinstance(cliques, str) or not isinstance(cliques, Iterable):
        raise ValidationError(
            f"`{name}` ({cliques!r}) must be an iterable of column tuples, "
            "e.g. [('age', 'sex')]."
        )
    position = axis_order(domain)
    out: dict[tuple[str, ...], None] = {}
    for clique in cliques:
        cols = column_tuple(domain, clique, f"`{name}` item")
        if cols:
            out[tuple(sorted(cols, key=position.__getitem__))] = None
    return tuple(out)


def column_tuple(domain: Domain, value: object, label: str) -> tuple[str, ...]:
    """``value`` as a tuple of distinct columns of ``domain`` (validated).

    Raises:
        ValidationError: naming ``label`` for a non-sequence (or a bare string),
            an unknown column or a repeated one.
    """
    if isinstance(value, str) or not isinstance(value, Iterable):
        raise ValidationError(
            f"{label} ({value!r}) must be a tuple of column names. "
            f"For one column write ({value!r},)."
        )
    cols = tuple(value)
    unknown = [c for c in cols if not isinstance(c, str) or c not in domain]
    if unknown:
        raise ValidationError(
            f"{label} ({cols!r}) must name columns of the domain; unknown "
            f"{unknown!r}. Known columns: {list(domain.attributes)!r}."
        )
    if len(set(cols)) != len(cols):
        raise ValidationError(f"{label} ({cols!r}) must not repeat a column.")
    return cols


def model_size(domain: Domain, cliques: Iterable[Sequence[str]]) -> int:
    """Number of float64 cells of the junction tree's clique tables.

    The tree is the one :func:`dpsynth.pgm.estimate` builds: it covers ``cliques``
    and a singleton for every column of ``domain``, triangulated with the min-fill
    heuristic. Nothing large is allocated, so it is cheap to call for every
    candidate clique (AIM does).

    Args:
        domain: the public domain.
        cliques: column sets the model must contain.

    Returns:
        The total number of cells of the maximal cliques' tables (multiply by 8
        for bytes).

    Raises:
        ValidationError: if a clique names an unknown column or repeats one.

    Example:
        >>> d = Domain({"a": 2, "b": 3, "c": 4})
        >>> model_size(d, [("a", "b"), ("b", "c")])
        18
        >>> model_size(d, [("a", "b"), ("b", "c"), ("a", "c")])
        24

    References:
        Koller, D. and Friedman, N. (2009). Probabilistic Graphical Models.
        MIT Press. Section 10.4 (clique trees from chordal graphs).
    """
    _check_domain(domain)
    normal = tuple(sorted(set(normalize_cliques(domain, cliques))))
    return _size_cached(domain, normal)


@functools.lru_cache(maxsize=4096)
def _size_cached(domain: Domain, cliques: tuple[tuple[str, ...], ...]) -> int:
    """The size of :func:`_build_cached`'s tree without building the tree."""
    graph = nx.Graph()
    graph.add_nodes_from(domain.attributes)
    for clique in cliques:
        graph.add_edges_from(itertools.combinations(clique, 2))
    maximal = _maximal_cliques(domain, _eliminate(domain, graph))
    return sum(domain.size(c) for c in maximal)


def check_model_size(tree: JunctionTree, max_cells: int) -> None:
    """Raises ModelTooLargeError when ``tree`` has more than ``max_cells`` cells."""
    size = tree.size
    if size > max_cells:
        largest = max(tree.cliques, key=tree.domain.size)
        raise ModelTooLargeError(
            f"The junction tree ({size:,} cells, {size * 8 / 2**20:,.1f} MiB) must "
            f"have at most `max_cells` ({max_cells:,}) cells; its largest clique "
            f"{largest!r} alone has {tree.domain.size(largest):,}. Use fewer or "
            "smaller cliques (or coarser columns), or raise `max_cells`."
        )


def build_junction_tree(
    domain: Domain, cliques: Iterable[Sequence[str]]
) -> JunctionTree:
    """The junction tree of ``cliques`` plus every column of ``domain`` (validated).

    Args:
        domain: the public domain.
        cliques: column sets the tree must contain.

    Returns:
        The junction tree (cached: equal inputs give the same object).

    Raises:
        ValidationError: if ``domain`` is not a Domain, or a clique names an
            unknown column or repeats one.

    Example:
        >>> d = Domain({"a": 2, "b": 3, "c": 4, "d": 5})
        >>> cycle = [("a", "b"), ("b", "c"), ("c", "d"), ("d", "a")]
        >>> tree = build_junction_tree(d, cycle)
        >>> tree.cliques, tree.separators
        ((('a', 'c', 'd'), ('a', 'b', 'c')), ((), ('a', 'c')))
    """
    _check_domain(domain)
    return _build(domain, normalize_cliques(domain, cliques))


def _check_domain(domain: object) -> None:
    if not isinstance(domain, Domain):
        raise ValidationError(
            f"`domain` ({type(domain).__name__}) must be a Domain. "
            "Build one with Domain({column: size})."
        )


def _build(domain: Domain, cliques: tuple[tuple[str, ...], ...]) -> JunctionTree:
    return _build_cached(domain, tuple(sorted(set(cliques))))


@functools.lru_cache(maxsize=256)
def _build_cached(domain: Domain, cliques: tuple[tuple[str, ...], ...]) -> JunctionTree:
    graph = nx.Graph()
    graph.add_nodes_from(domain.attributes)
    for clique in cliques:
        graph.add_edges_from(itertools.combinations(clique, 2))
    maximal = _maximal_cliques(domain, _eliminate(domain, graph))
    return _spanning_tree(domain, maximal)


def _eliminate(domain: Domain, graph: nx.Graph) -> list[frozenset[str]]:
    """Elimination cliques of a min-fill ordering (ties: smaller table, order)."""
    adj = {v: set(graph[v]) for v in graph}
    position = {a: i for i, a in enumerate(domain.attributes)}
    logsize = {a: math.log(domain[a]) for a in domain.attributes}

    def score(v: str) -> tuple[int, float, int]:
        nbrs = adj[v]
        fill = sum(len(nbrs - adj[u]) - 1 for u in nbrs) // 2
        return fill, logsize[v] + sum(logsize[u] for u in nbrs), position[v]

    scores = {v: score(v) for v in adj}
    out: list[frozenset[str]] = []
    while adj:
        v = min(scores, key=scores.__getitem__)
        nbrs = adj.pop(v)
        del scores[v]
        out.append(frozenset(nbrs | {v}))
        for u in nbrs:
            adj[u].discard(v)
            adj[u] |= nbrs - {u}
        touched = set(nbrs)
        for u in nbrs:
            touched |= adj[u]
        for u in touched:
            scores[u] = score(u)
    return out


def _maximal_cliques(
    domain: Domain, cliques: list[frozenset[str]]
) -> list[tuple[str, ...]]:
    position = axis_order(domain)
    kept: list[frozenset[str]] = []
    for clique in sorted(cliques, key=len, reverse=True):
        if not any(clique <= other for other in kept):
            kept.append(clique)
    ordered = [tuple(sorted(c, key=position.__getitem__)) for c in kept]
    return sorted(ordered, key=lambda c: [position[a] for a in c])


def _spanning_tree(domain: Domain, cliques: list[tuple[str, ...]]) -> JunctionTree:
    graph = nx.Graph()
    graph.add_nodes_from(range(len(cliques)))
    for i, j in itertools.combinations(range(len(cliques)), 2):
        graph.add_edge(i, j, weight=len(set(cliques[i]) & set(cliques[j])))
    tree = nx.maximum_spanning_tree(graph, algorithm="kruskal")
    root = max(range(len(cliques)), key=lambda i: (domain.size(cliques[i]), -i))
    order, parents = [root], {root: -1}
    for node in order:  # breadth first; `order` grows while iterating
        for child in sorted(tree[node]):
            if child not in parents:
                parents[child] = node
                order.append(child)
    index = {node: k for k, node in enumerate(order)}
    new_cliques = tuple(cliques[i] for i in order)
    new_parents = tuple(-1 if parents[i] < 0 else index[parents[i]] for i in order)
    separators = tuple(
        () if p < 0 else tuple(a for a in new_cliques[k] if a in set(new_cliques[p]))
        for k, p in enumerate(new_parents)
    )
    return JunctionTree(domain, new_cliques, new_parents, separators)
