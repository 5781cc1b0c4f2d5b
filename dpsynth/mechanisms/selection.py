"""Private selection: the exponential mechanism as Gumbel report-noisy-max."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from dpsynth.errors import ValidationError
from dpsynth.mechanisms import _checks
from dpsynth.mechanisms._opendp import calibrate, charge, invoke, opendp
from dpsynth.privacy import conversions as _conv
from dpsynth.privacy.events import ExponentialEvent

if TYPE_CHECKING:
    from dpsynth.privacy.accountant import PrivacyAccountant

__all__ = ["noisy_max"]


def noisy_max(
    scores: Any,
    *,
    epsilon: float,
    sensitivity: float,
    accountant: PrivacyAccountant,
    label: str,
    columns: Sequence[str] = (),
    monotonic: bool = False,
) -> int:
    """Privately selects the index of a high score (the exponential mechanism).

    Adds Gumbel noise of scale ``b`` to every score and reports the index of the
    largest noisy score (OpenDP's ``make_noisy_max`` under zCDP, which samples
    Gumbel noise exactly). This is the exponential mechanism: index ``i`` is
    chosen with probability proportional to ``exp(scores[i] / b)``, with
    ``b = 2 * sensitivity / epsilon``, or ``b = sensitivity / epsilon`` when the
    scores are ``monotonic``.

    Args:
        scores: one finite score per candidate (higher is better). The candidate
            set must be public; only the scores depend on the data.
        epsilon: the pure-DP loss of the selection.
        sensitivity: the largest change of any single score when one row is added
            or removed (the L-infinity sensitivity of the score vector).
        accountant: charged before any noise is drawn.
        label: what is selected, in words; recorded in the ledger.
        columns: the table columns the scores read; recorded in the ledger.
        monotonic: True when adding a row can only raise (or only lower) every
            score at once, as for counts; this halves the noise.

    Returns:
        The index of the selected candidate.

    Raises:
        ValidationError: empty, non-numeric, NaN or infinite scores, or a bad
            ``epsilon``, ``sensitivity``, ``label`` or ``columns``.
        BudgetExceededError: the spend is refused; nothing was sampled.
        InternalError: the charged event would understate OpenDP's loss.

    Privacy:
        Spends ``ExponentialEvent(epsilon)`` under add/remove-one-row
        neighbours, with L-infinity score sensitivity ``sensitivity``. The
        mechanism is ``epsilon``-DP and ``epsilon``-bounded-range, hence
        ``epsilon**2 / 8``-zCDP. Before spending we check that OpenDP's maps
        for this scale state at most ``epsilon`` (pure DP, for the same scale)
        and at most ``epsilon**2 / 8`` (zCDP, the measurement that runs).

    References:
        McSherry, Talwar. Mechanism Design via Differential Privacy. FOCS 2007.
        Durfee, Rogers. Practical Differentially Private Top-k Selection with
        Pay-what-you-get Composition. NeurIPS 2019 (Gumbel noise). Cesar,
        Rogers. Bounding, Concentrating, and Truncating: Unifying Privacy Loss
        Composition for Data Analytics. ALT 2021 (bounded range and zCDP).

    Example:
        >>> from dpsynth.privacy.accountant import PrivacyAccountant
        >>> acc = PrivacyAccountant.unlimited()
        >>> noisy_max([0.0, 1e6, 0.0], epsilon=1.0, sensitivity=1.0,
        ...           accountant=acc, label="pick")
        1
    """
    values = _checks.finite_vector("scores", scores)
    epsilon = _checks.positive_finite("epsilon", epsilon)
    sensitivity = _checks.positive_finite("sensitivity", sensitivity)
    if not isinstance(monotonic, bool):
        raise ValidationError(f"`monotonic` ({monotonic!r}) must be True or False.")
    event = ExponentialEvent(
        epsilon=epsilon, label=label, columns=_checks.column_names(columns)
    )
    rho = _conv.exponential_rho(epsilon=epsilon)

    meas = _gumbel_max(epsilon, sensitivity, monotonic, rho)
    charge(accountant, event)
    return int(invoke(meas, values.tolist()))


@functools.lru_cache(maxsize=256)
def _gumbel_max(epsilon: float, sensitivity: float, monotonic: bool, rho: float) -> Any:
    """OpenDP's Gumbel report-noisy-max, calibrated to ``epsilon`` (cached).

    Building a measurement and evaluating its map costs about a millisecond in
    OpenDP's Python bindings; a measurement holds no data, so reuse is safe.
    """
    dp = opendp()
    space = (
        dp.vector_domain(dp.atom_domain(T=float, nan=False)),
        dp.linf_distance(T=float, monotonic=monotonic),
    )

    def fits(scale: float, gumbel: Any) -> bool:
        # OpenDP's pure-DP noisy max samples exponential noise (permute-and-flip),
        # not Gumbel; we build it only to read its map, which states the pure-DP
        # loss of report-noisy-max at this scale, the same as the Gumbel one's.
        pure = dp.m.make_noisy_max(*space, dp.max_divergence(), scale=scale)
        return bool(gumbel.map(sensitivity) <= rho and pure.map(sensitivity) <= epsilon)

    factor = 1.0 if monotonic else 2.0
    _, meas = calibrate(
        lambda s: dp.m.make_noisy_max(
            *space, dp.zero_concentrated_divergence(), scale=s
        ),
        factor * sensitivity / epsilon,
        fits,
        what="report-noisy-max (Gumbel)",
    )
    return meas
