"""DP discovery of the categories of a column: a Laplace-thresholded histogram.

When a column's key set is not public, counting "all categories" would release
keys held by a single row. Instead every key present in the data is counted,
discrete Laplace noise is added, and only keys whose noisy count reaches a
threshold are released; a key held by one row survives with probability at most
``delta``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from dpsynth.errors import InternalError, ValidationError
from dpsynth.mechanisms import _checks
from dpsynth.mechanisms._opendp import charge, invoke, opendp
from dpsynth.privacy.events import ApproxDPEvent

if TYPE_CHECKING:
    from dpsynth.privacy.accountant import PrivacyAccountant

__all__ = ["threshold_for_delta", "threshold_histogram"]

# Under add/remove-one-row, one row changes the count of one key by one:
# (L0, L1, L-infinity) distance of the count vectors.
_ONE_ROW = (1, 1, 1)
# The largest threshold OpenDP accepts (the counts are i64).
_MAX_THRESHOLD = 2**62


def _threshold_measurement(scale: float, threshold: int) -> Any:
    """OpenDP's Laplace threshold on a map of i64 counts keyed by strings."""
    dp = opendp()
    return dp.m.make_laplace_threshold(
        dp.map_domain(dp.atom_domain(T=str), dp.atom_domain(T="i64")),
        dp.l01inf_distance(dp.absolute_distance(T="i64")),
        scale=scale,
        threshold=threshold,
    )


def _charged_delta(scale: float, threshold: int) -> float:
    """The delta we charge for releasing keys whose noisy count is >= threshold.

    A key held by one row (count 1) is released with probability
    ``P(1 + Z >= t) = P(Z >= t - 1) = p**(t - 1) / (1 + p)``, ``p = exp(-1/scale)``,
    for ``Z`` discrete Laplace and ``t >= 2``. OpenDP 0.16's map of
    ``make_laplace_threshold(threshold=t)`` states ``P(Z >= t)`` instead: it
    omits the mass at exactly ``t - 1`` (opendp/opendp issue #2922; our
    statistical tests measure the release rate). Its map at ``t - 1`` states
    ``P(Z >= t - 1)``, the correct delta, and stays sound (larger) should OpenDP
    fix the map. We charge the larger of that and the closed form.
    """
    stated = _threshold_measurement(scale, threshold - 1).map(_ONE_ROW)[1]
    p = math.exp(-1.0 / scale)
    exact = math.exp(-(threshold - 1) / scale) / (1.0 + p)
    if exact > stated * (1 + 1e-9) and stated < 1:
        raise InternalError(
            f"The delta OpenDP states for threshold {threshold - 1} at scale "
            f"{scale!r} ({stated!r}) is below the discrete Laplace tail "
            f"({exact!r}); probably a bug in dpsynth; please report it."
        )
    return float(max(stated, exact))


def threshold_for_delta(scale: float, delta: float) -> int:
    """The least threshold whose singleton-release probability is <= ``delta``.

    Binary search over integer thresholds ``t >= 2`` on the delta that
    :func:`threshold_histogram` charges (OpenDP's privacy map, corrected for its
    off-by-one, see there). Roughly ``1 + scale * ln(1 / (2 delta))``.

    Args:
        scale: the discrete Laplace scale of :func:`threshold_histogram`.
        delta: the target chance that a key held by one row is released.

    Returns:
        The threshold to pass to :func:`threshold_histogram`.

    Raises:
        ValidationError: a bad ``scale`` or ``delta``, or a ``delta`` below what
            OpenDP can state in floating point (about 1e-16).

    Privacy:
        Reads no data and spends nothing (public parameters only).

    References:
        Korolova, Kenthapadi, Mishra, Ntoulas. Releasing Search Queries and
        Clicks Privately. WWW 2009 (the threshold for a target delta).

    Example:
        >>> threshold_for_delta(2.0, 1e-9)
        42
    """
    scale = _checks.positive_finite("scale", scale)
    delta = _checks.probability("delta", delta)

    def fits(threshold: int) -> bool:
        return _charged_delta(scale, threshold) <= delta

    hi = max(2, math.ceil(3 + scale * math.log(1 / delta)))
    while not fits(hi):
        if hi >= _MAX_THRESHOLD:
            raise ValidationError(
                f"`delta` ({delta!r}) must be at least the smallest delta OpenDP "
                f"states at scale {scale!r} (about 1e-16); choose a larger delta."
            )
        hi = min(2 * hi, _MAX_THRESHOLD)
    lo = 1  # invariant: fits(hi) and not fits(lo); threshold 1 is refused
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if fits(mid):
            hi = mid
        else:
            lo = mid
    return hi


def threshold_histogram(
    values: Iterable[str],
    *,
    scale: float,
    threshold: int,
    accountant: PrivacyAccountant,
    label: str,
    columns: Sequence[str] = (),
) -> dict[str, int]:
    """Discovers the frequent categories of a column, with noisy counts.

    Counts the rows of every distinct value (OpenDP's stable hash-map count,
    ``make_count_by``), adds discrete Laplace noise of ``scale`` to each count,
    and releases the keys whose noisy count is at least ``threshold``
    (``make_laplace_threshold``). Keys absent from the data are never invented.

    Args:
        values: the column, one string per row. Missing values must be dropped
            (or mapped to a public token) by the caller first; dropping rows is a
            stable transformation under add/remove, so it costs no budget.
        scale: the discrete Laplace scale; the pure part of the loss is
            ``1 / scale``.
        threshold: the least noisy count that is released (an integer >= 2);
            see :func:`threshold_for_delta`.
        accountant: charged before any noise is drawn.
        label: what is measured, in words; recorded in the ledger.
        columns: the table columns read; recorded in the ledger.

    Returns:
        ``{key: noisy count}`` for the released keys (possibly empty).

    Raises:
        ValidationError: non-string values, or a bad ``scale``, ``threshold``
            (an integer >= 2), ``label`` or ``columns``.
        BudgetExceededError: the spend is refused; nothing was sampled.
        InternalError: OpenDP's stated delta disagrees with the closed form.

    Privacy:
        Spends ``ApproxDPEvent(epsilon, delta)`` under add/remove-one-row
        neighbours (OpenDP's symmetric distance 1): one row added or removed
        changes one key's count by one (L0 = L1 = L-infinity = 1).
        ``epsilon = 1 / scale`` is read from OpenDP's privacy map of the whole
        composition (count by key, then Laplace threshold). ``delta`` is the
        chance that a key held by a single row is released,
        ``P(1 + Z >= threshold)``. OpenDP 0.16 understates it by one step
        (opendp/opendp issue #2922), so we charge its map at ``threshold - 1``,
        checked against the closed form ``exp(-(t - 1) / b) / (1 + exp(-1 / b))``.

    References:
        Korolova, Kenthapadi, Mishra, Ntoulas. Releasing Search Queries and
        Clicks Privately. WWW 2009. Wilson, Zhang, Lam, Desfontaines,
        Simmons-Marengo, Gipson. Differentially Private SQL with Bounded User
        Contribution. PoPETs 2020. Rogers. A Unifying Privacy Analysis Framework
        for Unknown Domain Algorithms in Differential Privacy. 2023.

    Example:
        >>> from dpsynth.privacy.accountant import PrivacyAccountant
        >>> acc = PrivacyAccountant.unlimited()
        >>> column = ["a"] * 500 + ["rare"]
        >>> sorted(threshold_histogram(column, scale=1.0, threshold=30,
        ...                            accountant=acc, label="categories"))
        ['a']
    """
    rows = _checks.string_list("values", values)
    scale = _checks.positive_finite("scale", scale)
    threshold = _checks.positive_integer("threshold", threshold)
    if not 2 <= threshold <= _MAX_THRESHOLD:
        raise ValidationError(
            f"`threshold` ({threshold!r}) must be an integer in [2, {_MAX_THRESHOLD}]."
            " Use `threshold_for_delta(scale, delta)`."
        )
    dp = opendp()
    count_by = dp.t.make_count_by(
        dp.vector_domain(dp.atom_domain(T=str)), dp.symmetric_distance(), TV="i64"
    )
    if count_by.map(1) != _ONE_ROW:  # pragma: no cover - guards an OpenDP change
        raise InternalError(
            f"OpenDP's make_count_by maps one row to {count_by.map(1)!r}, not "
            f"{_ONE_ROW!r}; probably a bug in dpsynth; please report it."
        )
    meas = count_by >> _threshold_measurement(scale, threshold)
    epsilon, _ = meas.map(1)
    delta = _charged_delta(scale, threshold)
    event = ApproxDPEvent(
        epsilon=epsilon, delta=delta, label=label, columns=_checks.column_names(columns)
    )
    charge(accountant, event)
    released = invoke(meas, rows)
    return {str(k): int(v) for k, v in released.items()}
