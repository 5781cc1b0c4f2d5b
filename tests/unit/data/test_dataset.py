import pickle
import re

import numpy as np
import pandas as pd
import pytest

from dpsynth.data.dataset import Dataset, code_dtype
from dpsynth.data.domain import Domain
from dpsynth.errors import DomainError, ValidationError

DOMAIN = Domain({"a": 3, "b": 2, "c": 5})


def _codes(n=20, seed=0):
    rng = np.random.default_rng(seed)
    return np.column_stack([rng.integers(0, s, n) for s in DOMAIN.shape])


def test_construction_copies_into_read_only_narrow_fortran_array():
    raw = _codes()
    ds = Dataset(raw, DOMAIN)
    assert ds.codes.dtype == np.uint8
    assert ds.codes.flags.f_contiguous
    assert not ds.codes.flags.writeable
    np.testing.assert_array_equal(ds.codes, raw)
    raw[0, 0] = 2 if raw[0, 0] != 2 else 1  # the caller's array is not shared
    assert ds.codes[0, 0] != raw[0, 0]
    with pytest.raises(ValueError):
        ds.codes[0, 0] = 0
    with pytest.raises(AttributeError):
        ds.codes = raw  # type: ignore[misc]


@pytest.mark.parametrize(
    ("largest", "dtype"),
    [(1, np.uint8), (256, np.uint8), (257, np.uint16), (65536, np.uint16),
     (65537, np.uint32), (2**32, np.uint32), (2**32 + 1, np.int64)],
)  # fmt: skip
def test_code_dtype(largest, dtype):
    assert code_dtype(Domain({"a": 2, "b": largest})) == np.dtype(dtype)


def test_wide_domain_keeps_large_codes():
    d = Domain({"a": 70_000})
    ds = Dataset(np.array([[69_999], [0]], dtype=np.int64), d)
    assert ds.codes.dtype == np.uint32
    assert ds.column("a").tolist() == [69_999, 0]


@pytest.mark.parametrize(
    "dtype", [np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint64]
)
def test_any_integer_dtype_is_accepted(dtype):
    ds = Dataset(_codes().astype(dtype), DOMAIN)
    np.testing.assert_array_equal(ds.codes, _codes())


def test_list_input_is_accepted():
    assert Dataset([[0, 1, 4]], DOMAIN).codes.tolist() == [[0, 1, 4]]


@pytest.mark.parametrize("codes", [np.zeros((3, 3)), np.zeros((3, 3), dtype=bool)])
def test_non_integer_dtype(codes):
    with pytest.raises(ValidationError, match="must have an integer dtype"):
        Dataset(codes, DOMAIN)


def test_not_2d():
    msg = "`codes` (an array of shape (3,)) must be 2-D"
    with pytest.raises(ValidationError, match=re.escape(msg)):
        Dataset(np.zeros(3, dtype=int), DOMAIN)


def test_wrong_number_of_columns():
    msg = "`codes` (2 columns) must have one column per domain column (3:"
    with pytest.raises(ValidationError, match=re.escape(msg)):
        Dataset(np.zeros((4, 2), dtype=int), DOMAIN)


def test_domain_must_be_a_domain():
    with pytest.raises(ValidationError, match=re.escape("`domain` (dict) must be")):
        Dataset(_codes(), {"a": 3, "b": 2, "c": 5})  # type: ignore[arg-type]


def test_out_of_domain_codes_name_column_and_count_but_no_value():
    codes = _codes()
    codes[[1, 4, 7], 2] = [5, 123456, -987654]
    codes[2, 0] = -1
    msg = (
        "Every code must lie in its column's [0, size): column 'a' has 1 code(s) "
        "outside [0, 3); column 'c' has 3 code(s) outside [0, 5)."
    )
    with pytest.raises(DomainError, match=re.escape(msg)) as info:
        Dataset(codes, DOMAIN)
    assert "123456" not in str(info.value)
    assert "987654" not in str(info.value)


@pytest.mark.parametrize("dtype", [np.uint8, np.int8, np.int64, np.uint64])
def test_out_of_domain_detected_for_every_dtype(dtype):
    codes = _codes().astype(dtype)
    codes[0, 1] = 2
    with pytest.raises(DomainError, match="column 'b' has 1 code"):
        Dataset(codes, DOMAIN)


def test_empty_dataset():
    ds = Dataset(np.zeros((0, 3), dtype=np.int64), DOMAIN)
    assert ds.n_rows_nonprivate == 0
    assert ds.to_frame().shape == (0, 3)


def test_accessors():
    ds = Dataset(_codes(), DOMAIN)
    assert ds.columns == ("a", "b", "c")
    assert ds.n_rows_nonprivate == 20
    np.testing.assert_array_equal(ds.column("c"), _codes()[:, 2])
    assert ds.column("c").flags.c_contiguous
    assert not ds.column("c").flags.writeable
    with pytest.raises(ValidationError, match=re.escape("`column` ('z') must be")):
        ds.column("z")


def test_no_len_so_the_private_row_count_is_not_read_by_accident():
    ds = Dataset(_codes(), DOMAIN)
    with pytest.raises(TypeError):
        len(ds)  # type: ignore[arg-type]


def test_repr_shows_neither_records_nor_row_count():
    ds = Dataset(np.full((17, 3), 1), DOMAIN)
    text = repr(ds)
    assert "17" not in text
    assert text == f"Dataset(domain={DOMAIN!r}, dtype=uint8)"


def test_project():
    ds = Dataset(_codes(), DOMAIN)
    sub = ds.project(["c", "a"])
    assert sub.domain == Domain({"c": 5, "a": 3})
    np.testing.assert_array_equal(sub.codes, _codes()[:, [2, 0]])
    assert not sub.codes.flags.writeable
    with pytest.raises(ValidationError, match="are not in the domain"):
        ds.project(["zz"])


def test_project_narrows_dtype():
    d = Domain({"big": 1000, "small": 2})
    ds = Dataset(np.array([[999, 1], [0, 0]]), d)
    assert ds.codes.dtype == np.uint16
    assert ds.project(["small"]).codes.dtype == np.uint8


def test_from_frame_any_column_order_extra_columns_ignored():
    codes = _codes()
    df = pd.DataFrame({"c": codes[:, 2], "x": "secret", "a": codes[:, 0]})
    df["b"] = codes[:, 1]
    ds = Dataset.from_frame(df, DOMAIN)
    np.testing.assert_array_equal(ds.codes, codes)
    assert ds.codes.dtype == np.uint8


def test_from_frame_missing_columns_are_named():
    df = pd.DataFrame({"b": [0]})
    msg = "`frame` columns must include every domain column; missing ['a', 'c']."
    with pytest.raises(ValidationError, match=re.escape(msg)):
        Dataset.from_frame(df, DOMAIN)


@pytest.mark.parametrize(
    "values", [pd.array([0, 1], dtype="Int64"), pd.array([0, 1], dtype="UInt8")]
)
def test_from_frame_nullable_and_arrow_integers(values):
    df = pd.DataFrame({"a": values, "b": values, "c": values})
    ds = Dataset.from_frame(df, DOMAIN)
    assert ds.codes.tolist() == [[0, 0, 0], [1, 1, 1]]
    arrow = df.astype("int64[pyarrow]")
    assert Dataset.from_frame(arrow, DOMAIN).codes.tolist() == [[0, 0, 0], [1, 1, 1]]


def test_from_frame_missing_values():
    df = pd.DataFrame({"a": pd.array([0, None], dtype="Int64"), "b": 0, "c": 0})
    msg = "`frame['a']` (1 missing values) must have no missing values."
    with pytest.raises(ValidationError, match=re.escape(msg)):
        Dataset.from_frame(df, DOMAIN)


@pytest.mark.parametrize("values", [[0.0, 1.0], ["0", "1"], [True, False]])
def test_from_frame_non_integer_columns(values):
    df = pd.DataFrame({"a": [0, 1], "b": values, "c": [0, 1]})
    with pytest.raises(ValidationError, match=re.escape("`frame['b']` (dtype")):
        Dataset.from_frame(df, DOMAIN)


def test_from_frame_out_of_domain():
    df = pd.DataFrame({"a": [0, 3, 7], "b": [0, 1, 0], "c": [0, 0, 0]})
    msg = "column 'a' has 2 code(s) outside [0, 3)"
    with pytest.raises(DomainError, match=re.escape(msg)):
        Dataset.from_frame(df, DOMAIN)


def test_from_frame_rejects_non_frames():
    with pytest.raises(ValidationError, match=re.escape("`frame` (ndarray) must be")):
        Dataset.from_frame(_codes(), DOMAIN)  # type: ignore[arg-type]


def test_to_frame_roundtrip_and_independence():
    ds = Dataset(_codes(), DOMAIN)
    df = ds.to_frame()
    assert list(df.columns) == ["a", "b", "c"]
    assert Dataset.from_frame(df, DOMAIN).codes.tolist() == ds.codes.tolist()
    df.loc[0, "a"] = 2 if df.loc[0, "a"] != 2 else 1
    assert ds.codes[0, 0] != df.loc[0, "a"]


def test_pickle_roundtrip_stays_read_only():
    ds = Dataset(_codes(), DOMAIN)
    back = pickle.loads(pickle.dumps(ds))
    np.testing.assert_array_equal(back.codes, ds.codes)
    assert back.domain == DOMAIN
    assert not back.codes.flags.writeable
