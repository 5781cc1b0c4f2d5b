"""A marginal query: which columns to count jointly."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from dpsynth.data.domain import Domain
from dpsynth.errors import ValidationError

__all__ = ["MarginalQuery", "as_query"]


@dataclass(frozen=True)
class MarginalQuery:
    """The marginal over ``columns``: a count per combination of their codes.

    The answer's axes follow ``columns`` in the order given, so
    ``MarginalQuery(("b", "a"))`` is the transpose of ``MarginalQuery(("a", "b"))``.

    Args:
        columns: one or more distinct column names (a list is converted to a tuple).

    Raises:
        ValidationError: if ``columns`` is empty, a name is not a non-empty string,
            or a name appears twice.

    Example:
        >>> q, d = MarginalQuery(("sex", "age")), Domain({"age": 10, "sex": 2})
        >>> q.shape(d), q.size(d)
        ((2, 10), 20)
    """

    columns: tuple[str, ...]

    def __post_init__(self) -> None:
        cols = self.columns
        if isinstance(cols, str) or not isinstance(cols, Iterable):
            raise ValidationError(
                f"`columns` ({cols!r}) must be a tuple of column names. "
                f"For one column write ({cols!r},)."
            )
        cols = tuple(cols)
        if not cols:
            raise ValidationError(
                "`columns` (()) must name at least one column. Pass e.g. ('age',)."
            )
        for name in cols:
            if not isinstance(name, str) or not name:
                raise ValidationError(
                    f"`columns` ({cols!r}) must hold only non-empty strings."
                )
        dupes = sorted({c for c in cols if cols.count(c) > 1})
        if dupes:
            raise ValidationError(
                f"`columns` ({cols!r}) must not repeat a column; repeated {dupes!r}."
            )
        object.__setattr__(self, "columns", cols)

    def shape(self, domain: Domain) -> tuple[int, ...]:
        """The answer's shape: the domain size of each column, in query order."""
        return tuple(domain[c] for c in self.columns)

    def size(self, domain: Domain) -> int:
        """The number of cells of the answer (exact Python int, no overflow)."""
        return domain.size(self.columns)


def as_query(query: MarginalQuery | Iterable[str]) -> MarginalQuery:
    """Returns ``query`` as a MarginalQuery (a sequence of names is converted).

    Raises:
        ValidationError: if ``query`` is not a valid query.
    """
    if isinstance(query, MarginalQuery):
        return query
    return MarginalQuery(query)  # type: ignore[arg-type]
