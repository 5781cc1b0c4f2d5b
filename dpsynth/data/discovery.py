"""Schemas from data: :func:`discover` (differentially private) and :func:`infer` (not).

Categories, bounds and bin edges are facts about the sensitive table. :func:`discover`
measures them with OpenDP mechanisms charged to a privacy accountant; :func:`infer`
reads them off the data for free, warns loudly and marks the schema non-private.
Both functions are re-exported by :mod:`dpsynth.data.schema`.
"""

from __future__ import annotations

import functools
import math
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from statistics import NormalDist
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from dpsynth.data.encoding import float_values, nanosecond_values
from dpsynth.data.schema import (
    CategoricalColumn,
    Column,
    DatetimeColumn,
    IntegerColumn,
    Kind,
    MissingRule,
    NumericColumn,
    Schema,
    _choice,
    _fail,
    _is_int,
    _is_real,
)
from dpsynth.errors import PrivacyWarning

if TYPE_CHECKING:
    from dpsynth.privacy.accountant import PrivacyAccountant

__all__ = [
    "BOUND_FALSE_BIN",
    "EDGE_GRID",
    "THRESHOLD_DELTA_SHARE",
    "discover",
    "infer",
]

# -- schemas from data -------------------------------------------------------------

KindsArg = Mapping[str, Kind] | None


def _kinds(frame: pd.DataFrame, kinds: KindsArg) -> tuple[dict[str, str], list[str]]:
    """Each column's kind, and the columns whose kind was read off their dtype."""
    if not isinstance(frame, pd.DataFrame):
        _fail("frame", type(frame).__name__, "a pandas DataFrame", "")
    names = [str(c) for c in frame.columns]
    if not names:
        _fail("frame", "no columns", "a table with columns", "")
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        _fail("frame", dupes, "a table with unique column names", "")
    if not isinstance(kinds, Mapping | None):
        _fail("kinds", kinds, "a mapping {column: kind} or None", "")
    given = dict(kinds or {})
    absent = sorted(set(given) - set(names))
    if absent:
        _fail("kinds", absent, f"columns of the table {names!r}", "")
    for name, kind in given.items():
        _choice("kinds", kind, Kind, name)
    from_dtype = [n for n in names if n not in given]
    return {n: given.get(n) or _dtype_kind(frame[n].dtype) for n in names}, from_dtype


def _dtype_kind(dtype: Any) -> str:
    """The kind a pandas dtype suggests (bool and text are categorical)."""
    if pd.api.types.is_bool_dtype(dtype):
        return "categorical"
    if pd.api.types.is_integer_dtype(dtype):
        return "integer"
    if pd.api.types.is_float_dtype(dtype):
        return "numeric"
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return "datetime"
    return "categorical"


def _dtype_warning(from_dtype: list[str], where: str) -> None:
    if from_dtype:
        warnings.warn(
            f"{where}: the kinds of columns {from_dtype!r} were read off their pandas "
            "dtypes, which depend on the values (a column of integers with one "
            "stray text value becomes categorical). Pass `kinds` to state them "
            "publicly. The schema's provenance records this.",
            PrivacyWarning,
            stacklevel=3,
        )


def infer(
    frame: pd.DataFrame,
    *,
    bins: int = 16,
    kinds: KindsArg = None,
) -> Schema:
    """NON-PRIVATE: a schema read off the data (categories, min and max).

    A convenience for public or test data. The categories, bounds and the presence
    of missing values are read from ``frame`` without any privacy protection, so
    the schema itself can disclose records (a rare category, the largest
    salary). It emits a :class:`~dpsynth.errors.PrivacyWarning` and records
    ``{"method": "infer", "private": false}`` in the provenance, which a release
    manifest reports. Use :func:`discover` (differentially private) or write the
    schema by hand for sensitive data.

    Rules chosen: ``missing: "code"`` only where the column has missing values;
    categories sorted as strings with ``unknown: "error"``; bounds ``[min, max]``
    with ``unknown: "clip"``; integers with at most ``bins`` values get one code
    per value, other bounded columns ``bins`` equal-width bins.

    Args:
        frame: the table.
        bins: bins per numeric, datetime or wide integer column.
        kinds: ``{column: kind}``; other columns take the kind of their dtype.

    Returns:
        The inferred schema.

    Raises:
        ValidationError: for a bad ``bins`` or ``kinds``, or a column with no
            values.
    """
    if not _is_int(bins) or bins < 1:
        _fail("bins", bins, "an integer >= 1", "")
    kind_of, from_dtype = _kinds(frame, kinds)
    warnings.warn(
        "Schema inference reads categories and bounds off the data WITHOUT "
        "differential privacy; the schema may disclose individual records. Use "
        "discover(...) or a hand-written schema for sensitive data. The schema is "
        "marked non-private.",
        PrivacyWarning,
        stacklevel=2,
    )
    columns = [_infer_column(frame[n], n, kind_of[n], bins) for n in kind_of]
    provenance = {
        "method": "infer",
        "private": False,
        "kinds_from_dtypes": from_dtype,
    }
    return Schema(tuple(columns), provenance=provenance)


def _infer_column(series: pd.Series, name: str, kind: str, bins: int) -> Column:
    present = series.dropna()
    if present.empty:
        _fail("frame", name, "a column with at least one value", name)
    missing: MissingRule = "code" if len(present) < len(series) else "error"
    if kind == "categorical":
        cats = sorted({str(v) for v in present.unique()})
        return CategoricalColumn(name=name, categories=tuple(cats), missing=missing)
    if kind == "datetime":
        ns = nanosecond_values(present, name)[0]
        lo, hi = int(ns.min()), int(ns.max())
        return DatetimeColumn(
            name=name,
            lower=pd.Timestamp(lo).isoformat(),
            upper=pd.Timestamp(max(hi, lo + 1)).isoformat(),
            bins=bins,
            missing=missing,
        )
    values = float_values(present, name, kind)[0]
    if kind == "integer":
        if not (values == np.floor(values)).all():
            _fail("kinds", kind, "a kind that fits the values (not whole)", name)
        lo, hi = math.floor(values.min()), math.ceil(values.max())
        hi = max(hi, lo + 1)
        count = None if hi - lo + 1 <= bins else bins
        return IntegerColumn(name=name, lower=lo, upper=hi, bins=count, missing=missing)
    lo_f, hi_f = float(values.min()), float(values.max())
    hi_f = hi_f if hi_f > lo_f else lo_f + 1.0
    return NumericColumn(name=name, lower=lo_f, upper=hi_f, bins=bins, missing=missing)


# -- differentially private discovery ---------------------------------------------

#: Share of ``delta`` given to the thresholds of the categorical histograms (the
#: rest is for composing everything into one (epsilon, delta)).
THRESHOLD_DELTA_SHARE = 0.5
#: Chance that a discovered bound stretches to an empty bin of the bound grid.
BOUND_FALSE_BIN = 0.01
#: Number of evenly spaced candidates between the bounds for the bin edges.
EDGE_GRID = 256
_MAX_MAGNITUDE = 1e12
#: Smallest per-column zCDP share a discovery plan looks for.
_MIN_RHO = 1e-12


def _bound_grid(kind: str) -> np.ndarray:
    """Data-independent, increasing grid the bounds are chosen from.

    Numbers: 0 and +-10**(k/4) up to 1e12 (from 1e-3 for floats, whole and from 1
    for integers). Datetimes: the first day of every month of 1900-2100 (ns).
    """
    if kind == "datetime":
        months = pd.date_range("1900-01-01", "2100-01-01", freq="MS")
        return months.as_unit("ns").asi8.astype(np.int64)
    integer = kind == "integer"
    mags = 10.0 ** (np.arange(0 if integer else -12, 4 * 12 + 1) / 4)
    if integer:
        mags = np.unique(np.rint(mags))
    grid = np.concatenate([-mags[::-1], [0.0], mags])
    return grid.astype(np.int64) if integer else grid


def _edge_grid(lower: Any, upper: Any, kind: str) -> np.ndarray:
    """:data:`EDGE_GRID` evenly spaced candidates from ``lower`` to ``upper``."""
    if kind == "numeric":
        grid = np.linspace(lower, upper, EDGE_GRID)
        grid[0], grid[-1] = lower, upper
        return np.unique(grid)
    lo, hi, n = int(lower), int(upper), EDGE_GRID - 1
    return np.unique(
        np.array([lo + (hi - lo) * i // n for i in range(n + 1)], np.int64)
    )


@dataclass(frozen=True)
class _Plan:
    """Noise parameters of one discovery, the same for every column of a kind."""

    category_scale: float  # discrete Laplace scale of a categorical histogram
    category_delta: float  # threshold delta of a categorical histogram
    bound_sigma: float  # discrete Gaussian scale of a bound histogram
    edge_epsilon: float  # pure epsilon of each bin-edge quantile

    @classmethod
    def for_share(
        cls, rho: float, *, category_delta: float, fraction: float, n_edges: int
    ) -> _Plan:
        """Splits a per-column zCDP share ``rho`` among the measurements.

        Pure ``epsilon``-DP is ``epsilon**2 / 2``-zCDP (the categorical
        histogram, apart from its threshold delta); a discrete Gaussian histogram
        of scale ``sigma`` is ``1 / (2 sigma**2)``-zCDP; an exponential mechanism
        of ``epsilon`` is ``epsilon**2 / 8``-zCDP. The bounds take ``fraction``
        of a bounded column's share (all of it without edges).
        """
        share = fraction if n_edges else 1.0
        edge = math.sqrt(8 * (1 - share) * rho / n_edges) if n_edges else math.inf
        return cls(
            category_scale=1 / math.sqrt(2 * rho),
            category_delta=category_delta,
            bound_sigma=1 / math.sqrt(2 * share * rho),
            edge_epsilon=edge,
        )

    def events(self, n_cat: int, n_bounded: int, n_edges: int) -> list[Any]:
        """``(event, count)`` pairs: everything this plan may spend."""
        from dpsynth.privacy.events import (
            ApproxDPEvent,
            ExponentialEvent,
            GaussianEvent,
        )

        out: list[Any] = []
        if n_cat:
            cat = ApproxDPEvent(
                epsilon=1 / self.category_scale, delta=self.category_delta
            )
            out.append((cat, n_cat))
        if n_bounded:
            out.append((GaussianEvent(sigma=self.bound_sigma), n_bounded))
        if n_bounded and n_edges:
            edge = ExponentialEvent(epsilon=self.edge_epsilon)
            out.append((edge, n_bounded * n_edges))
        return out


def _plan(
    *,
    n_cat: int,
    n_bounded: int,
    n_edges: int,
    epsilon: float,
    delta: float,
    category_delta: float,
    fraction: float,
) -> _Plan:
    """The least-noise plan whose events compose to at most ``(epsilon, delta)``.

    Bisects the per-column zCDP share on the accountant's own composition of all
    planned events (a dry run: nothing is measured), aiming a hair below
    ``epsilon`` so that OpenDP's upward rounding of a map cannot overshoot it.
    """
    target = epsilon * (1 - 1e-6)

    def plan(rho: float) -> _Plan:
        return _Plan.for_share(
            rho, category_delta=category_delta, fraction=fraction, n_edges=n_edges
        )

    def fits(rho: float) -> bool:
        events = plan(rho).events(n_cat, n_bounded, n_edges)
        return _composed_epsilon(events, delta) <= target

    # Bracket by doubling or halving from epsilon**2 (a fit is a PLD composition,
    # about 0.25 s), then bisect to a relative width of 1e-7 in rho: about 30
    # compositions instead of 50 to float resolution, for an epsilon that lands
    # within about 1e-7 of the target.
    ok = functools.lru_cache(maxsize=None)(fits)
    lo = hi = epsilon**2
    if ok(hi):
        while ok(hi):
            lo, hi = hi, 2 * hi
    else:
        lo = hi / 2
        while not ok(lo):
            if lo < _MIN_RHO:
                lo = 0.0
                break
            lo, hi = lo / 2, lo
    while lo > 0 and hi - lo > 1e-7 * lo:
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if ok(mid) else (lo, mid)
    if lo <= 0:
        _fail("epsilon", epsilon, f"large enough for a discovery at delta {delta}", "")
    return plan(lo)


def _composed_epsilon(events: list[Any], delta: float) -> float:
    """Epsilon at ``delta`` of the events, composed by the accountant's rules."""
    from dpsynth.privacy.accountant import PrivacyAccountant

    trial = PrivacyAccountant.unlimited(delta=delta)
    for event, count in events:
        trial.spend(event, count=count)
    return float(trial.epsilon())


def _discover_categories(
    series: pd.Series, name: str, plan: _Plan, accountant: PrivacyAccountant
) -> CategoricalColumn:
    from dpsynth.mechanisms import threshold_for_delta, threshold_histogram

    present = series[~series.isna().to_numpy()]
    scale = plan.category_scale
    released = threshold_histogram(
        present.astype(str).tolist(),
        scale=scale,
        threshold=threshold_for_delta(scale, plan.category_delta),
        accountant=accountant,
        label=f"categories of {name}",
        columns=(name,),
    )
    other = "__other__"
    while other in released:
        other = f"_{other}_"
    return CategoricalColumn(
        name=name,
        categories=tuple(sorted(released)),
        missing="code",
        unknown="other",
        other_label=other,
    )


def _present_values(series: pd.Series, name: str, kind: str) -> np.ndarray:
    """The non-missing values: float64 (numeric) or int64 (integer; datetime ns)."""
    if kind == "datetime":
        stamps, missing = nanosecond_values(series, name)
        return stamps[~missing]
    floats, missing = float_values(series, name, kind)
    floats = floats[~missing]
    if kind == "numeric":
        return floats
    if not (floats == np.floor(floats)).all():
        _fail("kinds", kind, "a kind that fits the values (not whole)", name)
    limit = 2 * _MAX_MAGNITUDE
    return np.clip(floats, -limit, limit).astype(np.int64)


def _bounds(
    values: np.ndarray, kind: str, plan: _Plan, accountant: PrivacyAccountant, name: str
) -> tuple[Any, Any]:
    """Bounds from a noisy histogram over the data-independent bound grid.

    Bin ``i`` holds ``grid[i-1] <= v < grid[i]`` (the first and last bins are
    open-ended). Bins whose noisy count passes ``sigma`` times the normal
    quantile of ``1 - BOUND_FALSE_BIN / bins`` are taken as occupied; the bounds
    are the outer edges of the outermost occupied bins (of the largest noisy bin
    if none passes). Everything after the noisy counts is post-processing.
    """
    from dpsynth.mechanisms import gaussian_counts

    grid = _bound_grid(kind)
    counts = np.bincount(
        np.searchsorted(grid, values, side="right"), minlength=len(grid) + 1
    )
    noisy = gaussian_counts(
        counts,
        sigma=plan.bound_sigma,
        accountant=accountant,
        label=f"bounds of {name}",
        columns=(name,),
    )
    z = NormalDist().inv_cdf(1 - BOUND_FALSE_BIN / len(noisy))
    occupied = np.flatnonzero(noisy >= plan.bound_sigma * z)
    if occupied.size == 0:
        occupied = np.array([int(np.argmax(noisy))])
    first, last = int(occupied[0]), int(occupied[-1])
    lower = grid[max(first - 1, 0)].item()
    upper = grid[min(last, len(grid) - 1)].item()
    if kind == "integer" and last < len(grid):
        upper -= 1  # the last occupied bin ends before grid[last]
    if upper <= lower:  # a single value: widen to the next grid point
        later = grid[grid > lower]
        upper = later[0].item() if len(later) else lower
        if upper <= lower:
            lower = grid[-2].item()
    return lower, upper


def _merge_edges(quantiles: np.ndarray, grid: np.ndarray, kind: str) -> list[Any]:
    """Bin edges from DP quantiles (post-processing).

    Equal quantiles merge; a value that repeats, or equals the lower bound, marks
    a point mass (such as many zeros) and gets the next value (integers) or grid
    point as an extra edge, so that it has a bin of its own.
    """
    lower, upper = grid[0].item(), grid[-1].item()
    values, counts = np.unique(quantiles, return_counts=True)
    edges = {lower, upper}
    for value, count in zip(values.tolist(), counts.tolist(), strict=True):
        if lower < value < upper:
            edges.add(value)
        if count > 1 or value == lower:
            if kind == "integer":
                after = value + 1
            else:
                later = grid[grid > value]
                after = later[0].item() if len(later) else upper
            if after < upper:
                edges.add(after)
    return sorted(edges)


def _discover_bounded(
    series: pd.Series,
    name: str,
    kind: str,
    plan: _Plan,
    accountant: PrivacyAccountant,
    *,
    bins: int,
) -> Column:
    from dpsynth.mechanisms import quantiles

    values = _present_values(series, name, kind)
    lower, upper = _bounds(values, kind, plan, accountant, name)
    rules: dict[str, Any] = {"name": name, "missing": "code", "unknown": "clip"}
    if kind == "integer" and upper - lower + 1 <= bins:
        return IntegerColumn(lower=lower, upper=upper, bins=None, **rules)
    edges = [lower, upper]
    if bins > 1:
        grid = _edge_grid(lower, upper, kind)
        found = quantiles(
            values,
            candidates=grid,
            alphas=[j / bins for j in range(1, bins)],
            epsilon=plan.edge_epsilon,
            accountant=accountant,
            label=f"bin edges of {name}",
            columns=(name,),
        )
        edges = _merge_edges(found, grid, kind)
    if kind == "integer":
        return IntegerColumn(lower=lower, upper=upper, bins=tuple(edges), **rules)
    if kind == "numeric":
        return NumericColumn(lower=lower, upper=upper, bins=tuple(edges), **rules)
    iso = tuple(pd.Timestamp(int(e)).isoformat() for e in edges)
    return DatetimeColumn(lower=iso[0], upper=iso[-1], bins=iso, **rules)


def discover(
    frame: pd.DataFrame,
    *,
    epsilon: float,
    delta: float,
    accountant: PrivacyAccountant | None = None,
    kinds: KindsArg = None,
    bins: int = 16,
    categorical_threshold_delta: float | None = None,
    bounds_fraction: float = 0.5,
) -> Schema:
    """DIFFERENTIALLY PRIVATE schema discovery: categories, bounds and bin edges.

    Every data-dependent part of the schema is measured by an OpenDP mechanism
    (:mod:`dpsynth.mechanisms`) charged to ``accountant`` before noise is drawn.
    Missing values are dropped first (stable under adding or removing a row),
    and every discovered column gets ``missing: "code"``.

    * Categorical columns: a Laplace-thresholded histogram; a value held by one
      row is released with probability at most the threshold delta, so rare
      values never appear. The column gets ``unknown: "other"``; if no value
      passes, every value is coded ``other`` (with a warning).
    * Integer, numeric, datetime columns: the bounds come from one discrete
      Gaussian histogram over a wide data-independent grid (0 and
      ``+-10**(k/4)`` up to 1e12; months of 1900-2100 for datetimes): the outer
      edges of the outermost bins whose noisy count passes a threshold (see
      :data:`BOUND_FALSE_BIN`), with ``unknown: "clip"``. Then ``bins - 1`` DP
      quantiles (levels ``j / bins``) over :data:`EDGE_GRID` evenly spaced
      candidates between the bounds give the bin edges; equal edges merge and a
      point mass gets a bin of its own. An integer column whose bounds hold at
      most ``bins`` values gets one code per value.

    Args:
        frame: the sensitive table.
        epsilon: the total epsilon of the discovery.
        delta: the total delta of the discovery.
        accountant: charged for every measurement; by default a new
            ``PrivacyAccountant(epsilon=epsilon, delta=delta)``.
        kinds: ``{column: kind}``, public. Columns left out take the kind of
            their pandas dtype, which depends on the values: a PrivacyWarning
            says so and the provenance lists them.
        bins: bins per bounded column (before equal edges merge).
        categorical_threshold_delta: threshold delta of each categorical
            column; by default ``THRESHOLD_DELTA_SHARE * delta`` split evenly.
        bounds_fraction: share of a bounded column's budget for its bounds
            (the rest is for its edges).

    Returns:
        The schema. Its provenance: ``{"method": "discover", "private": true,
        "epsilon": <the accountant's epsilon afterwards>, "delta", "ledger",
        "kinds_from_dtypes", "parameters"}``.

    Raises:
        ValidationError: bad arguments or values of the wrong kind; raised
            before anything is spent.
        BudgetExceededError: the accountant cannot afford a measurement.

    Privacy:
        Spends at most ``(epsilon, delta)`` under add/remove-one-row neighbours:
        per categorical column an ``ApproxDPEvent`` (threshold histogram), per
        bounded column a ``GaussianEvent`` (bound histogram, L2 sensitivity 1)
        and ``bins - 1`` ``ExponentialEvent`` (edge quantiles). The budget is
        split evenly across columns in zCDP terms. The noise scales are the
        smallest for which the accountant's own composition of every planned
        event stays within ``(epsilon, delta)``: a dry run before anything is
        measured. Edge budget is left unspent for integer columns with at most
        ``bins`` values.

    References:
        Wilson et al. Differentially Private SQL with Bounded User Contribution.
        PoPETs 2020 (thresholded histograms; approximate bounds from a noisy
        logarithmic histogram). Smith. Privacy-Preserving Statistical Estimation
        with Optimal Convergence Rates. STOC 2011 (DP quantiles).
    """
    from dpsynth.privacy.accountant import PrivacyAccountant

    _check_discover_args(epsilon, delta, bins, bounds_fraction)
    kind_of, from_dtype = _kinds(frame, kinds)
    for name, kind in kind_of.items():  # type errors before any spend
        if kind != "categorical":
            _present_values(frame[name], name, kind)
    n_cat = sum(k == "categorical" for k in kind_of.values())
    cat_delta = _threshold_delta(categorical_threshold_delta, delta, n_cat)
    _dtype_warning(from_dtype, "discover")
    plan = _plan(
        n_cat=n_cat,
        n_bounded=len(kind_of) - n_cat,
        n_edges=bins - 1,
        epsilon=epsilon,
        delta=delta,
        category_delta=cat_delta,
        fraction=bounds_fraction,
    )
    if accountant is None:
        accountant = PrivacyAccountant(epsilon=epsilon, delta=delta)
    columns: list[Column] = []
    for name, kind in kind_of.items():
        if kind == "categorical":
            columns.append(_discover_categories(frame[name], name, plan, accountant))
        else:
            columns.append(
                _discover_bounded(frame[name], name, kind, plan, accountant, bins=bins)
            )
    empty = [
        c.name for c in columns if isinstance(c, CategoricalColumn) and not c.categories
    ]
    if empty:
        warnings.warn(
            f"discover: no value of {empty!r} passed the privacy threshold, so every "
            "value of these columns is coded 'other'. Give discovery more budget or "
            "declare their categories by hand.",
            stacklevel=2,
        )
    provenance = {
        "method": "discover",
        "private": True,
        "epsilon": float(accountant.epsilon()),
        "delta": float(delta),
        "ledger": _ledger_dict(accountant),
        "kinds_from_dtypes": from_dtype,
        "parameters": {
            "bins": bins,
            "bounds_fraction": bounds_fraction,
            "categorical_threshold_delta": cat_delta,
            "bound_false_bin": BOUND_FALSE_BIN,
            "edge_grid": EDGE_GRID,
        },
    }
    return Schema(tuple(columns), provenance=provenance)


def _threshold_delta(given: Any, delta: float, n_cat: int) -> float:
    if given is None:
        return delta * THRESHOLD_DELTA_SHARE / max(n_cat, 1)
    if not (_is_real(given) and given > 0 and n_cat * given < delta):
        _fail(
            "categorical_threshold_delta",
            given,
            f"positive and below delta / {max(n_cat, 1)} (categorical columns)",
            "",
        )
    return float(given)


def _check_discover_args(epsilon: Any, delta: Any, bins: Any, fraction: Any) -> None:
    if not (_is_real(epsilon) and epsilon > 0):
        _fail("epsilon", epsilon, "a positive, finite number", "")
    if not (_is_real(delta) and 0 < delta < 1):
        _fail("delta", delta, "in the open interval (0, 1)", "")
    if not _is_int(bins) or bins < 1:
        _fail("bins", bins, "an integer >= 1", "")
    if not (_is_real(fraction) and 0 < fraction < 1):
        _fail("bounds_fraction", fraction, "in the open interval (0, 1)", "")


def _ledger_dict(accountant: PrivacyAccountant) -> Any:
    """The accountant's ledger as JSON-ready data (for the provenance)."""
    return accountant.ledger.to_dict()
