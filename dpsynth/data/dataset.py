"""A validated, read-only, integer-coded table over a public :class:`Domain`.

A :class:`Dataset` is what the Encoder produces and what counting backends
(:mod:`dpsynth.marginals`) read. It holds the *sensitive* table: everything read off
it (counts, the number of rows) is private until a mechanism in
:mod:`dpsynth.mechanisms` has measured it with budget.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from dpsynth.data.domain import Domain
from dpsynth.errors import DomainError, ValidationError

__all__ = ["Dataset", "code_dtype"]

_UNSIGNED = (np.dtype(np.uint8), np.dtype(np.uint16), np.dtype(np.uint32))


def code_dtype(domain: Domain) -> np.dtype[Any]:
    """The narrowest unsigned integer dtype that holds every code of ``domain``.

    Args:
        domain: the public domain.

    Returns:
        ``uint8``, ``uint16`` or ``uint32`` when every column has at most
        256, 65,536 or 2**32 codes; ``int64`` otherwise.

    Example:
        >>> code_dtype(Domain({"a": 256, "b": 2}))
        dtype('uint8')
        >>> code_dtype(Domain({"a": 257}))
        dtype('uint16')
    """
    largest = max(domain.shape, default=1)
    for dtype in _UNSIGNED:
        if largest - 1 <= np.iinfo(dtype).max:
            return dtype
    return np.dtype(np.int64)


@dataclass(frozen=True, eq=False, repr=False)
class Dataset:
    """An integer-coded table: one row per record, one column per domain column.

    Column ``j`` holds the codes of ``domain.attributes[j]``, each in
    ``[0, domain[column])``. The codes are copied on construction into a read-only
    column-major (Fortran-ordered) array of the narrowest unsigned dtype that fits
    the domain (see :func:`code_dtype`): a million rows of Adult take 15 MB. Cast
    to a wider type (``astype(np.int64)``) before arithmetic that could overflow.

    Privacy: the table is sensitive. Counts read off it, and its number of rows,
    are private and may only be passed to a mechanism in :mod:`dpsynth.mechanisms`.
    There is deliberately no ``len()``; see :attr:`n_rows_nonprivate`.

    Args:
        codes: a 2-D integer array, rows by columns in the domain's column order.
        domain: the public domain of the columns.

    Raises:
        ValidationError: if ``codes`` is not a 2-D integer array with one column
            per domain column.
        DomainError: if a code lies outside its column's ``[0, size)``; the
            message names the column and the number of bad codes, never a value.

    Example:
        >>> ds = Dataset(np.array([[0, 1], [2, 0]]), Domain({"a": 3, "b": 2}))
        >>> ds.columns, ds.codes.dtype.name
        (('a', 'b'), 'uint8')
        >>> ds.column("a").tolist()
        [0, 2]
    """

    codes: np.ndarray
    domain: Domain

    def __post_init__(self) -> None:
        if not isinstance(self.domain, Domain):
            raise ValidationError(
                f"`domain` ({type(self.domain).__name__}) must be a Domain. "
                "Build one with Domain({column: size})."
            )
        arr = self.codes
        if not isinstance(arr, np.ndarray):
            arr = np.asarray(arr)
        if arr.ndim != 2:
            raise ValidationError(
                f"`codes` (an array of shape {arr.shape!r}) must be 2-D "
                "(rows by columns). Reshape it, or use Dataset.from_frame."
            )
        _check_integer_dtype("codes", arr.dtype)
        if arr.shape[1] != len(self.domain):
            raise ValidationError(
                f"`codes` ({arr.shape[1]} columns) must have one column per domain "
                f"column ({len(self.domain)}: {list(self.domain.attributes)!r})."
            )
        _check_in_domain(arr, self.domain)
        object.__setattr__(self, "codes", _freeze(arr, code_dtype(self.domain)))

    @classmethod
    def _trusted(cls, codes: np.ndarray, domain: Domain) -> Dataset:
        """Wraps already validated, read-only codes without checking or copying."""
        obj = object.__new__(cls)
        object.__setattr__(obj, "codes", codes)
        object.__setattr__(obj, "domain", domain)
        return obj

    @classmethod
    def from_frame(cls, frame: pd.DataFrame, domain: Domain) -> Dataset:
        """Builds a Dataset from a DataFrame of integer codes.

        Columns are matched by name, in any order; columns not in ``domain`` are
        ignored.

        Args:
            frame: a DataFrame with an integer column per domain column.
            domain: the public domain.

        Returns:
            The validated Dataset, columns in the domain's order.

        Raises:
            ValidationError: if ``frame`` is not a DataFrame, lacks domain columns
                (all are named), or a column is not of an integer dtype (a nullable
                integer column with missing values included).
            DomainError: if a code lies outside its column's domain.

        Example:
            >>> df = pd.DataFrame({"b": [1, 0], "a": [0, 2]})
            >>> Dataset.from_frame(df, Domain({"a": 3, "b": 2})).codes.tolist()
            [[0, 1], [2, 0]]
        """
        if not isinstance(frame, pd.DataFrame):
            raise ValidationError(
                f"`frame` ({type(frame).__name__}) must be a pandas DataFrame."
            )
        if not isinstance(domain, Domain):
            raise ValidationError(
                f"`domain` ({type(domain).__name__}) must be a Domain. "
                "Build one with Domain({column: size})."
            )
        missing = [c for c in domain.attributes if c not in frame.columns]
        if missing:
            raise ValidationError(
                f"`frame` columns must include every domain column; missing "
                f"{missing!r}. Encode the table with the schema's Encoder first."
            )
        out = np.empty(
            (frame.shape[0], len(domain)), dtype=code_dtype(domain), order="F"
        )
        for j, name in enumerate(domain.attributes):
            col = _frame_column(frame, name)
            _check_in_domain(col[:, None], domain.project([name]))
            out[:, j] = col
        out.flags.writeable = False
        return cls._trusted(out, domain)

    @property
    def columns(self) -> tuple[str, ...]:
        """Column names, in the domain's order."""
        return self.domain.attributes

    @property
    def n_rows_nonprivate(self) -> int:
        """The EXACT number of rows: private, never to be released.

        Privacy: under add/remove-one neighbours the row count is sensitive. Use it
        only to size arrays or to compute counts that go to a mechanism; a
        synthesizer that needs the row count must measure it with budget.
        """
        return int(self.codes.shape[0])

    def column(self, name: str) -> np.ndarray:
        """A read-only view of the codes of column ``name`` (contiguous, 1-D).

        Raises:
            ValidationError: if ``name`` is not a column.
        """
        return self.codes[:, self._index(name)]

    def project(self, columns: Iterable[str]) -> Dataset:
        """The Dataset over ``columns``, in the order given.

        Raises:
            ValidationError: if a column is not in the domain or appears twice.
        """
        sub = self.domain.project(columns)
        idx = [self._index(c) for c in sub.attributes]
        codes = np.asfortranarray(self.codes[:, idx], dtype=code_dtype(sub))
        codes.flags.writeable = False
        return Dataset._trusted(codes, sub)

    def to_frame(self) -> pd.DataFrame:
        """A new DataFrame of the codes (columns in domain order, narrow dtype)."""
        return pd.DataFrame(
            {name: self.codes[:, j].copy() for j, name in enumerate(self.columns)},
            columns=list(self.columns),
        )

    def _index(self, name: str) -> int:
        try:
            return self.columns.index(name)
        except ValueError:
            raise ValidationError(
                f"`column` ({name!r}) must be one of {list(self.columns)!r}."
            ) from None

    def __reduce__(self) -> tuple[Any, ...]:
        return (Dataset, (np.array(self.codes), self.domain))

    def __repr__(self) -> str:
        # Neither records nor the (private) row count.
        return f"Dataset(domain={self.domain!r}, dtype={self.codes.dtype.name})"


def _check_integer_dtype(name: str, dtype: np.dtype[Any]) -> None:
    if dtype.kind not in "iu":
        raise ValidationError(
            f"`{name}` (dtype {dtype}) must have an integer dtype. "
            "Encode values to integer codes with the schema's Encoder first."
        )


def _frame_column(frame: pd.DataFrame, name: str) -> np.ndarray:
    series = frame[name]
    if isinstance(series, pd.DataFrame):
        raise ValidationError(f"`frame` column {name!r} must appear only once.")
    dtype = series.dtype
    if not pd.api.types.is_integer_dtype(dtype) or pd.api.types.is_bool_dtype(dtype):
        raise ValidationError(
            f"`frame[{name!r}]` (dtype {dtype}) must have an integer dtype. "
            "Encode values to integer codes with the schema's Encoder first."
        )
    if series.hasnans:
        raise ValidationError(
            f"`frame[{name!r}]` ({int(series.isna().sum())} missing values) must "
            "have no missing values. Map missing values to a code when encoding."
        )
    return series.to_numpy(dtype=getattr(dtype, "numpy_dtype", dtype))


def _check_in_domain(arr: np.ndarray, domain: Domain) -> None:
    """Raises DomainError naming each column with codes outside [0, size)."""
    if arr.shape[0] == 0:
        return
    sizes = domain.shape
    highs = arr.max(axis=0).tolist()
    lows = arr.min(axis=0).tolist() if arr.dtype.kind == "i" else [0] * len(sizes)
    bad = [j for j, s in enumerate(sizes) if lows[j] < 0 or highs[j] >= s]
    if not bad:
        return
    parts = []
    for j in bad:
        col = arr[:, j]
        count = np.count_nonzero((col < 0) | (col >= sizes[j]))
        parts.append(
            f"column {domain.attributes[j]!r} has {count} code(s) outside "
            f"[0, {sizes[j]})"
        )
    raise DomainError(
        "Every code must lie in its column's [0, size): "
        + "; ".join(parts)
        + ". Check that the table was encoded with this domain's Encoder."
    )


def _freeze(arr: np.ndarray, dtype: np.dtype[Any]) -> np.ndarray:
    """A read-only, Fortran-ordered copy of validated codes in ``dtype``."""
    out = np.array(arr, dtype=dtype, order="F", copy=True)
    out.flags.writeable = False
    return out
