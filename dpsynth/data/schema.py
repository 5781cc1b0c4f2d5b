"""Public schemas: column kinds, categories, bounds, bins and the rules for odd values.

A :class:`Schema` is public metadata about a table: for every column its kind, its
category list or bounds and bins, and two data-independent rules: what to do with a
missing value (``missing``) and with a value outside the declared domain
(``unknown``). Because everything in a schema is public, encoding a table with it
costs no privacy. A schema comes from the user (a JSON file, see ``docs/schema.md``),
from :func:`~dpsynth.data.discovery.discover` (differentially private, charged to
an accountant) or from :func:`~dpsynth.data.discovery.infer` (NOT private: a loudly
warned convenience); both are re-exported here.

Codes of a column: ``0 .. k-1`` are the categories (or bins) in order, then the
``other`` code (categorical columns with ``unknown: other``), then the missing code
(``missing: code``).
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal, NoReturn, get_args

import numpy as np
import pandas as pd

from dpsynth.data.domain import Domain
from dpsynth.data.io import atomic_write
from dpsynth.errors import ValidationError

__all__ = [
    "FORMAT",
    "VERSION",
    "CategoricalColumn",
    "Column",
    "DatetimeColumn",
    "IntegerColumn",
    "Kind",
    "NumericColumn",
    "Schema",
    "column_from_dict",
]

FORMAT = "dpsynth-schema"
VERSION = 1

Kind = Literal["categorical", "integer", "numeric", "datetime"]
MissingRule = Literal["code", "error"]
CategoricalUnknownRule = Literal["other", "missing", "error"]
RangeUnknownRule = Literal["clip", "missing", "error"]


def _fail(
    name: str, value: Any, constraint: str, column: str, hint: str = ""
) -> NoReturn:
    where = f" of column {column!r}" if column else ""
    raise ValidationError(
        f"`{name}`{where} ({value!r}) must be {constraint}."
        + (f" {hint}" if hint else "")
    )


def _is_int(value: Any) -> bool:
    return isinstance(value, int | np.integer) and not isinstance(value, bool)


def _is_real(value: Any) -> bool:
    ok = isinstance(value, int | float | np.integer | np.floating)
    return ok and not isinstance(value, bool) and math.isfinite(value)


def _choice(name: str, value: Any, options: Any, column: str) -> None:
    allowed = get_args(options)
    if value not in allowed:
        _fail(name, value, f"one of {list(allowed)!r}", column)


@dataclass(frozen=True, kw_only=True)
class Column:
    """Base of the column specs: a name and the rule for missing values.

    Attributes:
        name: the column name in the table.
        missing: ``"code"`` gives missing values (None, NaN, NaT, pandas NA) their
            own code, the last one; ``"error"`` makes encoding raise DomainError.
    """

    kind: ClassVar[str] = ""
    name: str
    missing: MissingRule = "error"

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            _fail("name", self.name, "a non-empty string", "")
        _choice("missing", self.missing, MissingRule, self.name)

    @property
    def n_values(self) -> int:
        """Number of codes for regular values (categories or bins)."""
        raise NotImplementedError

    @property
    def has_other(self) -> bool:
        """Whether the column has an ``other`` code (out-of-domain categories)."""
        return False

    @property
    def other_code(self) -> int | None:
        """The code of out-of-domain categories, or None."""
        return self.n_values if self.has_other else None

    @property
    def missing_code(self) -> int | None:
        """The code of missing values (the last code), or None."""
        return self.n_codes - 1 if self.missing == "code" else None

    @property
    def n_codes(self) -> int:
        """Number of codes in the column's domain, extra codes included."""
        return self.n_values + int(self.has_other) + int(self.missing == "code")

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict; :meth:`Schema.from_dict` reads it back."""
        raise NotImplementedError


@dataclass(frozen=True, kw_only=True)
class CategoricalColumn(Column):
    """A column of unordered categories, compared as strings.

    Values that are not strings are compared through ``str(value)`` (``3`` matches
    ``"3"``, ``True`` matches ``"True"``; ``3.0`` is ``"3.0"``).

    Attributes:
        categories: the public category list, in code order.
        unknown: a value not in ``categories``: ``"other"`` maps it to an extra
            code (decoded as ``other_label``), ``"missing"`` to the missing code,
            ``"error"`` raises DomainError.
        other_label: what the ``other`` code decodes to.

    Example:
        >>> col = CategoricalColumn(name="sex", categories=("F", "M"), unknown="other")
        >>> col.n_codes, col.other_code
        (3, 2)
    """

    kind: ClassVar[str] = "categorical"
    categories: tuple[str, ...]
    unknown: CategoricalUnknownRule = "error"
    other_label: str = "__other__"

    def __post_init__(self) -> None:
        super().__post_init__()
        cats = self.categories
        if isinstance(cats, str) or not isinstance(cats, Sequence):
            _fail("categories", cats, "a list of strings", self.name)
        cats = tuple(cats)
        object.__setattr__(self, "categories", cats)
        bad = [c for c in cats if not isinstance(c, str)]
        if bad:
            _fail(
                "categories", bad[:5], "strings", self.name, 'Quote them: ["1", "2"].'
            )
        dupes = sorted({c for c in cats if cats.count(c) > 1})
        if dupes:
            _fail("categories", dupes, "listed once each (duplicates)", self.name)
        _choice("unknown", self.unknown, CategoricalUnknownRule, self.name)
        _check_unknown_missing(self)
        if not cats and self.unknown != "other":
            _fail(
                "categories",
                [],
                "a non-empty list",
                self.name,
                'Only a column with "unknown": "other" may list no category.',
            )
        if not isinstance(self.other_label, str):
            _fail("other_label", self.other_label, "a string", self.name)
        if self.unknown == "other" and self.other_label in cats:
            _fail(
                "other_label",
                self.other_label,
                "different from every category",
                self.name,
            )

    @property
    def n_values(self) -> int:
        """Number of categories."""
        return len(self.categories)

    @property
    def has_other(self) -> bool:
        """Whether unknown categories get their own code."""
        return self.unknown == "other"

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        out: dict[str, Any] = {
            "name": self.name,
            "kind": self.kind,
            "categories": list(self.categories),
            "missing": self.missing,
            "unknown": self.unknown,
        }
        if self.unknown == "other":
            out["other_label"] = self.other_label
        return out


def _check_unknown_missing(col: Any) -> None:
    if col.unknown == "missing" and col.missing != "code":
        _fail(
            "unknown",
            "missing",
            'used with `missing: "code"`',
            col.name,
            'Set "missing": "code" or choose another `unknown` rule.',
        )


@dataclass(frozen=True, kw_only=True)
class _RangeColumn(Column):
    """Shared rules of bounded columns (integer, numeric, datetime).

    Bins are half-open ``[e_i, e_{i+1})`` except the last, ``[e_{k-1}, e_k]``;
    ``e_0 = lower`` and ``e_k = upper``.
    """

    lower: Any
    upper: Any
    bins: Any
    unknown: RangeUnknownRule = "clip"

    def _check_rule(self) -> None:
        _choice("unknown", self.unknown, RangeUnknownRule, self.name)
        _check_unknown_missing(self)

    def _check_edges(self, edges: tuple[Any, ...], lower: Any, upper: Any) -> None:
        if len(edges) < 2:
            _fail("bins", list(edges), "a bin count or at least two edges", self.name)
        if any(b <= a for a, b in zip(edges, edges[1:], strict=False)):
            _fail("bins", list(edges), "strictly increasing edges", self.name)
        if edges[0] != lower or edges[-1] != upper:
            _fail(
                "bins",
                list(edges),
                f"edges from `lower` ({lower!r}) to `upper` ({upper!r})",
                self.name,
                "The first and last edge are the bounds.",
            )

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        bins = list(self.bins) if isinstance(self.bins, tuple) else self.bins
        return {
            "name": self.name,
            "kind": self.kind,
            "lower": self.lower,
            "upper": self.upper,
            "bins": bins,
            "missing": self.missing,
            "unknown": self.unknown,
        }

    def _check_count(self, bins: Any) -> None:
        if not _is_int(bins) or bins < 1:
            _fail("bins", bins, "an integer >= 1 or a list of edges", self.name)


@dataclass(frozen=True, kw_only=True)
class IntegerColumn(_RangeColumn):
    """Ordinal integers in ``[lower, upper]`` (both included).

    Attributes:
        lower: the smallest value in the domain.
        upper: the largest value in the domain (``> lower``).
        bins: ``None``: one code per value; an int ``k``: ``k`` bins of (almost)
            equal numbers of integers; a list of integer edges from ``lower`` to
            ``upper`` (half-open bins, the last one closed).
        unknown: a value outside ``[lower, upper]``: ``"clip"`` to the nearest
            bound, ``"missing"`` to the missing code, ``"error"`` raises.

    Example:
        >>> IntegerColumn(name="age", lower=17, upper=90, bins=None).n_codes
        74
        >>> IntegerColumn(name="age", lower=17, upper=90, bins=(17, 30, 60, 90)).n_codes
        3
    """

    kind: ClassVar[str] = "integer"
    lower: int
    upper: int
    bins: int | tuple[int, ...] | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        for name in ("lower", "upper"):
            value = getattr(self, name)
            if not _is_int(value):
                _fail(name, value, "an integer", self.name)
            object.__setattr__(self, name, int(value))
        if self.lower >= self.upper:
            _fail(
                "upper", self.upper, f"greater than `lower` ({self.lower})", self.name
            )
        bins = self.bins
        if isinstance(bins, Sequence) and not isinstance(bins, str):
            if not all(_is_int(b) for b in bins):
                _fail("bins", list(bins), "integer edges", self.name)
            edges = tuple(int(b) for b in bins)
            self._check_edges(edges, self.lower, self.upper)
            object.__setattr__(self, "bins", edges)
        elif bins is not None:
            self._check_count(bins)
            width = self.upper - self.lower + 1
            if bins > width:
                _fail(
                    "bins",
                    bins,
                    f"at most the number of values ({width})",
                    self.name,
                    "Use null for one code per value.",
                )
            object.__setattr__(self, "bins", int(bins))
        self._check_rule()

    @property
    def n_values(self) -> int:
        """Number of bins (or of values, with one code per value)."""
        if self.bins is None:
            return self.upper - self.lower + 1
        if isinstance(self.bins, int):
            return self.bins
        return len(self.bins) - 1

    def bin_starts(self) -> np.ndarray:
        """First integer of every bin (int64); bin ``i`` ends before ``starts[i+1]``.

        The last bin ends at ``upper``. With ``bins=None`` this is every value.
        """
        if self.bins is None:
            return np.arange(self.lower, self.upper + 1, dtype=np.int64)
        if isinstance(self.bins, int):
            width = self.upper - self.lower + 1
            k = self.bins
            return np.array([self.lower + (i * width) // k for i in range(k)], np.int64)
        return np.array(self.bins[:-1], dtype=np.int64)


@dataclass(frozen=True, kw_only=True)
class NumericColumn(_RangeColumn):
    """Real numbers in ``[lower, upper]``, coded by bin.

    Attributes:
        lower: the lower bound (finite).
        upper: the upper bound (finite, ``> lower``).
        bins: an int ``k`` (``k`` bins of equal width) or a list of edges from
            ``lower`` to ``upper`` (half-open bins, the last one closed).
        unknown: a value outside ``[lower, upper]`` (infinities included):
            ``"clip"``, ``"missing"`` or ``"error"``.

    Example:
        >>> NumericColumn(name="x", lower=0.0, upper=1.0, bins=4).edges().tolist()
        [0.0, 0.25, 0.5, 0.75, 1.0]
    """

    kind: ClassVar[str] = "numeric"
    lower: float
    upper: float
    bins: int | tuple[float, ...]

    def __post_init__(self) -> None:
        super().__post_init__()
        for name in ("lower", "upper"):
            value = getattr(self, name)
            if not _is_real(value):
                _fail(name, value, "a finite number", self.name)
            object.__setattr__(self, name, float(value))
        if self.lower >= self.upper:
            _fail(
                "upper", self.upper, f"greater than `lower` ({self.lower})", self.name
            )
        bins = self.bins
        if isinstance(bins, Sequence) and not isinstance(bins, str):
            if not all(_is_real(b) for b in bins):
                _fail("bins", list(bins), "finite numbers", self.name)
            edges = tuple(float(b) for b in bins)
            self._check_edges(edges, self.lower, self.upper)
            object.__setattr__(self, "bins", edges)
        else:
            self._check_count(bins)
            object.__setattr__(self, "bins", int(bins))
        self._check_rule()

    @property
    def n_values(self) -> int:
        """Number of bins."""
        return self.bins if isinstance(self.bins, int) else len(self.bins) - 1

    def edges(self) -> np.ndarray:
        """The ``k + 1`` bin edges (float64), ``lower`` first and ``upper`` last."""
        if isinstance(self.bins, tuple):
            return np.array(self.bins, dtype=np.float64)
        out = np.linspace(self.lower, self.upper, self.bins + 1)
        out[0], out[-1] = self.lower, self.upper
        return out


def _timestamp(value: Any) -> pd.Timestamp | None:
    """A naive (UTC) timestamp from an ISO string or datetime, or None if invalid."""
    if not isinstance(value, str | dt.date | np.datetime64):
        return None
    try:
        ts = pd.Timestamp(value)
    except (ValueError, TypeError, OverflowError):
        return None
    if ts is pd.NaT:
        return None
    if ts.tzinfo is not None:
        ts = ts.tz_convert("UTC").tz_localize(None)
    try:
        return ts.as_unit("ns")
    except (ValueError, OverflowError):
        return None


@dataclass(frozen=True, kw_only=True)
class DatetimeColumn(_RangeColumn):
    """Timestamps in ``[lower, upper]``, coded by bin (nanosecond resolution).

    Bounds and edges are ISO 8601 strings (a ``datetime`` is accepted and stored
    as its ISO string). Timezone-aware values are converted to UTC and compared
    as naive UTC times.

    Attributes:
        lower: the first instant in the domain.
        upper: the last instant in the domain (after ``lower``).
        bins: an int ``k`` (``k`` bins of equal duration) or a list of ISO edges.
        unknown: ``"clip"``, ``"missing"`` or ``"error"``.

    Example:
        >>> col = DatetimeColumn(name="t", lower="2020-01", upper="2021-01", bins=2)
        >>> col.lower, col.n_codes
        ('2020-01-01T00:00:00', 2)
    """

    kind: ClassVar[str] = "datetime"
    lower: str
    upper: str
    bins: int | tuple[str, ...]

    def __post_init__(self) -> None:
        super().__post_init__()
        for name in ("lower", "upper"):
            value = getattr(self, name)
            ts = _timestamp(value)
            if ts is None:
                _fail(name, value, "an ISO 8601 date or time", self.name)
            object.__setattr__(self, name, ts.isoformat())  # type: ignore[union-attr]
        if self._ns(self.lower) >= self._ns(self.upper):
            _fail("upper", self.upper, f"after `lower` ({self.lower})", self.name)
        bins = self.bins
        if isinstance(bins, Sequence) and not isinstance(bins, str):
            stamps = [_timestamp(b) for b in bins]
            if any(s is None for s in stamps):
                _fail("bins", list(bins), "ISO 8601 dates or times", self.name)
            edges = tuple(s.isoformat() for s in stamps)  # type: ignore[union-attr]
            ns = tuple(self._ns(e) for e in edges)
            self._check_edges(ns, self._ns(self.lower), self._ns(self.upper))
            object.__setattr__(self, "bins", edges)
        else:
            self._check_count(bins)
            object.__setattr__(self, "bins", int(bins))
        self._check_rule()

    @staticmethod
    def _ns(iso: str) -> int:
        return int(pd.Timestamp(iso).as_unit("ns").value)

    @property
    def n_values(self) -> int:
        """Number of bins."""
        return self.bins if isinstance(self.bins, int) else len(self.bins) - 1

    def edges_ns(self) -> np.ndarray:
        """The ``k + 1`` bin edges as int64 nanoseconds since the epoch."""
        if isinstance(self.bins, tuple):
            return np.array([self._ns(e) for e in self.bins], dtype=np.int64)
        lo, hi, k = self._ns(self.lower), self._ns(self.upper), self.bins
        return np.array([lo + ((hi - lo) * i) // k for i in range(k + 1)], np.int64)


_KINDS: dict[str, type[Column]] = {
    c.kind: c for c in (CategoricalColumn, IntegerColumn, NumericColumn, DatetimeColumn)
}
_KEYS: dict[str, set[str]] = {
    "categorical": {"name", "kind", "categories", "missing", "unknown", "other_label"},
    "integer": {"name", "kind", "lower", "upper", "bins", "missing", "unknown"},
    "numeric": {"name", "kind", "lower", "upper", "bins", "missing", "unknown"},
    "datetime": {"name", "kind", "lower", "upper", "bins", "missing", "unknown"},
}
_REQUIRED: dict[str, tuple[str, ...]] = {
    "categorical": ("name", "categories"),
    "integer": ("name", "lower", "upper"),
    "numeric": ("name", "lower", "upper", "bins"),
    "datetime": ("name", "lower", "upper", "bins"),
}


def column_from_dict(data: Mapping[str, Any]) -> Column:
    """Builds a column spec from its JSON dict (see :meth:`Column.to_dict`).

    For bounded kinds, ``lower`` and ``upper`` may be left out when ``bins`` is a
    list of edges: they are its first and last edge.

    Raises:
        ValidationError: for an unknown kind or key, or invalid values.
    """
    if not isinstance(data, Mapping):
        _fail("column", data, "a JSON object with a name and a kind", "")
    name = data.get("name", "")
    kind = data.get("kind")
    if kind not in _KINDS:
        _fail("kind", kind, f"one of {sorted(_KINDS)!r}", str(name))
    unknown_keys = sorted(set(data) - _KEYS[kind])
    if unknown_keys:
        _fail(
            "keys",
            unknown_keys,
            f"among {sorted(_KEYS[kind])!r} for a {kind} column",
            str(name),
        )
    args = {k: v for k, v in data.items() if k != "kind"}
    bins = args.get("bins")
    if kind != "categorical" and isinstance(bins, list) and bins:
        args.setdefault("lower", bins[0])
        args.setdefault("upper", bins[-1])
    absent = [k for k in _REQUIRED[kind] if k not in args]
    if absent:
        _fail("keys", absent, f"given for a {kind} column", str(name))
    return _KINDS[kind](**args)


def _default_provenance() -> dict[str, Any]:
    return {"method": "user", "private": True}


def _json_copy(value: Any, what: str) -> Any:
    try:
        return json.loads(json.dumps(value, allow_nan=False))
    except (TypeError, ValueError) as exc:
        raise ValidationError(f"`{what}` must be JSON-serialisable: {exc}") from exc


@dataclass(frozen=True)
class Schema:
    """The public schema of a table: ordered column specs plus their provenance.

    Args:
        columns: the column specs, in table order; names must be unique.
        provenance: how the schema was obtained (JSON object). ``method`` is
            ``"user"`` (hand-written, the default), ``"discover"`` (DP, with the
            ledger) or ``"infer"`` (read off the data without privacy);
            ``private`` is false only when the data was read without privacy.

    Raises:
        ValidationError: for an empty or duplicated column list, or a bad spec.

    Example:
        >>> s = Schema([CategoricalColumn(name="sex", categories=("F", "M")),
        ...             IntegerColumn(name="age", lower=17, upper=90, bins=8)])
        >>> s.domain
        Domain({'sex': 2, 'age': 8})
        >>> Schema.from_dict(s.to_dict()) == s
        True
    """

    columns: tuple[Column, ...]
    provenance: Mapping[str, Any] = field(
        default_factory=_default_provenance, hash=False
    )

    def __post_init__(self) -> None:
        cols = self.columns
        if isinstance(cols, Column) or not isinstance(cols, Sequence):
            _fail("columns", type(cols).__name__, "a list of column specs", "")
        cols = tuple(cols)
        if not cols:
            _fail("columns", [], "a non-empty list of column specs", "")
        bad = [type(c).__name__ for c in cols if not isinstance(c, Column)]
        if bad:
            _fail("columns", bad, "column specs (CategoricalColumn, ...)", "")
        names = [c.name for c in cols]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            _fail("columns", dupes, "named once each (duplicate names)", "")
        object.__setattr__(self, "columns", cols)
        if not isinstance(self.provenance, Mapping):
            _fail("provenance", self.provenance, "a JSON object", "")
        object.__setattr__(
            self, "provenance", _json_copy(dict(self.provenance), "provenance")
        )

    # -- access --------------------------------------------------------------

    @property
    def names(self) -> tuple[str, ...]:
        """Column names, in order."""
        return tuple(c.name for c in self.columns)

    @property
    def domain(self) -> Domain:
        """The Domain: codes per column, extra ``other``/missing codes included."""
        return Domain([(c.name, c.n_codes) for c in self.columns])

    @property
    def private(self) -> bool:
        """False when the schema was read off the data without privacy."""
        return bool(self.provenance.get("private", True))

    def column(self, name: str) -> Column:
        """The spec of column ``name``.

        Raises:
            ValidationError: if there is no such column.
        """
        for col in self.columns:
            if col.name == name:
                return col
        raise ValidationError(f"`name` ({name!r}) must be one of {list(self.names)!r}.")

    def __iter__(self) -> Iterator[Column]:
        return iter(self.columns)

    def __len__(self) -> int:
        return len(self.columns)

    # -- JSON ----------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """The versioned JSON-ready dict (``format``, ``version``, ``columns``...)."""
        return {
            "format": FORMAT,
            "version": VERSION,
            "columns": [c.to_dict() for c in self.columns],
            "provenance": dict(self.provenance),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Schema:
        """Reads the dict of :meth:`to_dict` (or a parsed schema JSON file).

        Raises:
            ValidationError: for a wrong format or version, an unknown key, or any
                invalid column spec (the message names the column).
        """
        if not isinstance(data, Mapping):
            _fail("schema", type(data).__name__, "a JSON object", "")
        if data.get("format") != FORMAT:
            _fail("format", data.get("format"), repr(FORMAT), "")
        version: Any = data.get("version")
        if not _is_int(version) or not 1 <= version <= VERSION:
            _fail(
                "version",
                version,
                f"an integer from 1 to {VERSION}",
                "",
                "The file may come from a newer dpsynth; upgrade dpsynth.",
            )
        extra = sorted(set(data) - {"format", "version", "columns", "provenance"})
        if extra:
            _fail("keys", extra, "among format, version, columns, provenance", "")
        columns = data.get("columns")
        if not isinstance(columns, list):
            _fail("columns", columns, "a list of column objects", "")
        return cls(
            tuple(column_from_dict(c) for c in columns),  # type: ignore[union-attr]
            provenance=data.get("provenance", _default_provenance()),
        )

    @classmethod
    def load(cls, path: str | Path) -> Schema:
        """Reads a schema JSON file.

        Raises:
            ValidationError: if the file is missing, not JSON, or not a valid schema.
        """
        p = Path(path)
        try:
            text = p.read_text(encoding="utf-8")
        except FileNotFoundError as exc:
            raise ValidationError(
                f"`path` ({str(p)!r}) must be an existing schema file."
            ) from exc
        except (IsADirectoryError, UnicodeDecodeError) as exc:
            raise ValidationError(
                f"`path` ({str(p)!r}) must be a UTF-8 JSON schema file."
            ) from exc
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValidationError(
                f"`path` ({str(p)!r}) must hold valid JSON: {exc.msg} at line "
                f"{exc.lineno}."
            ) from exc
        return cls.from_dict(data)

    def save(self, path: str | Path) -> None:
        """Writes the schema as JSON, atomically (temporary file, then rename).

        Raises:
            ValidationError: if the parent folder does not exist.
        """
        text = json.dumps(self.to_dict(), indent=2, allow_nan=False) + "\n"
        atomic_write(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))

    # -- data ------------------------------------------------------------------

    def validate(self, frame: pd.DataFrame, *, allow_extra: bool = False) -> None:
        """Checks that ``frame`` can be encoded with this schema.

        Checks column names (all schema columns present; no other columns unless
        ``allow_extra``), then every value against its column's rules. Messages
        name columns and counts, never values.

        Raises:
            ValidationError: for missing or unexpected columns, or values of the
                wrong type.
            DomainError: for missing values where ``missing`` is ``"error"`` and
                out-of-domain values where ``unknown`` is ``"error"``.
        """
        from dpsynth.data.encoding import encode_frame

        encode_frame(self, frame, allow_extra=allow_extra)

    @classmethod
    def infer(cls, frame: pd.DataFrame, **kwargs: Any) -> Schema:
        """NON-PRIVATE: see :func:`dpsynth.data.discovery.infer`."""
        from dpsynth.data.discovery import infer

        return infer(frame, **kwargs)

    @classmethod
    def discover(cls, frame: pd.DataFrame, **kwargs: Any) -> Schema:
        """Differentially private: see :func:`dpsynth.data.discovery.discover`."""
        from dpsynth.data.discovery import discover

        return discover(frame, **kwargs)


def __getattr__(name: str) -> Any:
    # ``infer`` and ``discover`` live in dpsynth.data.discovery, which imports this
    # module; they are re-exported here lazily to avoid an import cycle.
    if name in ("infer", "discover"):
        from dpsynth.data import discovery

        return getattr(discovery, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
