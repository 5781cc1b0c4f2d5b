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
from dpsynth.synthesizers.aim import AIMSynthesizer, _downward_closure, _water_fill
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


def test_compression_merges_rare_values_and_samples_the_original_domain(tmp_path):
    rng = np.random.default_rng(3)
    n = 6000
    e = rng.integers(0, 3, n)
    e[:6] = np.arange(3, 9)  # six values held by one row each
    frame = pd.DataFrame(
        {"a": rng.integers(0, 3, n), "b": rng.integers(0, 3, n), "e": e}
    )
    domain = Domain({"a": 3, "b": 3, "e": 9})
    syn = AIMSynthesizer(rounds=4, one_way_fraction=0.5, compress_sigmas=3.0)
    syn.fit(frame, schema=domain, epsilon=1.0, delta=1e-9, rng=0)
    # Each 1-way marginal gets rho / 6 of the budget: sigma ~ 16, threshold ~ 48.
    # A rare value's noisy count passes it with probability < 0.015 (the discrete
    # Gaussian is sigma^2-subgaussian), so fewer than two of the six merge with
    # probability < 6 * 0.015**5 < 1e-8; a value held by ~2000 rows never merges.
    sigma = syn.ledger[0].event.sigma
    assert 3 * sigma < 50
    comp = syn.compression_
    assert comp.compressed["e"] < 9 and comp.compressed["a"] == 3
    assert len({int(c) for c in comp.maps["e"][:3]}) == 3
    assert int(comp.maps["e"][:3].max()) < int(comp.maps["e"].max())
    out = syn.sample(3000, rng=1)
    assert set(np.unique(out["e"])) <= set(range(9))
    syn.save(tmp_path / "aim.json")
    again = AIMSynthesizer.load(tmp_path / "aim.json")
    np.testing.assert_array_equal(again.compression_.maps["e"], comp.maps["e"])
    pd.testing.assert_frame_equal(again.sample(500, rng=2), syn.sample(500, rng=2))


def test_a_one_way_marginal_left_too_noisy_is_measured_again_within_the_cap():
    rng = np.random.default_rng(4)
    n = 6000
    frame = pd.DataFrame(
        {
            "a": rng.integers(0, 2, n),
            "b": rng.integers(0, 2, n),
            "w": rng.integers(0, 60, n),
        }
    )
    domain = Domain({"a": 2, "b": 2, "w": 60})
    syn = AIMSynthesizer(rounds=48).fit(
        frame, schema=domain, epsilon=1.0, delta=1e-9, rng=0
    )
    entries = list(syn.ledger)
    again = [e for e in entries if e.event.label.startswith("1-way again")]
    # The start's sigma is ~48 (rho / 48 rounds, alpha = 0.9): normalised L1 noise
    # sqrt(2/pi) sigma n / N is ~0.38 for w (60 values) and ~0.013 for a and b,
    # against a tolerance of 0.05. N's estimate from the noisy totals has sd ~48,
    # so neither side of the tolerance can flip (> 90 sd away).
    assert [e.event.columns for e in again] == [("w",)]
    # w asks for far more than the cap: the 1-way share is exactly half the budget
    whole = conv.rho_for_epsilon(1.0, 1e-9)
    one_way = [e for e in entries[:4] if e.event.kind == "gaussian"]
    assert len(one_way) == 4
    spent = sum(e.count * conv.event_cost(e.event).rho for e in one_way)
    assert spent == pytest.approx(0.5 * whole, rel=1e-6)


def test_water_fill_gives_what_is_asked_when_it_fits_and_shares_by_weight_otherwise():
    assert _water_fill({"a": 1.0, "b": 2.0}, {"a": 1.0, "b": 1.0}, 5.0) == {
        "a": 1.0,
        "b": 2.0,
    }
    got = _water_fill({"a": 10.0, "b": 0.1}, {"a": 1.0, "b": 1.0}, 1.0)
    assert got["b"] == 0.1 and got["a"] == pytest.approx(0.9, rel=1e-9)
    got = _water_fill({"a": 100.0, "b": 100.0}, {"a": 1.0, "b": 8.0}, 9.0)
    assert got == pytest.approx({"a": 1.0, "b": 8.0}, rel=1e-9)
    assert sum(got.values()) <= 9.0
