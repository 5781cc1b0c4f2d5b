"""DP quantiles over public candidates (the exponential mechanism, OpenDP)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from dpsynth.errors import ValidationError
from dpsynth.mechanisms import _checks
from dpsynth.mechanisms._opendp import calibrate, charge, invoke, opendp
from dpsynth.privacy import conversions as _conv
from dpsynth.privacy.events import ExponentialEvent

if TYPE_CHECKING:
    from dpsynth.privacy.accountant import PrivacyAccountant

__all__ = ["quantiles"]

_INT_KINDS = "iu"


def quantiles(
    values: Any,
    *,
    candidates: Any,
    alphas: Sequence[float],
    epsilon: float,
    accountant: PrivacyAccountant,
    label: str,
    columns: Sequence[str] = (),
) -> np.ndarray:
    """Private ``alpha``-quantiles of a numeric column, chosen among candidates.

    For each ``alpha``, OpenDP's ``make_private_quantile`` scores every candidate
    ``c`` by ``|(1 - alpha) * #{x < c} - alpha * #{x > c}|`` (0 at the exact
    quantile; it moves by at most ``max(alpha, 1 - alpha)`` when one row is added
    or removed) and selects one by the exponential mechanism with Gumbel noise.

    Args:
        values: the column (ints or floats), one value per row. Missing values
            must be dropped by the caller first; dropping rows is a stable
            transformation under add/remove, so it costs no budget. Infinite
            values count as below or above every candidate.
        candidates: the public grid the answers are chosen from: finite,
            strictly increasing, and chosen without looking at the data (for
            example evenly spaced within public bounds).
        alphas: the quantile levels, each in the open interval (0, 1).
        epsilon: the pure-DP loss of *each* quantile.
        accountant: charged for all quantiles before any noise is drawn.
        label: what is measured, in words; recorded in the ledger.
        columns: the table columns read; recorded in the ledger.

    Returns:
        One selected candidate per alpha, in the order of ``alphas``: int64 when
        both ``values`` and ``candidates`` are integers, else float64.

    Raises:
        ValidationError: empty, non-finite or unsorted candidates; alphas outside
            (0, 1); non-numeric or NaN values; a bad ``epsilon``, ``label`` or
            ``columns``.
        BudgetExceededError: the spend is refused; nothing was sampled.
        InternalError: the charged event would understate OpenDP's loss.

    Privacy:
        Spends ``ExponentialEvent(epsilon)`` once per alpha (one ledger entry
        with ``count=len(alphas)``) under add/remove-one-row neighbours: the
        input metric is OpenDP's symmetric distance (multiset symmetric
        difference; adding or removing one row is distance 1). The noise scale
        is ``2 * max(alpha, 1 - alpha) / epsilon``; before spending we check
        that OpenDP's maps state at most ``epsilon`` (pure DP) and at most
        ``epsilon**2 / 8`` (zCDP, the measurement that runs) per quantile.

    References:
        Smith. Privacy-Preserving Statistical Estimation with Optimal
        Convergence Rates. STOC 2011. McSherry, Talwar. Mechanism Design via
        Differential Privacy. FOCS 2007.

    Example:
        >>> from dpsynth.privacy.accountant import PrivacyAccountant
        >>> acc = PrivacyAccountant.unlimited()
        >>> out = quantiles(np.arange(1000), candidates=np.arange(0, 1001, 100),
        ...                 alphas=[0.5], epsilon=1.0, accountant=acc, label="age")
        >>> int(out[0])
        500
    """
    is_int, cand, data = _numeric_inputs(values, candidates)
    levels = _alphas(alphas)
    epsilon = _checks.positive_finite("epsilon", epsilon)
    event = ExponentialEvent(
        epsilon=epsilon, label=label, columns=_checks.column_names(columns)
    )
    rho = _conv.exponential_rho(epsilon=epsilon)

    dp = opendp()
    atom = dp.atom_domain(T="i64") if is_int else dp.atom_domain(T=float, nan=False)
    domain = dp.vector_domain(atom)
    grid = cand.tolist()
    measurements = [
        _quantile_measurement(domain, grid, alpha, epsilon, rho) for alpha in levels
    ]
    charge(accountant, event, count=len(levels))
    rows = data.tolist()
    out = [invoke(meas, rows) for meas in measurements]
    return np.asarray(out, dtype=np.int64 if is_int else np.float64)


def _quantile_measurement(
    domain: Any, grid: list[Any], alpha: float, epsilon: float, rho: float
) -> Any:
    """OpenDP's Gumbel private quantile for ``alpha``, calibrated to ``epsilon``."""
    dp = opendp()

    def make(measure: Any, scale: float) -> Any:
        return dp.m.make_private_quantile(
            domain,
            dp.symmetric_distance(),
            measure,
            candidates=grid,
            alpha=alpha,
            scale=scale,
        )

    def fits(scale: float, gumbel: Any) -> bool:
        # OpenDP's pure-DP quantile samples exponential noise (permute-and-flip);
        # it is built only to read the pure-DP loss of this scale from its map.
        pure = make(dp.max_divergence(), scale)
        return bool(gumbel.map(1) <= rho and pure.map(1) <= epsilon)

    # The pure-DP loss is inversely proportional to the scale.
    per_unit_scale = make(dp.max_divergence(), 1.0).map(1)
    _, meas = calibrate(
        lambda s: make(dp.zero_concentrated_divergence(), s),
        per_unit_scale / epsilon,
        fits,
        what="the private quantile",
    )
    return meas


def _alphas(alphas: Sequence[float]) -> list[float]:
    if isinstance(alphas, str) or not isinstance(alphas, Sequence | np.ndarray):
        raise ValidationError(
            f"`alphas` ({alphas!r}) must be a sequence of levels in (0, 1), "
            "for example [0.25, 0.5, 0.75]."
        )
    if len(alphas) == 0:
        raise ValidationError("`alphas` ([]) must be non-empty.")
    return [_checks.probability("alphas", a) for a in alphas]


def _numeric_inputs(
    values: Any, candidates: Any
) -> tuple[bool, np.ndarray, np.ndarray]:
    """Validates values and candidates; returns (integer path?, candidates, values)."""
    cand = _checks.finite_vector("candidates", candidates)
    if np.any(np.diff(cand) <= 0):
        raise ValidationError(
            "`candidates` must be strictly increasing. Sort them and drop "
            "duplicates (they must be public: chosen without the data)."
        )
    raw_cand = np.asarray(candidates)
    raw = np.asarray(values)
    if raw.dtype.kind == "b" or raw.ndim != 1:
        raise ValidationError(
            f"`values` (dtype {raw.dtype}, shape {raw.shape}) must be a 1-D "
            "sequence of numbers."
        )
    if raw.dtype.kind in _INT_KINDS and raw_cand.dtype.kind in _INT_KINDS:
        return True, raw_cand.astype(np.int64), raw.astype(np.int64)
    try:
        data = raw.astype(np.float64)
    except (TypeError, ValueError) as exc:
        raise ValidationError(
            f"`values` (dtype {raw.dtype}) must hold numbers. Drop missing values "
            "first (dropping rows is stable under add/remove)."
        ) from exc
    if np.isnan(data).any():
        raise ValidationError(
            "`values` must not contain NaN. Drop missing values first (dropping "
            "rows is stable under add/remove, so it costs no budget)."
        )
    return False, cand, data
