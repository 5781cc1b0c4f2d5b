"""Triangulation, maximal cliques, the running-intersection property, model size."""

import re

import numpy as np
import pytest
from pgm_oracle import random_cliques, random_domain

from dpsynth.data.domain import Domain
from dpsynth.errors import ModelTooLargeError, ValidationError
from dpsynth.pgm import Measurement, build_junction_tree, estimate, model_size
from dpsynth.pgm.junction_tree import axis_order


def _check_junction_tree(domain, cliques, tree):
    # Every requested clique and every column lies in some maximal clique.
    for clique in list(cliques) + [(a,) for a in domain]:
        assert any(set(clique) <= set(c) for c in tree.cliques)
    # No clique contains another one.
    for i, c in enumerate(tree.cliques):
        for j, d in enumerate(tree.cliques):
            assert i == j or not set(c) <= set(d)
    # Cliques are in axis order, parents come first, separators intersect.
    rank = axis_order(domain)
    for k, clique in enumerate(tree.cliques):
        assert list(clique) == sorted(clique, key=rank.__getitem__)
        parent = tree.parents[k]
        assert (parent == -1) == (k == 0)
        assert parent < k
        if k:
            assert set(tree.separators[k]) == set(clique) & set(tree.cliques[parent])
    # Running intersection: the cliques holding a column form a subtree.
    for a in domain:
        holding = {k for k, c in enumerate(tree.cliques) if a in c}
        tops = [k for k in holding if tree.parents[k] not in holding]
        assert len(tops) == 1


@pytest.mark.parametrize("seed", range(30))
def test_random_clique_sets_give_junction_trees(seed):
    rng = np.random.default_rng(seed)
    domain = random_domain(rng, int(rng.integers(3, 9)))
    cliques = random_cliques(rng, domain, int(rng.integers(0, 8)))
    tree = build_junction_tree(domain, cliques)
    _check_junction_tree(domain, cliques, tree)
    assert model_size(domain, cliques) == sum(domain.size(c) for c in tree.cliques)


def test_chain_is_kept_and_cycle_gets_one_chord():
    domain = Domain({"a": 2, "b": 3, "c": 4, "d": 5})
    chain = [("a", "b"), ("b", "c"), ("c", "d")]
    assert build_junction_tree(domain, chain).cliques[0] == ("c", "d")
    assert axis_order(domain) == {"a": 0, "b": 1, "c": 2, "d": 3}
    assert axis_order(Domain({"x": 5, "y": 2, "z": 5})) == {"y": 0, "x": 1, "z": 2}
    assert model_size(domain, chain) == 6 + 12 + 20
    cycle = chain + [("a", "d")]
    tree = build_junction_tree(domain, cycle)
    assert sorted(len(c) for c in tree.cliques) == [3, 3]
    # Every column adds one fill edge; the tie-break eliminates "b" (the
    # smallest clique, a-b-c), so the chord is a-c, not b-d (30 + 60 cells).
    assert model_size(domain, cycle) == 2 * 3 * 4 + 2 * 4 * 5


def test_components_are_joined_by_empty_separators():
    domain = Domain({"a": 2, "b": 2, "c": 2, "d": 2})
    tree = build_junction_tree(domain, [("a", "b"), ("c", "d")])
    assert set(tree.cliques) == {("a", "b"), ("c", "d")}
    assert tree.separators[1] == ()


def test_equal_inputs_share_the_cached_tree():
    domain = Domain({"a": 2, "b": 2, "c": 2})
    one = build_junction_tree(domain, [("b", "a")])
    two = build_junction_tree(domain, [("a", "b"), ("a", "b")])
    assert one is two


def test_model_size_doctest_values_and_cheapness():
    domain = Domain({f"x{i}": 50 for i in range(12)})
    cliques = [(f"x{i}", f"x{(i + 1) % 12}", f"x{(i + 5) % 12}") for i in range(12)]
    size = model_size(domain, cliques)  # no allocation: far too big to build
    assert size > 10**9


@pytest.mark.parametrize(
    ("cliques", "message"),
    [
        ([("a", "z")], "`cliques` item (('a', 'z')) must name columns of the domain"),
        ([("a", "a")], "`cliques` item (('a', 'a')) must not repeat a column."),
        (["ab"], "`cliques` item ('ab') must be a tuple of column names."),
        ("ab", "`cliques` ('ab') must be an iterable of column tuples"),
    ],
)
def test_model_size_rejects_bad_cliques(cliques, message):
    with pytest.raises(ValidationError, match=re.escape(message)):
        model_size(Domain({"a": 2, "b": 2}), cliques)


def test_model_size_rejects_a_non_domain():
    with pytest.raises(ValidationError, match="must be a Domain"):
        model_size({"a": 2}, [])


def test_size_guard_raises_before_allocating():
    # 12 columns of 50 codes in one clique: 2.4e20 cells, which numpy could
    # never allocate; the guard must fire first, with counts and a hint.
    domain = Domain({f"x{i}": 50 for i in range(12)})
    cols = tuple(domain.attributes)
    y = Measurement(columns=("x0",), values=np.zeros(50), sigma=1.0)
    size = model_size(domain, [cols])
    with pytest.raises(ModelTooLargeError) as info:
        estimate(domain, [y], cliques=[cols], total=10.0)
    message = str(info.value)
    assert f"{size:,} cells" in message
    assert "`max_cells` (25,000,000)" in message
    assert "fewer or smaller cliques" in message
    assert isinstance(info.value, ValidationError)


def test_size_guard_uses_max_cells():
    domain = Domain({"a": 10, "b": 10, "c": 10})
    y = Measurement(columns=("a", "b"), values=np.ones((10, 10)), sigma=1.0)
    estimate(domain, [y], max_cells=110, iters=1)  # 100 + 10 cells: fits
    with pytest.raises(ModelTooLargeError, match=re.escape("(110 cells")):
        estimate(domain, [y], max_cells=109, iters=1)


@pytest.mark.parametrize("seed", range(10))
def test_model_size_equals_the_built_trees_size(seed):
    rng = np.random.default_rng(seed)
    domain = Domain({f"x{i}": int(rng.integers(2, 6)) for i in range(7)})
    names = list(domain)
    cliques = [
        tuple(rng.choice(names, size=int(rng.integers(1, 4)), replace=False))
        for _ in range(int(rng.integers(1, 8)))
    ]
    assert model_size(domain, cliques) == build_junction_tree(domain, cliques).size
