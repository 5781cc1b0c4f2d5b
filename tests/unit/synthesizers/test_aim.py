"""AIM: rounds, annealing, the model-size cap, workloads, and what it preserves."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from dpsynth.data import Domain
from dpsynth.errors import ValidationError
from dpsynth.pgm import model_size
from dpsynth.privacy import conversions as conv
from dpsynth.privacy.accountant import PrivacyAccountant
from dpsynth.privacy.events import GaussianEvent
from dpsynth.synthesizers.aim import AIMSynthesizer, _downward_closure
from dpsynth.synthesizers.mst import MSTSynthesizer

DOMAIN = Domain({"a": 3, "b": 3, "c": 3, "d": 2})
N = 6000


def _table(seed: int = 0) -> pd.DataFrame:
    """c is the XOR-like sum of a and b: every pair looks independent, the triple
    is deterministic. A tree (MST) cannot hold it; a 3-way marginal can."""
    rng = np.random.default_rng(seed)
    a = rng.integers(0, 3, N)
    b = rng.integers(0, 3, N)
    c = np.where(rng.random(N) < 0.95, (a + b) % 3, rng.integers(0, 3, N))
    d = rng.integers(0, 2, N)
    return pd.DataFrame({"a": a, "b": b, "c": c, "d": d})


def _tvd3(x: pd.DataFrame, y: pd.DataFrame) -> float:
    p = x.value_counts(["a", "b", "c"], normalize=True)
    q = y.value_counts(["a", "b", "c"], normalize=True)
    p, q = p.align(q, fill_value=0.0)
    return 0.5 * float(np.abs(p - q).sum())


@pytest.fixture(scope="module")
def fitted() -> AIMSynthesizer:
    return AIMSynthesizer(rounds=20).fit(
        _table(), schema=DOMAIN, epsilon=3.0, delta=1e-9, rng=0
    )


def test_downward_closure_lists_every_subset_once():
    closure = _downward_closure([("a", "b", "c"), ("b", "c", "d")])
    assert len(closure) == len(set(closure)) == 4 + 5 + 2
    assert ("b", "c") in closure and ("a", "d") not in closure


def test_ledger_alternates_selection_and_measurement_after_the_one_ways(fitted):
    kinds = [e.event.kind for e in fitted.ledger]
    d = len(DOMAIN)
    assert kinds[:d] == ["gaussian"] * d
    rounds = kinds[d:]
    assert rounds == ["exponential", "gaussian"] * fitted.rounds_
    assert 0.995 * 3.0 <= fitted.ledger.epsilon <= 3.0


def test_annealing_makes_the_ledger_fully_adaptive_and_composed_in_zcdp(fitted):
    # later sigmas depend on noisy outputs: only the zCDP filter is valid
    ledger = fitted.ledger
    assert ledger.adaptive_from == 0 and ledger.method == "zcdp"
    rho = sum(e.count * conv.event_cost(e.event).rho for e in ledger)
    assert ledger.epsilon == pytest.approx(conv.approx_epsilon(rho, 1e-9), rel=1e-9)


def test_a_shared_accountant_is_declared_after_what_it_spent_before():
    acc = PrivacyAccountant(epsilon=1.0, delta=1e-9)
    acc.spend(GaussianEvent(sigma=200.0), label="schema discovery", count=2)
    AIMSynthesizer(rounds=4).fit(_table(), schema=DOMAIN, accountant=acc, rng=0)
    assert acc.adaptive_from == 1 and acc.ledger.method == "zcdp"
    assert 0.995 <= acc.epsilon() <= 1.0


def test_annealing_never_raises_the_noise(fitted):
    sigmas = [e.event.sigma for e in fitted.ledger if e.event.kind == "gaussian"]
    d = len(DOMAIN)
    rounds = sigmas[d:]
    # within the rounds sigma only halves (annealing); the last round spends the
    # rest, which can only be more than the previous round's share
    assert all(b <= a * (1 + 1e-12) for a, b in zip(rounds, rounds[1:], strict=False))


def test_aim_learns_the_three_way_relation_a_tree_cannot(fitted):
    data = _table()
    ours = _tvd3(data, fitted.sample(rng=1))
    tree = MSTSynthesizer().fit(data, schema=DOMAIN, epsilon=3.0, delta=1e-9)
    theirs = _tvd3(data, tree.sample(rng=1))
    # the truth puts 95% of the mass on 9 of 27 cells; a pairwise model spreads
    # it over all 27 (TVD about 0.6); sampling error alone is below 0.05 here
    assert any(len(c) == 3 for c in fitted.cliques_)
    assert ours < 0.1 < 0.4 < theirs


def test_the_model_stays_under_its_size_cap():
    cap_mb = 27 * 8 / 2**20  # one 3-way table of 27 cells
    syn = AIMSynthesizer(rounds=10, max_model_mb=cap_mb).fit(
        _table(), schema=DOMAIN, epsilon=3.0, delta=1e-9, rng=0
    )
    assert model_size(DOMAIN, syn.cliques_) * 8 <= cap_mb * 2**20


def test_a_one_way_share_sets_the_start_and_the_rounds_share_the_rest():
    acc = PrivacyAccountant(epsilon=1.0, delta=1e-9, pld="never")  # rho adds up
    whole = acc.remaining_rho()
    AIMSynthesizer(rounds=8, one_way_fraction=0.5).fit(
        _table(), schema=DOMAIN, accountant=acc, rng=0
    )
    d = len(DOMAIN)
    start = [e.event for e in acc.ledger][:d]
    assert all(e.kind == "gaussian" and e.label.startswith("1-way") for e in start)
    # half of the budget, in zCDP rho, on the d one-way marginals
    spent = sum(conv.gaussian_rho(e.sigma) for e in start)
    assert spent == pytest.approx(0.5 * whole, rel=1e-6)
    rounds = [e.event for e in acc.ledger][d:]
    assert rounds and rounds[0].kind == "exponential"
    assert 0.995 <= acc.epsilon() <= 1.0


def test_a_custom_workload_limits_the_candidates():
    syn = AIMSynthesizer(rounds=6, workload=[("a", "b")]).fit(
        _table(), schema=DOMAIN, epsilon=1.0, delta=1e-9, rng=0
    )
    assert all(set(c) <= {"a", "b"} or len(c) == 1 for c in syn.cliques_)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"workload": [("a", "zz")]}, "`workload` entry"),
        ({"workload": []}, "`workload` ([]) must name at least one marginal"),
        ({"degree": 0}, "`degree` (0) must be an integer >= 1"),
        ({"rounds": 0}, "`rounds` (0) must be an integer >= 1 or None"),
        ({"measure_fraction": 1.0}, "`measure_fraction` (1.0) must be in (0, 1)"),
        ({"max_model_mb": 0}, "`max_model_mb` (0) must be a positive, finite number"),
    ],
)
def test_bad_hyperparameters_are_refused_before_any_spend(params, message):
    acc = PrivacyAccountant(epsilon=1.0, delta=1e-9)
    with pytest.raises(ValidationError) as info:
        AIMSynthesizer(**params).fit(_table(), schema=DOMAIN, accountant=acc)
    assert message in str(info.value)
    assert len(acc.ledger) == 0 and acc.adaptive_from is None
