"""Statistics of the discrete Gaussian and discrete Laplace noise (OpenDP samplers).

Each test fails by chance with probability at most ALPHA = 1e-6 (two-sided
bounds at 1 - ALPHA/2 quantiles). OpenDP's sampler cannot be seeded, so these
tests see fresh noise on every run.
"""

import math

import numpy as np
import pytest
from scipy import stats

from dpsynth.mechanisms import gaussian_counts, laplace_counts
from dpsynth.privacy.accountant import PrivacyAccountant

pytestmark = pytest.mark.statistical

ALPHA = 1e-6
Z = stats.norm.ppf(1 - ALPHA / 2)  # 4.89


def _moments(log_weight, support):
    """Exact mean-zero moments E[X^2], E[X^4] of a symmetric pmf on integers."""
    x = np.arange(-support, support + 1, dtype=np.float64)
    w = np.exp(log_weight(x))
    w /= w.sum()
    return float((w * x**2).sum()), float((w * x**4).sum())


@pytest.mark.parametrize("sigma", [2.0, 25.0])
def test_discrete_gaussian_variance_and_mean(sigma):
    n, base = 20_000, 1_000
    counts = np.full((100, n // 100), base, dtype=np.int64)
    noisy = gaussian_counts(
        counts, sigma=sigma, accountant=PrivacyAccountant.unlimited(), label="test"
    )
    noise = (noisy - base).ravel()
    # exact variance of the discrete Gaussian N_Z(0, sigma^2) (below sigma^2 by
    # less than 1e-9 for sigma >= 2); its excess kurtosis is ~0, so the sample
    # variance follows the normal-theory chi2(n - 1) law
    var, _ = _moments(lambda x: -(x**2) / (2 * sigma**2), int(40 * sigma))
    stat = (n - 1) * noise.var(ddof=1) / var
    lo, hi = stats.chi2.ppf([ALPHA / 2, 1 - ALPHA / 2], df=n - 1)
    assert lo < stat < hi
    # power: these bounds are within 5% of n - 1, so a scale off by 3% fails
    assert lo > 0.95 * (n - 1) and hi < 1.05 * (n - 1)
    # mean: sample mean ~ N(0, var / n)
    assert abs(noise.mean()) < Z * math.sqrt(var / n)


@pytest.mark.parametrize("scale", [0.7, 3.0])
def test_discrete_laplace_variance_and_mean(scale):
    n, base = 20_000, -7
    counts = np.full(n, base, dtype=np.int64)
    noisy = laplace_counts(
        counts, scale=scale, accountant=PrivacyAccountant.unlimited(), label="test"
    )
    noise = (noisy - base).astype(np.float64)
    p = math.exp(-1 / scale)
    var = 2 * p / (1 - p) ** 2  # exact variance of the discrete Laplace
    var_check, fourth = _moments(lambda x: -np.abs(x) / scale, int(80 * scale) + 40)
    assert var == pytest.approx(var_check, rel=1e-9)
    # mean of X^2 is var with variance (E[X^4] - var^2) / n; the discrete Laplace
    # has all moments, and at n = 20000 the normal approximation (CLT) gives the
    # two-sided 1e-6 bound Z standard errors
    tol = Z * math.sqrt((fourth - var**2) / n)
    assert abs(np.mean(noise**2) - var) < tol
    # power: the tolerance is below 9% of the variance; scale * 1.1 fails
    p_alt = math.exp(-1 / (1.1 * scale))
    assert tol < 0.09 * var < 2 * p_alt / (1 - p_alt) ** 2 - var - tol
    # mean: sample mean ~ N(0, var / n)
    assert abs(noise.mean()) < Z * math.sqrt(var / n)
