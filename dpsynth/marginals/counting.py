"""Conveniences: a backend for a data source, and one marginal of a Dataset."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

from dpsynth.data.dataset import Dataset
from dpsynth.data.domain import Domain
from dpsynth.errors import ValidationError
from dpsynth.marginals.backend import DEFAULT_MAX_CELLS, CountingBackend
from dpsynth.marginals.numpy_backend import NumpyBackend
from dpsynth.marginals.query import MarginalQuery

__all__ = ["counting_backend", "marginal"]


def counting_backend(
    data: CountingBackend | Dataset | pd.DataFrame,
    domain: Domain | None = None,
    *,
    max_cells: int = DEFAULT_MAX_CELLS,
) -> CountingBackend:
    """The counting backend for a data source (what synthesizers call).

    Args:
        data: a backend (returned as is), a Dataset, or a DataFrame of integer
            codes (then ``domain`` is required).
        domain: the public domain; must equal the data's domain if both are given.
        max_cells: the largest marginal, in cells, a new backend may count.

    Returns:
        A :class:`CountingBackend` over ``data``.

    Raises:
        ValidationError: if ``data`` is of an unsupported type, ``domain`` is
            missing for a DataFrame, or disagrees with the data's domain.

    Example:
        >>> ds = Dataset(np.array([[0], [1], [1]]), Domain({"a": 2}))
        >>> counting_backend(ds).counts(("a",)).tolist()
        [1, 2]
    """
    if isinstance(data, pd.DataFrame):
        if domain is None:
            raise ValidationError(
                "`domain` (None) must be given with a DataFrame. "
                "Pass the Domain of the schema's Encoder."
            )
        return NumpyBackend(Dataset.from_frame(data, domain), max_cells=max_cells)
    if isinstance(data, CountingBackend | Dataset):
        if domain is not None and domain != data.domain:
            raise ValidationError(
                f"`domain` ({domain!r}) must equal the data's domain "
                f"({data.domain!r}). Leave it out, or re-encode the data."
            )
        if isinstance(data, CountingBackend):
            return data
        return NumpyBackend(data, max_cells=max_cells)
    raise ValidationError(
        f"`data` ({type(data).__name__}) must be a CountingBackend, a Dataset or a "
        "pandas DataFrame of codes."
    )


def marginal(dataset: Dataset, columns: MarginalQuery | Iterable[str]) -> np.ndarray:
    """Exact counts of the marginal of ``dataset`` over ``columns``.

    Privacy: the counts are exact and private; pass them only to a mechanism in
    :mod:`dpsynth.mechanisms`, never release them.

    Args:
        dataset: the integer-coded table.
        columns: a MarginalQuery or column names; axes follow their order.

    Returns:
        An ``int64`` array shaped by the columns' domain sizes.

    Raises:
        ValidationError: if a column is not in the dataset's domain.

    Example:
        >>> ds = Dataset(np.array([[0, 1], [1, 1]]), Domain({"a": 2, "b": 2}))
        >>> marginal(ds, ["b"]).tolist()
        [0, 2]
    """
    return NumpyBackend(dataset).counts(columns)
