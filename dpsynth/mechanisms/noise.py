"""Discrete Gaussian and discrete Laplace noise on integer counts (OpenDP samplers).

Both samplers are exact: they draw integers from the discrete distributions with
arbitrary-precision arithmetic and a cryptographic RNG, so they leak nothing
through floating-point artefacts (Mironov 2012) and cannot be seeded.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from dpsynth.mechanisms import _checks
from dpsynth.mechanisms._opendp import (
    calibrate,
    charge,
    invoke,
    opendp,
    sensitivity_distance,
)
from dpsynth.privacy import conversions as _conv
from dpsynth.privacy.events import GaussianEvent, LaplaceEvent

if TYPE_CHECKING:
    from dpsynth.privacy.accountant import PrivacyAccountant
    from dpsynth.privacy.events import DpEvent

__all__ = ["gaussian_counts", "laplace_counts", "laplace_scale_for_epsilon"]


def gaussian_counts(
    counts: Any,
    *,
    sigma: float,
    accountant: PrivacyAccountant,
    label: str,
    columns: Sequence[str] = (),
    l2_sensitivity: float = 1.0,
) -> np.ndarray:
    """Adds discrete Gaussian noise of scale ``sigma`` to integer counts.

    All cells are perturbed in one batched call of OpenDP's exact sampler
    (``make_gaussian`` on ``vector_domain(atom_domain(T=i64))`` with an integer
    L2 distance), with independent noise per cell.

    Args:
        counts: integer counts of any shape (a histogram, a marginal table).
        sigma: the scale of the discrete Gaussian (about its standard deviation).
        accountant: charged before any noise is drawn.
        label: what is measured, in words; recorded in the ledger.
        columns: the table columns the counts read; recorded in the ledger.
        l2_sensitivity: the largest L2 norm by which adding or removing one row
            can change ``counts`` (1 for a histogram or a single marginal).

    Returns:
        The noisy counts: int64, same shape as ``counts``. They may be negative.

    Raises:
        ValidationError: non-integer or empty counts, or a bad ``sigma``,
            ``l2_sensitivity``, ``label`` or ``columns``.
        BudgetExceededError: the spend is refused; nothing was sampled.
        InternalError: the charged event would understate OpenDP's loss.

    Privacy:
        Spends ``GaussianEvent(sigma, l2_sensitivity)``: ``rho``-zCDP with
        ``rho = l2_sensitivity**2 / (2 * sigma**2)`` under add/remove-one-row
        neighbours, which bounds the rho OpenDP's privacy map states (the noise
        scale is raised by an ulp or two where OpenDP rounds its map up).

    References:
        Canonne, Kamath, Steinke. The Discrete Gaussian for Differential Privacy.
        NeurIPS 2020 (Theorem 14; sampler: Algorithm 3). Bun, Steinke.
        Concentrated Differential Privacy. TCC 2016.

    Example:
        >>> from dpsynth.privacy.accountant import PrivacyAccountant
        >>> acc = PrivacyAccountant.unlimited()
        >>> noisy = gaussian_counts(np.array([[10, 20], [30, 40]]), sigma=2.0,
        ...                         accountant=acc, label="age x sex")
        >>> noisy.shape, noisy.dtype
        ((2, 2), dtype('int64'))
    """
    arr = _checks.integer_counts("counts", counts)
    sigma = _checks.positive_finite("sigma", sigma)
    l2 = _checks.positive_finite("l2_sensitivity", l2_sensitivity)
    event = GaussianEvent(
        sigma=sigma,
        l2_sensitivity=l2,
        label=label,
        columns=_checks.column_names(columns),
    )
    rho = _conv.gaussian_rho(sigma=sigma, l2_sensitivity=l2)
    return _perturb(
        arr,
        maker="make_gaussian",
        metric="l2_distance",
        scale=sigma,
        sensitivity=l2,
        loss=rho,
        event=event,
        accountant=accountant,
    )


def laplace_counts(
    counts: Any,
    *,
    scale: float,
    accountant: PrivacyAccountant,
    label: str,
    columns: Sequence[str] = (),
    l1_sensitivity: float = 1.0,
) -> np.ndarray:
    """Adds discrete Laplace (two-sided geometric) noise to integer counts.

    The noise ``Z`` has ``P(Z = z)`` proportional to ``exp(-|z| / scale)``;
    all cells are perturbed in one batched call of OpenDP's exact sampler.

    Args:
        counts: integer counts of any shape.
        scale: the scale of the discrete Laplace. For a target epsilon use
            :func:`laplace_scale_for_epsilon`.
        accountant: charged before any noise is drawn.
        label: what is measured, in words; recorded in the ledger.
        columns: the table columns the counts read; recorded in the ledger.
        l1_sensitivity: the largest L1 norm by which adding or removing one row
            can change ``counts`` (1 for a histogram or a single marginal).

    Returns:
        The noisy counts: int64, same shape as ``counts``.

    Raises:
        ValidationError: non-integer or empty counts, or a bad ``scale``,
            ``l1_sensitivity``, ``label`` or ``columns``.
        BudgetExceededError: the spend is refused; nothing was sampled.
        InternalError: the charged event would understate OpenDP's loss.

    Privacy:
        Spends ``LaplaceEvent(scale, l1_sensitivity)``: pure
        ``epsilon = l1_sensitivity / scale`` DP under add/remove-one-row
        neighbours, at least the epsilon OpenDP's privacy map states.

    References:
        Ghosh, Roughgarden, Sundararajan. Universally Utility-Maximizing Privacy
        Mechanisms. SIAM J. Comput. 2012. Canonne, Kamath, Steinke. The Discrete
        Gaussian for Differential Privacy. NeurIPS 2020 (Algorithm 2, sampler).

    Example:
        >>> from dpsynth.privacy.accountant import PrivacyAccountant
        >>> acc = PrivacyAccountant.unlimited()
        >>> laplace_counts([5, 7, 9], scale=1.0, accountant=acc, label="x").shape
        (3,)
    """
    arr = _checks.integer_counts("counts", counts)
    scale = _checks.positive_finite("scale", scale)
    l1 = _checks.positive_finite("l1_sensitivity", l1_sensitivity)
    event = LaplaceEvent(
        scale=scale,
        l1_sensitivity=l1,
        label=label,
        columns=_checks.column_names(columns),
    )
    epsilon = _conv.laplace_epsilon(scale=scale, l1_sensitivity=l1)
    return _perturb(
        arr,
        maker="make_laplace",
        metric="l1_distance",
        scale=scale,
        sensitivity=l1,
        loss=epsilon,
        event=event,
        accountant=accountant,
    )


def laplace_scale_for_epsilon(epsilon: float, *, l1_sensitivity: float = 1.0) -> float:
    """The least scale whose discrete Laplace noise is ``epsilon``-DP.

    Starts from ``l1_sensitivity / epsilon`` and rounds up (by ulps) until both
    our conversion and OpenDP's privacy map state at most ``epsilon``, so that a
    budget of exactly ``epsilon`` is never overshot by rounding.

    Args:
        epsilon: the target pure-DP loss.
        l1_sensitivity: as in :func:`laplace_counts`.

    Returns:
        The scale to pass to :func:`laplace_counts`.

    Raises:
        ValidationError: a bad ``epsilon`` or ``l1_sensitivity``.

    Privacy:
        Reads no data and spends nothing (public parameters only).

    References:
        Mironov. On Significance of the Least Significant Bits for Differential
        Privacy. CCS 2012 (why the rounding direction matters).

    Example:
        >>> laplace_scale_for_epsilon(0.5)
        2.0
    """
    epsilon = _checks.positive_finite("epsilon", epsilon)
    l1 = _checks.positive_finite("l1_sensitivity", l1_sensitivity)
    domain, input_metric, d_in = _counts_space("l1_distance", l1)
    make = opendp().m.make_laplace

    def fits(s: float, m: Any) -> bool:
        ours = _conv.laplace_epsilon(scale=s, l1_sensitivity=l1)
        return bool(ours <= epsilon and m.map(d_in) <= epsilon)

    scale, _ = calibrate(
        lambda s: make(domain, input_metric, scale=s),
        l1 / epsilon,
        fits,
        what="the discrete Laplace",
    )
    return scale


def _counts_space(metric: str, sensitivity: float) -> tuple[Any, Any, int | float]:
    """OpenDP's input domain and metric for int64 count vectors, and ``d_in``."""
    dp = opendp()
    distance_type, d_in = sensitivity_distance(sensitivity)
    domain = dp.vector_domain(dp.atom_domain(T="i64"))
    return domain, getattr(dp, metric)(T=distance_type), d_in


def _perturb(
    arr: np.ndarray,
    *,
    maker: str,
    metric: str,
    scale: float,
    sensitivity: float,
    loss: float,
    event: DpEvent,
    accountant: PrivacyAccountant,
) -> np.ndarray:
    """Calibrates, charges, then adds OpenDP noise to every cell of ``arr``."""
    meas = _noise_measurement(maker, metric, scale, sensitivity, loss)
    charge(accountant, event)
    noisy = invoke(meas, arr.ravel().tolist())
    return np.asarray(noisy, dtype=np.int64).reshape(arr.shape)


@functools.lru_cache(maxsize=256)
def _noise_measurement(
    maker: str, metric: str, scale: float, sensitivity: float, loss: float
) -> Any:
    """The OpenDP noise measurement whose map states at most ``loss``.

    Cached: building a measurement and evaluating its map costs about a
    millisecond in OpenDP's Python bindings, more than noising a few cells.
    A measurement is an immutable description of a mechanism; it holds no data.
    """
    make = getattr(opendp().m, maker)
    domain, input_metric, d_in = _counts_space(metric, sensitivity)
    _, meas = calibrate(
        lambda s: make(domain, input_metric, scale=s),
        scale,
        lambda _, m: m.map(d_in) <= loss,
        what=f"OpenDP's {maker}",
    )
    return meas
