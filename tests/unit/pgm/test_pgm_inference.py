"""Belief propagation and variable elimination against brute-force joints."""

import re

import numpy as np
import pytest
from pgm_oracle import (
    all_column_sets,
    joint,
    log_partition,
    marginal,
    random_cliques,
    random_domain,
    random_factors,
)

from dpsynth.data.domain import Domain
from dpsynth.errors import ValidationError
from dpsynth.pgm import Factor, GraphicalModel


@pytest.mark.parametrize("seed", range(24))
def test_every_marginal_matches_brute_force(seed):
    rng = np.random.default_rng(seed)
    domain = random_domain(rng, int(rng.integers(4, 6)))
    cliques = random_cliques(rng, domain, int(rng.integers(2, 5)))
    factors = random_factors(rng, domain, cliques, zeros=0.2 if seed % 3 == 0 else 0)
    total = float(rng.uniform(10, 1000))
    model = GraphicalModel(domain, factors, total=total)
    full = joint(domain, factors, total)
    for clique in model.cliques:
        np.testing.assert_allclose(
            model.project(clique), marginal(domain, full, clique), rtol=1e-9, atol=1e-9
        )
    for cols in all_column_sets(domain, 3):
        order = tuple(rng.permutation(cols).tolist())
        expected = marginal(domain, full, order)
        np.testing.assert_allclose(
            model.project(order), expected, rtol=1e-9, atol=1e-9 * total
        )
    everything = tuple(rng.permutation(domain.attributes).tolist())
    np.testing.assert_allclose(
        model.project(everything),
        marginal(domain, full, everything),
        rtol=1e-9,
        atol=1e-9 * total,
    )
    if not any(np.isneginf(f.values).any() for f in factors):
        assert model.calibration.log_partition == pytest.approx(
            log_partition(domain, factors), rel=1e-12, abs=1e-9
        )


def test_cycle_is_triangulated_and_exact():
    # A 4-cycle has no junction tree until a chord is added.
    rng = np.random.default_rng(3)
    domain = Domain({"a": 2, "b": 3, "c": 4, "d": 2})
    cliques = [("a", "b"), ("b", "c"), ("c", "d"), ("d", "a")]
    factors = random_factors(rng, domain, cliques, scale=2.0)
    model = GraphicalModel(domain, factors, total=1.0)
    assert len(model.cliques) == 2
    assert all(len(c) == 3 for c in model.cliques)
    full = joint(domain, factors)
    for cols in all_column_sets(domain, 4):
        np.testing.assert_allclose(
            model.project(cols), marginal(domain, full, cols), atol=1e-12
        )


def test_disconnected_components_and_unmeasured_columns():
    rng = np.random.default_rng(4)
    domain = Domain({"a": 2, "b": 3, "c": 2, "d": 3, "e": 2})
    factors = random_factors(rng, domain, [("a", "b"), ("c", "d")])
    model = GraphicalModel(domain, factors, total=50.0)
    full = joint(domain, factors, 50.0)
    np.testing.assert_allclose(
        model.project(("b", "d", "e")), marginal(domain, full, ("b", "d", "e"))
    )
    np.testing.assert_allclose(model.project(("e",)), [25.0, 25.0])


def test_project_empty_columns_is_the_total():
    model = GraphicalModel(Domain({"a": 2}), [], total=7.5)
    out = model.project(())
    assert out.shape == ()
    assert float(out) == 7.5


def test_project_sums_to_total_and_is_a_fresh_array():
    rng = np.random.default_rng(5)
    domain = random_domain(rng, 4)
    model = GraphicalModel(domain, random_factors(rng, domain, [("a", "b")]), total=9)
    out = model.project(("b", "a"))
    assert out.sum() == pytest.approx(9.0)
    out[...] = -1
    assert (model.project(("b", "a")) >= 0).all()


@pytest.mark.parametrize(
    ("columns", "message"),
    [
        (("a", "z"), "`columns` (('a', 'z')) must name columns of the domain"),
        (("a", "a"), "`columns` (('a', 'a')) must not repeat a column."),
        ("a", "`columns` ('a') must be a tuple of column names."),
    ],
)
def test_project_rejects_bad_columns(columns, message):
    model = GraphicalModel(Domain({"a": 2, "b": 2}), [], total=1.0)
    with pytest.raises(ValidationError, match=re.escape(message)):
        model.project(columns)


def test_zero_probability_cells_stay_zero_without_warnings():
    domain = Domain({"a": 2, "b": 2, "c": 2})
    inf = np.inf
    f1 = Factor(("a", "b"), np.array([[0.0, -inf], [-inf, 0.0]]))
    f2 = Factor(("b", "c"), np.array([[-inf, 0.0], [0.0, -inf]]))
    model = GraphicalModel(domain, [f1, f2], total=2.0)
    # Log-values more than 700 below the largest count as exp(-700) ~ 1e-304.
    np.testing.assert_allclose(
        model.project(("a", "c")), [[0.0, 1.0], [1.0, 0.0]], atol=1e-250
    )
    np.testing.assert_allclose(
        model.project(("a", "b", "c")).sum(axis=1), [[0, 1], [1, 0]], atol=1e-250
    )


def test_all_zero_potentials_are_rejected():
    domain = Domain({"a": 2})
    model = GraphicalModel(
        domain, [Factor(("a",), np.array([-np.inf, -np.inf]))], total=1.0
    )
    with pytest.raises(ValidationError, match="probability zero"):
        model.project(("a",))


def test_long_chains_and_stars_carry_columns_exactly():
    rng = np.random.default_rng(6)
    domain = Domain({c: int(rng.integers(2, 4)) for c in "abcdefgh"})
    chain = [tuple(p) for p in ["ab", "bc", "cd", "de", "ef", "fg", "gh"]]
    star = [("a", c) for c in "bcdefgh"]
    for cliques in (chain, star, chain[:3] + star[3:]):
        factors = random_factors(rng, domain, cliques, scale=1.0)
        model = GraphicalModel(domain, factors, total=100.0)
        full = joint(domain, factors, 100.0)
        for cols in [("a", "h"), ("h", "d", "a"), ("b", "g", "e", "c"), ("g", "b")]:
            np.testing.assert_allclose(
                model.project(cols), marginal(domain, full, cols), rtol=1e-9
            )
