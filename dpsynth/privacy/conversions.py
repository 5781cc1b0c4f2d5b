"""Privacy arithmetic: the one place for epsilon / delta / rho / sigma math.

Everything here is stated under the add/remove-one-row neighbouring relation and
rounds toward safety: a privacy *cost* (rho, epsilon, an RDP curve) is rounded up,
a privacy *allowance* (the rho that fits an epsilon, a noise scale's inverse) is
rounded down, and a noise scale is rounded up.

Three kinds of statements are produced for each :class:`~dpsynth.privacy.events.DpEvent`
(:func:`event_cost`):

* a zCDP bound ``rho`` (Bun and Steinke 2016), composed by adding and converted with
  :func:`approx_epsilon` (Canonne, Kamath and Steinke 2020, Proposition 12 / Cor. 13);
* a Rényi-DP curve on the fixed grid :data:`RDP_ORDERS` (Mironov 2017), composed by
  adding and converted with :func:`rdp_epsilon` (the improved conversion of
  Canonne, Kamath and Steinke 2020 and Asoodeh et al. 2021);
* a privacy loss distribution (Koskela et al. 2020; Doroshenko et al. 2022), built
  with ``dp_accounting.pld`` as a pessimistic estimate (:func:`group_pld`).

References:
    Bun, Steinke. Concentrated Differential Privacy: Simplifications, Extensions,
    and Lower Bounds. TCC 2016.
    Mironov. Rényi Differential Privacy. CSF 2017.
    Canonne, Kamath, Steinke. The Discrete Gaussian for Differential Privacy.
    NeurIPS 2020.
    Asoodeh, Liao, Calmon, Kosut, Sankar. A Better Bound Gives a Hundred Rounds:
    Enhanced Privacy Guarantees via f-Divergences. ISIT 2020.
    Cesar, Rogers. Bounding, Concentrating, and Truncating: Unifying Privacy Loss
    Composition for Data Analytics. ALT 2021.
    Kairouz, Oh, Viswanath. The Composition Theorem for Differential Privacy.
    ICML 2015.
    Doroshenko, Ghazi, Kamath, Kumar, Manurangsi. Connect the Dots: Tighter
    Discrete Approximations of Privacy Loss Distributions. PETS 2022.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import numpy as np

from dpsynth.errors import UnsupportedEventError, ValidationError
from dpsynth.privacy.events import (
    ApproxDPEvent,
    DpEvent,
    ExponentialEvent,
    GaussianEvent,
    LaplaceEvent,
    PureDPEvent,
    SampledGaussianEvent,
    ZCDPEvent,
)

__all__ = [
    "PLD_VALUE_DISCRETIZATION",
    "RDP_ORDERS",
    "EventCost",
    "approx_epsilon",
    "bounded_range_delta",
    "event_cost",
    "exponential_epsilon",
    "exponential_rdp",
    "exponential_rho",
    "gaussian_rho",
    "gaussian_rho_for_epsilon",
    "gaussian_sigma",
    "group_pld",
    "laplace_epsilon",
    "laplace_scale",
    "pld_epsilon",
    "pure_dp_rdp",
    "pure_rho",
    "rdp_epsilon",
    "rho_for_epsilon",
    "rho_from_approx",
    "subsampled_gaussian_rdp",
    "zcdp_rdp",
]

# Rényi orders: dense near 1 (large rho, large delta), integers to 63 and a
# geometric tail (pure DP approaches epsilon only at large orders).
RDP_ORDERS: np.ndarray = np.array(
    sorted(
        {1.0 + k / 100 for k in range(1, 10)}
        | {1.0 + k / 10 for k in range(1, 100)}
        | {float(k) for k in range(11, 64)}
        | {64.0, 80.0, 96.0, 128.0, 160.0, 192.0, 256.0, 384.0, 512.0, 768.0}
        | {1024.0, 2048.0, 4096.0, 8192.0}
    )
)
RDP_ORDERS.setflags(write=False)

#: Loss-grid width of every PLD (one value, so that PLDs compose). Pessimistic
#: estimates stay upper bounds at any width; 1e-4 keeps DP-SGD at 10^4 steps
#: within 1e-3 of the exact value (see tests/unit/privacy).
PLD_VALUE_DISCRETIZATION = 1e-4

# Relative upward margin on values computed through many float operations
# (CKS conversion, RDP conversion, PLD): far above their accumulated rounding
# error (~1e-14 relative), far below anything that matters for privacy.
_MARGIN = 1e-12

# dp_accounting truncates the discrete Gaussian to [-ceil(11.6 sigma), ...]: the
# mass left out is at most 1e-30 (CKS 2020 tail bound, dp_accounting docs).
_DG_TRUNCATED_MASS = 1e-30
# Discrete Gaussian sigmas given a PLD: at most 1e4 (support of 23 sigma
# integers); at least 0.5 (below, dp_accounting's PLD overflows or says inf).
_DG_MAX_SIGMA = 1e4
#: Largest discrete Gaussian sigma that has a PLD (public for planning).
DG_MAX_SIGMA = _DG_MAX_SIGMA
_DG_MIN_SIGMA = 0.5
# Largest per-event epsilon given a PLD (larger ones overflow e^epsilon); such
# events keep the other routes.
_PLD_MAX_EPSILON = 500.0


# --------------------------------------------------------------------- helpers
def _real(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | np.floating):
        raise ValidationError(f"`{name}` ({value!r}) must be a real number.")
    value = float(value)
    if math.isnan(value):
        raise ValidationError(f"`{name}` ({value!r}) must be a number, not NaN.")
    return value


def _positive(name: str, value: Any, *, allow_inf: bool = False) -> float:
    x = _real(name, value)
    if x <= 0 or (math.isinf(x) and not allow_inf):
        what = "positive" if allow_inf else "positive and finite"
        raise ValidationError(f"`{name}` ({value!r}) must be {what}.")
    return x


def _delta(value: Any, *, name: str = "delta") -> float:
    x = _real(name, value)
    if not 0.0 <= x <= 1.0:
        raise ValidationError(f"`{name}` ({value!r}) must be in [0, 1].")
    return x


def _ceil(value: Fraction) -> float:
    """The smallest float >= an exact rational."""
    x = float(value)
    if Fraction(x) < value:
        x = math.nextafter(x, math.inf)
    return x


def _floor(value: Fraction) -> float:
    """The largest float <= an exact rational."""
    x = float(value)
    if Fraction(x) > value:
        x = math.nextafter(x, -math.inf)
    return x


def exact_sum_up(weights: Any, values: Any) -> float:
    """``sum(w * v)`` over floats, computed exactly and rounded up."""
    pairs = zip(weights, values, strict=True)
    total = sum((Fraction(int(w)) * Fraction(float(v)) for w, v in pairs), Fraction(0))
    return _ceil(total)


def delta_left(delta: float, weights: Any, deltas: Any) -> float:
    """``delta - sum(w * d)`` computed exactly and rounded down (may be <= 0)."""
    pairs = zip(weights, deltas, strict=True)
    used = sum((Fraction(int(w)) * Fraction(float(d)) for w, d in pairs), Fraction(0))
    return _floor(Fraction(delta) - used)


def _margin_up(x: float) -> float:
    return x + abs(x) * _MARGIN if math.isfinite(x) else x


# ------------------------------------------------------------- zCDP <-> (eps, delta)
def approx_epsilon(rho: float, delta: float) -> float:
    """The epsilon at which ``rho``-zCDP implies ``(epsilon, delta)``-DP.

    Canonne, Kamath and Steinke (2020, Proposition 12 and Corollary 13): for every
    order ``alpha > 1``, rho-zCDP implies (epsilon, delta)-DP with
    ``epsilon = alpha*rho + log1p(-1/alpha) - (log(delta) + log(alpha)) / (alpha-1)``.
    The minimising ``alpha`` solves ``rho = -log(alpha*delta) / (alpha-1)**2`` (the
    derivative is increasing on ``(1, 1/delta)``); it is found by bisection. Any
    ``alpha`` gives a valid bound, so the search needs no care; the value is rounded
    up by a 1e-12 relative margin, so it is OpenDP's ``make_zCDP_to_approxDP`` plus
    about 1e-12 relative (measured: at most 1.4e-11 for rho <= 2).

    Args:
        rho: the zCDP parameter, ``>= 0`` (``inf`` allowed).
        delta: the target delta in ``[0, 1]``.

    Returns:
        The epsilon (``0`` for ``rho == 0``, ``inf`` for ``delta == 0``).

    Example:
        >>> round(approx_epsilon(0.5, 1e-6), 6)
        5.221534
    """
    rho = _real("rho", rho)
    if rho < 0:
        raise ValidationError(f"`rho` ({rho!r}) must be >= 0.")
    delta = _delta(delta)
    if rho == 0 or delta >= 1:
        return 0.0
    if delta == 0 or math.isinf(rho):
        return math.inf
    log_delta = math.log(delta)

    def slope(alpha: float) -> float:
        return rho + (math.log(alpha) + log_delta) / (alpha - 1.0) ** 2

    def value(alpha: float) -> float:
        return (
            alpha * rho
            + math.log1p(-1.0 / alpha)
            + (-log_delta - math.log(alpha)) / (alpha - 1.0)
        )

    lo, hi = 1.0, 2.0
    while slope(hi) < 0:
        lo, hi = hi, hi * 2.0
    while True:
        mid = lo + (hi - lo) / 2.0
        if mid in (lo, hi):
            break
        if slope(mid) < 0:
            lo = mid
        else:
            hi = mid
    best = value(hi)
    if lo > 1.0:
        best = min(best, value(lo))
    return _margin_up(max(best, 0.0))


def rho_for_epsilon(epsilon: float, delta: float) -> float:
    """The largest rho whose zCDP guarantee implies ``(epsilon, delta)``-DP.

    The inverse of :func:`approx_epsilon`, by bisection over floats; the result
    always satisfies ``approx_epsilon(result, delta) <= epsilon`` (rounded down).

    Args:
        epsilon: target epsilon, ``> 0`` (``inf`` gives ``inf``).
        delta: target delta in ``[0, 1)``; ``0`` gives ``0`` (zCDP needs delta).

    Returns:
        The rho, ``>= 0``.

    Example:
        >>> rho = rho_for_epsilon(1.0, 1e-9)
        >>> approx_epsilon(rho, 1e-9) <= 1.0
        True
    """
    epsilon, delta, trivial = _rho_search_args(epsilon, delta)
    if trivial is not None:
        return trivial
    return _bisect_largest(lambda rho: approx_epsilon(rho, delta) <= epsilon)


def _rho_search_args(epsilon: Any, delta: Any) -> tuple[float, float, float | None]:
    """Checked ``(epsilon, delta)`` and the answer when no search is needed.

    ``inf`` for an infinite epsilon, 0 for delta = 0 (no Gaussian fits).
    """
    epsilon = _positive("epsilon", epsilon, allow_inf=True)
    delta = _delta(delta)
    if math.isinf(epsilon):
        return epsilon, delta, math.inf
    return epsilon, delta, (0.0 if delta == 0 else None)


def _bisect_largest(ok: Any) -> float:
    """The largest float ``x >= 0`` with ``ok(x)`` (monotone, ``ok(0)`` assumed).

    Doubles from 1 to bracket, then bisects to float resolution.
    """
    lo, hi = 0.0, 1.0
    while ok(hi):
        lo, hi = hi, hi * 2.0
        if math.isinf(hi):  # pragma: no cover - absurd input
            return lo
    while True:
        mid = lo + (hi - lo) / 2.0
        if mid in (lo, hi):
            return lo
        if ok(mid):
            lo = mid
        else:
            hi = mid


#: Alias named as in the style guide.
rho_from_approx = rho_for_epsilon


def _gaussian_profile(mu: float, epsilon: float) -> float:
    """delta(epsilon) of the Gaussian mechanism with ``mu = sensitivity / sigma``."""
    from scipy.special import log_ndtr, ndtr

    a = -epsilon / mu
    return float(ndtr(a + mu / 2) - math.exp(epsilon + log_ndtr(a - mu / 2)))


def gaussian_rho_for_epsilon(epsilon: float, delta: float) -> float:
    """``mu^2 / 2`` of the Gaussian mechanism that is exactly ``(epsilon, delta)``-DP.

    The analytic Gaussian mechanism (Balle and Wang 2018, Theorem 8): the
    continuous Gaussian with ``mu = sensitivity / sigma`` has ``delta(epsilon) =
    Phi(-epsilon/mu + mu/2) - e^epsilon Phi(-epsilon/mu - mu/2)``, and Gaussian
    measurements compose by adding ``mu^2``. This maps an epsilon to a
    Gaussian-equivalent rho for *scheduling* (:meth:`PrivacyAccountant.
    remaining_rho_estimate`); it does not size any noise.

    Example:
        >>> rho_for_epsilon(1.0, 1e-9) < gaussian_rho_for_epsilon(1.0, 1e-9)
        True
    """
    epsilon, delta, trivial = _rho_search_args(epsilon, delta)
    if trivial is not None:
        return trivial
    mu = _bisect_largest(lambda m: m == 0 or _gaussian_profile(m, epsilon) <= delta)
    return mu * mu / 2


# ------------------------------------------------------ mechanism parameters
def gaussian_rho(sigma: float, l2_sensitivity: float = 1.0) -> float:
    """The zCDP rho of (discrete) Gaussian noise: ``l2_sensitivity**2 / (2 sigma**2)``.

    Computed exactly and rounded up to a float, so it is never below OpenDP's own
    privacy map (which rounds up too).

    Example:
        >>> gaussian_rho(3.0)
        0.05555555555555556
    """
    sigma = _positive("sigma", sigma)
    l2 = _positive("l2_sensitivity", l2_sensitivity)
    return _ceil(Fraction(l2) ** 2 / (2 * Fraction(sigma) ** 2))


def gaussian_sigma(rho: float, l2_sensitivity: float = 1.0) -> float:
    """The smallest float sigma with ``gaussian_rho(sigma, l2_sensitivity) <= rho``.

    Example:
        >>> s = gaussian_sigma(0.05)
        >>> gaussian_rho(s) <= 0.05 < gaussian_rho(math.nextafter(s, 0))
        True
    """
    rho = _positive("rho", rho)
    l2 = _positive("l2_sensitivity", l2_sensitivity)
    return _smallest(lambda s: gaussian_rho(s, l2) <= rho, l2 / math.sqrt(2.0 * rho))


def exponential_rho(epsilon: float) -> float:
    """The zCDP rho of an ``epsilon``-DP exponential mechanism: ``epsilon**2 / 8``.

    The exponential mechanism (report noisy max with Gumbel noise) is
    ``epsilon``-bounded-range, which implies ``epsilon**2/8``-zCDP (Cesar and
    Rogers 2021, Lemma 3.2); OpenDP's zCDP map for noisy max states the same.
    Exact, rounded up.
    """
    epsilon = _positive("epsilon", epsilon)
    return _ceil(Fraction(epsilon) ** 2 / 8)


def exponential_epsilon(rho: float) -> float:
    """The largest float epsilon with ``exponential_rho(epsilon) <= rho``."""
    rho = _positive("rho", rho)
    return _largest(lambda e: exponential_rho(e) <= rho, math.sqrt(8.0 * rho))


def pure_rho(epsilon: float) -> float:
    """The zCDP rho implied by pure ``epsilon``-DP: ``epsilon**2 / 2`` (rounded up).

    Bun and Steinke (2016), Proposition 3.3.
    """
    epsilon = _positive("epsilon", epsilon)
    return _ceil(Fraction(epsilon) ** 2 / 2)


def laplace_epsilon(scale: float, l1_sensitivity: float = 1.0) -> float:
    """Pure epsilon of (discrete) Laplace noise: ``l1_sensitivity / scale``.

    Exact, rounded up.

    Example:
        >>> laplace_epsilon(2.0)
        0.5
    """
    scale = _positive("scale", scale)
    l1 = _positive("l1_sensitivity", l1_sensitivity)
    return _ceil(Fraction(l1) / Fraction(scale))


def laplace_scale(epsilon: float, l1_sensitivity: float = 1.0) -> float:
    """The smallest float scale with ``laplace_epsilon(scale, l1) <= epsilon``."""
    epsilon = _positive("epsilon", epsilon)
    l1 = _positive("l1_sensitivity", l1_sensitivity)
    return _smallest(lambda s: laplace_epsilon(s, l1) <= epsilon, l1 / epsilon)


def _smallest(ok: Any, guess: float) -> float:
    """The smallest positive float ``x`` near ``guess`` with ``ok(x)`` (monotone)."""
    x = guess
    while not ok(x):
        x = math.nextafter(x, math.inf)
    while True:
        below = math.nextafter(x, 0.0)
        if below <= 0 or not ok(below):
            return x
        x = below


def _largest(ok: Any, guess: float) -> float:
    """The largest float ``x`` near ``guess`` with ``ok(x)`` (monotone)."""
    x = guess
    while x > 0 and not ok(x):
        x = math.nextafter(x, 0.0)
    while True:
        above = math.nextafter(x, math.inf)
        if not ok(above):
            return x
        x = above


# ------------------------------------------------------------------- RDP curves
def _orders(orders: Any) -> np.ndarray:
    if orders is None:
        return RDP_ORDERS
    a = np.asarray(orders, dtype=float)
    if a.ndim != 1 or a.size == 0 or not np.all(a > 1) or not np.all(np.isfinite(a)):
        raise ValidationError(
            f"`orders` ({orders!r}) must be a non-empty 1-D array of finite orders > 1."
        )
    return a


def _curve_up(curve: np.ndarray) -> np.ndarray:
    out = np.where(np.isfinite(curve), curve + np.abs(curve) * _MARGIN, curve)
    out.setflags(write=False)
    return out


def zcdp_rdp(rho: float, orders: Any = None) -> np.ndarray:
    """The RDP curve of rho-zCDP: ``rho * alpha`` at each order (Bun, Steinke 2016)."""
    rho = _real("rho", rho)
    if rho < 0:
        raise ValidationError(f"`rho` ({rho!r}) must be >= 0.")
    return _curve_up(rho * _orders(orders))


def _log_cosh(x: np.ndarray) -> np.ndarray:
    """``log(cosh(x))`` without cancellation for small ``x`` or overflow for large."""
    x = np.abs(x)
    with np.errstate(over="ignore"):
        small = np.log1p(2.0 * np.sinh(np.minimum(x, 40.0) / 2.0) ** 2)
    large = x + np.log1p(np.exp(-2.0 * x)) - math.log(2.0)
    return np.where(x < 40.0, small, large)


def pure_dp_rdp(epsilon: float, orders: Any = None) -> np.ndarray:
    """The tight RDP curve of pure ``epsilon``-DP.

    ``D_alpha = log(cosh((alpha - 1/2) e) / cosh(e / 2)) / (alpha - 1)``, the
    Rényi divergence of randomized response, which dominates every
    ``epsilon``-DP pair (Bun and Steinke 2016, Proposition 3.3; Mironov 2017,
    Proposition 10); it is at most ``min(epsilon, alpha * epsilon**2 / 2)``.
    """
    eps = _positive("epsilon", epsilon)
    a = _orders(orders)
    tight = (_log_cosh((a - 0.5) * eps) - _log_cosh(np.asarray(eps / 2.0))) / (a - 1.0)
    tight = np.maximum(tight, 0.0)
    return _curve_up(np.minimum(np.minimum(tight, eps), a * eps * eps / 2.0))


def exponential_rdp(epsilon: float, orders: Any = None) -> np.ndarray:
    """RDP of the exponential mechanism: min of its pure-DP and zCDP curves."""
    a = _orders(orders)
    return _curve_up(
        np.minimum(pure_dp_rdp(epsilon, a), zcdp_rdp(exponential_rho(epsilon), a))
    )


def _integer_rdp_to_orders(
    integer_rdp: dict[int, float], orders: np.ndarray
) -> np.ndarray:
    """RDP at any orders from RDP at integers, as an upper bound.

    ``(alpha - 1) * D_alpha`` is convex in ``alpha`` (it is the log moment
    generating function of the privacy loss; Van Erven and Harremoës 2014), so
    between integers ``a < alpha < a + 1`` it is at most the chord; at
    ``alpha = 1`` it is 0.
    """
    out = np.empty(orders.size)
    for i, alpha in enumerate(orders):
        a = math.floor(alpha)
        if alpha == a:
            out[i] = integer_rdp[a]
            continue
        b = a + 1
        low = 0.0 if a == 1 else (a - 1) * integer_rdp[a]
        high = (b - 1) * integer_rdp[b]
        t = alpha - a
        out[i] = ((1 - t) * low + t * high) / (alpha - 1)
    return out


def _needed_integers(orders: np.ndarray) -> list[int]:
    needed = {int(math.floor(a)) for a in orders} | {int(math.ceil(a)) for a in orders}
    return sorted(needed - {1})


@functools.lru_cache(maxsize=256)
def _subsampled_gaussian_rdp(noise_multiplier: float, sample_rate: float) -> np.ndarray:
    return _subsampled_gaussian_rdp_at(noise_multiplier, sample_rate, RDP_ORDERS)


def _subsampled_gaussian_rdp_at(
    noise_multiplier: float, sample_rate: float, orders: np.ndarray
) -> np.ndarray:
    from dp_accounting.rdp import rdp_privacy_accountant as rdp

    # dp_accounting's exact series for integer orders (Mironov, Talwar, Zhang
    # 2019); its fractional-order series can fail to converge, so fractional
    # orders use the convexity bound instead.
    ints = _needed_integers(orders)
    values = rdp._compute_rdp_poisson_subsampled_gaussian(
        sample_rate, noise_multiplier, [float(a) for a in ints]
    )
    curve = _integer_rdp_to_orders(
        dict(zip(ints, np.asarray(values, dtype=float), strict=True)), orders
    )
    # Subsampling never hurts (quasi-convexity of Renyi divergence): the plain
    # Gaussian's curve alpha / (2 nm^2) is a bound too.
    plain = orders / (2.0 * noise_multiplier**2)
    return _curve_up(np.minimum(curve, plain))


def subsampled_gaussian_rdp(
    noise_multiplier: float, sample_rate: float, orders: Any = None
) -> np.ndarray:
    """RDP of one step of the Poisson-subsampled Gaussian mechanism (add/remove).

    Exact at integer orders (dp_accounting; Mironov, Talwar, Zhang 2019), and
    the convexity (chord) bound in between.
    """
    nm = _positive("noise_multiplier", noise_multiplier)
    q = _positive("sample_rate", sample_rate)
    if q > 1:
        raise ValidationError(f"`sample_rate` ({sample_rate!r}) must be in (0, 1].")
    if orders is None:
        return _subsampled_gaussian_rdp(nm, q)
    return _subsampled_gaussian_rdp_at(nm, q, _orders(orders))


def rdp_epsilon(rdp: Any, delta: float, orders: Any = None) -> float:
    """Converts an RDP curve to epsilon at ``delta`` (the improved conversion).

    ``epsilon = min_alpha rdp(alpha) + log1p(-1/alpha) - (log delta + log alpha)
    / (alpha - 1)`` (Canonne, Kamath, Steinke 2020, Proposition 12; Asoodeh et
    al. 2021), rounded up.

    Args:
        rdp: the curve, one value per order (``inf`` allowed).
        delta: the target delta in ``[0, 1]``.
        orders: the orders of ``rdp``; default :data:`RDP_ORDERS`.
    """
    delta = _delta(delta)
    a = _orders(orders)
    curve = np.asarray(rdp, dtype=float)
    if curve.shape != a.shape:
        raise ValidationError(
            f"`rdp` (shape {curve.shape}) must have one value per order ({a.size})."
        )
    if delta >= 1:
        return 0.0
    if delta == 0:
        return math.inf
    with np.errstate(invalid="ignore", over="ignore"):
        eps = curve + np.log1p(-1.0 / a) - (math.log(delta) + np.log(a)) / (a - 1.0)
    eps = eps[~np.isnan(eps)]
    if eps.size == 0:
        return math.inf
    return _margin_up(max(float(eps.min()), 0.0))


# ------------------------------------------------------------------------ PLDs
@functools.lru_cache(maxsize=32)
def _pld_base(spec: tuple[Any, ...]) -> Any:
    from dp_accounting.pld import common
    from dp_accounting.pld import privacy_loss_distribution as pld

    interval = PLD_VALUE_DISCRETIZATION
    kind = spec[0]
    if kind == "discrete_gaussian":
        return pld.from_discrete_gaussian_mechanism(
            spec[1],
            sensitivity=1,
            pessimistic_estimate=True,
            value_discretization_interval=interval,
            use_connect_dots=True,
        )
    if kind == "discrete_laplace":
        return pld.from_discrete_laplace_mechanism(
            spec[1],
            sensitivity=1,
            pessimistic_estimate=True,
            value_discretization_interval=interval,
        )
    if kind == "sampled_gaussian":
        from dp_accounting import NeighboringRelation as Relation

        return pld.from_gaussian_mechanism(
            spec[1],
            sensitivity=1.0,
            pessimistic_estimate=True,
            value_discretization_interval=interval,
            sampling_prob=spec[2],
            use_connect_dots=True,
            neighboring_relation=Relation.ADD_OR_REMOVE_ONE,
        )
    if kind == "bounded_range":
        return _bounded_range_pld(spec[1], interval)
    if kind == "privacy_parameters":
        params = common.DifferentialPrivacyParameters(spec[1], spec[2])
        return pld.from_privacy_parameters(
            params, value_discretization_interval=interval
        )
    raise UnsupportedEventError(f"No PLD for {spec!r}.")  # pragma: no cover


def bounded_range_delta(epsilon: float, loss: float) -> float:
    """Hockey-stick divergence at ``loss`` of the dominating pair of ``epsilon``-BR.

    ``(e^(epsilon/2) - e^(loss/2))^2 / (e^epsilon - 1)`` for ``0 <= loss <=
    epsilon`` and 0 above: the largest ``delta(loss)`` of any
    ``epsilon``-bounded-range mechanism on any pair of neighbours (see
    :func:`_bounded_range_pld`). In particular ``tanh(epsilon / 4)`` at 0.
    """
    epsilon, loss = float(epsilon), max(float(loss), 0.0)
    if loss >= epsilon:
        return 0.0
    return (math.exp(epsilon / 2) - math.exp(loss / 2)) ** 2 / math.expm1(epsilon)


def _bounded_range_pld(epsilon: float, interval: float) -> Any:
    """A pessimistic PLD that dominates every ``epsilon``-bounded-range mechanism.

    A mechanism is ``epsilon``-BR (Durfee and Rogers 2019) when, on any pair of
    neighbours, its privacy loss ``L`` takes values in an interval ``[t -
    epsilon, t]``; ``E_Q[e^L] = 1`` forces ``0 <= t <= epsilon``. The exponential
    mechanism (report noisy max with Gumbel noise) at ``epsilon`` is
    ``epsilon``-BR.

    Domination, step by step:

    1. For a fixed ``t``, ``H_a(P || Q) = E_Q[(e^L - e^a)_+]`` is the mean of a
       convex function of ``X = e^L``, a variable on ``[e^(t-epsilon), e^t]``
       with mean 1. It is largest when ``X`` sits on the two end points: the
       generalised randomised response with losses ``t`` and ``t - epsilon``,
       whose divergence is ``(e^epsilon - e^t)(1 - e^(a-t)) / (e^epsilon - 1)``
       (Dong, Durfee and Rogers 2020 use the same family).
    2. The largest of these over ``t`` is at ``t = (epsilon + a) / 2``:
       ``delta(a) = (e^(epsilon/2) - e^(a/2))^2 / (e^epsilon - 1)``
       (:func:`bounded_range_delta`). The family is closed under swapping P and
       Q (``t -> epsilon - t``), so the same curve bounds both directions.
    3. The pair whose loss under P has density ``e^(x/2) / (4 sinh(epsilon/2))``
       on ``[-epsilon, epsilon]`` has exactly this hockey-stick curve (its
       density is ``delta'' - delta'``, and it is symmetric). It therefore
       dominates every ``epsilon``-BR mechanism on every pair of neighbours, and
       dominating pairs compose under adaptive composition (Zhu, Dong and Wang
       2022, Theorem 10).

    This pair is looser than the best possible composition of BR mechanisms
    (Dong, Durfee and Rogers 2020), but it is a single PLD that composes with
    everything else. The loss density is integrated over each grid cell
    ``((i-1) interval, i interval]`` and put at its upper end (pessimistic).
    """
    from dp_accounting.pld import privacy_loss_distribution as pld

    lo = math.floor(-epsilon / interval)
    hi = math.ceil(epsilon / interval)
    idx = np.arange(lo + 1, hi + 1)
    upper = np.minimum(idx * interval, epsilon)
    lower = np.maximum((idx - 1) * interval, -epsilon)
    # integral of e^(x/2) / (4 sinh(epsilon/2)) over (lower, upper]
    mass = (
        np.exp(lower / 2)
        * np.expm1(np.maximum(upper - lower, 0.0) / 2)
        / (2 * math.sinh(epsilon / 2))
    )
    keep = mass > 0
    rounded = dict(zip(idx[keep].tolist(), mass[keep].tolist(), strict=True))
    return pld.PrivacyLossDistribution.create_from_rounded_probability(
        rounded,
        infinity_mass=max(0.0, 1.0 - math.fsum(mass[keep])),
        value_discretization_interval=interval,
        pessimistic_estimate=True,
        symmetric=True,
    )


@functools.lru_cache(maxsize=64)
def group_pld(spec: tuple[Any, ...], multiplicity: int) -> Any:
    """The PLD of ``multiplicity`` self-compositions of the mechanism ``spec``.

    ``spec`` comes from :attr:`EventCost.pld_spec`. Every PLD is a pessimistic
    estimate (an upper bound on the privacy loss) on the grid
    :data:`PLD_VALUE_DISCRETIZATION`; cached.
    """
    base = _pld_base(spec)
    return base if multiplicity == 1 else base.self_compose(multiplicity)


def pld_epsilon(pld: Any, delta: float, *, discrete_gaussians: int = 0) -> float:
    """Epsilon of a composed PLD at ``delta``, rounded up.

    dp_accounting computes the discrete Gaussian's PLD on its support truncated
    to ``|x| <= ceil(11.6 sigma)``; the mass left out is at most 1e-30, so each of
    the ``discrete_gaussians`` compositions may understate the hockey-stick
    divergence by at most ``1e-30 * (1 + e^epsilon)`` (total variation). A slack
    of ``1e-6 * delta`` is reserved for that; when it does not cover it the PLD
    gives no bound (``inf``).
    """
    delta = _delta(delta)
    if delta >= 1:
        return 0.0
    slack = delta * 1e-6 if discrete_gaussians else 0.0
    if discrete_gaussians and delta == 0:
        return math.inf
    eps = float(pld.get_epsilon_for_delta(delta - slack))
    if not math.isfinite(eps):
        return math.inf
    eps = max(eps, 0.0)
    if discrete_gaussians:
        growth = 1.0 + math.exp(min(eps, 700.0))
        missed = discrete_gaussians * _DG_TRUNCATED_MASS * growth
        if missed > slack:
            return math.inf
    return _margin_up(eps)


# ------------------------------------------------------------ per-event costs
@dataclass(frozen=True, eq=False)
class EventCost:
    """What one unit of an event costs in each currency (internal to composition).

    Attributes:
        key: the event kind and parameters (label and columns left out); events
            with equal keys are the same mechanism and are composed as a group.
        multiplicity: compositions per unit (``steps`` for DP-SGD, else 1).
        rho: zCDP bound per composition, or ``None`` (no useful zCDP bound).
        pure_epsilon: pure-DP epsilon per composition (``epsilon`` part of an
            approximate-DP event), or ``None``.
        delta: delta per composition (approximate-DP events), else 0.
        rdp: RDP curve per composition on :data:`RDP_ORDERS` (read-only).
        pld_spec: the dominating pair for :func:`group_pld`, or ``None``.
    """

    key: tuple[Any, ...]
    multiplicity: int
    rho: float | None
    pure_epsilon: float | None
    delta: float
    rdp: np.ndarray
    pld_spec: tuple[Any, ...] | None


def _cost_key(event: DpEvent) -> tuple[Any, ...]:
    params = event.parameters
    if isinstance(event, SampledGaussianEvent):
        params = {k: v for k, v in params.items() if k != "steps"}
    return (event.kind, *(float(v) for v in params.values()))


def event_cost(event: DpEvent) -> EventCost:
    """The costs of ``event`` in every currency (cached per mechanism).

    Raises:
        UnsupportedEventError: for an event kind this module does not know.
    """
    if not isinstance(event, DpEvent):
        raise ValidationError(
            f"`event` ({event!r}) must be a DpEvent (see dpsynth.privacy.events)."
        )
    key = _cost_key(event)
    mult = event.steps if isinstance(event, SampledGaussianEvent) else 1
    return _cost_for_key(key, mult)


@functools.lru_cache(maxsize=4096)
def _cost_for_key(key: tuple[Any, ...], mult: int) -> EventCost:
    cost = _build_cost(key)
    return EventCost(
        key=key,
        multiplicity=mult,
        rho=cost[0],
        pure_epsilon=cost[1],
        delta=cost[2],
        rdp=cost[3],
        pld_spec=cost[4],
    )


def _build_cost(key: tuple[Any, ...]) -> tuple[Any, ...]:
    kind, p = key[0], key[1:]
    pld: tuple[Any, ...] | None
    if kind == GaussianEvent.kind:
        sigma, l2 = p
        rho = gaussian_rho(sigma, l2)
        # An integer vector of L2 norm <= 1 is a unit vector (or 0): the pair is
        # exactly the 1-D discrete Gaussian shifted by one. Other sensitivities
        # have no single dominating pair we can justify: no PLD.
        unit = l2 == 1 and _DG_MIN_SIGMA <= sigma <= _DG_MAX_SIGMA
        pld = ("discrete_gaussian", sigma) if unit else None
        return rho, None, 0.0, zcdp_rdp(rho), pld
    if kind == ZCDPEvent.kind:
        (rho,) = p
        return rho, None, 0.0, zcdp_rdp(rho), None
    if kind == LaplaceEvent.kind:
        scale, l1 = p
        eps = laplace_epsilon(scale, l1)
        # Integer vectors of L1 norm <= 1 are unit vectors: the 1-D discrete
        # Laplace shifted by one (equal to randomized response); otherwise the
        # worst case of any eps-DP mechanism (Kairouz, Oh, Viswanath 2015).
        if l1 == 1:
            pld = ("discrete_laplace", eps)
        else:
            pld = ("privacy_parameters", eps, 0.0)
        pld = pld if eps <= _PLD_MAX_EPSILON else None
        return pure_rho(eps), eps, 0.0, pure_dp_rdp(eps), pld
    if kind == PureDPEvent.kind:
        (eps,) = p
        pld = ("privacy_parameters", eps, 0.0) if eps <= _PLD_MAX_EPSILON else None
        return pure_rho(eps), eps, 0.0, pure_dp_rdp(eps), pld
    if kind == ExponentialEvent.kind:
        (eps,) = p
        pld = ("bounded_range", eps) if eps <= _PLD_MAX_EPSILON else None
        return exponential_rho(eps), eps, 0.0, exponential_rdp(eps), pld
    if kind == ApproxDPEvent.kind:
        eps, delta = p
        # (eps, delta)-DP is dominated by randomized response that first reveals
        # the input with probability delta (Kairouz et al. 2015); the other
        # routes take its pure eps part and subtract delta (see docs/privacy.md).
        pld = ("privacy_parameters", eps, delta) if eps <= _PLD_MAX_EPSILON else None
        return pure_rho(eps), eps, delta, pure_dp_rdp(eps), pld
    if kind == SampledGaussianEvent.kind:
        nm, q = p
        pld = ("sampled_gaussian", nm, q)
        return None, None, 0.0, subsampled_gaussian_rdp(nm, q), pld
    raise UnsupportedEventError(
        f"Event kind {kind!r} has no privacy accounting; "
        "add its costs to dpsynth.privacy.conversions."
    )
