import re

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dpsynth.data.dataset import Dataset
from dpsynth.data.domain import Domain
from dpsynth.data.encoding import Encoder, binned_columns
from dpsynth.data.schema import (
    CategoricalColumn,
    DatetimeColumn,
    IntegerColumn,
    NumericColumn,
    Schema,
)
from dpsynth.errors import DomainError, ValidationError

SECRET = "Jane-Doe-1970"  # a raw value that must never reach an error message


def schema() -> Schema:
    return Schema(
        (
            CategoricalColumn(
                name="city",
                categories=("Oslo", "Rome"),
                unknown="other",
                missing="code",
            ),
            IntegerColumn(name="kids", lower=0, upper=4, missing="code"),
            IntegerColumn(name="age", lower=0, upper=99, bins=(0, 18, 65, 99)),
            NumericColumn(name="pay", lower=0.0, upper=10.0, bins=5, missing="code"),
            DatetimeColumn(name="day", lower="2020-01-01", upper="2020-12-31", bins=12),
        )
    )


def frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "city": ["Rome", "Oslo", None, "Paris", "Oslo"],
            "kids": pd.array([0, 4, None, 2, 1], dtype="Int64"),
            "age": [0, 17, 18, 99, 64],
            "pay": [0.0, 9.99, np.nan, 10.0, 2.0],
            "day": pd.to_datetime(
                ["2020-01-01", "2020-12-31", "2020-06-15", "2020-02-29", "2020-03-01"]
            ),
        }
    )


def test_encode_codes_and_domain():
    ds = Encoder(schema()).encode(frame())
    assert isinstance(ds, Dataset)
    assert ds.domain == Domain({"city": 4, "kids": 6, "age": 3, "pay": 6, "day": 12})
    assert ds.column("city").tolist() == [1, 0, 3, 2, 0]  # Paris -> other (2)
    assert ds.column("kids").tolist() == [0, 4, 5, 2, 1]  # NA -> missing code 5
    assert ds.column("age").tolist() == [0, 0, 1, 2, 1]
    assert ds.column("pay").tolist() == [0, 4, 5, 4, 1]  # upper falls in the last bin
    assert ds.column("day").tolist()[:2] == [0, 11]


def test_round_trip_categorical_and_one_code_per_value_are_exact():
    enc = Encoder(schema())
    out = enc.decode(enc.encode(frame()), rng=0)
    assert out["city"].tolist()[:2] == ["Rome", "Oslo"]
    assert pd.isna(out["city"][2]) and out["city"][3] == "__other__"
    assert out["kids"].tolist()[:2] == [0, 4] and out["kids"].tolist()[3:] == [2, 1]
    assert out["kids"].isna().tolist() == [False, False, True, False, False]


def test_decoded_values_fall_back_into_their_bins():
    enc = Encoder(schema())
    ds = enc.encode(frame())
    for seed in range(20):
        again = enc.encode(enc.decode(ds, rng=seed))
        np.testing.assert_array_equal(again.codes, ds.codes)


def test_decoded_dtypes():
    enc = Encoder(schema())
    out = enc.decode(enc.encode(frame()), rng=1)
    assert list(out.columns) == ["city", "kids", "age", "pay", "day"]
    assert pd.api.types.is_string_dtype(out["city"].dtype)
    assert out["kids"].dtype == "Int64"  # nullable: the column has a missing code
    assert out["age"].dtype == np.int64
    assert out["pay"].dtype == np.float64 and np.isnan(out["pay"][2])
    assert out["day"].dtype == "datetime64[ns]"


def test_decode_is_deterministic_with_a_seed():
    enc = Encoder(schema())
    ds = enc.encode(frame())
    pd.testing.assert_frame_equal(enc.decode(ds, rng=7), enc.decode(ds, rng=7))
    first, second = enc.decode(ds, rng=7), enc.decode(ds, rng=8)
    assert not first["pay"].equals(second["pay"])


def test_decode_accepts_a_code_array_and_checks_it():
    enc = Encoder(schema())
    codes = enc.encode(frame()).codes
    pd.testing.assert_frame_equal(
        enc.decode(np.asarray(codes), rng=3), enc.decode(enc.encode(frame()), rng=3)
    )
    bad = np.array(codes, dtype=np.int64)
    bad[0, 2] = 3
    with pytest.raises(DomainError, match="column 'age' has 1 code"):
        enc.decode(bad)
    other = Dataset(np.zeros((1, 1), np.int64), Domain({"x": 2}))
    with pytest.raises(ValidationError, match="must have the schema's domain"):
        enc.decode(other)


def test_binned_integer_draws_cover_the_bin_uniformly():
    col = IntegerColumn(name="a", lower=0, upper=9, bins=(0, 5, 9))
    enc = Encoder(Schema((col,)))
    codes = np.zeros((20_000, 1), dtype=np.int64)
    drawn = enc.decode(codes, rng=0)["a"].to_numpy()
    counts = np.bincount(drawn, minlength=10)
    assert counts[5:].sum() == 0
    # each of 5 values has p = 0.2: the binomial sd is 57, so 6 sd (false-failure
    # rate < 1e-8 per value) is 340 around the mean 4000
    assert np.all(np.abs(counts[:5] - 4000) < 340)
    last = enc.decode(np.ones((2_000, 1), dtype=np.int64), rng=0)["a"]
    assert set(last) == {5, 6, 7, 8, 9}  # the last bin includes upper


def test_rules_error_name_column_and_count_never_values():
    strict = Schema(
        (
            CategoricalColumn(name="name", categories=("A", "B")),
            IntegerColumn(name="age", lower=0, upper=99, unknown="error"),
        )
    )
    df = pd.DataFrame({"name": [SECRET, "A", None], "age": [120, 5, -1]})
    with pytest.raises(DomainError) as info:
        Encoder(strict).encode(df)
    message = str(info.value)
    assert SECRET not in message and "120" not in message
    assert "Column 'name' has 1 missing value(s)" in message
    assert "Column 'name' has 1 value(s) outside its 2 categories" in message
    assert "Column 'age' has 2 value(s) outside [0, 99]" in message


def test_clip_and_missing_rules_for_out_of_domain_values():
    clip = Schema((NumericColumn(name="x", lower=0.0, upper=1.0, bins=2),))
    df = pd.DataFrame({"x": [-5.0, 7.0, np.inf]})
    assert Encoder(clip).encode(df).column("x").tolist() == [0, 1, 1]
    to_missing = Schema(
        (
            NumericColumn(
                name="x",
                lower=0.0,
                upper=1.0,
                bins=2,
                unknown="missing",
                missing="code",
            ),
        )
    )
    assert Encoder(to_missing).encode(df).column("x").tolist() == [2, 2, 2]


def test_wrong_value_types_are_validation_errors():
    s = Schema(
        (
            IntegerColumn(name="i", lower=0, upper=9),
            NumericColumn(name="f", lower=0.0, upper=1.0, bins=2),
            DatetimeColumn(name="d", lower="2020-01-01", upper="2021-01-01", bins=2),
        )
    )
    df = pd.DataFrame({"i": [1.5, 2.0], "f": ["0.5", SECRET], "d": ["2020-05-01", "x"]})
    with pytest.raises(ValidationError) as info:
        Encoder(s).encode(df)
    message = str(info.value)
    assert "Column 'i' (integer) has 1 value(s) that are not whole numbers" in message
    assert "Column 'f' (numeric) has 1 value(s) that are not numbers" in message
    assert "Column 'd' (datetime) has 1 value(s) that are not dates" in message
    assert SECRET not in message


def test_integer_inputs_of_every_dtype():
    s = Schema((IntegerColumn(name="i", lower=-2, upper=2, unknown="clip"),))
    for values in (
        np.array([-3, 0, 5], dtype=np.int8),
        pd.array([-3, 0, 5], dtype="Int32"),
        np.array([-3.0, 0.0, 5.0]),
        ["-3", "0", "5"],
    ):
        codes = Encoder(s).encode(pd.DataFrame({"i": values})).column("i").tolist()
        assert codes == [0, 2, 4]
    huge = pd.DataFrame({"i": np.array([0, 1, 2**63 + 5], dtype=np.uint64)})
    assert Encoder(s).encode(huge).column("i").tolist() == [2, 3, 4]


def test_categorical_inputs_are_compared_as_strings():
    s = Schema((CategoricalColumn(name="c", categories=("1", "2", "True")),))
    df = pd.DataFrame({"c": pd.Series([1, 2, 1])})
    assert Encoder(s).encode(df).column("c").tolist() == [0, 1, 0]
    cat = pd.DataFrame({"c": pd.Categorical(["2", "1"])})
    assert Encoder(s).encode(cat).column("c").tolist() == [1, 0]


def test_timezone_aware_datetimes_are_compared_in_utc():
    s = Schema(
        (DatetimeColumn(name="d", lower="2020-01-01", upper="2020-01-03", bins=2),)
    )
    stamps = pd.to_datetime(["2020-01-02T00:30:00+01:00"]).tz_convert("Europe/Oslo")
    codes = Encoder(s).encode(pd.DataFrame({"d": stamps})).column("d")
    assert codes.tolist() == [0]  # 23:30 UTC on Jan 1st


def test_encoder_needs_a_schema_and_a_frame():
    with pytest.raises(
        ValidationError, match=re.escape("`schema` (dict) must be a Schema")
    ):
        Encoder({})  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="must be a pandas DataFrame"):
        Encoder(schema()).encode([[1, 2]])  # type: ignore[arg-type]


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.floats(-1e6, 1e6, allow_nan=False), min_size=1, max_size=50),
    st.lists(st.floats(-1e3, 1e3), min_size=2, max_size=8, unique=True),
    st.integers(0, 2**32 - 1),
)
def test_numeric_round_trip_property(values, edges, seed):
    edges = sorted(edges)
    col = NumericColumn(name="x", lower=edges[0], upper=edges[-1], bins=tuple(edges))
    enc = Encoder(Schema((col,)))
    ds = enc.encode(pd.DataFrame({"x": values}))
    back = enc.decode(ds, rng=seed)["x"].to_numpy()
    assert np.all((back >= edges[0]) & (back <= edges[-1]))
    np.testing.assert_array_equal(enc.encode(pd.DataFrame({"x": back})).codes, ds.codes)


# -- within-bin positions ------------------------------------------------------


def test_binned_columns_are_the_schema_s_multi_value_bins():
    enc = Encoder(schema())
    # kids has one code per value: no position
    assert enc.binned == ("age", "pay", "day")
    widths = dict(binned_columns(schema()))
    assert widths["age"] == 47  # [18, 65) holds 47 integers
    assert widths["pay"] is None
    assert widths["day"] > 24 * 3600 * 10**9  # nanoseconds of a month


def test_positions_round_trip_exactly_through_decode():
    enc = Encoder(schema())
    f = frame()
    pos = enc.positions(f)
    assert pos.shape == (5, 3)
    # age 0 is the first of 18 integers in [0, 18): the middle of its share
    assert pos[0, 0] == pytest.approx(0.5 / 18)
    # pay 2.0 opens bin [2, 4); pay NaN (missing code) has no position
    assert pos[4, 1] == 0.0
    assert np.isnan(pos[2, 1])
    out = enc.decode(enc.encode(f), rng=0, positions=pos)
    assert out["age"].tolist() == f["age"].tolist()
    np.testing.assert_allclose(out["pay"].dropna(), f["pay"].dropna(), atol=1e-12)
    assert (out["day"] == f["day"]).all()


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.integers(-5, 130), min_size=1, max_size=30),
    st.lists(st.integers(1, 98), min_size=0, max_size=6, unique=True),
)
def test_integer_positions_round_trip_property(values, inner):
    col = IntegerColumn(name="v", lower=0, upper=99, bins=(0, *sorted(inner), 99))
    enc = Encoder(Schema((col,)))
    f = pd.DataFrame({"v": values})
    pos = enc.positions(f)
    assert ((pos > 0) & (pos < 1)).all()
    back = enc.decode(enc.encode(f), positions=pos)["v"]
    assert back.tolist() == np.clip(values, 0, 99).tolist()


def test_positions_are_a_row_by_row_function_of_the_value():
    enc = Encoder(schema())
    f = frame()
    whole = enc.positions(f)
    for i in range(len(f)):
        np.testing.assert_array_equal(enc.positions(f.iloc[[i]]), whole[[i]])


def test_positions_place_values_and_nan_falls_back_to_a_draw():
    enc = Encoder(schema())
    codes = enc.encode(frame())
    pos = np.full((5, 3), np.nan)
    pos[:, 0] = [0.0, 0.999, 0.0, 1.0, 0.5]  # age bins [0,18) [0,18) [18,65) ...
    out = enc.decode(codes, rng=1, positions=pos)
    assert out["age"].tolist() == [0, 17, 18, 99, 41]
    # NaN positions decode exactly as without positions (same streams)
    plain = enc.decode(codes, rng=1)
    pd.testing.assert_series_equal(out["pay"], plain["pay"])
    pd.testing.assert_series_equal(out["day"], plain["day"])


def test_positions_are_checked():
    enc = Encoder(schema())
    codes = enc.encode(frame())
    with pytest.raises(ValidationError, match="3 binned column"):
        enc.decode(codes, positions=np.zeros((5, 2)))
    with pytest.raises(ValidationError, match="must be a float array"):
        enc.decode(codes, positions=np.zeros((5, 3), dtype=np.int64))
    with pytest.raises(ValidationError, match=r"in \[0, 1\]"):
        enc.decode(codes, positions=np.full((5, 3), 1.5))


def test_out_of_domain_values_without_clip_have_no_position():
    col = NumericColumn(
        name="x", lower=0.0, upper=1.0, bins=2, unknown="missing", missing="code"
    )
    enc = Encoder(Schema((col,)))
    pos = enc.positions(pd.DataFrame({"x": [0.25, 7.0]}))
    assert pos[0, 0] == 0.5 and np.isnan(pos[1, 0])
