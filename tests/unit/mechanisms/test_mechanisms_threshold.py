import math
import re

import pytest

import dpsynth.mechanisms.threshold as threshold_module
from dpsynth.errors import BudgetExceededError, InternalError, ValidationError
from dpsynth.mechanisms import threshold_for_delta, threshold_histogram
from dpsynth.mechanisms.threshold import (
    _ONE_ROW,
    _charged_delta,
    _threshold_measurement,
)
from dpsynth.privacy.events import ApproxDPEvent


def _singleton_release_probability(scale, threshold):
    """P(1 + Z >= t) for Z discrete Laplace: p^(t-1) / (1 + p), p = e^(-1/b)."""
    p = math.exp(-1 / scale)
    return p ** (threshold - 1) / (1 + p)


@pytest.mark.parametrize("scale", [0.3, 1.0, 2.0, 17.5])
@pytest.mark.parametrize("threshold", [2, 3, 5, 20])
def test_charged_delta_covers_the_singleton_release_probability(scale, threshold):
    exact = _singleton_release_probability(scale, threshold)
    charged = _charged_delta(scale, threshold)
    assert charged >= exact
    # OpenDP rounds up, adding at most ~1e-16 absolute (its floor for tiny deltas)
    assert charged <= exact * (1 + 1e-9) + 2.3e-16


def test_opendp_threshold_map_is_off_by_one():
    # opendp/opendp#2922: the map of threshold t states P(Z >= t), not
    # P(1 + Z >= t). If this starts failing, OpenDP fixed it; _charged_delta
    # stays sound (it then over-charges by one step) but can be simplified.
    stated = _threshold_measurement(1.0, 5).map(_ONE_ROW)[1]
    assert stated < _singleton_release_probability(1.0, 5) / 2


@pytest.mark.parametrize("scale", [0.3, 1.0, 2.0, 17.5, 1000.0])
@pytest.mark.parametrize("delta", [0.3, 1e-6, 1e-9, 1e-13])
def test_threshold_for_delta_is_the_least_sound_threshold(scale, delta):
    t = threshold_for_delta(scale, delta)
    assert t >= 2
    assert _charged_delta(scale, t) <= delta
    assert t == 2 or _charged_delta(scale, t - 1) > delta
    # P(1 + Z >= t) = exp(-(t - 1) / b) / (1 + e^(-1/b)) <= delta once
    # t >= 1 + b ln(1 / delta), so the search ends within a step of that
    assert t <= 2 + scale * math.log(1 / delta)


def test_threshold_for_delta_refuses_an_unreachable_delta():
    msg = "`delta` (1e-20) must be at least the smallest delta OpenDP states"
    with pytest.raises(ValidationError, match=re.escape(msg)):
        threshold_for_delta(1.0, 1e-20)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((0.0, 1e-9), "`scale` (0.0) must be a positive, finite number."),
        ((1.0, 0.0), "`delta` (0.0) must be in the open interval (0, 1)."),
        ((1.0, 1.0), "`delta` (1.0) must be in the open interval (0, 1)."),
    ],
)
def test_threshold_for_delta_bad_arguments(args, message):
    with pytest.raises(ValidationError, match=re.escape(message)):
        threshold_for_delta(*args)


def test_releases_frequent_keys_only_with_noisy_counts(unlimited):
    # scale 1, threshold 30: the singleton 'rare' survives with probability
    # ~ e^-29 ~ 3e-13; 'a' (500 rows) is dropped with probability ~ e^-470
    column = ["a"] * 500 + ["b"] * 300 + ["rare"]
    out = threshold_histogram(
        column, scale=1.0, threshold=30, accountant=unlimited, label="t"
    )
    assert sorted(out) == ["a", "b"]
    assert all(type(v) is int for v in out.values())
    # |Z| >= 40 has probability ~ 2 e^-40
    assert abs(out["a"] - 500) < 40
    assert abs(out["b"] - 300) < 40


def test_ledger_records_opendp_epsilon_and_delta(unlimited, spent):
    threshold_histogram(
        ["x", "y"],
        scale=2.0,
        threshold=40,
        accountant=unlimited,
        label="categories of city",
        columns=["city"],
    )
    expected = ApproxDPEvent(
        epsilon=0.5,
        delta=_charged_delta(2.0, 40),
        label="categories of city",
        columns=("city",),
    )
    assert spent(unlimited) == [(expected, 1)]
    # one row touches one key: the delta is that of a single key's count
    assert expected.delta == pytest.approx(_singleton_release_probability(2.0, 40))


def test_empty_column_is_measured_not_refused(unlimited, spent):
    # the number of rows is private: an empty column must not raise
    assert (
        threshold_histogram(
            [], scale=1.0, threshold=20, accountant=unlimited, label="t"
        )
        == {}
    )
    assert len(spent(unlimited)) == 1


def test_refused_spend_draws_no_noise(tight, sampler_spy, spent):
    with pytest.raises(BudgetExceededError):
        threshold_histogram(
            ["a"], scale=0.05, threshold=1000, accountant=tight, label="t"
        )
    assert sampler_spy.calls == 0
    assert spent(tight) == []


def test_sampler_spy_sees_an_allowed_spend(unlimited, sampler_spy):
    with pytest.raises(sampler_spy.exception):
        threshold_histogram(
            ["a"], scale=1.0, threshold=30, accountant=unlimited, label="t"
        )
    assert sampler_spy.calls == 1


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ("abc", "`values` (a single str) must be a sequence of strings, one per row."),
        (["a", None], "`values` (entry 1 has type NoneType) must hold only strings."),
        (["a", math.nan], "`values` (entry 1 has type float) must hold only strings."),
        (3, "`values` (int) must be a sequence of strings."),
    ],
)
def test_bad_values(values, message, unlimited, spent):
    with pytest.raises(ValidationError, match=re.escape(message)):
        threshold_histogram(
            values, scale=1.0, threshold=30, accountant=unlimited, label="t"
        )
    assert spent(unlimited) == []


def test_bad_value_message_does_not_echo_records(unlimited):
    with pytest.raises(ValidationError) as info:
        threshold_histogram(
            ["alice", 12345678],
            scale=1.0,
            threshold=30,
            accountant=unlimited,
            label="t",
        )
    assert "12345678" not in str(info.value)
    assert "alice" not in str(info.value)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"threshold": 0}, "`threshold` (0) must be an integer >= 1."),
        (
            {"threshold": 1},
            "`threshold` (1) must be an integer in [2, 4611686018427387904]",
        ),
        (
            {"threshold": 2**63},
            "`threshold` (9223372036854775808) must be an integer in",
        ),
        ({"threshold": 2.5}, "`threshold` (2.5) must be an integer >= 1."),
        ({"threshold": True}, "`threshold` (True) must be an integer >= 1."),
        ({"scale": -1.0}, "`scale` (-1.0) must be a positive, finite number."),
        ({"columns": "city"}, "`columns` ('city') must be a sequence"),
    ],
)
def test_bad_arguments(kwargs, message, unlimited, spent):
    args = {"scale": 1.0, "threshold": 30, "accountant": unlimited, "label": "t"}
    with pytest.raises(ValidationError, match=re.escape(message)):
        threshold_histogram(["a"], **{**args, **kwargs})
    assert spent(unlimited) == []


def test_count_by_maps_one_row_to_one_key():
    # the stability the privacy analysis relies on (checked inside the mechanism)
    dp = threshold_module.opendp()
    count_by = dp.t.make_count_by(
        dp.vector_domain(dp.atom_domain(T=str)), dp.symmetric_distance(), TV="i64"
    )
    assert count_by.map(1) == _ONE_ROW


def test_understated_delta_is_an_internal_error(
    monkeypatch, unlimited, sampler_spy, spent
):
    real = _threshold_measurement

    class Understated:
        def map(self, d_in):
            return (1.0, 1e-300)

    def fake(scale, threshold):
        return Understated() if threshold == 29 else real(scale, threshold)

    monkeypatch.setattr(threshold_module, "_threshold_measurement", fake)
    with pytest.raises(InternalError, match="is below the discrete Laplace tail"):
        threshold_histogram(
            ["a"], scale=1.0, threshold=30, accountant=unlimited, label="t"
        )
    assert sampler_spy.calls == 0
    assert spent(unlimited) == []
