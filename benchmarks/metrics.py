"""Marginal-based utility metrics shared by every benchmark row.

One numpy implementation, used for dpsynth, the peers and the reference rows
alike, so that no method is scored by its own code. A table is an ``(n, d)``
integer array of codes plus a public domain (the number of values of each
column, in the same column order).

* A marginal on columns ``C`` is ``np.bincount`` of the ravelled multi-index,
  normalised to sum to one.
* ``TVD = 0.5 * || p_real - p_synth ||_1`` on a normalised marginal.
* Workload error (AIM paper, McKenna et al. 2022): the mean over all 3-way
  marginals of ``|| p_real - p_synth ||_1`` (= 2 x the mean 3-way TVD).
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

Cols = tuple[int, ...]


class TableError(ValueError):
    """A synthetic table does not fit the public domain (columns or codes)."""


def load_domain(path: str | Path) -> dict[str, int]:
    """Reads an hd-datasets ``{column: number of values}`` JSON file."""
    data = json.loads(Path(path).read_text())
    return {str(k): int(v) for k, v in data.items()}


def load_table(
    csv: str | Path, domain: dict[str, int]
) -> tuple[np.ndarray, list[str], list[int]]:
    """Loads an integer-coded CSV; returns codes, column names and sizes.

    Column order is the CSV's; every CSV column must be in ``domain``.
    """
    frame = pd.read_csv(csv)
    columns = list(frame.columns)
    missing = [c for c in columns if c not in domain]
    if missing:
        raise TableError(f"columns {missing} are not in the domain")
    sizes = [domain[c] for c in columns]
    codes = check_codes(frame, columns, sizes)
    return codes, columns, sizes


def check_codes(frame: pd.DataFrame, columns: Sequence[str], sizes: Sequence[int]):
    """Returns ``frame[columns]`` as an int64 array, checked against the domain.

    Raises:
        TableError: a column is missing, a value is not an integer, or a code
            lies outside ``[0, size)``.
    """
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise TableError(f"missing columns {missing}")
    out = np.empty((len(frame), len(columns)), dtype=np.int64)
    for j, (col, size) in enumerate(zip(columns, sizes, strict=True)):
        values = pd.to_numeric(frame[col], errors="coerce").to_numpy(dtype=float)
        if np.isnan(values).any():
            raise TableError(f"column {col!r} has non-numeric or missing values")
        if not np.all(values == np.round(values)):
            raise TableError(f"column {col!r} has non-integer values")
        ints = values.astype(np.int64)
        bad = (ints < 0) | (ints >= size)
        if bad.any():
            raise TableError(
                f"column {col!r}: {int(bad.sum())} codes outside [0, {size})"
            )
        out[:, j] = ints
    return out


def marginal(codes: np.ndarray, sizes: Sequence[int], cols: Cols) -> np.ndarray:
    """The normalised marginal of ``codes`` on ``cols`` (flat, sums to 1).

    An empty table gives the all-zero vector (so its TVD to anything is 0.5 x
    the other's mass: 0.5).
    """
    shape = tuple(int(sizes[c]) for c in cols)
    cells = int(np.prod(shape))
    if codes.shape[0] == 0:
        return np.zeros(cells)
    flat = np.ravel_multi_index(tuple(codes[:, c] for c in cols), shape)
    counts = np.bincount(flat, minlength=cells).astype(float)
    return counts / counts.sum()


def all_marginals(d: int, way: int) -> list[Cols]:
    """Every ``way``-subset of ``range(d)`` in lexicographic order."""
    return list(itertools.combinations(range(d), way))


class RealMarginals:
    """Caches the real table's marginals so each method only counts its own."""

    def __init__(self, codes: np.ndarray, sizes: Sequence[int]) -> None:
        self.codes = codes
        self.sizes = list(sizes)
        self._cache: dict[Cols, np.ndarray] = {}

    def get(self, cols: Cols) -> np.ndarray:
        """The real normalised marginal on ``cols`` (cached)."""
        if cols not in self._cache:
            self._cache[cols] = marginal(self.codes, self.sizes, cols)
        return self._cache[cols]


def l1_errors(real: RealMarginals, synth: np.ndarray, way: int) -> np.ndarray:
    """L1 distance of normalised marginals, one per ``way``-subset of columns."""
    d = len(real.sizes)
    return np.array(
        [
            np.abs(real.get(cols) - marginal(synth, real.sizes, cols)).sum()
            for cols in all_marginals(d, way)
        ]
    )


def score(real: RealMarginals, synth: np.ndarray) -> dict[str, float]:
    """Every metric of one synthetic table against the real one.

    Returns:
        ``workload_error`` (mean L1 over all 3-way marginals), ``tvd_1``,
        ``tvd_2``, ``tvd_3`` (mean TVD over 1-, 2-, 3-way marginals),
        ``max_tvd_2`` (worst 2-way TVD) and ``rows`` (synthetic row count).
        A table with fewer than 3 columns scores NaN on the 3-way metrics.
    """
    d = len(real.sizes)
    out: dict[str, float] = {"rows": float(synth.shape[0])}
    for way in (1, 2, 3):
        if way > d:
            out[f"tvd_{way}"] = float("nan")
            continue
        err = l1_errors(real, synth, way)
        out[f"tvd_{way}"] = float(0.5 * err.mean())
        if way == 2:
            out["max_tvd_2"] = float(0.5 * err.max())
        if way == 3:
            out["workload_error"] = float(err.mean())
    out.setdefault("workload_error", float("nan"))
    out.setdefault("max_tvd_2", float("nan"))
    return out


def independent_sample(
    codes: np.ndarray, sizes: Sequence[int], rows: int, rng: np.random.Generator
) -> np.ndarray:
    """Reference (no DP): each column drawn independently from its exact 1-way."""
    out = np.empty((rows, len(sizes)), dtype=np.int64)
    for j, size in enumerate(sizes):
        p = marginal(codes, sizes, (j,))
        out[:, j] = rng.choice(int(size), size=rows, p=p)
    return out


def bootstrap_sample(
    codes: np.ndarray, rows: int, rng: np.random.Generator
) -> np.ndarray:
    """Reference (no DP): rows resampled with replacement from the real table."""
    return codes[rng.integers(0, codes.shape[0], size=rows)]
