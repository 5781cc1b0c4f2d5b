"""PrivBayes: score sensitivity, structure, conditionals, sampling and the ledger."""

from __future__ import annotations

import itertools
import re

import numpy as np
import opendp.mod
import pandas as pd
import pytest

from dpsynth.data import Domain
from dpsynth.errors import ValidationError
from dpsynth.privacy.accountant import PrivacyAccountant
from dpsynth.synthesizers import IndependentSynthesizer, Synthesizer
from dpsynth.synthesizers.privbayes import (
    R_SCORE_SENSITIVITY,
    PrivBayesSynthesizer,
    _conditional,
    maximal_parent_sets,
    r_score,
)

DOMAIN = Domain({"a": 4, "b": 4, "c": 3, "d": 2, "e": 5, "f": 2})


def _table(n: int = 4000, seed: int = 0) -> pd.DataFrame:
    """b copies a (5% noise), c depends on b, the rest is independent."""
    rng = np.random.default_rng(seed)
    a = rng.integers(0, 4, n)
    b = np.where(rng.random(n) < 0.95, a, rng.integers(0, 4, n))
    c = np.where(rng.random(n) < 0.8, b % 3, rng.integers(0, 3, n))
    return pd.DataFrame(
        {
            "a": a,
            "b": b,
            "c": c,
            "d": rng.integers(0, 2, n),
            "e": rng.integers(0, 5, n),
            "f": rng.integers(0, 2, n),
        }
    )


def _tvd(x: pd.DataFrame, y: pd.DataFrame, cols: list[str]) -> float:
    """The benchmark's metric: 0.5 * L1 between normalised marginals."""
    p = x.value_counts(cols, normalize=True)
    q = y.value_counts(cols, normalize=True)
    p, q = p.align(q, fill_value=0.0)
    return 0.5 * float(np.abs(p - q).sum())


# ------------------------------------------------------------------ the score
def _add_one_row_changes(table: np.ndarray) -> list[tuple[float, float]]:
    """(|score change|, the proof's bound) for every row that could be added."""
    n = table.sum()
    rows, cols = table.sum(axis=1), table.sum(axis=0)
    base = r_score(table)
    out = []
    for a, b in itertools.product(range(table.shape[0]), range(table.shape[1])):
        bigger = table.copy()
        bigger[a, b] += 1
        bound = 0.0 if n == 0 else 2 * (n - rows[a]) * (n - cols[b]) / (n * (n + 1))
        out.append((abs(r_score(bigger) - base), bound))
    return out


def test_r_score_sensitivity_by_brute_force_on_every_tiny_table():
    # every 2x3 table with cells in 0..2 (729 tables), every row added; a
    # removal is the same pair of tables read backwards
    worst = 0.0
    for cells in itertools.product(range(3), repeat=6):
        table = np.array(cells, dtype=np.int64).reshape(2, 3)
        for change, bound in _add_one_row_changes(table):
            assert change <= bound + 1e-12 < R_SCORE_SENSITIVITY
            worst = max(worst, change)
    assert worst > 1.0  # the bound is not vacuous: changes near it do occur


@pytest.mark.parametrize("seed", range(5))
def test_r_score_sensitivity_on_random_larger_tables(seed):
    rng = np.random.default_rng(seed)
    for _ in range(60):
        shape = tuple(rng.integers(1, 6, size=2))
        table = rng.integers(0, 4, size=shape) * (rng.random(shape) < 0.6)
        for change, bound in _add_one_row_changes(table):
            assert change <= bound + 1e-9 < R_SCORE_SENSITIVITY


def test_r_score_values():
    assert r_score(np.zeros((2, 2), dtype=np.int64)) == 0.0
    assert r_score(np.array([[3, 4, 5]])) == 0.0  # no parents
    assert r_score(np.array([[2, 2], [2, 2]])) == 0.0  # independent
    # perfect copy of a uniform binary attribute: n * TVD(joint, product) = n / 2
    assert r_score(np.array([[50, 0], [0, 50]])) == pytest.approx(50.0)


# --------------------------------------------------------- candidate parents
@pytest.mark.parametrize("max_degree", range(4))
@pytest.mark.parametrize("max_cells", [2, 5, 12, 30, 80, 1e9])
def test_maximal_parent_sets_match_a_brute_force_enumeration(max_degree, max_cells):
    sizes = {"x": 3, "p": 2, "q": 3, "r": 4, "s": 2}
    chosen = ["p", "q", "r", "s"]
    got = maximal_parent_sets(
        "x", chosen, sizes, max_degree=max_degree, max_cells=max_cells
    )
    subsets = [
        ps for k in range(len(chosen) + 1) for ps in itertools.combinations(chosen, k)
    ]
    feasible = [
        ps
        for ps in subsets
        if len(ps) <= max_degree and 3 * np.prod([sizes[p] for p in ps]) <= max_cells
    ]
    maximal = [
        ps for ps in feasible if not any(set(ps) < set(other) for other in feasible)
    ]
    assert sorted(got) == sorted(maximal or [()])


# -------------------------------------------------------------- the network
@pytest.fixture(scope="module")
def fitted() -> PrivBayesSynthesizer:
    return PrivBayesSynthesizer().fit(
        _table(), schema=DOMAIN, epsilon=5.0, delta=1e-9, rng=3
    )


def _check_dag(network, columns, max_parents):
    order = [child for child, _ in network]
    assert sorted(order) == sorted(columns)  # every column exactly once
    for i, (child, parents) in enumerate(network):
        assert set(parents) <= set(order[:i])  # parents come first: a DAG
        assert len(set(parents)) == len(parents) <= max_parents
        assert child not in parents


@pytest.mark.parametrize("max_degree", [1, 2, 3])
def test_network_is_a_dag_within_the_degree_bound(max_degree):
    syn = PrivBayesSynthesizer(max_degree=max_degree).fit(
        _table(), schema=DOMAIN, epsilon=2.0, delta=1e-9, rng=max_degree
    )
    _check_dag(syn.network, list(DOMAIN), max_degree)


@pytest.mark.parametrize("degree", [0, 1, 2])
def test_a_fixed_degree_gives_every_attribute_that_many_parents(degree):
    syn = PrivBayesSynthesizer(degree=degree).fit(
        _table(), schema=DOMAIN, epsilon=2.0, delta=1e-9, rng=0
    )
    _check_dag(syn.network, list(DOMAIN), degree)
    assert [len(p) for _, p in syn.network] == [min(degree, i) for i in range(6)]


def test_usefulness_rule_limits_the_family_size():
    # at a tiny epsilon the noise is large: theta-usefulness allows few cells
    small = PrivBayesSynthesizer().fit(
        _table(), schema=DOMAIN, epsilon=0.05, delta=1e-9, rng=0
    )
    large = PrivBayesSynthesizer().fit(
        _table(), schema=DOMAIN, epsilon=50.0, delta=1e-9, rng=0
    )

    def biggest(syn):
        return max(DOMAIN.size([c, *p]) for c, p in syn.network)

    assert biggest(small) < biggest(large)
    assert all(len(p) == 0 for _, p in small.network)  # 4000 rows, sigma ~ 300
    assert max(len(p) for _, p in large.network) == 3


def test_candidate_subsampling_does_not_depend_on_the_data():
    # with one candidate per step the network is fixed by the seed alone
    kwargs = dict(schema=DOMAIN, epsilon=1.0, delta=1e-9, rng=7)
    one = PrivBayesSynthesizer(max_candidates=1).fit(_table(seed=1), **kwargs)
    two = PrivBayesSynthesizer(max_candidates=1).fit(_table(seed=2)[::-1], **kwargs)
    assert one.network == two.network
    _check_dag(one.network, list(DOMAIN), 3)


def test_recovers_a_strong_dependency_at_a_large_epsilon(fitted):
    data = _table()
    synth = fitted.sample(20_000, rng=0)
    baseline = IndependentSynthesizer().fit(
        data, schema=DOMAIN, epsilon=5.0, delta=1e-9, rng=0
    )
    independent = baseline.sample(20_000, rng=0)
    # Real (a, b): 0.25 * (0.95 + 0.05 / 4) on the diagonal, 0.25 * 0.0125 off
    # it; its TVD to the product of uniform marginals is 0.72. PrivBayes' error
    # is the sampling error of 20,000 draws from 16 cells (expected ~0.01) plus
    # the DP noise at epsilon = 5 (sigma ~ 3 on counts of ~ 1000): well below
    # 0.06; the independent baseline stays near 0.72.
    assert _tvd(data, synth, ["a", "b"]) < 0.06
    assert _tvd(data, independent, ["a", "b"]) > 0.6
    assert _tvd(data, synth, ["b", "c"]) < 0.06
    linked = {frozenset((c, p)) for c, ps in fitted.network for p in ps}
    assert frozenset("ab") in linked


# ------------------------------------------------------------------- ledger
def test_ledger_has_one_selection_per_step_and_one_measurement_per_family(fitted):
    kinds = [(e.event.kind, e.count) for e in fitted.ledger]
    selections = [e for e in fitted.ledger if e.event.kind == "exponential"]
    measures = [e for e in fitted.ledger if e.event.kind == "gaussian"]
    assert {k for k, _ in kinds} == {"exponential", "gaussian"}
    assert all(c == 1 for _, c in kinds)
    assert len(selections) == len(DOMAIN) - 1
    assert len(measures) == len(fitted.network) == len(DOMAIN)
    # the first measurement sizes the usefulness rule, before any selection
    assert kinds[0][0] == "gaussian"
    assert all(k == "exponential" for k, _ in kinds[1 : len(DOMAIN)])
    # each measured family is one of the network's, in order
    for entry, (child, parents) in zip(measures, fitted.network, strict=True):
        assert entry.event.columns == (*parents, child)
    assert 0.995 * 5.0 <= fitted.ledger.epsilon <= 5.0


def test_one_column_spends_everything_on_one_marginal():
    data = _table()[["a"]]
    syn = PrivBayesSynthesizer().fit(
        data, schema=Domain({"a": 4}), epsilon=1.0, delta=1e-9, rng=0
    )
    assert [e.event.kind for e in syn.ledger] == ["gaussian"]
    assert 0.995 <= syn.ledger.epsilon <= 1.0
    assert syn.sample(10, rng=0).shape == (10, 1)


def test_select_fraction_sets_the_structure_share():
    def selection_share(fraction, pld="never"):
        acc = PrivacyAccountant(epsilon=1.0, delta=1e-9, pld=pld)
        PrivBayesSynthesizer(select_fraction=fraction).fit(
            _table(), schema=DOMAIN, accountant=acc, rng=0
        )
        eps = [e.event.epsilon for e in acc.ledger if e.event.kind == "exponential"]
        sigmas = [e.event.sigma for e in acc.ledger if e.event.kind == "gaussian"]
        rho_select = sum(e * e / 8 for e in eps)
        rho_measure = sum(1 / (2 * s * s) for s in sigmas)
        return rho_select / (rho_select + rho_measure)

    for fraction in (0.1, 0.5):
        # exact in zCDP, the planning currency
        assert selection_share(fraction) == pytest.approx(fraction, rel=1e-3)
        # under the PLD route the rho shares move a little (a selection costs
        # more than its rho, a Gaussian measurement less)
        tight = selection_share(fraction, pld="always")
        assert tight == pytest.approx(fraction, rel=0.1)


# ------------------------------------------------- conditionals and sampling
def test_conditional_projects_normalises_and_falls_back():
    noisy = np.array([[5, -2, 7], [-3, -4, -1], [0, 10, 0]])  # 3 configs x 3
    table = _conditional(noisy, total=20.0, child_size=3)
    # projection onto 20 nonnegative counts subtracts 2/3 from the three
    # positive cells and zeroes the rest; row 1 has no mass left, so it gets
    # the child's marginal of the projected table
    projected = np.array([[13, 0, 19], [0, 0, 0], [0, 28, 0]]) / 3
    np.testing.assert_allclose(table[0], projected[0] / projected[0].sum())
    np.testing.assert_allclose(table[1], projected.sum(axis=0) / 20)
    np.testing.assert_allclose(table[2], [0.0, 1.0, 0.0])


def test_conditional_fallback_rows_use_the_child_marginal():
    noisy = np.array([[10, 0, 10], [-5, -5, -5]])
    table = _conditional(noisy, total=20.0, child_size=3)
    np.testing.assert_allclose(table[0], [0.5, 0.0, 0.5])
    np.testing.assert_allclose(table[1], [0.5, 0.0, 0.5])  # the marginal


def test_sampling_follows_a_fixed_model():
    syn = PrivBayesSynthesizer()
    syn.domain_ = Domain({"x": 2, "y": 3})
    syn.encoder_ = None
    syn.schema_ = syn.domain_
    syn.ledger_ = PrivacyAccountant.unlimited().ledger
    syn.total_ = 100.0
    syn.network_ = [("y", ()), ("x", ("y",))]
    syn.conditionals_ = [
        np.array([[0.5, 0.3, 0.2]]),
        np.array([[1.0, 0.0], [0.0, 1.0], [0.5, 0.5]]),
    ]
    out = syn.sample(50_000, rng=1)
    np.testing.assert_allclose(
        out["y"].value_counts(normalize=True).sort_index(), [0.5, 0.3, 0.2], atol=0.01
    )
    assert (out.loc[out["y"] == 0, "x"] == 0).all()
    assert (out.loc[out["y"] == 1, "x"] == 1).all()
    assert len(syn.sample(rng=0)) == 100


# ----------------------------------------------------------------- save/load
def test_save_load_round_trip(fitted, tmp_path):
    loaded = Synthesizer.load(fitted.save(tmp_path / "pb.json"))
    assert isinstance(loaded, PrivBayesSynthesizer)
    assert loaded.network == fitted.network
    assert loaded.get_params() == fitted.get_params()
    for a, b in zip(loaded.conditionals_, fitted.conditionals_, strict=True):
        np.testing.assert_array_equal(a, b)
    pd.testing.assert_frame_equal(loaded.sample(300, rng=4), fitted.sample(300, rng=4))


# --------------------------------------------------------------- validation
@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"degree": "high"}, "`degree` ('high') must be \"auto\" or an integer >= 0."),
        ({"degree": -1}, '`degree` (-1) must be "auto" or an integer >= 0.'),
        ({"max_degree": 1.5}, "`max_degree` (1.5) must be an integer >= 0."),
        ({"theta": 0}, "`theta` (0) must be a positive, finite number."),
        ({"select_fraction": 1.0}, "`select_fraction` (1.0) must be in (0, 1)."),
        ({"max_candidates": 0}, "`max_candidates` (0) must be an integer >= 1."),
    ],
)
def test_bad_hyperparameters_are_refused_before_any_spend(params, message, monkeypatch):
    def forbidden(*args, **kw):
        raise AssertionError("noise was drawn")

    monkeypatch.setattr(opendp.mod.Measurement, "__call__", forbidden)
    monkeypatch.setattr(opendp.mod.Measurement, "invoke", forbidden)
    acc = PrivacyAccountant(epsilon=1.0, delta=1e-9)
    with pytest.raises(ValidationError, match=re.escape(message)):
        PrivBayesSynthesizer(**params).fit(_table(), schema=DOMAIN, accountant=acc)
    assert len(acc.ledger) == 0
