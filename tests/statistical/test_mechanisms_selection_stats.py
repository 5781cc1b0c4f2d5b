"""Selection frequencies of noisy max against the exponential mechanism.

Chi-square goodness of fit with a false-failure rate of ALPHA = 1e-6 per test.
"""

import numpy as np
import pytest
from scipy import stats

from dpsynth.mechanisms import noisy_max
from dpsynth.privacy.accountant import PrivacyAccountant

pytestmark = pytest.mark.statistical

ALPHA = 1e-6
SCORES = np.array([0.0, 1.0, 2.0, 3.0])


def _exponential_mechanism(scores, epsilon, sensitivity, monotonic):
    """P(i) proportional to exp(epsilon s_i / (2 Delta)), or / Delta if monotonic."""
    factor = 1.0 if monotonic else 2.0
    w = np.exp(epsilon * (scores - scores.max()) / (factor * sensitivity))
    return w / w.sum()


@pytest.mark.parametrize(
    ("epsilon", "sensitivity", "monotonic"),
    [(1.0, 1.0, False), (0.25, 0.5, True)],
)
def test_selection_frequencies_match_the_exponential_mechanism(
    epsilon, sensitivity, monotonic
):
    trials = 2_000
    picks = [
        noisy_max(
            SCORES,
            epsilon=epsilon,
            sensitivity=sensitivity,
            accountant=PrivacyAccountant.unlimited(),  # fresh: keeps spends O(1)
            label="t",
            monotonic=monotonic,
        )
        for _ in range(trials)
    ]
    observed = np.bincount(picks, minlength=len(SCORES))
    probs = _exponential_mechanism(SCORES, epsilon, sensitivity, monotonic)
    expected = trials * probs  # smallest cell ~ 200: chi-square approximation holds
    critical = stats.chi2.ppf(1 - ALPHA, df=len(SCORES) - 1)
    stat = ((observed - expected) ** 2 / expected).sum()
    assert stat < critical
    # power: the wrong factor (scale off by 2x) gives a non-centrality far above
    # the critical value, so the test fails for it with near certainty
    wrong = _exponential_mechanism(SCORES, epsilon, sensitivity, not monotonic)
    assert trials * ((wrong - probs) ** 2 / probs).sum() > 3 * critical
