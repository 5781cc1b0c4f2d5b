import math
import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import dpsynth.mechanisms.noise as noise_module
from dpsynth.errors import BudgetExceededError, InternalError, ValidationError
from dpsynth.mechanisms import (
    gaussian_counts,
    laplace_counts,
    laplace_scale_for_epsilon,
)
from dpsynth.mechanisms._opendp import opendp
from dpsynth.privacy import conversions
from dpsynth.privacy.events import GaussianEvent, LaplaceEvent

MECHANISMS = {
    "gaussian": lambda counts, acc, **kw: gaussian_counts(
        counts, sigma=kw.pop("sigma", 3.0), accountant=acc, label="t", **kw
    ),
    "laplace": lambda counts, acc, **kw: laplace_counts(
        counts, scale=kw.pop("sigma", 3.0), accountant=acc, label="t", **kw
    ),
}


@pytest.mark.parametrize("name", sorted(MECHANISMS))
@pytest.mark.parametrize(
    "counts",
    [
        np.arange(24, dtype=np.int32).reshape(2, 3, 4),
        np.array(7, dtype=np.int64),
        np.array([0, 255], dtype=np.uint8),
        [1, 2, 3],
        np.array([2**40, -5], dtype=np.int64),
    ],
)
def test_shape_and_dtype_preserved(name, counts, unlimited):
    out = MECHANISMS[name](counts, unlimited)
    assert out.shape == np.shape(counts)
    assert out.dtype == np.int64


def test_tiny_noise_keeps_the_counts():
    # At sigma = scale = 1e-3, P(noise != 0) per cell is below 2 exp(-500000)
    # (Gaussian) and 2 exp(-1000) (Laplace): the output equals the input, so a
    # mechanism that dropped or truncated the counts (2**40 > int32) fails.
    counts = np.array([[2**40, -3], [17, 0]])
    out = gaussian_counts(counts, sigma=1e-3, accountant=_big(), label="t")
    np.testing.assert_array_equal(out, counts)
    out = laplace_counts(counts, scale=1e-3, accountant=_big(), label="t")
    np.testing.assert_array_equal(out, counts)


def _big():
    from dpsynth.privacy.accountant import PrivacyAccountant

    return PrivacyAccountant.unlimited(delta=1e-9)


def test_gaussian_ledger_records_the_event(unlimited, spent):
    gaussian_counts(
        [[1, 2], [3, 4]],
        sigma=2.5,
        accountant=unlimited,
        label="age x sex",
        columns=["age", "sex"],
        l2_sensitivity=2.0,
    )
    expected = GaussianEvent(
        sigma=2.5, l2_sensitivity=2.0, label="age x sex", columns=("age", "sex")
    )
    assert spent(unlimited) == [(expected, 1)]


def test_laplace_ledger_records_the_event(unlimited, spent):
    laplace_counts([1, 2], scale=4.0, accountant=unlimited, label="h", columns=("a",))
    expected = LaplaceEvent(scale=4.0, l1_sensitivity=1.0, label="h", columns=("a",))
    assert spent(unlimited) == [(expected, 1)]


@pytest.mark.parametrize("name", sorted(MECHANISMS))
def test_refused_spend_draws_no_noise(name, tight, sampler_spy, spent):
    with pytest.raises(BudgetExceededError):
        MECHANISMS[name]([1, 2, 3], tight, sigma=0.1)
    assert sampler_spy.calls == 0
    assert spent(tight) == []


@pytest.mark.parametrize("name", sorted(MECHANISMS))
def test_sampler_spy_sees_an_allowed_spend(name, unlimited, sampler_spy, spent):
    # positive control for the test above: the spy does catch the sampling
    with pytest.raises(sampler_spy.exception):
        MECHANISMS[name]([1, 2, 3], unlimited)
    assert sampler_spy.calls == 1
    assert len(spent(unlimited)) == 1  # charged before sampling


FLOAT_MSG = "`counts` (dtype float64) must hold integers."


@pytest.mark.parametrize("name", sorted(MECHANISMS))
@pytest.mark.parametrize(
    ("counts", "message"),
    [
        (np.array([1.0, 2.0]), FLOAT_MSG),
        (np.array([1.0, np.nan]), FLOAT_MSG),
        (np.array([True, False]), "`counts` (dtype bool) must hold integers."),
        (["a", "b"], "`counts` (dtype <U1) must hold integers."),
        (np.zeros((0, 3), dtype=np.int64), "`counts` (shape (0, 3)) must be non-empty"),
        ([], "`counts` (dtype float64) must hold integers."),
        (np.array([2**64 - 1], dtype=np.uint64), "must fit in int64"),
    ],
)
def test_bad_counts(name, counts, message, unlimited, spent):
    with pytest.raises(ValidationError, match=re.escape(message)):
        MECHANISMS[name](counts, unlimited)
    assert spent(unlimited) == []


@pytest.mark.parametrize("name", sorted(MECHANISMS))
@pytest.mark.parametrize("bad", [0.0, -1.0, math.nan, math.inf, True, "2", None])
def test_bad_scale(name, bad, unlimited, spent):
    arg = "sigma" if name == "gaussian" else "scale"
    msg = f"`{arg}` ({bad!r}) must be a positive, finite number."
    with pytest.raises(ValidationError, match=re.escape(msg)):
        MECHANISMS[name]([1], unlimited, sigma=bad)
    assert spent(unlimited) == []


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"l2_sensitivity": 0}, "`l2_sensitivity` (0) must be a positive"),
        ({"columns": "age"}, "`columns` ('age') must be a sequence of column names"),
        ({"columns": [1]}, "`columns` ([1]) must be a sequence of column names"),
        ({"label": 3}, "`label` (3) must be a string."),
    ],
)
def test_bad_event_arguments(kwargs, message, unlimited, spent):
    args = {"sigma": 1.0, "accountant": unlimited, "label": "t", **kwargs}
    with pytest.raises(ValidationError, match=re.escape(message)):
        gaussian_counts([1], **args)
    assert spent(unlimited) == []


def test_understated_event_is_an_internal_error(
    monkeypatch, unlimited, sampler_spy, spent
):
    # If our conversion understated OpenDP's loss by more than a few ulps, the
    # mechanism must refuse before spending or sampling.
    monkeypatch.setattr(
        conversions, "gaussian_rho", lambda sigma, l2_sensitivity: 0.5 / sigma**2 / 2
    )
    with pytest.raises(InternalError, match="understate"):
        gaussian_counts([1], sigma=1.0, accountant=unlimited, label="t")
    assert sampler_spy.calls == 0
    assert spent(unlimited) == []


def _captured(monkeypatch):
    """Captures the measurement the mechanism invokes, and returns zeros."""
    seen = []

    def fake_invoke(measurement, data):
        seen.append(measurement)
        return [0] * len(data)

    monkeypatch.setattr(noise_module, "invoke", fake_invoke)
    return seen


@settings(max_examples=40, deadline=None)
@given(
    sigma=st.floats(1e-3, 1e6),
    l2=st.sampled_from([1.0, 2.0, 3.0, math.sqrt(2), 0.5]),
)
def test_invoked_gaussian_is_covered_by_the_charged_event(sigma, l2):
    with pytest.MonkeyPatch.context() as mp:
        seen = _captured(mp)
        gaussian_counts(
            [0], sigma=sigma, accountant=_big(), label="t", l2_sensitivity=l2
        )
    (meas,) = seen
    d_in = int(l2) if l2.is_integer() else l2
    assert meas.map(d_in) <= conversions.gaussian_rho(sigma=sigma, l2_sensitivity=l2)
    assert str(meas.output_measure) == "ZeroConcentratedDivergence"


@settings(max_examples=40, deadline=None)
@given(scale=st.floats(1e-3, 1e6), l1=st.sampled_from([1.0, 2.0, 0.5]))
def test_invoked_laplace_is_covered_by_the_charged_event(scale, l1):
    with pytest.MonkeyPatch.context() as mp:
        seen = _captured(mp)
        laplace_counts(
            [0], scale=scale, accountant=_big(), label="t", l1_sensitivity=l1
        )
    (meas,) = seen
    d_in = int(l1) if l1.is_integer() else l1
    assert meas.map(d_in) <= conversions.laplace_epsilon(scale=scale, l1_sensitivity=l1)
    assert str(meas.output_measure) == "MaxDivergence"


@settings(max_examples=60, deadline=None)
@given(epsilon=st.floats(1e-4, 1e3), l1=st.sampled_from([1.0, 2.0, 0.5]))
def test_laplace_scale_for_epsilon_is_tight_and_sound(epsilon, l1):
    scale = laplace_scale_for_epsilon(epsilon, l1_sensitivity=l1)
    assert conversions.laplace_epsilon(scale=scale, l1_sensitivity=l1) <= epsilon
    assert scale <= l1 / epsilon * (1 + 1e-13)
    dp = opendp()
    d_in, metric_t = (int(l1), "i64") if l1.is_integer() else (l1, float)
    meas = dp.m.make_laplace(
        dp.vector_domain(dp.atom_domain(T="i64")), dp.l1_distance(T=metric_t), scale
    )
    assert meas.map(d_in) <= epsilon


@pytest.mark.parametrize("bad", [0, -1.0, math.inf])
def test_laplace_scale_for_epsilon_rejects_bad_epsilon(bad):
    msg = f"`epsilon` ({bad!r}) must be a positive, finite number."
    with pytest.raises(ValidationError, match=re.escape(msg)):
        laplace_scale_for_epsilon(bad)
