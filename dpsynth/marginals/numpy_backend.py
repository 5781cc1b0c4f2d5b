"""In-memory exact marginal counts with numpy (the default backend)."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np

from dpsynth.data.dataset import Dataset
from dpsynth.errors import ValidationError
from dpsynth.marginals.backend import DEFAULT_MAX_CELLS, CountingBackend
from dpsynth.marginals.query import MarginalQuery

__all__ = ["DEFAULT_CHUNK_ROWS", "NumpyBackend"]

DEFAULT_CHUNK_ROWS = 2**16
"""Rows counted per pass: keeps the per-query index arrays in cache."""


class NumpyBackend(CountingBackend):
    """Exact marginal counts of an in-memory :class:`Dataset`.

    Each marginal is one ``np.bincount`` over the ravelled (C-order) cell index
    of its columns. A batch is counted in a canonical column order (the domain's)
    and answers are transposed to each query's axis order afterwards, so queries
    that are permutations of each other are counted once, and queries sharing a
    leading set of columns reuse its partial index (a depth-first walk over the
    sorted batch keeps at most one partial index per query length alive). Cell
    indices use the narrowest unsigned dtype that holds them, and rows are read in
    chunks of ``chunk_rows``, so working memory is bounded by the chunk and the
    answers, not by the table.

    Privacy: the counts are exact and private; pass them only to a mechanism in
    :mod:`dpsynth.mechanisms`.

    Args:
        dataset: the integer-coded table.
        max_cells: the largest marginal, in cells, that may be counted.
        chunk_rows: rows counted per pass (a speed/memory knob; answers are
            exact for any value).

    Raises:
        ValidationError: if ``dataset`` is not a Dataset, or ``max_cells`` or
            ``chunk_rows`` is not an integer >= 1.

    Example:
        >>> from dpsynth.data.domain import Domain
        >>> ds = Dataset(np.array([[0, 1], [1, 1], [1, 0]]), Domain({"a": 2, "b": 2}))
        >>> NumpyBackend(ds).counts(("b", "a")).tolist()
        [[0, 1], [1, 1]]
    """

    def __init__(
        self,
        dataset: Dataset,
        *,
        max_cells: int = DEFAULT_MAX_CELLS,
        chunk_rows: int = DEFAULT_CHUNK_ROWS,
    ) -> None:
        if not isinstance(dataset, Dataset):
            raise ValidationError(
                f"`dataset` ({type(dataset).__name__}) must be a Dataset. "
                "Build one with Dataset.from_frame(df, domain)."
            )
        super().__init__(dataset.domain, max_cells=max_cells)
        if isinstance(chunk_rows, bool) or not isinstance(chunk_rows, int | np.integer):
            raise ValidationError(f"`chunk_rows` ({chunk_rows!r}) must be an integer.")
        if chunk_rows < 1:
            raise ValidationError(f"`chunk_rows` ({chunk_rows!r}) must be >= 1.")
        self._dataset = dataset
        self._chunk_rows = int(chunk_rows)
        self._position = {c: j for j, c in enumerate(dataset.columns)}
        self._sizes = dataset.domain.shape

    def _count(self, queries: Sequence[MarginalQuery]) -> list[np.ndarray]:
        position = self._position
        canonical = {q: tuple(sorted(position[c] for c in q.columns)) for q in queries}
        keys = sorted(set(canonical.values()))
        answers: dict[tuple[int, ...], np.ndarray] = {}
        codes = self._dataset.codes
        n_rows = codes.shape[0]
        # Rows in chunks: the partial indices stay cache-sized, and memory is
        # bounded by the chunk, not the table.
        for start in range(0, max(n_rows, 1), self._chunk_rows):
            chunk = codes[start : start + self._chunk_rows]
            # Partial indices of the current chain of prefixes: stack[k] covers
            # the first k + 2 columns of the key being counted.
            stack: list[tuple[tuple[int, ...], np.ndarray]] = []
            for key in keys:
                while stack and stack[-1][0] != key[: len(stack[-1][0])]:
                    stack.pop()
                counts = self._bincount(chunk, key, stack)
                if key in answers:
                    answers[key] += counts
                else:
                    answers[key] = counts
        return self._arrange(queries, canonical, answers)

    def _arrange(
        self,
        queries: Sequence[MarginalQuery],
        canonical: dict[MarginalQuery, tuple[int, ...]],
        answers: dict[tuple[int, ...], np.ndarray],
    ) -> list[np.ndarray]:
        """Reshapes each answer to its query's axis order; every result is new."""
        uses = Counter(canonical[q] for q in queries)
        results = []
        for q in queries:
            key = canonical[q]
            counts = answers[key].reshape([self._sizes[j] for j in key])
            order = [key.index(self._position[c]) for c in q.columns]
            uses[key] -= 1
            if uses[key] == 0 and order == sorted(order):
                # The last user of the answer in canonical order takes it as is.
                results.append(counts.astype(np.int64, copy=False))
            else:
                results.append(np.array(counts.transpose(order), dtype=np.int64))
        return results

    def _bincount(
        self,
        codes: np.ndarray,
        key: tuple[int, ...],
        stack: list[tuple[tuple[int, ...], np.ndarray]],
    ) -> np.ndarray:
        """Counts the marginal over column positions ``key`` (ascending)."""
        sizes = self._sizes
        cells = math.prod(sizes[j] for j in key)
        if len(key) == 1:
            return np.bincount(codes[:, key[0]], minlength=cells)
        if stack:
            done, index = stack[-1]
        else:
            done, index = key[:1], codes[:, key[0]]
        # The narrowest dtype holding every cell index: the index passes read and
        # write less memory (uint16 is ~5x faster than intp from uint8 codes).
        dtype = _index_dtype(cells)
        for k in range(len(done), len(key)):
            j = key[k]
            # index * size + code: partial indices of a prefix are < its cells,
            # which are <= ``cells``, so nothing overflows ``dtype``.
            index = np.multiply(index, sizes[j], dtype=dtype)
            index += codes[:, j]
            stack.append((key[: k + 1], index))
        return np.bincount(index, minlength=cells)


def _index_dtype(cells: int) -> np.dtype[Any]:
    for dtype in (np.uint16, np.uint32):
        if cells - 1 <= np.iinfo(dtype).max:
            return np.dtype(dtype)
    return np.dtype(np.intp)
