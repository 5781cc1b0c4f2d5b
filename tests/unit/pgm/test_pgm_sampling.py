"""Sampling: rounding that keeps the counts, shuffled rows, domain, determinism."""

import math
import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pgm_oracle import random_factors

from dpsynth.data.dataset import code_dtype
from dpsynth.data.domain import Domain
from dpsynth.errors import ValidationError
from dpsynth.pgm import GraphicalModel
from dpsynth.pgm.sampling import assign_values, systematic_allocation

DOMAIN = Domain({"a": 3, "b": 4, "c": 2, "d": 5})


def _model(seed, cliques=(("a", "b"), ("b", "c"), ("b", "d")), total=1.0):
    rng = np.random.default_rng(seed)
    return GraphicalModel(
        DOMAIN, random_factors(rng, DOMAIN, list(cliques), scale=1.0), total=total
    )


def _counts(codes, domain, columns):
    idx = [domain.attributes.index(c) for c in columns]
    shape = domain.project(columns).shape
    flat = np.ravel_multi_index(tuple(codes[:, i].astype(np.int64) for i in idx), shape)
    return np.bincount(flat, minlength=math.prod(shape)).reshape(shape)


@settings(max_examples=60, deadline=None)
@given(
    sizes=st.lists(st.integers(0, 50), min_size=1, max_size=6),
    width=st.integers(1, 6),
    seed=st.integers(0, 2**32 - 1),
)
def test_systematic_allocation_rounds_every_run_of_cells(sizes, width, seed):
    rng = np.random.default_rng(seed)
    weights = rng.random((len(sizes), width)) * (rng.random((len(sizes), width)) > 0.3)
    sizes = np.array(sizes)
    alloc = systematic_allocation(sizes, weights, rng=rng)
    np.testing.assert_array_equal(alloc.sum(axis=1), sizes)
    assert (alloc >= 0).all()
    totals = weights.sum(axis=1, keepdims=True)
    share = np.where(totals > 0, weights / np.where(totals > 0, totals, 1), 1 / width)
    share = share * sizes[:, None]
    # Every cell, and every run of consecutive cells, gets floor or ceil of its
    # share: the cumulative counts are within 1 of the cumulative shares.
    gap = np.abs(np.cumsum(alloc, axis=1) - np.cumsum(share, axis=1))
    assert (gap < 1 + 1e-9).all()
    assert (np.abs(alloc - share) < 1 + 1e-9).all()


def test_systematic_allocation_is_unbiased():
    # One item, shares (0.2, 0.3, 0.5): each draw is a multinomial draw. Over
    # 20,000 draws each frequency is within 6 standard deviations (failure
    # probability below 1e-8).
    rng = np.random.default_rng(0)
    draws = systematic_allocation(
        np.ones(20_000, dtype=np.int64), np.tile([0.2, 0.3, 0.5], (20_000, 1)), rng=rng
    )
    freq = draws.sum(axis=0) / 20_000
    sd = np.sqrt(np.array([0.2 * 0.8, 0.3 * 0.7, 0.5 * 0.5]) / 20_000)
    assert (np.abs(freq - [0.2, 0.3, 0.5]) < 6 * sd).all()


def test_root_clique_counts_are_within_one_of_their_share():
    model = _model(1)
    n = 10_007
    data = model.sample(n, rng=1)
    root = model.cliques[0]
    expected = n * model.project(root) / model.total
    assert (np.abs(_counts(data.codes, DOMAIN, root) - expected) < 1 + 1e-9).all()


def test_child_cliques_are_within_one_of_their_groups_share():
    # Rows with the same separator values are split by systematic rounding,
    # so count(s, v) is within 1 of count(s) * p(v | s).
    model = _model(2)
    data = model.sample(5_003, rng=2)
    tree = model._tree
    for k in range(1, len(tree.cliques)):
        clique, sep = tree.cliques[k], tree.separators[k]
        counts = _counts(data.codes, DOMAIN, clique)
        table = model.project(clique)
        axes = tuple(i for i, a in enumerate(clique) if a not in sep)
        group = counts.sum(axis=axes, keepdims=True)
        cond = table / table.sum(axis=axes, keepdims=True)
        assert (np.abs(counts - group * cond) < 1 + 1e-9).all()


def test_big_sample_matches_every_pairwise_marginal():
    # Pairs inside a clique: the root's cells are within 1 of n p, so a
    # separator value's count is within |root| / |sep| of its share, and a
    # child cell within that plus 1. Other pairs are conditionally independent
    # draws: within 6 multinomial standard deviations plus that slack
    # (failure probability below 1e-8 per cell).
    model = _model(3)
    n = 200_000
    data = model.sample(n, rng=3)
    slack = DOMAIN.size(model.cliques[0]) + 1
    for cols in [("a", "b"), ("b", "c"), ("b", "d"), ("a", "c"), ("c", "d"), ("a",)]:
        p = model.project(cols) / model.total
        counts = _counts(data.codes, DOMAIN, cols)
        bound = 6 * np.sqrt(n * p * (1 - p)) + slack
        assert (np.abs(counts - n * p) <= bound).all(), cols


def test_rows_are_shuffled():
    # Strongly dependent columns; generation groups rows by value, so without
    # the final shuffle the row number would correlate with every column.
    # Under a random order each correlation is ~ N(0, 1/n): 5 standard
    # deviations fail with probability 6e-7.
    model = _model(4, cliques=(("a", "b"), ("b", "c"), ("c", "d")))
    n = 20_000
    data = model.sample(n, rng=4)
    order = np.arange(n)
    for j in range(len(DOMAIN)):
        column = data.codes[:, j].astype(float)
        corr = np.corrcoef(order, column)[0, 1]
        assert abs(corr) < 5 / math.sqrt(n), DOMAIN.attributes[j]


def test_siblings_are_independent_given_their_separator():
    # b is the separator of (b, c) and (b, d): given b, c and d must not be
    # correlated (within a group, rows get their values in random order).
    model = _model(5)
    n = 40_000
    data = model.sample(n, rng=5)
    b, c, d = (data.codes[:, DOMAIN.attributes.index(x)] for x in "bcd")
    for value in range(DOMAIN["b"]):
        rows = b == value
        corr = np.corrcoef(c[rows], d[rows])[0, 1]
        assert abs(corr) < 5 / math.sqrt(rows.sum())


def test_samples_lie_in_the_domain_with_the_narrow_dtype():
    model = _model(6)
    data = model.sample(1000, rng=6)
    assert data.domain == DOMAIN
    assert data.codes.shape == (1000, len(DOMAIN))
    assert data.codes.dtype == code_dtype(DOMAIN)
    assert not data.codes.flags.writeable
    assert (data.codes.max(axis=0) < np.array(DOMAIN.shape)).all()


def test_sampling_is_deterministic_given_a_seed():
    model = _model(7)
    one, two = model.sample(500, rng=42), model.sample(500, rng=42)
    np.testing.assert_array_equal(one.codes, two.codes)
    other = model.sample(500, rng=43)
    assert not np.array_equal(one.codes, other.codes)
    gen = np.random.default_rng(42)
    np.testing.assert_array_equal(model.sample(500, rng=gen).codes, one.codes)


def test_zero_rows_and_unmeasured_columns():
    model = GraphicalModel(DOMAIN, [], total=10.0)
    assert model.sample(0, rng=0).codes.shape == (0, len(DOMAIN))
    data = model.sample(24, rng=0)
    # Uniform columns: each value of "a" (3 codes) gets exactly 8 rows.
    np.testing.assert_array_equal(_counts(data.codes, DOMAIN, ("a",)), [8, 8, 8])


@pytest.mark.parametrize("n", [-1, 2.5, True, "10"])
def test_bad_n_is_rejected(n):
    message = f"`n` ({n!r}) must be an integer >= 0"
    with pytest.raises(ValidationError, match=re.escape(message)):
        _model(8).sample(n, rng=0)


def test_balanced_rows_keep_conditionally_independent_triples():
    # Inside a separator group the rows are ordered by the columns generated
    # before, and the new values are spread evenly along that order: a run of
    # k rows gets k times each value's share within 1 + V (V values; see
    # _interleave). With the root's and the groups' rounding (within 1 each),
    # every (x, b, y) cell is within V + 3 of its expected count; random order
    # would leave multinomial noise of ~90 rows here.
    model = _model(3)
    n = 200_000
    data = model.sample(n, rng=3)
    loose = model.sample(n, rng=3, balanced=False)
    bound = max(DOMAIN[x] for x in "acd") + 3
    worst_loose = 0.0
    for cols in [("a", "b", "c"), ("a", "b", "d"), ("c", "b", "d")]:
        p = model.project(cols) / model.total
        assert np.abs(_counts(data.codes, DOMAIN, cols) - n * p).max() <= bound, cols
        dev = np.abs(_counts(loose.codes, DOMAIN, cols) - n * p).max()
        worst_loose = max(worst_loose, dev)
    assert worst_loose > 4 * bound  # the test tells the two apart


def test_balanced_counts_are_unbiased():
    # Each (a, c) count is a sum over b's 4 values of (a, b, c) cells, each
    # within V + 3 = 5 of its expectation (test above): a deviation bounded by
    # B = 20. By Hoeffding the mean of 400 independent samples' deviations is
    # within B sqrt(ln(2e6) / 800) = 2.7 of its expectation, 0 if the sampler is
    # unbiased, with probability 1 - 1e-6 per cell.
    model = _model(6)
    n = 600
    p = model.project(("a", "c")) / model.total
    devs = np.array(
        [
            _counts(model.sample(n, rng=seed).codes, DOMAIN, ("a", "c")) - n * p
            for seed in range(400)
        ]
    )
    assert np.abs(devs).max() <= 20
    assert np.abs(devs.mean(axis=0)).max() <= 20 * math.sqrt(math.log(2e6) / 800)


def test_assign_values_keeps_each_groups_shares():
    rng = np.random.default_rng(0)
    table = np.array([[0.2, 0.0, 0.8], [0.0, 1.0, 0.0], [0.5, 0.25, 0.25]])
    key = rng.integers(0, 3, 6000)
    earlier = [rng.integers(0, 4, 6000)]
    for before in ([], earlier):
        x = assign_values(key, table, before, rng=1)
        for g in range(3):
            m = np.sum(key == g)
            got = np.bincount(x[key == g], minlength=3)
            # systematic rounding: every count within one of its share
            assert (np.abs(got - m * table[g]) < 1).all()
            assert np.all(got[table[g] == 0] == 0)  # impossible values never given
    # balanced: inside each group, every value of the earlier column gets its
    # share of each new value within 1 + 3 (see test above)
    x = assign_values(key, table, earlier, rng=2)
    for g in range(3):
        for v in range(4):
            rows = (key == g) & (earlier[0] == v)
            got = np.bincount(x[rows], minlength=3)
            assert (np.abs(got - rows.sum() * table[g]) <= 4).all()
