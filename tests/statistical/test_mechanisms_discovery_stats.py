"""Statistics of the thresholded histogram and of DP quantiles.

Each test fails by chance with probability at most ALPHA = 1e-6.
"""

import math

import numpy as np
import pytest
from scipy import stats

from dpsynth.mechanisms import quantiles, threshold_for_delta, threshold_histogram
from dpsynth.privacy.accountant import PrivacyAccountant

pytestmark = pytest.mark.statistical

ALPHA = 1e-6


def _laplace_tail(scale, k):
    """P(Z >= k) for Z discrete Laplace of ``scale`` and k >= 1."""
    p = math.exp(-1 / scale)
    return p**k / (1 + p)


def test_singleton_release_rate_is_the_charged_delta():
    # 20000 keys held by one row each, threshold 3, scale 1: each key is
    # released independently with q = P(1 + Z >= 3) = P(Z >= 2) = 0.0989.
    # OpenDP 0.16's own map states P(Z >= 3) = 0.0364 (opendp#2922): this test
    # tells the two apart (the 1e-6 binomial interval is q +- 0.011).
    n, scale, threshold = 20_000, 1.0, 3
    keys = [f"user{i}" for i in range(n)]
    acc = PrivacyAccountant.unlimited()
    out = threshold_histogram(
        keys, scale=scale, threshold=threshold, accountant=acc, label="t"
    )
    assert set(out) <= set(keys)  # never invents keys
    assert all(v >= threshold for v in out.values())
    q = _laplace_tail(scale, threshold - 1)
    lo, hi = stats.binom.ppf([ALPHA / 2, 1 - ALPHA / 2], n, q)
    assert lo <= len(out) <= hi
    assert not lo <= n * _laplace_tail(scale, threshold) <= hi  # power
    (entry,) = acc.ledger
    assert entry.event.delta >= q


def test_frequent_key_kept_and_singletons_dropped():
    scale, n_singletons, big = 2.0, 5_000, 1_000
    # per singleton key P(released) <= 1e-10, so P(any of 5000) <= 5e-7
    threshold = threshold_for_delta(scale, 1e-10)
    column = ["big"] * big + [f"k{i}" for i in range(n_singletons)]
    out = threshold_histogram(
        column,
        scale=scale,
        threshold=threshold,
        accountant=PrivacyAccountant.unlimited(),
        label="t",
    )
    # 'big' is dropped only if Z <= threshold - 1000 - 1 (~ e^-475)
    assert list(out) == ["big"]
    # |Z| > 30 has probability 2 P(Z >= 31) = 2.3e-7 at scale 2; with the 5e-7
    # above the test fails by chance with probability below 1e-6
    assert 2 * _laplace_tail(scale, 31) < 2.5e-7
    assert abs(out["big"] - big) <= 30


def _scores(values, candidates, alpha):
    """OpenDP's quantile score |(1 - alpha) #{x < c} - alpha #{x > c}|."""
    x = np.sort(values)
    below = np.searchsorted(x, candidates, side="left")
    above = len(x) - np.searchsorted(x, candidates, side="right")
    return np.abs((1 - alpha) * below - alpha * above)


def test_integer_median_lands_near_the_true_median():
    # values 0..9999, candidates 0, 10, ..., 10000, epsilon 1, alpha 1/2:
    # scale = 2 max(alpha, 1 - alpha) / epsilon = 1 and score(c) = |c - 4999.5|
    # for c < 10000. The exponential mechanism selects a candidate whose score
    # exceeds the best by more than scale (ln |C| + t) with probability at most
    # e^-t (McSherry-Talwar); with 20 runs and t = ln(20 / 1e-6) = 16.8 that is
    # a score gap of 23.7: every run lands within 24 of the true median, 5000.
    runs, candidates = 20, np.arange(0, 10_001, 10)
    values = np.arange(10_000)
    t = math.log(runs / ALPHA)
    gap = 1.0 * (math.log(len(candidates)) + t)
    assert 23 < gap < 24
    for _ in range(runs):
        (out,) = quantiles(
            values,
            candidates=candidates,
            alphas=[0.5],
            epsilon=1.0,
            accountant=PrivacyAccountant.unlimited(),
            label="t",
        )
        assert abs(out - 5000) <= 24


def test_quantile_scores_obey_the_exponential_mechanism_bound():
    rng = np.random.default_rng(20240601)  # fixes the data only
    values = rng.uniform(0.0, 1.0, size=5_000)
    candidates = np.linspace(0.0, 1.0, 1_001)
    alphas, epsilon, runs = [0.1, 0.5, 0.9], 0.5, 8
    # union bound over runs * len(alphas) selections, each failing with e^-t
    t = math.log(runs * len(alphas) / ALPHA)
    within = {}
    for alpha in alphas:
        scores = _scores(values, candidates, alpha)
        scale = 2 * max(alpha, 1 - alpha) / epsilon
        good = scores <= scores.min() + scale * (math.log(len(candidates)) + t)
        within[alpha] = set(candidates[good].tolist())
        # for this (fixed) data, every candidate the bound allows lies within
        # 0.02 of the empirical quantile (a score gap of ~86 rows is ~86 ranks)
        assert np.abs(candidates[good] - np.quantile(values, alpha)).max() < 0.02
    for _ in range(runs):
        out = quantiles(
            values,
            candidates=candidates,
            alphas=alphas,
            epsilon=epsilon,
            accountant=PrivacyAccountant.unlimited(),
            label="t",
        )
        for alpha, chosen in zip(alphas, out.tolist(), strict=True):
            assert chosen in within[alpha]
