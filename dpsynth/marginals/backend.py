"""The counting backend interface: exact marginal counts from a data source.

A backend answers :class:`MarginalQuery` objects with exact ``int64`` counts. The
synthesizers see only this interface, so a backend for another engine (DuckDB's
``GROUP BY``/``GROUPING SETS``, Spark) is a new subclass implementing
:meth:`CountingBackend._count`, and nothing else changes.

Privacy: exact counts are private. They may only be handed to a mechanism in
:mod:`dpsynth.mechanisms`, which charges the accountant and adds noise; they are
never released, logged or stored in a fitted model.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence

import numpy as np

from dpsynth.data.domain import Domain
from dpsynth.errors import InternalError, ValidationError
from dpsynth.marginals.query import MarginalQuery, as_query

__all__ = ["DEFAULT_MAX_CELLS", "CountingBackend"]

DEFAULT_MAX_CELLS = 2**26
"""Largest marginal (in cells) a backend counts by default: 512 MiB of int64."""


class CountingBackend(ABC):
    """Exact marginal counts over a public :class:`Domain`.

    Subclasses implement :meth:`_count` for already validated queries; the public
    methods validate every query (columns in the domain, size under
    ``max_cells``) before any counting starts, so a bad batch fails fast and
    without allocating.

    Privacy: the counts returned are exact and private: pass them only to a
    mechanism in :mod:`dpsynth.mechanisms`, never release them.

    Args:
        domain: the public domain of the data source.
        max_cells: the largest marginal, in cells, that may be counted; guards
            against allocating an answer that would not fit in memory.

    Raises:
        ValidationError: if ``domain`` is not a Domain or ``max_cells`` < 1.
    """

    def __init__(self, domain: Domain, *, max_cells: int = DEFAULT_MAX_CELLS) -> None:
        if not isinstance(domain, Domain):
            raise ValidationError(
                f"`domain` ({type(domain).__name__}) must be a Domain. "
                "Build one with Domain({column: size})."
            )
        if isinstance(max_cells, bool) or not isinstance(max_cells, int | np.integer):
            raise ValidationError(f"`max_cells` ({max_cells!r}) must be an integer.")
        if max_cells < 1:
            raise ValidationError(f"`max_cells` ({max_cells!r}) must be >= 1.")
        self._domain = domain
        self._max_cells = int(max_cells)

    @property
    def domain(self) -> Domain:
        """The public domain of the data source."""
        return self._domain

    @property
    def max_cells(self) -> int:
        """The largest marginal, in cells, this backend will count."""
        return self._max_cells

    def counts(self, query: MarginalQuery | Iterable[str]) -> np.ndarray:
        """Exact counts of one marginal.

        Privacy: the result is exact and private; pass it only to a mechanism in
        :mod:`dpsynth.mechanisms`.

        Args:
            query: a MarginalQuery, or a sequence of column names.

        Returns:
            A new ``int64`` array of shape ``query.shape(domain)`` (axes in query
            order).

        Raises:
            ValidationError: if a column is not in the domain, or the marginal
                has more than ``max_cells`` cells.
        """
        return self.counts_many([query])[0]

    def counts_many(
        self, queries: Iterable[MarginalQuery | Iterable[str]]
    ) -> list[np.ndarray]:
        """Exact counts of many marginals, in one batch.

        Backends share work across the batch (a common scan, shared partial
        indices, one ``GROUPING SETS`` statement), so prefer one call to many.

        Privacy: the results are exact and private; pass them only to a mechanism
        in :mod:`dpsynth.mechanisms`.

        Args:
            queries: MarginalQuery objects or sequences of column names.

        Returns:
            One new ``int64`` array per query, in order, shaped like
            :meth:`counts`.

        Raises:
            ValidationError: if any query is invalid (checked before counting).
        """
        checked = [self._validate(as_query(q)) for q in queries]
        if not checked:
            return []
        results = self._count(checked)
        if len(results) != len(checked):
            raise InternalError(
                f"{type(self).__name__} returned {len(results)} answers for "
                f"{len(checked)} queries; probably a bug, please report it."
            )
        return results

    def _validate(self, query: MarginalQuery) -> MarginalQuery:
        missing = [c for c in query.columns if c not in self._domain]
        if missing:
            raise ValidationError(
                f"`query` ({query.columns!r}) must use only domain columns; "
                f"{missing!r} are not in {list(self._domain.attributes)!r}."
            )
        cells = query.size(self._domain)
        if cells > self._max_cells:
            raise ValidationError(
                f"`query` ({query.columns!r}, {cells} cells) must have at most "
                f"`max_cells` ({self._max_cells}) cells. Count a smaller marginal, "
                "or raise max_cells if the answer fits in memory."
            )
        return query

    @abstractmethod
    def _count(self, queries: Sequence[MarginalQuery]) -> list[np.ndarray]:
        """Counts validated queries: one new int64 array per query, in order."""
