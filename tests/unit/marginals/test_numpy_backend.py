import itertools
import re
from collections import Counter

import numpy as np
import pytest

from dpsynth.data.dataset import Dataset
from dpsynth.data.domain import Domain
from dpsynth.errors import InternalError, ValidationError
from dpsynth.marginals import (
    CountingBackend,
    MarginalQuery,
    NumpyBackend,
    counting_backend,
    marginal,
)


def _random_dataset(seed, n_rows=None):
    rng = np.random.default_rng(seed)
    n_cols = int(rng.integers(1, 6))
    sizes = [int(s) for s in rng.integers(1, 7, n_cols)]
    domain = Domain({f"c{j}": s for j, s in enumerate(sizes)})
    n = int(rng.integers(0, 200)) if n_rows is None else n_rows
    codes = np.column_stack([rng.integers(0, s, n) for s in sizes]).reshape(n, -1)
    return Dataset(codes, domain)


def _counter_reference(ds, columns):
    """Brute force: a Python Counter over row tuples."""
    idx = [ds.columns.index(c) for c in columns]
    counter = Counter(tuple(int(v) for v in row[idx]) for row in ds.codes)
    out = np.zeros([ds.domain[c] for c in columns], dtype=np.int64)
    for cell, count in counter.items():
        out[cell] = count
    return out


def _add_at_reference(ds, columns):
    out = np.zeros([ds.domain[c] for c in columns], dtype=np.int64)
    np.add.at(out, tuple(ds.column(c).astype(np.intp) for c in columns), 1)
    return out


def _groupby_reference(ds, columns):
    out = np.zeros([ds.domain[c] for c in columns], dtype=np.int64)
    sizes = ds.to_frame().groupby(list(columns)).size()
    for cell, count in sizes.items():
        out[cell if isinstance(cell, tuple) else (cell,)] = count
    return out


def _all_queries(columns, max_k=3):
    """Every 1-, 2- and 3-way query, in every column order."""
    return [
        MarginalQuery(perm)
        for k in range(1, min(max_k, len(columns)) + 1)
        for subset in itertools.combinations(columns, k)
        for perm in itertools.permutations(subset)
    ]


@pytest.mark.parametrize("seed", range(12))
def test_counts_many_matches_brute_force(seed):
    ds = _random_dataset(seed)
    queries = _all_queries(ds.columns)
    answers = NumpyBackend(ds).counts_many(queries)
    assert len(answers) == len(queries)
    for q, got in zip(queries, answers, strict=True):
        want = _counter_reference(ds, q.columns)
        assert got.dtype == np.int64
        assert got.shape == q.shape(ds.domain)
        np.testing.assert_array_equal(got, want)
        assert got.sum() == ds.n_rows_nonprivate


@pytest.mark.parametrize("seed", range(4))
def test_counts_matches_add_at_and_groupby(seed):
    ds = _random_dataset(100 + seed, n_rows=150)
    backend = NumpyBackend(ds)
    for q in _all_queries(ds.columns):
        got = backend.counts(q)
        np.testing.assert_array_equal(got, _add_at_reference(ds, q.columns))
        np.testing.assert_array_equal(got, _groupby_reference(ds, q.columns))


@pytest.mark.parametrize("chunk_rows", [1, 7, 64, 10_000])
def test_row_chunks_do_not_change_counts(chunk_rows):
    ds = _random_dataset(7, n_rows=300)
    queries = _all_queries(ds.columns)
    want = [_add_at_reference(ds, q.columns) for q in queries]
    got = NumpyBackend(ds, chunk_rows=chunk_rows).counts_many(queries)
    for g, w in zip(got, want, strict=True):
        np.testing.assert_array_equal(g, w)


def test_four_and_five_way_with_shared_prefixes():
    rng = np.random.default_rng(3)
    domain = Domain({"a": 3, "b": 4, "c": 2, "d": 5, "e": 3})
    ds = Dataset(
        np.column_stack([rng.integers(0, s, 500) for s in domain.shape]), domain
    )
    queries = [
        MarginalQuery(cols)
        for k in (2, 3, 4, 5)
        for cols in itertools.combinations(domain.attributes, k)
    ] + [MarginalQuery(("e", "d", "c", "b", "a")), MarginalQuery(("b", "a", "e", "c"))]
    for q, got in zip(queries, NumpyBackend(ds).counts_many(queries), strict=True):
        np.testing.assert_array_equal(got, _add_at_reference(ds, q.columns))


def test_axis_order_follows_the_query():
    rng = np.random.default_rng(5)
    ds = Dataset(
        np.column_stack([rng.integers(0, s, 100) for s in (2, 3, 4)]),
        Domain({"a": 2, "b": 3, "c": 4}),
    )
    backend = NumpyBackend(ds)
    abc = backend.counts(("a", "b", "c"))
    for perm in itertools.permutations("abc"):
        axes = ["abc".index(c) for c in perm]
        np.testing.assert_array_equal(backend.counts(perm), abc.transpose(axes))


def test_empty_dataset_gives_zeros():
    domain = Domain({"a": 3, "b": 2, "c": 4})
    ds = Dataset(np.zeros((0, 3), dtype=np.int64), domain)
    for q in _all_queries(domain.attributes):
        got = NumpyBackend(ds).counts(q)
        assert got.shape == q.shape(domain)
        assert got.dtype == np.int64
        assert not got.any()


def test_single_valued_columns():
    domain = Domain({"one": 1, "a": 3, "also_one": 1})
    codes = np.column_stack([np.zeros(10), np.arange(10) % 3, np.zeros(10)])
    ds = Dataset(codes.astype(np.int64), domain)
    backend = NumpyBackend(ds)
    assert backend.counts(("one",)).tolist() == [10]
    assert backend.counts(("a", "one")).tolist() == [[4], [3], [3]]
    assert backend.counts(("one", "also_one")).tolist() == [[10]]
    assert backend.counts(("also_one", "a", "one")).tolist() == [[[4], [3], [3]]]


def test_wide_domain_uses_wide_index():
    # 300 x 300 x 2 cells > 2**16: the cell index must not wrap in uint16.
    domain = Domain({"a": 300, "b": 300, "c": 2})
    codes = np.array([[299, 299, 1], [299, 299, 1], [0, 0, 0], [150, 7, 1]])
    got = NumpyBackend(Dataset(codes, domain)).counts(("a", "b", "c"))
    assert got[299, 299, 1] == 2
    assert got[0, 0, 0] == 1
    assert got[150, 7, 1] == 1
    assert got.sum() == 4


def test_duplicate_and_permuted_queries_get_independent_arrays():
    ds = _random_dataset(1, n_rows=50)
    cols = ds.columns[:2] if len(ds.columns) > 1 else ds.columns
    answers = NumpyBackend(ds).counts_many([cols, cols, cols[::-1]])
    np.testing.assert_array_equal(answers[0], answers[1])
    np.testing.assert_array_equal(answers[0].T, answers[2])
    answers[0][...] = -1
    assert (answers[1] >= 0).all()
    assert (answers[2] >= 0).all()


def test_empty_batch():
    assert NumpyBackend(_random_dataset(0)).counts_many([]) == []


def test_unknown_column():
    ds = Dataset(np.zeros((2, 1), dtype=int), Domain({"a": 2}))
    msg = "`query` (('a', 'z')) must use only domain columns; ['z'] are not in ['a']."
    with pytest.raises(ValidationError, match=re.escape(msg)):
        NumpyBackend(ds).counts(("a", "z"))


def test_cell_guard_raises_before_allocating():
    domain = Domain({"a": 10**6, "b": 10**6, "c": 10**6})
    ds = Dataset(np.zeros((3, 3), dtype=np.int64), domain)
    msg = (
        "`query` (('a', 'b'), 1000000000000 cells) must have at most `max_cells` "
        "(67108864) cells."
    )
    with pytest.raises(ValidationError, match=re.escape(msg)):
        NumpyBackend(ds).counts(("a", "b"))
    with pytest.raises(ValidationError, match="must have at most `max_cells` \\(99\\)"):
        NumpyBackend(ds, max_cells=99).counts(("a",))
    assert NumpyBackend(ds, max_cells=10**6).counts(("c",))[0] == 3


class _SpyBackend(CountingBackend):
    """The smallest backend: brute force, recording what it was asked."""

    def __init__(self, dataset, *, answers=None):
        super().__init__(dataset.domain)
        self.dataset = dataset
        self.calls = []
        self.answers = answers

    def _count(self, queries):
        self.calls.append(list(queries))
        if self.answers is not None:
            return self.answers
        return [_add_at_reference(self.dataset, q.columns) for q in queries]


def test_a_batch_is_validated_before_anything_is_counted():
    ds = _random_dataset(2, n_rows=10)
    spy = _SpyBackend(ds)
    with pytest.raises(ValidationError, match="must use only domain columns"):
        spy.counts_many([ds.columns[:1], ("nope",)])
    assert spy.calls == []
    spy.counts_many([ds.columns[:1]])
    assert spy.calls == [[MarginalQuery(ds.columns[:1])]]


def test_interface_gives_the_same_answers_from_any_backend():
    ds = _random_dataset(4, n_rows=80)
    queries = _all_queries(ds.columns, max_k=2)
    for got, want in zip(
        NumpyBackend(ds).counts_many(queries),
        _SpyBackend(ds).counts_many(queries),
        strict=True,
    ):
        np.testing.assert_array_equal(got, want)


def test_wrong_number_of_answers_is_an_internal_error():
    ds = _random_dataset(2, n_rows=10)
    with pytest.raises(InternalError, match="returned 0 answers for 1 queries"):
        _SpyBackend(ds, answers=[]).counts(ds.columns[:1])


@pytest.mark.parametrize(
    ("kwargs", "msg"),
    [
        ({"max_cells": 0}, "`max_cells` (0) must be >= 1."),
        ({"max_cells": 1.5}, "`max_cells` (1.5) must be an integer."),
        ({"chunk_rows": 0}, "`chunk_rows` (0) must be >= 1."),
        ({"chunk_rows": True}, "`chunk_rows` (True) must be an integer."),
    ],
)
def test_bad_backend_arguments(kwargs, msg):
    with pytest.raises(ValidationError, match=re.escape(msg)):
        NumpyBackend(_random_dataset(0), **kwargs)


def test_numpy_backend_needs_a_dataset():
    with pytest.raises(ValidationError, match=re.escape("`dataset` (ndarray) must")):
        NumpyBackend(np.zeros((2, 2)))  # type: ignore[arg-type]


def test_marginal_convenience():
    ds = _random_dataset(9, n_rows=60)
    cols = ds.columns[::-1]
    np.testing.assert_array_equal(marginal(ds, cols), _counter_reference(ds, cols))
    np.testing.assert_array_equal(
        marginal(ds, MarginalQuery(cols)), _counter_reference(ds, cols)
    )


def test_counting_backend_dispatch():
    ds = _random_dataset(6, n_rows=40)
    backend = counting_backend(ds)
    assert isinstance(backend, NumpyBackend)
    assert counting_backend(backend) is backend
    assert counting_backend(backend, ds.domain) is backend
    from_frame = counting_backend(ds.to_frame(), ds.domain, max_cells=5000)
    assert from_frame.max_cells == 5000
    q = ds.columns[:1]
    np.testing.assert_array_equal(from_frame.counts(q), backend.counts(q))


def test_counting_backend_errors():
    ds = _random_dataset(6, n_rows=40)
    with pytest.raises(ValidationError, match=re.escape("`domain` (None) must be")):
        counting_backend(ds.to_frame())
    with pytest.raises(ValidationError, match="must equal the data's domain"):
        counting_backend(ds, Domain({"other": 2}))
    with pytest.raises(ValidationError, match=re.escape("`data` (list) must be")):
        counting_backend([[0]])  # type: ignore[arg-type]
