import json
import re

import numpy as np
import pandas as pd
import pytest

from dpsynth.data.domain import Domain
from dpsynth.data.schema import (
    CategoricalColumn,
    DatetimeColumn,
    IntegerColumn,
    NumericColumn,
    Schema,
    infer,
)
from dpsynth.errors import DomainError, PrivacyWarning, ValidationError


def small_schema() -> Schema:
    return Schema(
        (
            CategoricalColumn(
                name="sex", categories=("F", "M"), unknown="other", missing="code"
            ),
            IntegerColumn(name="age", lower=17, upper=90, bins=8, missing="code"),
            IntegerColumn(name="kids", lower=0, upper=5),
            NumericColumn(name="income", lower=0.0, upper=1e5, bins=(0, 1e3, 1e4, 1e5)),
            DatetimeColumn(name="seen", lower="2020-01-01", upper="2021-01-01", bins=4),
        )
    )


def test_domain_counts_extra_codes():
    assert small_schema().domain == Domain(
        {"sex": 4, "age": 9, "kids": 6, "income": 3, "seen": 4}
    )
    sex = small_schema().column("sex")
    assert (sex.other_code, sex.missing_code) == (2, 3)


def test_dict_and_file_round_trip(tmp_path):
    schema = small_schema()
    data = schema.to_dict()
    assert data["format"] == "dpsynth-schema" and data["version"] == 1
    assert data["provenance"] == {"method": "user", "private": True}
    assert Schema.from_dict(json.loads(json.dumps(data))) == schema
    path = tmp_path / "schema.json"
    schema.save(path)
    assert Schema.load(path) == schema
    assert [p.name for p in tmp_path.iterdir()] == ["schema.json"]  # no temp left


def test_edges_give_bounds_when_left_out():
    col = {"name": "x", "kind": "numeric", "bins": [0, 1, 5]}
    schema = Schema.from_dict(
        {"format": "dpsynth-schema", "version": 1, "columns": [col]}
    )
    assert (schema.column("x").lower, schema.column("x").upper) == (0.0, 5.0)


def test_integer_uniform_bins_partition_the_range():
    col = IntegerColumn(name="a", lower=0, upper=9, bins=3)
    assert col.bin_starts().tolist() == [0, 3, 6]
    assert IntegerColumn(name="a", lower=0, upper=2, bins=3).bin_starts().tolist() == [
        0,
        1,
        2,
    ]


@pytest.mark.parametrize(
    ("column", "message"),
    [
        (
            {"name": "a", "kind": "ordinalish"},
            "`kind` of column 'a' ('ordinalish') must be one of "
            "['categorical', 'datetime', 'integer', 'numeric'].",
        ),
        (
            {"name": "a", "kind": "integer", "lower": 5, "upper": 5},
            "`upper` of column 'a' (5) must be greater than `lower` (5).",
        ),
        (
            {
                "name": "a",
                "kind": "numeric",
                "lower": 0,
                "upper": 3,
                "bins": [0, 2, 1, 3],
            },
            "`bins` of column 'a' ([0.0, 2.0, 1.0, 3.0]) must be strictly increasing",
        ),
        (
            {"name": "a", "kind": "numeric", "lower": 0, "upper": 3, "bins": [0, 1, 2]},
            "`bins` of column 'a' ([0.0, 1.0, 2.0]) must be edges from `lower` (0.0)",
        ),
        (
            {"name": "a", "kind": "categorical", "categories": ["x", "y", "x"]},
            "`categories` of column 'a' (['x']) must be listed once each",
        ),
        (
            {"name": "a", "kind": "categorical", "categories": []},
            "`categories` of column 'a' ([]) must be a non-empty list.",
        ),
        (
            {"name": "a", "kind": "categorical", "categories": [1, 2]},
            "`categories` of column 'a' ([1, 2]) must be strings.",
        ),
        (
            {"name": "a", "kind": "categorical", "categories": ["x"], "unknwn": "x"},
            "`keys` of column 'a' (['unknwn']) must be among",
        ),
        (
            {"name": "a", "kind": "numeric", "lower": 0, "upper": 1},
            "`keys` of column 'a' (['bins']) must be given for a numeric column.",
        ),
        (
            {"name": "a", "kind": "integer", "lower": 0, "upper": 3, "bins": 5},
            "`bins` of column 'a' (5) must be at most the number of values (4).",
        ),
        (
            {"name": "a", "kind": "integer", "lower": 0, "upper": 3, "bins": 0},
            "`bins` of column 'a' (0) must be an integer >= 1 or a list of edges.",
        ),
        (
            {"name": "a", "kind": "integer", "lower": 0.5, "upper": 3},
            "`lower` of column 'a' (0.5) must be an integer.",
        ),
        (
            {
                "name": "a",
                "kind": "numeric",
                "lower": 0,
                "upper": float("inf"),
                "bins": 2,
            },
            "`upper` of column 'a' (inf) must be a finite number.",
        ),
        (
            {
                "name": "a",
                "kind": "categorical",
                "categories": ["x"],
                "missing": "drop",
            },
            "`missing` of column 'a' ('drop') must be one of ['code', 'error'].",
        ),
        (
            {
                "name": "a",
                "kind": "categorical",
                "categories": ["x"],
                "unknown": "clip",
            },
            "`unknown` of column 'a' ('clip') must be one of ['other', 'missing', "
            "'error']",
        ),
        (
            {
                "name": "a",
                "kind": "integer",
                "lower": 0,
                "upper": 3,
                "unknown": "other",
            },
            "`unknown` of column 'a' ('other') must be one of ['clip', 'missing', "
            "'error']",
        ),
        (
            {
                "name": "a",
                "kind": "categorical",
                "categories": ["x"],
                "unknown": "missing",
            },
            "`unknown` of column 'a' ('missing') must be used with "
            '`missing: "code"`.',
        ),
        (
            {
                "name": "a",
                "kind": "categorical",
                "categories": ["x", "rest"],
                "unknown": "other",
                "other_label": "rest",
            },
            "`other_label` of column 'a' ('rest') must be different from every "
            "category.",
        ),
        (
            {
                "name": "a",
                "kind": "datetime",
                "lower": "yesterday",
                "upper": "2020",
                "bins": 2,
            },
            "`lower` of column 'a' ('yesterday') must be an ISO 8601 date or time.",
        ),
        (
            {"name": "", "kind": "categorical", "categories": ["x"]},
            "`name` ('') must be a non-empty string.",
        ),
    ],
)
def test_bad_column_specs_are_refused_with_clear_messages(column, message):
    data = {"format": "dpsynth-schema", "version": 1, "columns": [column]}
    with pytest.raises(ValidationError, match=re.escape(message)):
        Schema.from_dict(data)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            {"format": "other", "version": 1, "columns": []},
            "`format` ('other') must be",
        ),
        (
            {"format": "dpsynth-schema", "version": 2, "columns": []},
            "`version` (2) must be an integer from 1 to 1. The file may come from a "
            "newer dpsynth",
        ),
        ({"format": "dpsynth-schema", "version": 1, "columns": []}, "`columns` ([])"),
        (
            {"format": "dpsynth-schema", "version": 1, "columns": [], "extra": 1},
            "`keys` (['extra']) must be among",
        ),
        (
            {
                "format": "dpsynth-schema",
                "version": 1,
                "columns": [
                    {"name": "a", "kind": "categorical", "categories": ["x"]},
                    {"name": "a", "kind": "integer", "lower": 0, "upper": 1},
                ],
            },
            "`columns` (['a']) must be named once each (duplicate names).",
        ),
    ],
)
def test_bad_schema_documents_are_refused(data, message):
    with pytest.raises(ValidationError, match=re.escape(message)):
        Schema.from_dict(data)


def test_load_reports_missing_and_non_json_files(tmp_path):
    with pytest.raises(ValidationError, match="must be an existing schema file"):
        Schema.load(tmp_path / "nope.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(ValidationError, match="must hold valid JSON"):
        Schema.load(bad)


def test_save_into_missing_folder_writes_nothing(tmp_path):
    with pytest.raises(ValidationError, match="must be in an existing folder"):
        small_schema().save(tmp_path / "absent" / "schema.json")
    assert list(tmp_path.iterdir()) == []


def test_provenance_must_be_json():
    cols = (IntegerColumn(name="a", lower=0, upper=1),)
    with pytest.raises(ValidationError, match="`provenance` must be JSON-serialisable"):
        Schema(cols, provenance={"x": object()})


def table() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "sex": ["F", "M", None],
            "age": [20, 30, 40],
            "kids": [0, 1, 2],
            "income": [1.0, 2.0, 3.0],
            "seen": pd.to_datetime(["2020-02-01", "2020-03-01", "2020-04-01"]),
        }
    )


def test_validate_accepts_a_good_table():
    assert small_schema().validate(table()) is None


def test_validate_names_missing_and_unexpected_columns():
    df = table().rename(columns={"age": "Age"})
    message = (
        "The table's columns must match the schema's ['sex', 'age', 'kids', 'income', "
        "'seen']: missing ['age'], unexpected ['Age']. Pass allow_extra=True"
    )
    with pytest.raises(ValidationError, match=re.escape(message)):
        small_schema().validate(df)
    small_schema().validate(table().assign(extra=1), allow_extra=True)


def test_validate_refuses_nan_where_missing_is_an_error():
    df = table()
    df.loc[1, "kids"] = np.nan
    with pytest.raises(
        DomainError, match=re.escape("Column 'kids' has 1 missing value(s)")
    ):
        small_schema().validate(df)


def test_infer_is_loudly_non_private():
    df = pd.DataFrame(
        {
            "c": ["b", "a", None],
            "i": [3, 7, 5],
            "f": [0.5, 2.0, 1.0],
            "t": pd.to_datetime(["2020-01-01", "2020-06-01", None]),
            "flag": [True, False, True],
        }
    )
    with pytest.warns(PrivacyWarning, match="WITHOUT differential privacy"):
        schema = infer(df, bins=2)
    assert schema.provenance == {
        "method": "infer",
        "private": False,
        "kinds_from_dtypes": ["c", "i", "f", "t", "flag"],
    }
    assert not schema.private
    c, i, f, t, flag = schema.columns
    assert (c.categories, c.missing) == (("a", "b"), "code")
    assert (i.lower, i.upper, i.bins, i.missing) == (3, 7, 2, "error")
    assert (f.lower, f.upper, f.bins) == (0.5, 2.0, 2)
    assert (t.lower, t.upper, t.missing) == (
        "2020-01-01T00:00:00",
        "2020-06-01T00:00:00",
        "code",
    )
    assert flag.categories == ("False", "True")
    schema.validate(df)  # the data it came from encodes without errors


def test_infer_kinds_argument_and_errors():
    df = pd.DataFrame({"code": [1, 2, 2], "x": [1.0, 1.0, 1.0]})
    with pytest.warns(PrivacyWarning):
        schema = Schema.infer(df, kinds={"code": "categorical", "x": "numeric"})
    assert schema.column("code").categories == ("1", "2")
    assert (schema.column("x").lower, schema.column("x").upper) == (1.0, 2.0)
    assert schema.provenance["kinds_from_dtypes"] == []
    with pytest.raises(ValidationError, match=re.escape("`kinds` (['nope']) must be")):
        infer(df, kinds={"nope": "numeric"})
    with pytest.raises(ValidationError, match=re.escape("`bins` (0) must be")):
        infer(df, bins=0)
    with (
        pytest.warns(PrivacyWarning),
        pytest.raises(
            ValidationError, match="must be a column with at least one value"
        ),
    ):
        infer(pd.DataFrame({"a": [None, None]}))
