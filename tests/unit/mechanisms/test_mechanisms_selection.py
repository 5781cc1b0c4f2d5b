import math
import re

import numpy as np
import pytest

import dpsynth.mechanisms.selection as selection_module
from dpsynth.errors import BudgetExceededError, InternalError, ValidationError
from dpsynth.mechanisms import noisy_max
from dpsynth.mechanisms._opendp import opendp
from dpsynth.privacy import conversions
from dpsynth.privacy.events import ExponentialEvent


def test_returns_an_index_and_picks_a_dominant_score(unlimited):
    # the Gumbel noise (scale 2) exceeds 1e6 with probability ~ exp(-5e5)
    out = noisy_max(
        np.array([0.0, -3.0, 1e6, 2.0]),
        epsilon=1.0,
        sensitivity=1.0,
        accountant=unlimited,
        label="t",
    )
    assert out == 2
    assert type(out) is int


def test_integer_and_list_scores(unlimited):
    assert (
        noisy_max(
            [5, 10**7], epsilon=1.0, sensitivity=1, accountant=unlimited, label="t"
        )
        == 1
    )


def test_ledger_records_the_event(unlimited, spent):
    noisy_max(
        [1.0, 2.0],
        epsilon=0.3,
        sensitivity=2.0,
        accountant=unlimited,
        label="pick pair",
        columns=("a", "b"),
        monotonic=True,
    )
    expected = ExponentialEvent(epsilon=0.3, label="pick pair", columns=("a", "b"))
    assert spent(unlimited) == [(expected, 1)]


def test_refused_spend_draws_no_noise(tight, sampler_spy, spent):
    with pytest.raises(BudgetExceededError):
        noisy_max(
            [1.0, 2.0], epsilon=50.0, sensitivity=1.0, accountant=tight, label="t"
        )
    assert sampler_spy.calls == 0
    assert spent(tight) == []


def test_sampler_spy_sees_an_allowed_spend(unlimited, sampler_spy):
    with pytest.raises(sampler_spy.exception):
        noisy_max(
            [1.0, 2.0], epsilon=1.0, sensitivity=1.0, accountant=unlimited, label="t"
        )
    assert sampler_spy.calls == 1


@pytest.mark.parametrize(
    ("scores", "message"),
    [
        ([], "`scores` (shape (0,)) must be a non-empty 1-D sequence."),
        ([[1.0, 2.0]], "`scores` (shape (1, 2)) must be a non-empty 1-D sequence."),
        ([1.0, math.nan], "`scores` (entry 1 is nan) must be finite."),
        ([math.inf, 1.0], "`scores` (entry 0 is inf) must be finite."),
        (["a", "b"], "`scores` (list) must be a 1-D sequence of numbers."),
        ([True, False], "`scores` (dtype bool) must hold numbers"),
    ],
)
def test_bad_scores(scores, message, unlimited, spent):
    with pytest.raises(ValidationError, match=re.escape(message)):
        noisy_max(scores, epsilon=1.0, sensitivity=1.0, accountant=unlimited, label="t")
    assert spent(unlimited) == []


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"epsilon": 0.0}, "`epsilon` (0.0) must be a positive, finite number."),
        ({"epsilon": math.inf}, "`epsilon` (inf) must be a positive, finite number."),
        ({"sensitivity": -1}, "`sensitivity` (-1) must be a positive, finite number."),
        ({"monotonic": "yes"}, "`monotonic` ('yes') must be True or False."),
    ],
)
def test_bad_arguments(kwargs, message, unlimited):
    args = {"epsilon": 1.0, "sensitivity": 1.0, "accountant": unlimited, "label": "t"}
    with pytest.raises(ValidationError, match=re.escape(message)):
        noisy_max([1.0, 2.0], **{**args, **kwargs})


@pytest.mark.parametrize("monotonic", [False, True])
@pytest.mark.parametrize("epsilon", [0.01, 0.3, 1.0, 7.0])
@pytest.mark.parametrize("sensitivity", [1.0, 0.1, 3.0])
def test_invoked_measurement_is_gumbel_and_covered(
    monkeypatch, unlimited, monotonic, epsilon, sensitivity
):
    seen = []
    monkeypatch.setattr(selection_module, "invoke", lambda m, data: seen.append(m) or 0)
    noisy_max(
        [1.0, 2.0],
        epsilon=epsilon,
        sensitivity=sensitivity,
        accountant=unlimited,
        label="t",
        monotonic=monotonic,
    )
    (meas,) = seen
    # Gumbel noise is what OpenDP samples for zCDP; its map is epsilon^2 / 8
    assert str(meas.output_measure) == "ZeroConcentratedDivergence"
    rho = meas.map(sensitivity)
    assert rho <= conversions.exponential_rho(epsilon=epsilon)
    assert rho == pytest.approx(epsilon**2 / 8, rel=1e-12)
    # the pure-DP map of the same scale states epsilon (up to rounding)
    dp = opendp()
    space = (
        dp.vector_domain(dp.atom_domain(T=float, nan=False)),
        dp.linf_distance(T=float, monotonic=monotonic),
    )
    scale = (1.0 if monotonic else 2.0) * sensitivity / epsilon
    pure = dp.m.make_noisy_max(*space, dp.max_divergence(), scale=scale)
    assert pure.map(sensitivity) == pytest.approx(epsilon, rel=1e-12)


def test_understated_event_is_an_internal_error(
    monkeypatch, unlimited, sampler_spy, spent
):
    monkeypatch.setattr(conversions, "exponential_rho", lambda epsilon: epsilon**2 / 9)
    with pytest.raises(InternalError, match="understate"):
        noisy_max(
            [1.0, 2.0], epsilon=1.0, sensitivity=1.0, accountant=unlimited, label="t"
        )
    assert sampler_spy.calls == 0
    assert spent(unlimited) == []
