"""Audit statistics against known values and exact coverage (no simulation)."""

import math

import pytest
from scipy.stats import binom

from dpsynth.audit.stats import clopper_pearson, epsilon_lower_bound, holm, wilson
from dpsynth.errors import ValidationError


def test_clopper_pearson_matches_closed_forms_and_tables():
    # k = 0 and k = n have closed forms: (alpha/2)^(1/n)
    assert clopper_pearson(0, 10) == (0.0, pytest.approx(1 - 0.025 ** (1 / 10)))
    assert clopper_pearson(10, 10) == (pytest.approx(0.025 ** (1 / 10)), 1.0)
    assert clopper_pearson(0, 10, side="upper")[1] == pytest.approx(1 - 0.05**0.1)
    # the textbook 5 / 10 interval
    low, high = clopper_pearson(5, 10)
    assert (round(low, 4), round(high, 4)) == (0.1871, 0.8129)
    assert clopper_pearson(3, 10, side="lower")[1] == 1.0
    assert clopper_pearson(0, 0) == (0.0, 1.0)


@pytest.mark.parametrize("n", [1, 7, 50])
def test_clopper_pearson_covers_every_rate_at_least_nominally(n):
    # exact coverage: the binomial probability of the k whose interval holds p
    intervals = [clopper_pearson(k, n) for k in range(n + 1)]
    uppers = [clopper_pearson(k, n, side="upper")[1] for k in range(n + 1)]
    for i in range(1, 400):
        p = i / 400
        pmf = binom.pmf(range(n + 1), n, p)
        two = sum(
            q for q, (lo, hi) in zip(pmf, intervals, strict=True) if lo <= p <= hi
        )
        one = sum(q for q, hi in zip(pmf, uppers, strict=True) if p <= hi)
        assert two >= 0.95 - 1e-12 and one >= 0.95 - 1e-12


def test_wilson_matches_the_textbook_value_and_stays_in_zero_one():
    assert [round(x, 4) for x in wilson(5, 10)] == [0.2366, 0.7634]
    low, high = wilson(0, 20)
    assert low == 0.0 and 0 < high < clopper_pearson(0, 20)[1]
    assert wilson(0, 0) == (0.0, 1.0)


def test_epsilon_bound_of_a_perfect_attack_is_the_closed_form():
    b = epsilon_lower_bound(
        true_positives=1000,
        false_negatives=0,
        false_positives=0,
        true_negatives=1000,
        delta=1e-5,
    )
    u = 1 - 0.025 ** (1 / 1000)  # each rate bounded at level 0.975, one-sided
    assert b.fpr_upper == pytest.approx(u) and b.fnr_upper == pytest.approx(u)
    assert b.lower_bound == pytest.approx(math.log((1 - 1e-5 - u) / u))


def test_epsilon_bound_is_zero_for_a_coin_and_below_the_truth_for_randomized_response():
    coin = epsilon_lower_bound(
        true_positives=500,
        false_negatives=500,
        false_positives=500,
        true_negatives=500,
        delta=0.0,
    )
    assert coin.lower_bound == 0.0
    # Randomized response at eps = 1 answers truthfully with e / (1 + e). Even at
    # its exact expected counts the bound stays below 1: the upper bounds on the
    # error rates sit above the true rates.
    n = 100_000
    truth = math.e / (1 + math.e)
    right = round(truth * n)
    rr = epsilon_lower_bound(
        true_positives=right,
        false_negatives=n - right,
        false_positives=n - right,
        true_negatives=right,
        delta=0.0,
    )
    assert 0.95 < rr.lower_bound < 1.0


@pytest.mark.parametrize(
    "kwargs",
    [
        {"true_positives": -1},
        {"false_positives": 1.5},
        {"true_positives": 0, "false_negatives": 0},
        {"delta": 1.0},
        {"confidence": 1.0},
    ],
)
def test_epsilon_bound_refuses_bad_input(kwargs):
    args = {
        "true_positives": 5,
        "false_negatives": 5,
        "false_positives": 5,
        "true_negatives": 5,
        "delta": 1e-6,
    } | kwargs
    with pytest.raises(ValidationError):
        epsilon_lower_bound(**args)


def test_bad_counts_and_confidence_are_refused():
    with pytest.raises(ValidationError, match="0 <= successes <= trials"):
        clopper_pearson(11, 10)
    with pytest.raises(ValidationError, match="`confidence`"):
        wilson(1, 10, confidence=0)
    with pytest.raises(ValidationError, match="`side`"):
        clopper_pearson(1, 10, side="both")  # type: ignore[arg-type]


def test_holm_steps_down_and_stops_at_the_first_acceptance():
    assert holm([0.01, 0.04, 0.03, 0.2], alpha=0.05) == [True, False, False, False]
    assert holm([0.001, 0.01, 0.02], alpha=0.05) == [True, True, True]
    assert holm([]) == []
    with pytest.raises(ValidationError):
        holm([1.5])
