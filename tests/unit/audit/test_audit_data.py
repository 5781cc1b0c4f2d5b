"""Audit inputs: one encoding for three tables, and clear errors for bad input."""

import numpy as np
import pandas as pd
import pytest

from dpsynth.audit.data import MIN_HOLDOUT, SMALL_HOLDOUT, AuditData
from dpsynth.data.domain import Domain
from dpsynth.data.schema import CategoricalColumn, IntegerColumn, Schema
from dpsynth.errors import DomainError, ValidationError

SCHEMA = Schema(
    [
        CategoricalColumn(name="sex", categories=("F", "M")),
        IntegerColumn(name="age", lower=0, upper=99, bins=10),
    ]
)


def _frame(n, seed=0):
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {"sex": rng.choice(["F", "M"], size=n), "age": rng.integers(0, 100, size=n)}
    )


def test_schema_encoding_keeps_order_sizes_labels_and_kinds():
    data = AuditData.from_frames(
        _frame(50), _frame(300, 1), _frame(40, 2), schema=SCHEMA
    )
    assert data.names == ("sex", "age") and data.sizes == (2, 10)
    assert data.ordered == (False, True)
    assert data.labels[0] == ("F", "M") and data.labels[1] is None
    assert data.train.shape == (50, 2) and data.synthetic.shape == (40, 2)
    assert data.schema_source == "the release's public schema" and not data.notes
    # rows keep the caller's order
    assert data.train[:, 0].tolist() == (_frame(50)["sex"] == "M").astype(int).tolist()


def test_columns_may_come_in_any_order():
    hold = _frame(300, 1)[["age", "sex"]]
    data = AuditData.from_frames(_frame(50), hold, _frame(40, 2), schema=SCHEMA)
    assert data.holdout[:, 1].max() > 1  # age codes in the age column


def test_inferred_schema_is_stated_and_covers_all_three_tables():
    syn = _frame(40, 2)
    syn.loc[0, "sex"] = "X"  # a category only the synthetic table has
    data = AuditData.from_frames(_frame(50), _frame(300, 1), syn)
    assert "non-private" in data.schema_source
    assert data.labels[data.names.index("sex")] == ("F", "M", "X")


def test_domain_tables():
    dom = Domain({"a": 3, "b": 2})
    codes = pd.DataFrame({"a": [0, 1, 2] * 100, "b": [0, 1, 1] * 100})
    data = AuditData.from_frames(codes, codes, codes, schema=dom)
    assert data.sizes == (3, 2) and data.ordered == (False, False)
    bad = codes.copy()
    bad.loc[0, "a"] = 7
    with pytest.raises(DomainError, match="The synthetic table"):
        AuditData.from_frames(codes, codes, bad, schema=dom)


def test_mismatched_columns_are_named_per_table():
    syn = _frame(40).rename(columns={"age": "AGE"})
    with pytest.raises(ValidationError) as err:
        AuditData.from_frames(_frame(50), _frame(300), syn)
    assert "synthetic table lacks ['age']" in str(err.value)
    assert "extra ['AGE']" in str(err.value)
    extra = _frame(50).assign(zip=1)
    with pytest.raises(ValidationError, match="schema lacks \\['zip'\\]"):
        AuditData.from_frames(extra, extra, extra, schema=SCHEMA)


def test_unknown_categories_under_a_public_schema_name_the_table():
    syn = _frame(40)
    syn.loc[3, "sex"] = "unknown-value"
    with pytest.raises(DomainError) as err:
        AuditData.from_frames(_frame(50), _frame(300), syn, schema=SCHEMA)
    assert str(err.value).startswith("The synthetic table: ")
    assert "unknown-value" not in str(err.value)  # values are never quoted


def test_empty_and_tiny_tables():
    with pytest.raises(ValidationError, match="training table is empty"):
        AuditData.from_frames(_frame(0), _frame(300), _frame(40), schema=SCHEMA)
    with pytest.raises(ValidationError, match="synthetic table is empty"):
        AuditData.from_frames(_frame(50), _frame(300), _frame(0), schema=SCHEMA)
    with pytest.raises(ValidationError, match=f"at least {MIN_HOLDOUT}"):
        AuditData.from_frames(
            _frame(50), _frame(MIN_HOLDOUT - 1), _frame(40), schema=SCHEMA
        )
    small = AuditData.from_frames(_frame(50), _frame(50), _frame(40), schema=SCHEMA)
    assert any(f"fewer than {SMALL_HOLDOUT}" in n for n in small.notes)


def test_all_missing_columns_are_dropped_with_a_note():
    def blank(f):
        return f.assign(empty=np.nan)

    data = AuditData.from_frames(
        blank(_frame(50)), blank(_frame(300)), blank(_frame(40))
    )
    assert data.names == ("sex", "age")
    assert any("'empty'" in n and "dropped" in n for n in data.notes)
    nothing = pd.DataFrame({"x": [np.nan] * 20})
    with pytest.raises(ValidationError, match="nothing to audit"):
        AuditData.from_frames(nothing, nothing, nothing)


def test_not_a_frame_and_bad_codes():
    with pytest.raises(ValidationError, match="DataFrame"):
        AuditData.from_frames(np.zeros((3, 2)), _frame(30), _frame(30))
    ok = np.zeros((20, 2), dtype=int)
    with pytest.raises(DomainError):
        AuditData.from_codes(ok, ok, ok + 5, sizes=[2, 2])
    with pytest.raises(ValidationError, match="names"):
        AuditData.from_codes(ok, ok, ok, sizes=[2, 2], names=["a"])
    data = AuditData.from_codes(ok, ok, ok, sizes=[2, 2])
    with pytest.raises(ValidationError, match="not among"):
        data.columns(["zzz"])
