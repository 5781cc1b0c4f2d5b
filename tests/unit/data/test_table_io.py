import json
import re

import numpy as np
import pandas as pd
import pytest

from dpsynth.data.io import atomic_write, read_table, write_table
from dpsynth.errors import ValidationError


def test_csv_question_marks_and_leading_spaces(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("age, workclass, pay\n39, State-gov, 1.5\n50, ?, \n")
    df = read_table(path)
    assert list(df.columns) == ["age", "workclass", "pay"]
    assert df["workclass"].tolist()[0] == "State-gov"
    assert df["workclass"].isna().tolist() == [False, True]
    assert df["pay"].isna().tolist() == [False, True]
    assert df["age"].dtype == np.int64
    kept = read_table(path, na_values=(), skipinitialspace=False)
    assert kept[" workclass"].tolist() == [" State-gov", " ?"]


def test_columns_are_selected_in_order_and_checked(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("a,b,c\n1,2,3\n")
    assert list(read_table(path, columns=["c", "a"]).columns) == ["c", "a"]
    message = "`columns` (['d']) must be columns of"
    with pytest.raises(ValidationError, match=re.escape(message)):
        read_table(path, columns=["a", "d"])
    with pytest.raises(ValidationError, match="must be a list of column names"):
        read_table(path, columns="a")  # type: ignore[arg-type]


@pytest.mark.parametrize("name", ["t.parquet", "t.pq", "t.csv", "t.tsv", "t.csv.gz"])
def test_write_then_read_round_trip(tmp_path, name):
    df = pd.DataFrame({"a": [1, 2, 3], "b": ["x", None, "z"], "c": [0.5, np.nan, 2.0]})
    path = write_table(df, tmp_path / name)
    back = read_table(path)
    assert back["a"].tolist() == [1, 2, 3]
    assert back["b"].isna().tolist() == [False, True, False]
    assert back["c"].isna().tolist() == [False, True, False]
    assert [p.name for p in tmp_path.iterdir()] == [name]  # no temporary file left


def test_missing_file_and_unknown_extension(tmp_path):
    with pytest.raises(ValidationError, match="must be an existing file"):
        read_table(tmp_path / "absent.csv")
    (tmp_path / "t.xlsx").write_text("a\n1\n")
    with pytest.raises(ValidationError, match=re.escape("must end in one of ['.csv'")):
        read_table(tmp_path / "t.xlsx")


def test_binary_and_json_files_are_not_tables(tmp_path):
    binary = tmp_path / "b.csv"
    binary.write_bytes(bytes(range(256)) * 10)
    with pytest.raises(ValidationError, match="holds binary data"):
        read_table(binary)
    js = tmp_path / "j.csv"
    js.write_text(json.dumps({"a": [1, 2], "b": [3, 4]}, indent=1))
    with pytest.raises(ValidationError, match="looks like JSON"):
        read_table(js)
    fake = tmp_path / "f.parquet"
    fake.write_text("a,b\n1,2\n")
    with pytest.raises(ValidationError, match="must be a Parquet table"):
        read_table(fake)
    latin = tmp_path / "l.csv"
    latin.write_bytes("name\nJos\xe9\n".encode("latin-1"))
    with pytest.raises(ValidationError) as info:
        read_table(latin)
    assert "Jos" not in str(info.value)  # never echo the contents


def test_malformed_csv(tmp_path):
    path = tmp_path / "m.csv"
    path.write_text('a,b\n1,2\n3,4,5,6\n"x,7\n')
    with pytest.raises(ValidationError, match="must be a well-formed CSV table"):
        read_table(path)


def test_empty_tables(tmp_path):
    empty = tmp_path / "e.csv"
    empty.write_text("")
    with pytest.raises(ValidationError, match="must not be an empty file"):
        read_table(empty)
    header = tmp_path / "h.csv"
    header.write_text("a,b\n")
    with pytest.raises(
        ValidationError, match="must hold a table with at least one row"
    ):
        read_table(header)
    write_table(pd.DataFrame({"a": pd.Series([], dtype=int)}), tmp_path / "e.parquet")
    with pytest.raises(ValidationError, match="at least one row"):
        read_table(tmp_path / "e.parquet")


def test_bad_writes_leave_nothing_behind(tmp_path):
    df = pd.DataFrame({"a": [1]})
    with pytest.raises(ValidationError, match="must end in one of"):
        write_table(df, tmp_path / "t.json")
    with pytest.raises(ValidationError, match="must be a pandas DataFrame"):
        write_table({"a": [1]}, tmp_path / "t.csv")  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="must be in an existing folder"):
        write_table(df, tmp_path / "no" / "t.csv")
    assert list(tmp_path.iterdir()) == []


def test_atomic_write_keeps_the_old_file_on_failure(tmp_path):
    path = tmp_path / "out.csv"
    path.write_text("old\n")

    def boom(tmp):
        tmp.write_text("partial")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        atomic_write(path, boom)
    assert path.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["out.csv"]


def test_a_row_with_too_many_fields_is_refused_even_when_selecting_columns(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("a,b,c\n1,2,3\n4,5,6,7\n")
    for columns in (None, ["a", "b"]):
        with pytest.raises(ValidationError, match="well-formed CSV"):
            read_table(path, columns=columns)
