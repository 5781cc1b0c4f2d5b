"""Shared measurement helpers: batch budget check, row total, simplex projection."""

from __future__ import annotations

import numpy as np
import opendp.mod
import pytest

from dpsynth.data import Dataset, Domain
from dpsynth.errors import BudgetExceededError
from dpsynth.privacy.accountant import PrivacyAccountant
from dpsynth.privacy.events import GaussianEvent
from dpsynth.synthesizers._measure import (
    measure_marginals,
    noisy_total,
    project_to_simplex_counts,
)


def _brute_projection(v: np.ndarray, total: float) -> np.ndarray:
    """KKT solution by bisection on the shift theta: sum(max(v - theta, 0)) = total."""
    lo, hi = v.min() - total, v.max()
    for _ in range(200):
        mid = (lo + hi) / 2
        if np.maximum(v - mid, 0).sum() > total:
            lo = mid
        else:
            hi = mid
    return np.maximum(v - hi, 0)


@pytest.mark.parametrize("seed", range(20))
def test_simplex_projection_matches_the_kkt_solution(seed):
    rng = np.random.default_rng(seed)
    v = rng.normal(0, 50, size=rng.integers(1, 40))
    total = float(rng.uniform(1, 500))
    got = project_to_simplex_counts(v, total)
    assert got.min() >= 0
    assert got.sum() == pytest.approx(total, rel=1e-12)
    np.testing.assert_allclose(got, _brute_projection(v, total), atol=1e-7)


def test_simplex_projection_keeps_shape_and_feasible_points():
    v = np.array([[1.0, 2.0], [3.0, 4.0]])
    np.testing.assert_allclose(project_to_simplex_counts(v, 10.0), v)


def test_noisy_total_is_inverse_variance_weighted():
    a = np.array([10, 20])  # sum 30, 2 cells, sigma 1 -> variance 2
    b = np.array([5, 5, 5, 5])  # sum 20, 4 cells, sigma 2 -> variance 16
    expected = (30 / 2 + 20 / 16) / (1 / 2 + 1 / 16)
    assert noisy_total([a, b], [1.0, 2.0]) == pytest.approx(expected)
    assert noisy_total([np.array([-5, -3])], [1.0]) == 1.0  # floored


def test_measure_marginals_charges_one_event_per_marginal():
    ds = Dataset(np.array([[0, 1], [1, 1], [1, 0]]), Domain({"a": 2, "b": 2}))
    acc = PrivacyAccountant.unlimited()
    out = measure_marginals(
        ds, [("a",), ("a", "b")], sigma=3.0, accountant=acc, label="m"
    )
    assert [m.shape for m in out] == [(2,), (2, 2)]
    assert [e.event.label for e in acc.ledger] == ["m a", "m a x b"]
    assert [e.event.columns for e in acc.ledger] == [("a",), ("a", "b")]


def test_a_batch_that_does_not_fit_draws_nothing(monkeypatch):
    ds = Dataset(np.array([[0, 1]]), Domain({"a": 2, "b": 2}))
    acc = PrivacyAccountant(epsilon=1.0, delta=1e-9)
    sigma = acc.plan_gaussian_sigma(1)  # one fits, two do not
    assert acc.can_spend(GaussianEvent(sigma=sigma))

    def forbidden(*args, **kw):
        raise AssertionError("noise was drawn")

    monkeypatch.setattr(opendp.mod.Measurement, "__call__", forbidden)
    monkeypatch.setattr(opendp.mod.Measurement, "invoke", forbidden)
    with pytest.raises(BudgetExceededError):
        measure_marginals(ds, [("a",), ("b",)], sigma=sigma, accountant=acc, label="m")
    assert len(acc.ledger) == 0
