import pickle
import re

import numpy as np
import pytest

from dpsynth.data.domain import Domain
from dpsynth.errors import ValidationError


def test_order_shape_and_size():
    d = Domain({"b": 3, "a": 2, "c": 4})
    assert d.attributes == ("b", "a", "c")
    assert d.shape == (3, 2, 4)
    assert list(d) == ["b", "a", "c"]
    assert len(d) == 3
    assert d["a"] == 2
    assert d.size() == 24
    assert d.size(["c", "a"]) == 8
    assert d.size([]) == 1
    assert d.to_dict() == {"b": 3, "a": 2, "c": 4}


def test_from_pairs_equals_from_mapping_and_is_hashable():
    d1 = Domain({"a": 2, "b": 3})
    d2 = Domain([("a", 2), ("b", 3)])
    assert d1 == d2
    assert hash(d1) == hash(d2)
    assert d1 != Domain({"b": 3, "a": 2})  # the order of columns is part of it


def test_mapping_protocol():
    d = Domain({"a": 2})
    assert "a" in d
    assert "z" not in d
    assert d.get("z") is None
    with pytest.raises(KeyError):
        d["z"]


def test_numpy_integer_sizes_are_accepted():
    d = Domain({"a": np.int64(3), "b": np.uint8(2)})
    assert d.shape == (3, 2)
    assert all(type(s) is int for s in d.shape)


def test_project_keeps_given_order():
    d = Domain({"a": 2, "b": 3, "c": 4})
    assert d.project(["c", "a"]) == Domain({"c": 4, "a": 2})


def test_project_unknown_column():
    d = Domain({"a": 2})
    msg = "Columns ['z'] are not in the domain ['a']."
    with pytest.raises(ValidationError, match=re.escape(msg)):
        d.project(["a", "z"])


@pytest.mark.parametrize("size", [0, -1, 2.0, True, np.True_, "3", None])
def test_bad_size(size):
    msg = f"Domain size of 'a' ({size!r}) must be an integer >= 1."
    with pytest.raises(ValidationError, match=re.escape(msg)):
        Domain({"a": size})


@pytest.mark.parametrize("name", ["", 1, None])
def test_bad_name(name):
    msg = f"Column name ({name!r}) must be a non-empty string."
    with pytest.raises(ValidationError, match=re.escape(msg)):
        Domain([(name, 2)])


def test_duplicate_name():
    with pytest.raises(ValidationError, match="appears twice"):
        Domain([("a", 2), ("a", 3)])


@pytest.mark.parametrize("sizes", ["ab", [("a",)], [("a", 2, 3)]])
def test_malformed_pairs(sizes):
    with pytest.raises(ValidationError, match=re.escape("must be a (column, size)")):
        Domain(sizes)


def test_is_immutable():
    d = Domain({"a": 2})
    with pytest.raises(AttributeError):
        d._sizes = ()  # type: ignore[misc]


def test_pickle_roundtrip():
    d = Domain({"a": 2, "b": 5})
    assert pickle.loads(pickle.dumps(d)) == d


def test_repr():
    assert repr(Domain({"a": 2})) == "Domain({'a': 2})"


def test_load(tmp_path):
    p = tmp_path / "domain.json"
    p.write_text('{"x": 4, "y": 2}')
    assert Domain.load(p) == Domain({"x": 4, "y": 2})


def test_load_errors(tmp_path):
    with pytest.raises(ValidationError, match="does not exist"):
        Domain.load(tmp_path / "missing.json")
    with pytest.raises(ValidationError, match="cannot be read"):
        Domain.load(tmp_path)
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(ValidationError, match="is not valid JSON"):
        Domain.load(bad)
    arr = tmp_path / "list.json"
    arr.write_text("[1, 2]")
    with pytest.raises(ValidationError, match="must hold a JSON object"):
        Domain.load(arr)
    neg = tmp_path / "neg.json"
    neg.write_text('{"a": 0}')
    with pytest.raises(ValidationError, match=re.escape("must be an integer >= 1")):
        Domain.load(neg)
