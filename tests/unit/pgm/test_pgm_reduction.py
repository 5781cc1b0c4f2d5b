"""Shared-sum marginals and gradient spreading against direct numpy."""

import itertools

import numpy as np
import pytest

from dpsynth.data.domain import Domain
from dpsynth.pgm import build_junction_tree
from dpsynth.pgm.junction_tree import axis_order
from dpsynth.pgm.reduction import ReductionPlan


@pytest.mark.parametrize("seed", range(6))
def test_marginals_and_spread_match_direct_computation(seed):
    rng = np.random.default_rng(seed)
    # One 5-column clique of 6,144 cells (large enough for virtual tables) and
    # a small one; targets: random subsets of each.
    domain = Domain({"a": 4, "b": 8, "c": 3, "d": 8, "e": 4, "f": 3})
    big = ("a", "b", "c", "d", "e")
    tree = build_junction_tree(domain, [big, ("e", "f")])
    subsets = [s for r in (1, 2, 3, 4) for s in itertools.combinations(big, r)]
    picks = rng.choice(len(subsets), size=int(rng.integers(3, 12)), replace=False)
    rank = axis_order(domain)
    targets = [subsets[i] for i in picks] + [("f",), ("e", "f"), big]
    targets = [tuple(sorted(t, key=rank.__getitem__)) for t in targets]
    homes = [tree.containing(t) for t in targets]
    plan = ReductionPlan(tree, list(zip(targets, homes, strict=True)))
    tables = [rng.random(tree.shape(k)) for k in range(len(tree.cliques))]

    out = [np.empty(domain.project(t).shape) for t in targets]
    plan.marginals(tables, out)
    for t, k, got in zip(targets, homes, out, strict=True):
        clique = tree.cliques[k]
        axes = tuple(i for i, a in enumerate(clique) if a not in t)
        np.testing.assert_allclose(got, tables[k].sum(axis=axes), rtol=1e-12)

    parts = [rng.random(domain.project(t).shape) for t in targets]
    expected = [table.copy() for table in tables]
    for t, k, part in zip(targets, homes, parts, strict=True):
        clique = tree.cliques[k]
        shape = [domain[a] if a in t else 1 for a in clique]
        expected[k] -= part.reshape(shape)
    dst = [np.empty_like(table) for table in tables]
    plan.spread([p.copy() for p in parts], tables, dst)
    for got, want in zip(dst, expected, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


def test_virtual_tables_are_used_for_large_cliques():
    domain = Domain({"a": 8, "b": 8, "c": 8, "d": 8, "e": 8})
    cols = tuple(domain.attributes)
    tree = build_junction_tree(domain, [cols])
    targets = [t for t in itertools.combinations(cols, 3)]
    plan = ReductionPlan(tree, [(t, 0) for t in targets])
    direct = [n for n in plan.nodes if n.host is None]
    assert len(direct) < len(targets)  # fewer passes over the 32,768 cells
    assert any(n.target is None for n in plan.nodes)
