"""Audit statistics against known values and exact coverage (no simulation)."""

import math

import numpy as np
import pytest
from scipy.stats import binom, mannwhitneyu

from dpsynth.audit.stats import (
    clopper_pearson,
    epsilon_from_split,
    epsilon_lower_bound,
    holm,
    roc,
    wilson,
)
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


# ------------------------------------------------------------------------ ROC
def test_roc_of_separated_scores_and_its_shape():
    curve = roc([2.0, 3.0], [0.0, 1.0])
    assert curve.auc == 1.0 and curve.tpr_at(0.0) == 1.0
    assert curve.fpr[0] == curve.tpr[0] == 0.0
    assert curve.fpr[-1] == curve.tpr[-1] == 1.0
    assert np.all(np.diff(curve.fpr) >= 0) and np.all(np.diff(curve.tpr) >= 0)


def test_auc_is_the_mann_whitney_statistic_with_ties():
    rng = np.random.default_rng(0)
    pos, neg = rng.integers(0, 5, 300), rng.integers(0, 4, 200)  # many ties
    u = mannwhitneyu(pos, neg).statistic
    assert roc(pos, neg).auc == pytest.approx(u / (300 * 200), rel=1e-12)


def test_auc_of_identical_distributions_is_a_half_within_its_null_spread():
    rng = np.random.default_rng(1)
    n = 2000
    curve = roc(rng.normal(size=n), rng.normal(size=n))
    # Var(AUC) under the null is (n1 + n0 + 1) / (12 n1 n0); 5.3 sd: two-sided 1e-7
    sd = math.sqrt((2 * n + 1) / (12 * n * n))
    assert abs(curve.auc - 0.5) < 5.3 * sd


def test_split_bound_holds_its_confidence_on_a_mechanism_with_epsilon_zero():
    # Members and non-members score alike: an epsilon = 0 mechanism. A valid 95%
    # bound exceeds 0 in at most 5% of trials; with 200 trials, more than 25 such
    # trials has probability below 1e-4 even at exactly 5%.
    assert binom.sf(25, 200, 0.05) < 1e-4
    rng = np.random.default_rng(2)
    above = 0
    for _ in range(200):
        s = rng.normal(size=(4, 300))
        bound, _ = epsilon_from_split((s[0], s[1]), (s[2], s[3]), delta=0.0)
        above += bound.lower_bound > 0
    assert above <= 25


def test_split_bound_detects_a_strong_signal_up_to_what_n_targets_can_show():
    # Members shifted by 3 sd (a 3-GDP mechanism: no finite epsilon at delta = 0).
    # The bound is capped by the sample size: with 2000 targets per side a rate
    # is never bounded below 1 - 0.025**(1/2000), so no count gives more than
    # log(1 / u - 1) for that u.
    rng = np.random.default_rng(3)
    pos = rng.normal(3.0, 1.0, size=(2, 2000))
    neg = rng.normal(0.0, 1.0, size=(2, 2000))
    bound, _ = epsilon_from_split((pos[0], neg[0]), (pos[1], neg[1]), delta=0.0)
    u = 1 - 0.025 ** (1 / 2000)
    assert 2.0 < bound.lower_bound <= math.log(1 / u - 1)


def test_roc_refuses_empty_or_non_finite_scores():
    with pytest.raises(ValidationError, match="member_scores"):
        roc([], [1.0])
    with pytest.raises(ValidationError, match="nonmember_scores"):
        roc([1.0], [np.nan])
