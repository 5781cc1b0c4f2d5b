import re

import pytest

from dpsynth.data.domain import Domain
from dpsynth.errors import ValidationError
from dpsynth.marginals import MarginalQuery, as_query


def test_columns_are_a_tuple_in_given_order():
    q = MarginalQuery(["b", "a"])  # type: ignore[arg-type]
    assert q.columns == ("b", "a")
    assert q == MarginalQuery(("b", "a"))
    assert q != MarginalQuery(("a", "b"))
    assert hash(q) == hash(MarginalQuery(("b", "a")))


def test_shape_and_size_follow_query_order():
    d = Domain({"a": 3, "b": 4, "c": 5})
    q = MarginalQuery(("c", "a"))
    assert q.shape(d) == (5, 3)
    assert q.size(d) == 15


def test_frozen():
    q = MarginalQuery(("a",))
    with pytest.raises(AttributeError):
        q.columns = ("b",)  # type: ignore[misc]


def test_empty():
    msg = "`columns` (()) must name at least one column."
    with pytest.raises(ValidationError, match=re.escape(msg)):
        MarginalQuery(())


def test_duplicates():
    msg = "`columns` (('a', 'b', 'a')) must not repeat a column; repeated ['a']."
    with pytest.raises(ValidationError, match=re.escape(msg)):
        MarginalQuery(("a", "b", "a"))


def test_a_bare_string_is_rejected():
    msg = "`columns` ('age') must be a tuple of column names. For one column write"
    with pytest.raises(ValidationError, match=re.escape(msg)):
        MarginalQuery("age")  # type: ignore[arg-type]


@pytest.mark.parametrize("cols", [("a", 1), ("a", ""), (None,)])
def test_names_must_be_non_empty_strings(cols):
    with pytest.raises(ValidationError, match="must hold only non-empty strings"):
        MarginalQuery(cols)


def test_not_iterable():
    with pytest.raises(ValidationError, match="must be a tuple of column names"):
        MarginalQuery(3)  # type: ignore[arg-type]


def test_as_query():
    q = MarginalQuery(("a",))
    assert as_query(q) is q
    assert as_query(["a", "b"]) == MarginalQuery(("a", "b"))
    with pytest.raises(ValidationError):
        as_query([])
