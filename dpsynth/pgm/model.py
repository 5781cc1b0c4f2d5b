"""The fitted graphical model: marginals on demand, sampling, serialisation."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from dpsynth._random import RngLike
from dpsynth.data.dataset import Dataset
from dpsynth.data.domain import Domain
from dpsynth.errors import ValidationError
from dpsynth.pgm.factor import Factor
from dpsynth.pgm.inference import Calibration, TreePlan, calibrate, marginal
from dpsynth.pgm.junction_tree import JunctionTree, build_junction_tree, column_tuple

__all__ = ["GraphicalModel"]

_FORMAT = "dpsynth.pgm.GraphicalModel"
_VERSION = 1


class GraphicalModel:
    """A distribution that factorises on a junction tree, scaled to ``total`` rows.

    ``p(x)`` is proportional to ``exp(sum_C theta_C(x_C))`` over the maximal
    cliques ``C``; :meth:`project` returns expected counts ``total * p(x_S)``
    for any column set ``S``. Models are usually built by
    :func:`dpsynth.pgm.estimate`; build one by hand from log-space factors.

    Args:
        domain: the public domain.
        potentials: log-space factors; their attribute sets (and a singleton per
            column) define the junction tree, and each factor is multiplied into
            a clique that holds it.
        total: the number of rows the model stands for (> 0).

    Attributes:
        domain: the public domain.
        cliques: the maximal cliques of the junction tree (columns in each ordered
            by :func:`~dpsynth.pgm.junction_tree.axis_order`).
        total: the estimated number of rows.

    Raises:
        ValidationError: if a factor names an unknown column or has the wrong
            shape, or ``total`` is not a finite number > 0.

    Example:
        >>> d = Domain({"a": 2, "b": 2})
        >>> f = Factor(("a", "b"), np.log([[1.0, 3.0], [2.0, 2.0]]))
        >>> m = GraphicalModel(d, [f], total=80.0)
        >>> m.cliques, m.project(["b"]).tolist()
        ((('a', 'b'),), [30.0, 50.0])
    """

    domain: Domain
    cliques: tuple[tuple[str, ...], ...]
    total: float

    def __init__(
        self, domain: Domain, potentials: Iterable[Factor], *, total: float
    ) -> None:
        if not isinstance(domain, Domain):
            raise ValidationError(
                f"`domain` ({type(domain).__name__}) must be a Domain. "
                "Build one with Domain({column: size})."
            )
        factors = list(potentials)
        for f in factors:
            if not isinstance(f, Factor):
                raise ValidationError(
                    f"`potentials` item ({f!r}) must be a Factor over domain columns."
                )
            expected = tuple(domain.get(a, -1) for a in f.attributes)
            if f.shape != expected:
                raise ValidationError(
                    f"`potentials` factor over {f.attributes!r} (shape {f.shape!r}) "
                    f"must have the domain's shape {expected!r} (-1: unknown column)."
                )
        tree = build_junction_tree(domain, [f.attributes for f in factors])
        theta = [np.zeros(tree.shape(k)) for k in range(len(tree.cliques))]
        for f in factors:
            k = tree.home(f.attributes)
            theta[k] += f.expand(tree.cliques[k], domain).values
        self._init(tree, theta, check_total(total))

    @classmethod
    def _from_tree(
        cls, tree: JunctionTree, theta: Sequence[np.ndarray], total: float
    ) -> GraphicalModel:
        """Wraps trusted potentials (one per clique, axes in clique order)."""
        model = object.__new__(cls)
        model._init(tree, theta, total)
        return model

    def _init(
        self, tree: JunctionTree, theta: Sequence[np.ndarray], total: float
    ) -> None:
        self.domain = tree.domain
        self.cliques = tree.cliques
        self.total = float(total)
        self._tree = tree
        self._plan = TreePlan.of(tree)
        self._theta = tuple(np.array(t, dtype=np.float64) for t in theta)
        for t in self._theta:
            t.flags.writeable = False
        self._calibration: Calibration | None = None
        self._separators: dict[tuple[str, ...], np.ndarray] = {}

    @property
    def potentials(self) -> tuple[Factor, ...]:
        """The log-potentials, one factor per clique of :attr:`cliques`."""
        return tuple(
            Factor(c, t) for c, t in zip(self.cliques, self._theta, strict=True)
        )

    @property
    def calibration(self) -> Calibration:
        """Belief propagation at the potentials (computed once, read-only)."""
        if self._calibration is None:
            cal = calibrate(self._plan, self._theta)
            for table in cal.log_beliefs + cal.probabilities:
                table.flags.writeable = False
            self._calibration = cal
        return self._calibration

    def project(self, columns: Sequence[str]) -> np.ndarray:
        """Expected counts over ``columns``, axes in the order given.

        Works for any set of columns: inside one clique the clique marginal is
        summed; otherwise messages carrying the columns run up the smallest
        subtree of the junction tree that holds them all.

        Args:
            columns: distinct columns of the domain (``()`` gives ``total``).

        Returns:
            A new float64 array of shape ``domain.project(columns).shape`` whose
            cells sum to :attr:`total`.

        Raises:
            ValidationError: if a column is unknown or repeated.

        Example:
            >>> d = Domain({"a": 2, "b": 3})
            >>> m = GraphicalModel(d, [], total=12.0)
            >>> m.project(["b", "a"]).tolist()
            [[2.0, 2.0], [2.0, 2.0], [2.0, 2.0]]
        """
        cols = column_tuple(self.domain, columns, "`columns`")
        if not cols:
            return np.array(self.total)
        cal = self.calibration
        k = self._tree.containing(cols)
        if k is not None:
            clique = self.cliques[k]
            axes = tuple(i for i, a in enumerate(clique) if a not in cols)
            prob = cal.probabilities[k].sum(axis=axes) if axes else cal.probabilities[k]
            kept = [a for a in clique if a in cols]
            out = np.transpose(prob, [kept.index(c) for c in cols])
            return self.total * out
        return self.total * marginal(
            self._tree, cal.probabilities, cols, self._separators
        )

    def sample(self, n: int, *, rng: RngLike = None, balanced: bool = True) -> Dataset:
        """Draws ``n`` synthetic rows, keeping the model's counts by rounding.

        Rows are generated in junction-tree order and then shuffled; see
        :func:`dpsynth.pgm.sampling.sample`.

        Args:
            n: the number of rows (pass ``round(model.total)`` for the estimate).
            rng: seed or Generator (see :func:`dpsynth._random.as_generator`).
            balanced: spread new values evenly over the rows ordered by the
                columns generated before (default), or in random order.

        Returns:
            A Dataset over :attr:`domain` with ``n`` rows.

        Raises:
            ValidationError: if ``n`` is not an integer >= 0, or ``rng`` is bad.

        Example:
            >>> m = GraphicalModel(Domain({"a": 2, "b": 3}), [], total=6.0)
            >>> m.sample(6, rng=0).codes.shape
            (6, 2)
        """
        from dpsynth.pgm.sampling import sample

        return sample(
            self._tree, self.calibration.probabilities, n, rng=rng, balanced=balanced
        )

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready description (lists of floats) that :meth:`from_dict` reads.

        Example:
            >>> m = GraphicalModel(Domain({"a": 2}), [], total=3.0)
            >>> GraphicalModel.from_dict(m.to_dict()).project(["a"]).tolist()
            [1.5, 1.5]
        """
        return {
            "format": _FORMAT,
            "version": _VERSION,
            "domain": self.domain.to_dict(),
            "total": self.total,
            "cliques": [list(c) for c in self.cliques],
            "potentials": [t.ravel().tolist() for t in self._theta],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> GraphicalModel:
        """Rebuilds a model saved with :meth:`to_dict` (same :meth:`project` results).

        Args:
            data: the mapping :meth:`to_dict` returned (e.g. read back from JSON).

        Returns:
            The model.

        Raises:
            ValidationError: if ``data`` is not such a mapping, or is inconsistent.
        """
        if not isinstance(data, Mapping) or data.get("format") != _FORMAT:
            raise ValidationError(
                f"`data` must be a mapping with format {_FORMAT!r}, as written by "
                "GraphicalModel.to_dict()."
            )
        if data.get("version") != _VERSION:
            raise ValidationError(
                f"`data['version']` ({data.get('version')!r}) must be {_VERSION}. "
                "Save the model again with this version of dpsynth."
            )
        try:
            domain = Domain(data["domain"])
            cliques = [tuple(c) for c in data["cliques"]]
            tables = [np.asarray(t, dtype=np.float64) for t in data["potentials"]]
            total = data["total"]
        except (KeyError, TypeError, ValueError) as exc:
            raise ValidationError(
                f"`data` is not a saved GraphicalModel: {exc}"
            ) from exc
        if len(tables) != len(cliques):
            raise ValidationError(
                f"`data['potentials']` ({len(tables)} tables) must have one table "
                f"per clique ({len(cliques)})."
            )
        tree = build_junction_tree(domain, cliques)
        if set(tree.cliques) != set(cliques):
            raise ValidationError(
                f"`data['cliques']` ({cliques!r}) must be the maximal cliques of a "
                "junction tree, as saved by to_dict()."
            )
        index = {c: i for i, c in enumerate(cliques)}
        theta = []
        for clique in tree.cliques:
            table = tables[index[clique]]
            if table.size != domain.size(clique) or np.isnan(table).any():
                raise ValidationError(
                    f"`data['potentials']` for {clique!r} must hold "
                    f"{domain.size(clique)} log-values without NaN."
                )
            theta.append(table.reshape(domain.project(clique).shape))
        return cls._from_tree(tree, theta, check_total(total))

    def __repr__(self) -> str:
        return (
            f"GraphicalModel(cliques={len(self.cliques)}, "
            f"cells={self._tree.size}, total={self.total:.6g})"
        )


def check_total(total: object) -> float:
    """``total`` as a float after checking it is a finite number > 0."""
    if isinstance(total, bool) or not isinstance(total, int | float | np.number):
        raise ValidationError(
            f"`total` ({total!r}) must be a number > 0 (the number of rows)."
        )
    value = float(total)
    if not math.isfinite(value) or value <= 0:
        raise ValidationError(
            f"`total` ({total!r}) must be a finite number > 0. Pass the (noisy) "
            "number of rows, or None to estimate it from the measurements."
        )
    return value
