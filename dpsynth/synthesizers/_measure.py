"""Measurement helpers the synthesizers share (noise only through the mechanisms)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from dpsynth.data.dataset import Dataset
from dpsynth.marginals import counting_backend
from dpsynth.mechanisms import gaussian_counts
from dpsynth.privacy.accountant import PrivacyAccountant
from dpsynth.privacy.events import GaussianEvent

__all__ = ["measure_marginals", "noisy_total", "project_to_simplex_counts"]


def measure_marginals(
    dataset: Dataset,
    queries: Sequence[tuple[str, ...]],
    *,
    sigma: float,
    accountant: PrivacyAccountant,
    label: str,
) -> list[np.ndarray]:
    """Measures marginals with discrete Gaussian noise, all or nothing.

    The whole batch is checked against the budget before the first marginal is
    noised, so a batch that would overshoot raises with nothing sampled.

    Args:
        dataset: the sensitive codes.
        queries: the marginals' columns.
        sigma: the noise scale of every marginal (each is one GaussianEvent of
            L2 sensitivity 1 under add/remove-one-row neighbours).
        accountant: charged for each marginal before its noise is drawn.
        label: the ledger label prefix; each entry adds the marginal's columns.

    Returns:
        The noisy counts (int64 arrays shaped by the columns' domain sizes).

    Raises:
        BudgetExceededError: if the batch does not fit; nothing was sampled.
    """
    if not queries:
        return []
    if not accountant.can_spend(GaussianEvent(sigma=sigma), len(queries)):
        accountant.spend(GaussianEvent(sigma=sigma), label=label, count=len(queries))
    exact = counting_backend(dataset).counts_many(queries)
    return [
        gaussian_counts(
            counts,
            sigma=sigma,
            accountant=accountant,
            label=f"{label} {' x '.join(cols)}",
            columns=cols,
        )
        for cols, counts in zip(queries, exact, strict=True)
    ]


def noisy_total(noisy: Sequence[np.ndarray], sigmas: Sequence[float]) -> float:
    """The number of rows estimated from noisy marginals (post-processing).

    Each marginal's sum is the row count plus noise of variance
    ``cells * sigma**2``; the estimate is their inverse-variance weighted mean,
    floored at 1.
    """
    sums = np.array([float(np.sum(m)) for m in noisy])
    var = np.array([m.size * s * s for m, s in zip(noisy, sigmas, strict=True)])
    weights = 1.0 / var
    return max(float(np.sum(weights * sums) / np.sum(weights)), 1.0)


def project_to_simplex_counts(noisy: np.ndarray, total: float) -> np.ndarray:
    """The nonnegative counts summing to ``total`` closest (L2) to ``noisy``.

    Euclidean projection onto the scaled simplex (sort-based, vectorised); a
    post-processing step that never touches data.
    """
    v = np.asarray(noisy, dtype=np.float64).ravel()
    u = np.sort(v)[::-1]
    css = np.cumsum(u) - total
    idx = np.arange(1, v.size + 1)
    rho = np.nonzero(u - css / idx > 0)[0][-1]
    theta = css[rho] / (rho + 1)
    return np.maximum(v - theta, 0.0).reshape(np.shape(noisy))
