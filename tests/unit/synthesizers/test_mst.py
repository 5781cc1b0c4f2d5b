"""MST: the ledger it spends, the tree it selects, and what it preserves."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pandas as pd
import pytest

from dpsynth.data import Domain
from dpsynth.errors import ValidationError
from dpsynth.synthesizers import IndependentSynthesizer
from dpsynth.synthesizers.mst import MSTSynthesizer

DOMAIN = Domain({"a": 4, "b": 4, "c": 3, "d": 2, "e": 6})
N = 5000


def _table(seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    a = rng.integers(0, 4, N)
    b = np.where(rng.random(N) < 0.9, a, rng.integers(0, 4, N))  # b follows a
    c = (b % 3 + (rng.random(N) < 0.1)) % 3  # c follows b
    d = rng.integers(0, 2, N)
    e = rng.integers(0, 6, N)
    return pd.DataFrame({"a": a, "b": b, "c": c, "d": d, "e": e})


def _tvd(x: pd.DataFrame, y: pd.DataFrame, cols: list[str]) -> float:
    p = x.value_counts(cols, normalize=True)
    q = y.value_counts(cols, normalize=True)
    p, q = p.align(q, fill_value=0.0)
    return 0.5 * float(np.abs(p - q).sum())


@pytest.fixture(scope="module")
def fitted() -> MSTSynthesizer:
    return MSTSynthesizer().fit(_table(), schema=DOMAIN, epsilon=5.0, delta=1e-9, rng=0)


def test_the_ledger_has_the_three_steps_in_order(fitted):
    kinds = [(e.event.kind, e.count) for e in fitted.ledger]
    d = len(DOMAIN)
    assert kinds[:d] == [("gaussian", 1)] * d
    selections = [k for k in kinds[d:] if k[0] == "exponential"]
    measures = [k for k in kinds[d:] if k[0] == "gaussian"]
    assert len(selections) == len(measures) == d - 1 == len(fitted.edges_)
    assert kinds[d : 2 * d - 1] == [("exponential", 1)] * (d - 1)
    assert 0.995 * 5.0 <= fitted.ledger.epsilon <= 5.0


def test_the_selected_edges_form_a_spanning_tree_with_the_strong_pairs(fitted):
    tree = nx.Graph(fitted.edges_)
    assert nx.is_tree(tree) and set(tree.nodes) == set(DOMAIN)
    # a-b and b-c move thousands of counts away from independence; other pairs
    # are independent: the exponential mechanism at this budget picks them.
    assert tree.has_edge("a", "b") and tree.has_edge("b", "c")


def test_mst_keeps_the_dependencies_the_independent_baseline_loses(fitted):
    data = _table()
    ours = fitted.sample(rng=1)
    baseline = (
        IndependentSynthesizer()
        .fit(data, schema=DOMAIN, epsilon=5.0, delta=1e-9)
        .sample(rng=1)
    )
    for pair in (["a", "b"], ["b", "c"]):
        # sampling error alone: sqrt(cells / n) / 2 < 0.03 for 16 cells, 5000 rows
        assert _tvd(data, ours, pair) < 0.05
        assert _tvd(data, baseline, pair) > 0.3


def test_small_noisy_counts_are_compressed_at_a_small_budget():
    rng = np.random.default_rng(3)
    data = _table()
    # value 5 of e is rare: 5 rows
    data.loc[:, "e"] = np.where(rng.random(N) < 0.999, data["e"] % 5, 5)
    syn = MSTSynthesizer(compress_sigmas=3.0).fit(
        data, schema=DOMAIN, epsilon=0.3, delta=1e-9, rng=0
    )
    assert syn.compression_.compressed["e"] <= DOMAIN["e"]
    never = MSTSynthesizer(compress_sigmas=0.0).fit(
        data, schema=DOMAIN, epsilon=0.3, delta=1e-9, rng=0
    )
    assert never.compression_.compressed == DOMAIN


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"one_way_fraction": 0.0}, "`one_way_fraction` (0.0) must be in (0, 1)"),
        ({"select_fraction": 1.0}, "`select_fraction` (1.0) must be in (0, 1)"),
        (
            {"one_way_fraction": 0.6, "select_fraction": 0.4},
            "must be below 1",
        ),
        ({"compress_sigmas": -1}, "`compress_sigmas` (-1) must be >= 0"),
        ({"iters": 0}, "`iters` (0) must be an integer >= 1"),
    ],
)
def test_bad_hyperparameters_are_refused_before_any_spend(params, message):
    from dpsynth.privacy.accountant import PrivacyAccountant

    acc = PrivacyAccountant(epsilon=1.0, delta=1e-9)
    with pytest.raises(ValidationError) as info:
        MSTSynthesizer(**params).fit(_table(), schema=DOMAIN, accountant=acc)
    assert message in str(info.value)
    assert len(acc.ledger) == 0


def test_a_single_column_table_needs_no_tree():
    dom = Domain({"a": 4})
    data = pd.DataFrame({"a": np.arange(400) % 4})
    syn = MSTSynthesizer().fit(data, schema=dom, epsilon=1.0, delta=1e-9, rng=0)
    assert syn.edges_ == [] and len(syn.ledger) == 1
    assert 0.995 <= syn.ledger.epsilon <= 1.0
    assert syn.sample(50, rng=0)["a"].between(0, 3).all()
