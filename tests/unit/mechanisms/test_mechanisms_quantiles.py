import math
import re

import numpy as np
import pytest

import dpsynth.mechanisms.quantile as quantile_module
from dpsynth.errors import BudgetExceededError, InternalError, ValidationError
from dpsynth.mechanisms import quantiles
from dpsynth.privacy import conversions
from dpsynth.privacy.events import ExponentialEvent

GRID = np.arange(0, 1001, 100)


def _run(values, acc, **kwargs):
    args = {"candidates": GRID, "alphas": [0.5], "epsilon": 1.0, "label": "t"}
    return quantiles(values, accountant=acc, **{**args, **kwargs})


def test_integer_path(unlimited):
    # 100k rows: a candidate 100 away from the median has a score 5e4 worse
    # than the median's; with scale 1 it wins with probability ~ e^-50000
    out = _run(np.arange(100_001), unlimited, candidates=np.arange(0, 100_001, 100))
    assert out.dtype == np.int64
    assert out.tolist() == [50_000]


def test_float_path_and_order_of_alphas(unlimited):
    values = np.linspace(0.0, 1000.0, 20_001)
    out = _run(values, unlimited, alphas=[0.9, 0.1, 0.5])
    assert out.dtype == np.float64
    assert out.tolist() == [900.0, 100.0, 500.0]


def test_int_values_with_float_candidates(unlimited):
    out = _run(list(range(20_001)), unlimited, candidates=np.linspace(0, 20_000, 11))
    assert out.dtype == np.float64
    assert out.tolist() == [10_000.0]


def test_outputs_are_candidates_even_for_empty_data(unlimited, spent):
    # the row count is private: empty data is measured, not refused
    out = _run([], unlimited, alphas=[0.25, 0.75])
    assert set(out.tolist()) <= set(GRID.tolist())
    assert len(spent(unlimited)) == 1


def test_infinite_values_are_allowed(unlimited):
    values = np.r_[np.full(5000, -np.inf), np.full(5000, np.inf), [500.0]]
    out = _run(values, unlimited)
    assert out[0] in GRID


def test_ledger_records_one_event_per_alpha(unlimited, spent):
    _run(
        [1, 2, 3],
        unlimited,
        alphas=[0.1, 0.5, 0.9],
        epsilon=0.2,
        label="bins of age",
        columns=("age",),
    )
    expected = ExponentialEvent(epsilon=0.2, label="bins of age", columns=("age",))
    assert spent(unlimited) == [(expected, 3)]


def test_refused_spend_draws_no_noise(tight, sampler_spy, spent):
    with pytest.raises(BudgetExceededError):
        _run([1, 2, 3], tight, alphas=[0.5, 0.6], epsilon=5.0)
    assert sampler_spy.calls == 0
    assert spent(tight) == []


def test_sampler_spy_sees_an_allowed_spend(unlimited, sampler_spy):
    with pytest.raises(sampler_spy.exception):
        _run([1, 2, 3], unlimited)
    assert sampler_spy.calls == 1


@pytest.mark.parametrize("alpha", [0.5, 0.3, 0.01, 0.999])
@pytest.mark.parametrize("epsilon", [0.05, 1.0, 9.0])
def test_invoked_measurement_is_gumbel_and_covered(
    monkeypatch, unlimited, alpha, epsilon
):
    seen = []
    monkeypatch.setattr(quantile_module, "invoke", lambda m, d: seen.append(m) or 0)
    _run([1.0, 2.0], unlimited, alphas=[alpha], epsilon=epsilon)
    (meas,) = seen
    assert str(meas.output_measure) == "ZeroConcentratedDivergence"
    assert str(meas.input_metric) == "SymmetricDistance()"
    rho = meas.map(1)
    assert rho <= conversions.exponential_rho(epsilon=epsilon)
    # scale = 2 max(alpha, 1 - alpha) / epsilon gives exactly epsilon^2 / 8
    assert rho == pytest.approx(epsilon**2 / 8, rel=1e-9)


def test_understated_event_is_an_internal_error(
    monkeypatch, unlimited, sampler_spy, spent
):
    monkeypatch.setattr(conversions, "exponential_rho", lambda epsilon: epsilon**2 / 9)
    with pytest.raises(InternalError, match="understate"):
        _run([1.0], unlimited)
    assert sampler_spy.calls == 0
    assert spent(unlimited) == []


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"candidates": []}, "`candidates` (shape (0,)) must be a non-empty 1-D"),
        ({"candidates": [1, 3, 2]}, "`candidates` must be strictly increasing."),
        ({"candidates": [1, 2, 2]}, "`candidates` must be strictly increasing."),
        ({"candidates": [0.0, math.nan]}, "`candidates` (entry 1 is nan) must be"),
        ({"candidates": [0.0, math.inf]}, "`candidates` (entry 1 is inf) must be"),
        ({"alphas": [0.0]}, "`alphas` (0.0) must be in the open interval (0, 1)."),
        ({"alphas": [0.5, 1.0]}, "`alphas` (1.0) must be in the open interval"),
        ({"alphas": [1.5]}, "`alphas` (1.5) must be in the open interval (0, 1)."),
        ({"alphas": []}, "`alphas` ([]) must be non-empty."),
        ({"alphas": 0.5}, "`alphas` (0.5) must be a sequence of levels in (0, 1)"),
        ({"alphas": ["a"]}, "`alphas` ('a') must be in the open interval (0, 1)."),
        ({"epsilon": -1.0}, "`epsilon` (-1.0) must be a positive, finite number."),
    ],
)
def test_bad_arguments(kwargs, message, unlimited, spent):
    with pytest.raises(ValidationError, match=re.escape(message)):
        _run([1.0, 2.0], unlimited, **kwargs)
    assert spent(unlimited) == []


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ([1.0, math.nan], "`values` must not contain NaN. Drop missing values first"),
        ([1.0, None], "`values` must not contain NaN. Drop missing values first"),
        ([1.0, "x"], "`values` (dtype <U32) must hold numbers."),
        (["a", "b"], "`values` (dtype <U1) must hold numbers."),
        ([True, False], "`values` (dtype bool, shape (2,)) must be a 1-D sequence"),
        ([[1.0, 2.0]], "`values` (dtype float64, shape (1, 2)) must be a 1-D"),
    ],
)
def test_bad_values(values, message, unlimited, spent):
    with pytest.raises(ValidationError, match=re.escape(message)):
        _run(values, unlimited)
    assert spent(unlimited) == []
