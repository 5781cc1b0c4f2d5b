"""Noisy marginal measurements in, a graphical model out (Private-PGM style).

Estimation is post-processing: :func:`estimate` sees only the noisy counts of
:class:`Measurement` objects (and their noise scale), never the data, so its
output is as private as the measurements are.
"""

from __future__ import annotations

import logging
import math
import operator
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from dpsynth.data.domain import Domain
from dpsynth.errors import ValidationError
from dpsynth.pgm.inference import TreePlan
from dpsynth.pgm.junction_tree import (
    JunctionTree,
    axis_order,
    build_junction_tree,
    check_model_size,
    normalize_cliques,
)
from dpsynth.pgm.model import GraphicalModel, check_total
from dpsynth.pgm.optimize import Problem, Target, minimize

__all__ = ["Measurement", "estimate"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True, kw_only=True, eq=False)
class Measurement:
    """Noisy counts of one marginal, with the noise's standard deviation.

    Args:
        columns: the marginal's columns, axes of ``values`` in this order.
        values: the noisy counts, ``domain.project(columns).shape`` (or flat, in
            C order; :func:`estimate` reshapes it). May be negative. Stored as a
            read-only float64 copy.
        sigma: the standard deviation of the noise on each cell (> 0); the
            measurement weighs ``1 / sigma**2`` in the Gaussian likelihood.
        scale: optional per-cell multipliers of ``sigma`` (finite, > 0; the
            shape or size of ``values``): a cell that sums ``k`` noisy counts
            (a compressed value) has noise ``sigma * sqrt(k)`` and weighs
            ``1 / (k sigma**2)``.

    Raises:
        ValidationError: if ``columns`` is empty or repeats a column, ``values``
            holds NaN or infinities, or ``sigma`` is not a finite number > 0.

    Example:
        >>> m = Measurement(columns=("sex",), values=np.array([51.2, 48.1]), sigma=2.0)
        >>> m.columns, m.values.dtype.name
        (('sex',), 'float64')
    """

    columns: tuple[str, ...]
    values: np.ndarray
    sigma: float
    scale: np.ndarray | None = None

    def __post_init__(self) -> None:
        cols = self.columns
        if isinstance(cols, str) or not isinstance(cols, Iterable):
            raise ValidationError(
                f"`columns` ({cols!r}) must be a tuple of column names. "
                f"For one column write ({cols!r},)."
            )
        cols = tuple(cols)
        if not cols or any(not isinstance(c, str) or not c for c in cols):
            raise ValidationError(
                f"`columns` ({cols!r}) must hold one or more non-empty column names."
            )
        if len(set(cols)) != len(cols):
            raise ValidationError(f"`columns` ({cols!r}) must not repeat a column.")
        try:
            values = np.array(self.values, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise ValidationError(
                f"`values` must be an array of noisy counts; got {exc}."
            ) from None
        if not np.isfinite(values).all():
            raise ValidationError(
                f"`values` (with {int((~np.isfinite(values)).sum())} NaN or "
                "infinite cells) must be finite noisy counts."
            )
        values.flags.writeable = False
        sigma = self.sigma
        if (
            isinstance(sigma, bool)
            or not isinstance(sigma, int | float | np.number)
            or not math.isfinite(float(sigma))
            or float(sigma) <= 0
        ):
            raise ValidationError(
                f"`sigma` ({sigma!r}) must be a finite number > 0: the standard "
                "deviation of the noise added to each cell."
            )
        object.__setattr__(self, "columns", cols)
        object.__setattr__(self, "values", values)
        object.__setattr__(self, "sigma", float(sigma))
        if self.scale is not None:
            scale = np.array(self.scale, dtype=np.float64)
            if scale.size != values.size or not (
                np.isfinite(scale).all() and (scale > 0).all()
            ):
                raise ValidationError(
                    f"`scale` ({scale.size} cells) must hold one finite multiplier "
                    f"> 0 per cell of `values` ({values.size} cells)."
                )
            scale = scale.reshape(values.shape)
            scale.flags.writeable = False
            object.__setattr__(self, "scale", scale)

    def precision(self, domain: Domain) -> float | np.ndarray:
        """``1 / noise variance``: a number, or per cell (shaped as :meth:`table`)."""
        if self.scale is None:
            return 1.0 / self.sigma**2
        shape = domain.project(self.columns).shape
        return 1.0 / (self.sigma * self.scale.reshape(shape)) ** 2

    def table(self, domain: Domain) -> np.ndarray:
        """``values`` shaped as the marginal of ``domain`` over ``columns``.

        Raises:
            ValidationError: if a column is not in ``domain``, or the number of
                values is not the number of cells of the marginal.
        """
        shape = domain.project(self.columns).shape
        if self.values.shape != shape and not (
            self.values.ndim == 1 and self.values.size == math.prod(shape)
        ):
            raise ValidationError(
                f"`values` of the measurement on {self.columns!r} (shape "
                f"{self.values.shape!r}) must have shape {shape!r} (or be flat with "
                f"{math.prod(shape)} cells)."
            )
        return self.values.reshape(shape)


def estimate(
    domain: Domain,
    measurements: Sequence[Measurement],
    *,
    cliques: Iterable[Sequence[str]] = (),
    total: float | None = None,
    iters: int = 1000,
    warm_start: GraphicalModel | None = None,
    max_cells: int = 25_000_000,
    callback: Callable[[int, float], None] | None = None,
    tol: float = 1e-3,
) -> GraphicalModel:
    """Fits a graphical model to noisy marginals (maximum likelihood).

    Minimises ``sum_m ||mu_m - y_m||^2 / (2 sigma_m^2)`` over the marginals ``mu``
    of distributions with ``total`` rows that factorise on the junction tree of
    the measured column sets (plus ``cliques`` and every single column), by
    entropic mirror descent on the clique potentials, accelerated (Nesterov)
    and with a backtracking step (the loss never increases). Noisy counts may
    be negative or inconsistent. Measurements of one column set are pooled.

    Privacy: post-processing. Only the noisy ``measurements`` are read, so the
    model is exactly as private as they are; no budget is spent.

    Args:
        domain: the public domain.
        measurements: the noisy marginals.
        cliques: extra column sets the model must contain (e.g. to be measured
            later, or to keep attributes together).
        total: the (noisy) number of rows. None: the inverse-variance weighted
            mean of the measurements' sums, floored at 1.
        iters: the maximum number of iterations (each one or a few belief
            propagations).
        warm_start: a model on ``domain`` to start from (its distribution,
            exactly when its cliques fit in the new tree); AIM re-estimates so.
        max_cells: the largest model allowed, in float64 cells (8 bytes each).
        callback: called as ``callback(iteration, loss)`` after every step.
        tol: stop early once, over the last 20 iterations, the loss fell by
            less than ``tol`` times its value (and by less than a tenth of its
            fall since the start, or of ``tol`` times its value); 0 runs all
            ``iters`` iterations.

    Returns:
        The fitted :class:`GraphicalModel`.

    Raises:
        ValidationError: for an unknown column, values of the wrong shape, NaN
            values, a bad ``sigma``, ``total``, ``iters``, ``tol`` or
            ``warm_start``, or no measurements and no ``total``.
        ModelTooLargeError: if the junction tree would have more than
            ``max_cells`` cells; raised before any table is allocated.

    Example:
        >>> d = Domain({"a": 2, "b": 2})
        >>> counts = np.array([[40.0, 10.0], [20.0, 30.0]])
        >>> y = Measurement(columns=("a", "b"), values=counts, sigma=1.0)
        >>> model = estimate(d, [y])
        >>> model.total, model.project(["b"]).round(3).tolist()
        (100.0, [60.0, 40.0])

    References:
        McKenna, R., Sheldon, D. and Miklau, G. (2019). Graphical-model based
        estimation and inference for differential privacy. ICML.
        Koller, D. and Friedman, N. (2009). Probabilistic Graphical Models.
        MIT Press (junction trees, chapters 9-10).
    """
    if not isinstance(domain, Domain):
        raise ValidationError(
            f"`domain` ({type(domain).__name__}) must be a Domain. "
            "Build one with Domain({column: size})."
        )
    measurements, tables = _check_measurements(domain, measurements)
    n = _resolve_total(measurements, tables, total)
    steps = _check_count("iters", iters, 0)
    limit = _check_count("max_cells", max_cells, 1)
    if not isinstance(tol, int | float) or not tol >= 0 or isinstance(tol, bool):
        raise ValidationError(f"`tol` ({tol!r}) must be a number >= 0.")
    if callback is not None and not callable(callback):
        raise ValidationError(f"`callback` ({callback!r}) must be callable or None.")
    if warm_start is not None and (
        not isinstance(warm_start, GraphicalModel) or warm_start.domain != domain
    ):
        raise ValidationError(
            f"`warm_start` ({warm_start!r}) must be a GraphicalModel on the same "
            "domain, or None."
        )
    extra = normalize_cliques(domain, cliques)
    tree = build_junction_tree(domain, [m.columns for m in measurements] + list(extra))
    check_model_size(tree, limit)
    plan = TreePlan.of(tree)
    problem = _problem(plan, measurements, tables, n)
    theta = _initial_potentials(tree, warm_start)
    result = minimize(problem, theta, iters=steps, tol=tol, callback=callback)
    logger.info(
        "estimate: %d cliques, %d cells, %d iterations, loss %.6g%s",
        len(tree.cliques),
        tree.size,
        result.iterations,
        result.loss,
        " (converged)" if result.converged else "",
    )
    return GraphicalModel._from_tree(tree, result.potentials, n)


def _check_measurements(
    domain: Domain, measurements: Sequence[Measurement]
) -> tuple[list[Measurement], list[np.ndarray]]:
    """The measurements as a list, and their values shaped over ``domain``."""
    if isinstance(measurements, Measurement) or not isinstance(measurements, Iterable):
        raise ValidationError(
            f"`measurements` ({measurements!r}) must be a sequence of Measurement."
        )
    items = list(measurements)
    tables = []
    for m in items:
        if not isinstance(m, Measurement):
            raise ValidationError(f"`measurements` item ({m!r}) must be a Measurement.")
        tables.append(m.table(domain))
    return items, tables


def _resolve_total(
    measurements: Sequence[Measurement],
    tables: list[np.ndarray],
    total: float | None,
) -> float:
    if total is not None:
        return check_total(total)
    if not tables:
        raise ValidationError(
            "`total` (None) must be given when there are no measurements: "
            "there is nothing to estimate the number of rows from."
        )
    # the precision of each measurement's sum: 1 / (sum of its cells' variances)
    precision = np.array(
        [
            1.0 / (m.sigma**2 * (t.size if m.scale is None else np.sum(m.scale**2)))
            for m, t in zip(measurements, tables, strict=True)
        ]
    )
    sums = np.array([t.sum() for t in tables])
    return max(1.0, float(np.sum(precision * sums) / precision.sum()))


def _check_count(name: str, value: object, low: int) -> int:
    if isinstance(value, bool):
        number = None
    else:
        try:
            number = operator.index(value)  # type: ignore[arg-type]
        except TypeError:
            number = None
    if number is None or number < low:
        raise ValidationError(f"`{name}` ({value!r}) must be an integer >= {low}.")
    return number


def _problem(
    plan: TreePlan,
    measurements: Sequence[Measurement],
    tables: list[np.ndarray],
    total: float,
) -> Problem:
    """Combines measurements of one column set into a precision-weighted target."""
    tree = plan.tree
    position = axis_order(tree.domain)
    sums: dict[tuple[str, ...], list[float | np.ndarray]] = {}
    constant = 0.0
    for m, table in zip(measurements, tables, strict=True):
        attrs = tuple(sorted(m.columns, key=position.__getitem__))
        axes = [m.columns.index(a) for a in attrs]
        y = np.transpose(table, axes)
        w = m.precision(tree.domain)
        if isinstance(w, np.ndarray):
            w = np.transpose(w, axes)
        acc = sums.setdefault(attrs, [0.0, np.zeros(y.shape)])
        acc[0] = acc[0] + w
        acc[1] = acc[1] + w * y
        constant += 0.5 * float(np.sum(w * y * y))
    targets = []
    for attrs, (weight, weighted) in sums.items():
        mean = np.asarray(weighted) / weight
        constant -= 0.5 * float(np.sum(weight * mean * mean))
        combined = weight if isinstance(weight, np.ndarray) else float(weight)
        targets.append(Target(attrs, tree.home(attrs), mean, combined))
    return Problem(plan, tuple(targets), total, max(constant, 0.0))


def _initial_potentials(
    tree: JunctionTree, warm_start: GraphicalModel | None
) -> list[np.ndarray]:
    """Zeros (uniform), or the warm-start model's distribution on the new tree.

    A warm-start potential whose clique fits in a new clique is copied there, so
    the starting distribution is exactly the old one; otherwise the starting
    point is the old model's best approximation on the new tree (its clique
    marginals, divided by its separator marginals).
    """
    theta = [np.zeros(tree.shape(k)) for k in range(len(tree.cliques))]
    if warm_start is None:
        return theta
    if all(tree.containing(c) is not None for c in warm_start.cliques):
        for factor in warm_start.potentials:
            k = tree.home(factor.attributes)
            theta[k] += factor.expand(tree.cliques[k], tree.domain).values
        return theta
    tiny = np.finfo(np.float64).tiny
    for k, clique in enumerate(tree.cliques):
        prob = np.maximum(warm_start.project(clique) / warm_start.total, tiny)
        sep = tree.separators[k]
        axes = tuple(i for i, a in enumerate(clique) if a not in sep)
        theta[k] = np.log(prob) - np.log(prob.sum(axis=axes, keepdims=True))
    return theta
