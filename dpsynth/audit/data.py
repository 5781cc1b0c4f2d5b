"""The audit's inputs: training, holdout and synthetic tables on one code domain.

Every attack works on integer codes (:class:`dpsynth.data.encoding.Encoder`), so
the three tables are encoded once, by the same rules:

* with the release's public :class:`~dpsynth.data.schema.Schema` (or a
  :class:`~dpsynth.data.domain.Domain` for integer-coded tables), or
* with a schema read off the three tables themselves. That reads the data
  without privacy, which is acceptable here because the audit as a whole reads
  the real data without privacy and its report stays with the data controller;
  it is stated in the report.

Checks: the three tables must have the same columns, the training and synthetic
tables must have rows, and the holdout must have at least ``MIN_HOLDOUT`` rows
(a smaller control set cannot support any interval; below
``SMALL_HOLDOUT`` the report says its intervals are wide). Columns with no
value in any table carry no information and are dropped, with a note.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from dpsynth.data.dataset import Dataset
from dpsynth.data.discovery import infer
from dpsynth.data.domain import Domain
from dpsynth.data.encoding import Encoder
from dpsynth.data.schema import CategoricalColumn, Schema
from dpsynth.errors import DomainError, PrivacyWarning, ValidationError

__all__ = ["MIN_HOLDOUT", "SMALL_HOLDOUT", "AuditData"]

MIN_HOLDOUT = 10
SMALL_HOLDOUT = 200
_TABLES = ("train", "holdout", "synthetic")


@dataclass(frozen=True, kw_only=True)
class AuditData:
    """Training, holdout and synthetic tables as codes over one domain.

    Attributes:
        train: ``(n, d)`` int32 codes of the training table (row order kept, so
            row ``i`` is the caller's row ``i``).
        holdout: ``(m, d)`` codes of the holdout (control) table.
        synthetic: ``(s, d)`` codes of the synthetic table.
        names: the column names.
        sizes: the number of codes of each column.
        ordered: whether each column's codes are ordered (binned numbers,
            integers, dates) rather than unordered categories.
        labels: per column, a label per code (categories, bin ranges), or None.
        schema_source: where the encoding came from, in words.
        notes: degradations the report must state.
    """

    train: np.ndarray
    holdout: np.ndarray
    synthetic: np.ndarray
    names: tuple[str, ...]
    sizes: tuple[int, ...]
    ordered: tuple[bool, ...]
    labels: tuple[tuple[str, ...] | None, ...]
    schema_source: str
    notes: tuple[str, ...] = ()

    # ------------------------------------------------------------- builders
    @classmethod
    def from_frames(
        cls,
        train: pd.DataFrame,
        holdout: pd.DataFrame,
        synthetic: pd.DataFrame,
        *,
        schema: Schema | Domain | None = None,
    ) -> AuditData:
        """Encodes the three tables by one schema (given, or read off them).

        Args:
            train: the table the generator was fitted on.
            holdout: records of the same population the generator never saw.
            synthetic: the released table.
            schema: the public Schema, a Domain (integer-coded tables), or None
                to read one off the three tables (non-private, audit only).

        Raises:
            ValidationError: the tables' columns differ (from each other or the
                schema), a table is not a DataFrame, the training or synthetic
                table is empty, or the holdout has fewer than ``MIN_HOLDOUT``
                rows.
            DomainError: a table holds values the schema refuses; the message
                names the table and the column, never a value.
        """
        frames = {"train": train, "holdout": holdout, "synthetic": synthetic}
        for what, frame in frames.items():
            if not isinstance(frame, pd.DataFrame):
                raise ValidationError(
                    f"`{what}` ({type(frame).__name__}) must be a pandas DataFrame."
                )
        columns = _same_columns(frames, schema)
        _check_rows(len(train), len(holdout), len(synthetic))
        notes: list[str] = []
        empty = [c for c in columns if all(f[c].isna().all() for f in frames.values())]
        if empty and isinstance(schema, Domain | Schema):
            empty = []  # a public schema gives missing values a code; keep them
        if len(empty) == len(columns):
            raise ValidationError(
                "Every column is empty (all values missing) in all three tables: "
                "there is nothing to audit."
            )
        if empty:
            notes.append(
                f"Column(s) {empty!r} have no value in any table and were dropped: "
                "they carry no information about anyone."
            )
            columns = [c for c in columns if c not in empty]
        if isinstance(schema, Domain):
            domain = schema.project(columns)
            codes = {
                w: _encode(w, lambda f: Dataset.from_frame(f, domain), f[columns])
                for w, f in frames.items()
            }
            ordered = (False,) * len(columns)
            labels: tuple[tuple[str, ...] | None, ...] = (None,) * len(columns)
            sizes = tuple(domain[c] for c in columns)
            source = "public domain file (integer codes, all columns unordered)"
        else:
            if schema is None:
                pooled = pd.concat([f[columns] for f in frames.values()], axis=0)
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", PrivacyWarning)
                    schema = infer(pooled.reset_index(drop=True), bins=20)
                source = (
                    "inferred from the audited tables (non-private: categories and "
                    "bounds read off the data, acceptable for an audit that stays "
                    "with the data controller)"
                )
            else:
                source = "the release's public schema"
                if not schema.private:
                    source += " (itself inferred from the data without privacy)"
            schema = Schema(tuple(schema.column(c) for c in columns), schema.provenance)
            encoder = Encoder(schema)
            codes = {
                w: _encode(w, encoder.encode, f[columns]) for w, f in frames.items()
            }
            ordered = tuple(
                not isinstance(col, CategoricalColumn) for col in schema.columns
            )
            labels = tuple(_labels(col) for col in schema.columns)
            sizes = tuple(col.n_codes for col in schema.columns)
        notes += _holdout_notes(len(holdout))
        return cls(
            train=codes["train"],
            holdout=codes["holdout"],
            synthetic=codes["synthetic"],
            names=tuple(columns),
            sizes=sizes,
            ordered=ordered,
            labels=labels,
            schema_source=source,
            notes=tuple(notes),
        )

    @classmethod
    def from_codes(
        cls,
        train: np.ndarray,
        holdout: np.ndarray,
        synthetic: np.ndarray,
        *,
        sizes: Sequence[int],
        names: Sequence[str] | None = None,
        ordered: Sequence[bool] | None = None,
    ) -> AuditData:
        """Wraps three integer-code arrays over one domain (checked).

        Raises:
            ValidationError: shapes differ, an array is not 2-D integer, or a
                table is too small (see :meth:`from_frames`).
            DomainError: a code lies outside ``[0, size)``.
        """
        d = len(sizes)
        names = tuple(names) if names is not None else tuple(f"c{j}" for j in range(d))
        if len(names) != d:
            raise ValidationError(f"`names` must hold {d} names, one per column.")
        domain = Domain(dict(zip(names, (int(s) for s in sizes), strict=True)))
        arrays = {"train": train, "holdout": holdout, "synthetic": synthetic}
        codes = {
            w: _encode(w, lambda a: Dataset(a, domain), a) for w, a in arrays.items()
        }
        _check_rows(*(len(codes[w]) for w in _TABLES))
        order = (False,) * d if ordered is None else tuple(bool(o) for o in ordered)
        if len(order) != d:
            raise ValidationError(f"`ordered` must hold {d} booleans.")
        notes = _holdout_notes(len(codes["holdout"]))
        return cls(
            train=codes["train"],
            holdout=codes["holdout"],
            synthetic=codes["synthetic"],
            names=names,
            sizes=tuple(int(s) for s in sizes),
            ordered=order,
            labels=(None,) * d,
            schema_source="integer codes given directly",
            notes=tuple(notes),
        )

    @classmethod
    def from_encoded(
        cls,
        train: np.ndarray,
        holdout: np.ndarray,
        synthetic: np.ndarray,
        *,
        schema: Schema | Domain,
    ) -> AuditData:
        """Wraps codes already encoded by ``schema`` (a release's own tables).

        Raises:
            ValidationError, DomainError: as :meth:`from_codes`.
        """
        if isinstance(schema, Schema):
            names, sizes = schema.names, [c.n_codes for c in schema.columns]
            ordered = [not isinstance(c, CategoricalColumn) for c in schema.columns]
            labels = tuple(_labels(c) for c in schema.columns)
            source = "the release's public schema"
        else:
            names, sizes = schema.attributes, [schema[n] for n in schema.attributes]
            ordered, labels = [False] * len(names), (None,) * len(names)
            source = "public domain file (integer codes, all columns unordered)"
        data = cls.from_codes(
            train, holdout, synthetic, sizes=sizes, names=names, ordered=ordered
        )
        return replace(data, labels=labels, schema_source=source)

    # -------------------------------------------------------------- helpers
    def columns(self, names: Sequence[str]) -> list[int]:
        """The positions of ``names``.

        Raises:
            ValidationError: a name is not an audited column.
        """
        unknown = [n for n in names if n not in self.names]
        if unknown:
            raise ValidationError(
                f"Column(s) {unknown!r} are not among the audited columns "
                f"{list(self.names)!r}."
            )
        return [self.names.index(n) for n in names]


def _holdout_notes(rows: int) -> list[str]:
    """The degradation note for a holdout too small for narrow intervals."""
    if rows >= SMALL_HOLDOUT:
        return []
    return [
        f"The holdout has only {rows} rows (fewer than {SMALL_HOLDOUT}): the control "
        "rates have wide intervals, so most attacks can only be inconclusive. Keep "
        "a larger holdout."
    ]


def _same_columns(
    frames: dict[str, pd.DataFrame], schema: Schema | Domain | None
) -> list[str]:
    reference = [str(c) for c in frames["train"].columns]
    problems = []
    for what, frame in frames.items():
        cols = [str(c) for c in frame.columns]
        dupes = sorted({c for c in cols if cols.count(c) > 1})
        if dupes:
            problems.append(f"the {what} table repeats {dupes!r}")
        if what == "train":
            continue
        missing = [c for c in reference if c not in cols]
        extra = [c for c in cols if c not in reference]
        if missing:
            problems.append(f"the {what} table lacks {missing!r}")
        if extra:
            problems.append(f"the {what} table has extra {extra!r}")
    if problems:
        raise ValidationError(
            "The training, holdout and synthetic tables must have the same columns: "
            + "; ".join(problems)
            + "."
        )
    if schema is not None:
        if not isinstance(schema, Schema | Domain):
            raise ValidationError(
                f"`schema` ({type(schema).__name__}) must be a Schema, a Domain or "
                "None."
            )
        known = list(schema.names if isinstance(schema, Schema) else schema)
        missing = [c for c in known if c not in reference]
        extra = [c for c in reference if c not in known]
        if missing or extra:
            raise ValidationError(
                "The tables' columns must match the schema's: "
                + ", ".join(
                    p
                    for p in (
                        f"the tables lack {missing!r}" if missing else "",
                        f"the schema lacks {extra!r}" if extra else "",
                    )
                    if p
                )
                + "."
            )
        return known
    return reference


def _check_rows(n_train: int, n_holdout: int, n_synthetic: int) -> None:
    if n_train == 0 or n_synthetic == 0:
        empty = "training" if n_train == 0 else "synthetic"
        raise ValidationError(f"The {empty} table is empty: there is nothing to audit.")
    if n_holdout < MIN_HOLDOUT:
        raise ValidationError(
            f"The holdout has {n_holdout} rows; an audit needs at least {MIN_HOLDOUT} "
            "records the generator never saw to compare against (1,000 or more for "
            "intervals narrow enough to pass anything). Hold out part of the data "
            "before fitting (dpsynth generate keeps 10% by default)."
        )


def _encode(what: str, encode: object, table: object) -> np.ndarray:
    try:
        dataset = encode(table)  # type: ignore[operator]
    except DomainError as exc:
        raise DomainError(f"The {what} table: {exc}") from None
    except ValidationError as exc:
        raise ValidationError(f"The {what} table: {exc}") from None
    return np.asarray(dataset.codes, dtype=np.int32)


def _labels(col: object) -> tuple[str, ...] | None:
    if isinstance(col, CategoricalColumn):
        extra = []
        if col.has_other:
            extra.append(str(getattr(col, "other_label", "other")))
        if col.missing == "code":
            extra.append("(missing)")
        return tuple(str(c) for c in col.categories) + tuple(extra)
    return None
