"""The Encoder: tables <-> integer codes, by a public schema.

Encoding maps every value to a code by the schema's data-independent rules
(categories, bins, ``missing`` and ``unknown``), so it costs no privacy. Decoding is
post-processing: categories come back exactly, a binned value is drawn uniformly
inside its bin with an explicit random generator, or placed at a given position
inside it.

A value's *position* inside its bin (:meth:`Encoder.positions`) is a number in
``[0, 1]`` computed from the value and the schema's public edges alone, row by
row; a model that learns positions (the neural synthesizers) hands them back to
:meth:`Encoder.decode` instead of the uniform draw.

Error messages name columns and counts of offending values, never the values: the
encoded table is the sensitive one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from dpsynth._random import RngLike, as_generator
from dpsynth.data.dataset import Dataset, code_dtype
from dpsynth.data.domain import Domain
from dpsynth.data.schema import (
    CategoricalColumn,
    Column,
    DatetimeColumn,
    IntegerColumn,
    NumericColumn,
    Schema,
)
from dpsynth.errors import DomainError, InternalError, ValidationError

__all__ = ["Encoder", "binned_columns", "encode_frame"]


@dataclass(frozen=True)
class Encoder:
    """Encodes tables to a :class:`Dataset` of codes and decodes codes back.

    Args:
        schema: the public schema.

    Example:
        >>> from dpsynth.data.schema import CategoricalColumn, IntegerColumn
        >>> schema = Schema([CategoricalColumn(name="sex", categories=("F", "M")),
        ...                  IntegerColumn(name="age", lower=0, upper=99, bins=10)])
        >>> enc = Encoder(schema)
        >>> ds = enc.encode(pd.DataFrame({"sex": ["M", "F"], "age": [35, 7]}))
        >>> ds.codes.tolist()
        [[1, 3], [0, 0]]
        >>> enc.decode(ds, rng=0)["sex"].tolist()
        ['M', 'F']
    """

    schema: Schema

    def __post_init__(self) -> None:
        if not isinstance(self.schema, Schema):
            raise ValidationError(
                f"`schema` ({type(self.schema).__name__}) must be a Schema. "
                "Load one with Schema.load(path)."
            )

    @property
    def domain(self) -> Domain:
        """The Domain of the codes."""
        return self.schema.domain

    def encode(self, frame: pd.DataFrame, *, allow_extra: bool = False) -> Dataset:
        """Maps a table to integer codes by the schema's rules (no privacy cost).

        Args:
            frame: the table; it must have every schema column.
            allow_extra: ignore columns the schema does not name (by default they
                are an error, which catches misspelt names).

        Returns:
            The Dataset of codes, columns in schema order.

        Raises:
            ValidationError: for missing or unexpected columns, or values of the
                wrong type (text in a numeric column...).
            DomainError: for missing values where ``missing`` is ``"error"``, or
                out-of-domain values where ``unknown`` is ``"error"``. The message
                names every such column and the number of values, never a value.
        """
        codes = encode_frame(self.schema, frame, allow_extra=allow_extra)
        return Dataset(codes, self.domain)

    @property
    def binned(self) -> tuple[str, ...]:
        """The columns with a position in their bins (:func:`binned_columns`)."""
        return tuple(name for name, _ in binned_columns(self.schema))

    def positions(self, frame: pd.DataFrame) -> np.ndarray:
        """Each value's position inside its bin, for the :attr:`binned` columns.

        A data-independent map, row by row (no privacy cost in itself: like the
        codes, the positions are the sensitive table in another form). For a
        numeric column the position of ``v`` in bin ``[lo, hi)`` is ``(v - lo) /
        (hi - lo)``; for an integer or datetime bin of ``w`` integers (or
        nanoseconds) starting at ``s`` it is ``(v - s + 1/2) / w``, the middle
        of the value's share of the bin, so that :meth:`decode` gives ``v``
        back exactly. Values outside the bounds are clipped first, as the
        ``clip`` rule does.

        Args:
            frame: the table (it must encode without error: call :meth:`encode`
                first).

        Returns:
            A float64 array, rows by :attr:`binned` columns, in ``[0, 1]``; NaN
            where the row's code is not a bin (missing or out-of-domain values
            coded ``missing``).
        """
        binned = self.binned
        out = np.full((frame.shape[0], len(binned)), np.nan)
        for k, name in enumerate(binned):
            col = self.schema.column(name)
            values, bins, missing, outside = _locate(col, frame[name])
            lo, hi, exclusive = _bin_spans(col)
            if exclusive:  # integers (or nanoseconds): w values per bin
                width = (hi - lo)[bins].astype(np.float64)
                pos = ((values - lo[bins]).astype(np.float64) + 0.5) / width
            else:
                pos = (values - lo[bins]) / (hi - lo)[bins]
            blank = missing | (outside & (getattr(col, "unknown", "") != "clip"))
            out[:, k] = np.where(blank, np.nan, np.clip(pos, 0.0, 1.0))
        return out

    def decode(
        self,
        data: Dataset | np.ndarray,
        *,
        rng: RngLike = None,
        positions: np.ndarray | None = None,
    ) -> pd.DataFrame:
        """Maps codes back to values (post-processing: no privacy cost).

        Categories come back exactly; the ``other`` code becomes the column's
        ``other_label`` and the missing code a missing value. Integer columns with
        one code per value come back exactly; a binned value is drawn uniformly
        inside its bin (integers among the bin's integers), or placed at its
        position when ``positions`` gives one (the inverse of :meth:`positions`:
        ``lo + p (hi - lo)``, or the ``floor(p w)``-th integer of the bin). Each
        column draws from its own stream spawned from ``rng``, so a seed gives
        the same table.

        Dtypes: categorical -> pandas' default string dtype (``str`` on pandas 3,
        ``object`` before); integer -> ``int64``, or nullable ``Int64`` when the
        column has a missing code; numeric -> ``float64``; datetime ->
        ``datetime64[ns]``.

        Args:
            data: a Dataset over this schema's domain, or a 2-D integer array of
                codes with one column per schema column.
            rng: seed or Generator for the draws inside bins.
            positions: optional, rows by :attr:`binned` columns, in ``[0, 1]``:
                where a row has a position (not NaN), the value is placed there
                instead of drawn.

        Returns:
            The decoded DataFrame, columns in schema order.

        Raises:
            ValidationError: if ``data`` does not match the schema's domain, or
                ``positions`` is not rows by binned columns in ``[0, 1]``.
            DomainError: if a code is out of its column's range.
        """
        if isinstance(data, Dataset):
            if data.domain != self.domain:
                raise ValidationError(
                    f"`data` (domain {data.domain!r}) must have the schema's domain "
                    f"{self.domain!r}."
                )
            dataset = data
        else:
            dataset = Dataset(np.asarray(data), self.domain)
        placed = self._check_positions(positions, dataset.codes.shape[0])
        streams = as_generator(rng).spawn(len(self.schema.columns))
        out = {
            col.name: _decode_column(
                col,
                dataset.codes[:, j].astype(np.int64),
                gen,
                placed.get(col.name),
            )
            for j, (col, gen) in enumerate(
                zip(self.schema.columns, streams, strict=True)
            )
        }
        return pd.DataFrame(out, columns=list(self.schema.names))

    def _check_positions(self, positions: Any, n: int) -> dict[str, np.ndarray]:
        """Each binned column's positions, by name (empty without ``positions``)."""
        binned = self.binned
        if positions is None:
            return {}
        shape = getattr(positions, "shape", None)
        ok = (
            isinstance(positions, np.ndarray)
            and positions.dtype.kind == "f"
            and shape == (n, len(binned))
        )
        if not ok:
            raise ValidationError(
                f"`positions` (shape {shape!r}) must be a float array of {n} rows "
                f"by the {len(binned)} binned column(s) {list(binned)!r}."
            )
        present = positions[~np.isnan(positions)]
        if present.size and not (present.min() >= 0.0 and present.max() <= 1.0):
            raise ValidationError("`positions` must lie in [0, 1] (or be NaN).")
        return {name: positions[:, k] for k, name in enumerate(binned)}


def binned_columns(schema: Schema) -> tuple[tuple[str, int | None], ...]:
    """The columns whose bins hold more than one value, with their widest bin.

    Numeric columns (widest ``None``: real values), and integer and datetime
    columns with a bin of more than one integer (or nanosecond); integer columns
    with one code per value have no position. A function of the schema alone.

    Returns:
        ``(name, widest)`` pairs in schema order; ``widest`` is the number of
        integers (nanoseconds) in the widest bin, None for numeric columns.

    Example:
        >>> from dpsynth.data.schema import IntegerColumn
        >>> binned_columns(Schema([IntegerColumn(name="age", lower=0, upper=99,
        ...                                      bins=[0, 18, 65, 99])]))
        (('age', 47),)
    """
    out: list[tuple[str, int | None]] = []
    for col in schema.columns:
        if isinstance(col, NumericColumn):
            out.append((col.name, None))
        elif isinstance(col, IntegerColumn | DatetimeColumn):
            lo, hi, _ = _bin_spans(col)
            widest = int((hi - lo).max())
            if widest > 1:
                out.append((col.name, widest))
    return tuple(out)


def _bin_spans(col: Column) -> tuple[np.ndarray, np.ndarray, bool]:
    """``(lo, hi, exclusive)``: each bin's start and end, for a range column.

    Integer and datetime bins are ``[lo, hi)`` of integers (the last one's ``hi``
    is ``upper + 1``; ``exclusive`` True); numeric bins are ``[lo, hi)`` of reals
    with the last one closed (``exclusive`` False).
    """
    if isinstance(col, IntegerColumn):
        lo = col.bin_starts()
        return lo, np.append(lo[1:], col.upper + 1), True
    if isinstance(col, DatetimeColumn):
        edges = col.edges_ns()
        hi = edges[1:].copy()
        hi[-1] += 1  # the last bin includes upper
        return edges[:-1], hi, True
    if isinstance(col, NumericColumn):
        edges = col.edges()
        return edges[:-1], edges[1:], False
    raise InternalError(f"Column {col.name!r} ({col.kind}) has no bins.")


def _bounds(col: Column) -> tuple[Any, Any]:
    """A range column's bounds in the units of :func:`_range_values`."""
    if isinstance(col, DatetimeColumn):
        edges = col.edges_ns()
        return edges[0], edges[-1]
    return col.lower, col.upper  # type: ignore[attr-defined]


def _range_values(col: Column, series: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """A range column's values (int64, float64 or int64 ns) and missing mask."""
    if isinstance(col, IntegerColumn):
        return integer_values(series, col)
    if isinstance(col, NumericColumn):
        return float_values(series, col.name, col.kind)
    if isinstance(col, DatetimeColumn):
        return nanosecond_values(series, col.name, col.kind)
    raise InternalError(f"Column {col.name!r} ({col.kind}) is not a range column.")


# -- encoding ------------------------------------------------------------------


def encode_frame(
    schema: Schema, frame: pd.DataFrame, *, allow_extra: bool = False
) -> np.ndarray:
    """Codes of ``frame`` under ``schema``: an array (rows, columns) in ``code_dtype``.

    Every column is checked before raising, so one error lists every bad column.

    Raises:
        ValidationError: for missing/unexpected columns or values of a wrong type.
        DomainError: for values the rules send to ``error``.
    """
    if not isinstance(frame, pd.DataFrame):
        raise ValidationError(
            f"`frame` ({type(frame).__name__}) must be a pandas DataFrame."
        )
    _check_names(schema, frame, allow_extra=allow_extra)
    out = np.empty((frame.shape[0], len(schema)), code_dtype(schema.domain), order="F")
    domain_errors: list[str] = []
    type_errors: list[str] = []
    for j, col in enumerate(schema.columns):
        try:
            out[:, j] = _encode_column(col, frame[col.name])
        except DomainError as exc:
            domain_errors.append(str(exc))
        except ValidationError as exc:
            type_errors.append(str(exc))
    if type_errors:
        raise ValidationError(" ".join(type_errors + domain_errors))
    if domain_errors:
        raise DomainError(" ".join(domain_errors))
    return out


def _check_names(schema: Schema, frame: pd.DataFrame, *, allow_extra: bool) -> None:
    found = [str(c) for c in frame.columns]
    absent = [n for n in schema.names if n not in found]
    extra = [] if allow_extra else [c for c in found if c not in schema.names]
    dupes = sorted({c for c in found if found.count(c) > 1 and c in schema.names})
    if not (absent or extra or dupes):
        return
    parts = []
    if absent:
        parts.append(f"missing {absent!r}")
    if extra:
        parts.append(f"unexpected {extra!r}")
    if dupes:
        parts.append(f"repeated {dupes!r}")
    hint = " Pass allow_extra=True to ignore other columns." if extra else ""
    raise ValidationError(
        f"The table's columns must match the schema's {list(schema.names)!r}: "
        + ", ".join(parts)
        + "."
        + hint
    )


def _encode_column(col: Column, series: pd.Series) -> np.ndarray:
    if isinstance(col, CategoricalColumn):
        missing = series.isna().to_numpy()
        codes, outside = _categorical_codes(col, series, missing)
        return _apply_rules(col, codes, missing, outside)
    _, codes, missing, outside = _locate(col, series)
    return _apply_rules(col, codes, missing, outside)


def _locate(
    col: Column, series: pd.Series
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """A range column's clipped values, bins, and missing and outside masks.

    The masks are before the rules apply.

    Bin ``i`` holds ``lo[i] <= v < lo[i + 1]``; the last bin ends at ``upper``.
    With one code per value, the bin is the value's offset from ``lower``.
    """
    values, missing = _range_values(col, series)
    lower, upper = _bounds(col)
    outside = ~missing & ((values < lower) | (values > upper))
    values = np.clip(values, lower, upper)
    if isinstance(col, IntegerColumn) and col.bins is None:
        bins = (values - lower).astype(np.int64)
    else:
        lo = _bin_spans(col)[0]
        bins = np.searchsorted(lo[1:], values, side="right").astype(np.int64)
    return values, bins, missing, outside


def _apply_rules(
    col: Any, codes: np.ndarray, missing: np.ndarray, outside: np.ndarray
) -> np.ndarray:
    problems = []
    n_missing = int(np.count_nonzero(missing))
    if n_missing and col.missing == "error":
        problems.append(
            f"Column {col.name!r} has {n_missing} missing value(s) but its rule is "
            '`missing: "error"`. Set "missing": "code" in the schema to give them '
            "a code, or drop them first."
        )
    n_outside = int(np.count_nonzero(outside))
    if n_outside and col.unknown == "error":
        where = (
            f"outside its {col.n_values} categories"
            if isinstance(col, CategoricalColumn)
            else f"outside [{col.lower}, {col.upper}]"
        )
        fix = '"other" or "missing"' if col.kind == "categorical" else '"clip"'
        problems.append(
            f"Column {col.name!r} has {n_outside} value(s) {where} but its rule is "
            f'`unknown: "error"`. Widen the domain or set "unknown": {fix}.'
        )
    if problems:
        raise DomainError(" ".join(problems))
    if n_outside and col.unknown == "other":
        codes[outside] = col.other_code
    elif n_outside and col.unknown == "missing":
        codes[outside] = col.missing_code
    if n_missing:
        codes[missing] = col.missing_code
    return codes


def _categorical_codes(
    col: CategoricalColumn, series: pd.Series, missing: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    present = series[~missing]
    if not isinstance(present.dtype, pd.StringDtype):
        present = present.astype(str)  # numbers, booleans, objects, categoricals
    codes = np.zeros(len(series), dtype=np.int64)
    codes[~missing] = pd.Index(col.categories).get_indexer(present.to_numpy(object))
    outside = codes < 0
    codes[outside] = 0
    return codes, outside


def _not_a(name: str, kind: str, count: int, what: str) -> ValidationError:
    return ValidationError(
        f"Column {name!r} ({kind}) has {count} value(s) that are not {what}. "
        "Fix the column's type, or declare another kind in the schema."
    )


def float_values(
    series: pd.Series, name: str, kind: str = "numeric"
) -> tuple[np.ndarray, np.ndarray]:
    """A column's values as float64 (0 where missing) and its missing mask.

    Text is parsed as numbers; ``name`` and ``kind`` only label errors.

    Raises:
        ValidationError: if a present value is not a number (the count is named).
    """
    missing = series.isna().to_numpy()
    dtype = series.dtype
    present = int(np.count_nonzero(~missing))
    if pd.api.types.is_bool_dtype(dtype):
        raise _not_a(name, kind, present, "numbers (booleans)")
    if pd.api.types.is_datetime64_any_dtype(dtype):
        raise _not_a(name, kind, present, "numbers (datetimes)")
    if not pd.api.types.is_numeric_dtype(dtype):
        series = pd.to_numeric(series, errors="coerce")
    values = series.to_numpy(dtype=np.float64, na_value=np.nan)
    bad = np.isnan(values) & ~missing
    if bad.any():
        raise _not_a(name, kind, int(np.count_nonzero(bad)), "numbers")
    return np.where(missing, 0.0, values), missing


def integer_values(
    series: pd.Series, col: IntegerColumn
) -> tuple[np.ndarray, np.ndarray]:
    """A column's values as int64 (0 where missing) and its missing mask.

    Values beyond the column's bounds are kept beyond them (possibly nearer).

    Raises:
        ValidationError: if a present value is not a whole number.
    """
    dtype = series.dtype
    if pd.api.types.is_integer_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype):
        missing = series.isna().to_numpy()
        if pd.api.types.is_unsigned_integer_dtype(dtype):
            raw = series.to_numpy(dtype=np.uint64, na_value=0)
            cap = np.uint64(max(col.upper + 1, 0))
            return np.minimum(raw, cap).astype(np.int64), missing
        return series.to_numpy(dtype=np.int64, na_value=0), missing
    floats, missing = float_values(series, col.name, col.kind)
    whole = floats == np.floor(floats)  # true for infinities too
    if not whole.all():
        raise _not_a(col.name, col.kind, int(np.count_nonzero(~whole)), "whole numbers")
    bounded = np.clip(floats, col.lower - 1, col.upper + 1)
    return bounded.astype(np.int64), missing


def nanosecond_values(
    series: pd.Series, name: str, kind: str = "datetime"
) -> tuple[np.ndarray, np.ndarray]:
    """A column's values as int64 nanoseconds since the epoch (naive UTC).

    Text is parsed as dates; timezone-aware values are converted to UTC.

    Returns:
        The values (0 where missing) and the missing mask.

    Raises:
        ValidationError: if a present value is not a date.
    """
    missing = series.isna().to_numpy()
    dtype = series.dtype
    if pd.api.types.is_numeric_dtype(dtype) or pd.api.types.is_bool_dtype(dtype):
        raise _not_a(name, kind, int(np.count_nonzero(~missing)), "dates (numbers)")
    if not pd.api.types.is_datetime64_any_dtype(dtype):
        series = pd.to_datetime(series, errors="coerce", format="mixed")
    if getattr(series.dt, "tz", None) is not None:
        series = series.dt.tz_convert("UTC").dt.tz_localize(None)
    bad = series.isna().to_numpy() & ~missing
    if bad.any():
        raise _not_a(name, kind, int(np.count_nonzero(bad)), "dates")
    values = series.astype("datetime64[ns]").to_numpy().view(np.int64)
    return np.where(missing, 0, values), missing


# -- decoding ------------------------------------------------------------------


def _decode_column(
    col: Column,
    codes: np.ndarray,
    rng: np.random.Generator,
    positions: np.ndarray | None = None,
) -> Any:
    missing = codes == col.missing_code if col.missing == "code" else None
    if isinstance(col, CategoricalColumn):
        # index -2 is other_label, -1 is None (missing)
        labels = np.array([*col.categories, col.other_label, None], dtype=object)
        picked = np.where(codes < col.n_values, codes, -1)
        if col.has_other:
            picked[codes == col.other_code] = -2
        return pd.Series(labels[picked])
    bins = np.where(codes < col.n_values, codes, 0)
    if isinstance(col, IntegerColumn) and col.bins is None:
        ints = col.lower + bins
    elif isinstance(col, IntegerColumn | DatetimeColumn):
        lo, hi, _ = _bin_spans(col)
        ints = rng.integers(lo[bins], hi[bins])
        if positions is not None:
            width = hi[bins] - lo[bins]
            given = ~np.isnan(positions)
            offset = np.floor(np.where(given, positions, 0.0) * width)
            offset = np.clip(offset, 0, width - 1).astype(np.int64)
            ints = np.where(given, lo[bins] + offset, ints)
        if isinstance(col, DatetimeColumn):
            stamps = pd.Series(ints.astype("datetime64[ns]"))
            return stamps if missing is None else stamps.mask(missing)
    elif isinstance(col, NumericColumn):
        edges = col.edges()
        lo, hi = edges[bins], edges[bins + 1]
        place = rng.random(len(bins))
        if positions is not None:
            place = np.where(np.isnan(positions), place, positions)
        floats = lo + (hi - lo) * place
        # rounding may reach hi: keep a value inside its half-open bin
        floats = np.minimum(
            floats, np.where(bins < col.n_values - 1, np.nextafter(hi, lo), hi)
        )
        return pd.Series(
            floats if missing is None else np.where(missing, np.nan, floats)
        )
    else:
        raise InternalError(f"Unsupported column spec {type(col).__name__}.")
    if missing is None:
        return pd.Series(ints, dtype=np.int64)
    return pd.Series(pd.array(ints, dtype="Int64")).mask(missing)
