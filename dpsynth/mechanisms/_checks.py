"""Argument validation shared by the mechanisms (private).

Every public mechanism validates its arguments here *before* it builds an OpenDP
measurement or touches the accountant, so a bad call never spends budget.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable
from typing import Any

import numpy as np

from dpsynth.errors import ValidationError

_INT64 = np.iinfo(np.int64)


def _as_real(value: object) -> float | None:
    """``value`` as a float if it is a real number (not a bool), else None."""
    if isinstance(value, numbers.Real) and not isinstance(value, bool | np.bool_):
        return float(value)
    return None


def positive_finite(name: str, value: object) -> float:
    """Returns ``value`` as a float, or raises unless it is a positive finite number."""
    x = _as_real(value)
    if x is None or not (math.isfinite(x) and x > 0):
        raise ValidationError(
            f"`{name}` ({value!r}) must be a positive, finite number."
        )
    return x


def positive_integer(name: str, value: object) -> int:
    """Returns ``value`` as an int, or raises unless it is an integer >= 1."""
    if isinstance(value, numbers.Integral) and not isinstance(value, bool | np.bool_):
        if int(value) >= 1:
            return int(value)
    raise ValidationError(f"`{name}` ({value!r}) must be an integer >= 1.")


def probability(name: str, value: object) -> float:
    """Returns ``value`` as a float, or raises unless it lies in the open (0, 1)."""
    x = _as_real(value)
    if x is None or not 0 < x < 1:
        raise ValidationError(
            f"`{name}` ({value!r}) must be in the open interval (0, 1)."
        )
    return x


def column_names(columns: object) -> tuple[str, ...]:
    """Returns ``columns`` as a tuple of names, refusing a bare string."""
    if isinstance(columns, str) or not isinstance(columns, Iterable):
        raise ValidationError(
            f"`columns` ({columns!r}) must be a sequence of column names, "
            "for example ('age',)."
        )
    names = tuple(columns)
    if not all(isinstance(c, str) for c in names):
        raise ValidationError(
            f"`columns` ({columns!r}) must be a sequence of column names (str)."
        )
    return names


def integer_counts(name: str, counts: Any) -> np.ndarray:
    """Returns a non-empty int64 array of the same shape as ``counts``.

    Accepts any integer dtype whose values fit in int64; floats (even whole
    ones) and booleans are refused, because a silent cast would hide a bug in
    the counting code upstream.
    """
    arr = np.asarray(counts)
    if arr.dtype.kind not in "iu":
        raise ValidationError(
            f"`{name}` (dtype {arr.dtype}) must hold integers. Counts are integers; "
            "if yours are whole floats, cast them with `np.rint(x).astype(np.int64)`."
        )
    if arr.size == 0:
        raise ValidationError(
            f"`{name}` (shape {arr.shape}) must be non-empty. Measure only queries "
            "with at least one cell."
        )
    if arr.dtype.kind == "u" and arr.max() > _INT64.max:
        raise ValidationError(
            f"`{name}` (max {arr.max()}) must fit in int64 (at most {_INT64.max})."
        )
    return arr.astype(np.int64, copy=False)


def finite_vector(name: str, values: Any) -> np.ndarray:
    """Returns a non-empty 1-D float64 array, or raises on NaN, inf or bad type."""
    try:
        arr = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValidationError(
            f"`{name}` ({type(values).__name__}) must be a 1-D sequence of numbers."
        ) from exc
    if arr.ndim != 1 or arr.size == 0:
        raise ValidationError(
            f"`{name}` (shape {arr.shape}) must be a non-empty 1-D sequence."
        )
    if np.asarray(values).dtype.kind == "b":
        raise ValidationError(f"`{name}` (dtype bool) must hold numbers, not booleans.")
    bad = ~np.isfinite(arr)
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        raise ValidationError(
            f"`{name}` (entry {first} is {float(arr[first])!r}) must be finite. "
            "Replace or drop the NaN and infinite entries first."
        )
    return arr


def string_list(name: str, values: Iterable[object]) -> list[str]:
    """Returns ``values`` as a list of str, or raises naming the first non-string.

    The message names only the type and position of the offending entry, never
    its value: entries are sensitive records.
    """
    if isinstance(values, str | bytes):
        raise ValidationError(
            f"`{name}` (a single {type(values).__name__}) must be a sequence of "
            "strings, one per row."
        )
    try:
        out = list(values)
    except TypeError as exc:
        raise ValidationError(
            f"`{name}` ({type(values).__name__}) must be a sequence of strings."
        ) from exc
    strings: list[str] = []
    for i, v in enumerate(out):
        if not isinstance(v, str):
            raise ValidationError(
                f"`{name}` (entry {i} has type {type(v).__name__}) must hold only "
                "strings. Drop missing values and convert the column with "
                "`.astype(str)` first (dropping rows is stable under add/remove)."
            )
        strings.append(v)
    return strings
