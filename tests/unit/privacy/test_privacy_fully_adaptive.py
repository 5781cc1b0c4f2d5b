"""Fully adaptive ledgers: the zCDP filter, refusals, and the record verify replays."""

import math

import pytest

from dpsynth.errors import BudgetExceededError, UnsupportedEventError, ValidationError
from dpsynth.privacy import conversions as conv
from dpsynth.privacy.accountant import PrivacyAccountant
from dpsynth.privacy.events import (
    ExponentialEvent,
    GaussianEvent,
    PureDPEvent,
    SampledGaussianEvent,
)
from dpsynth.privacy.verify import verify_ledger

DELTA = 1e-9
EVENTS = [(GaussianEvent(sigma=20.0), 5), (ExponentialEvent(epsilon=0.05), 4)]


def _zcdp_epsilon(items) -> float:
    rho = math.fsum(
        count * (conv.event_cost(event).rho or math.nan) for event, count in items
    )
    return conv.approx_epsilon(rho, DELTA)


def test_a_declared_ledger_composes_in_zcdp_from_its_first_entry():
    acc = PrivacyAccountant(epsilon=1.0, delta=DELTA)
    acc.spend(*EVENTS[0][:1], count=EVENTS[0][1])
    pld_epsilon = acc.epsilon()
    assert acc.ledger.method == "pld"
    acc.declare_fully_adaptive()
    # the prefix is re-composed in zCDP: the filter covers the whole ledger
    assert acc.adaptive_from == 1 and acc.ledger.method == "zcdp"
    assert acc.epsilon() == pytest.approx(_zcdp_epsilon(EVENTS[:1]), rel=1e-9)
    assert acc.epsilon() > pld_epsilon
    acc.spend(EVENTS[1][0], count=EVENTS[1][1])
    assert acc.epsilon() == pytest.approx(_zcdp_epsilon(EVENTS), rel=1e-9)
    assert acc.composition().routes.keys() == {"zcdp"}
    acc.declare_fully_adaptive()  # a second declaration changes nothing
    assert acc.adaptive_from == 1


def test_planning_after_the_declaration_lands_on_the_budget_in_zcdp():
    acc = PrivacyAccountant(epsilon=1.0, delta=DELTA)
    acc.declare_fully_adaptive()
    whole = conv.rho_for_epsilon(1.0, DELTA)
    assert acc.remaining_rho() == pytest.approx(whole, rel=1e-6)
    assert acc.remaining_rho_estimate() == pytest.approx(whole, rel=1e-9)
    sigma = acc.plan_gaussian_sigma(7)
    acc.spend(GaussianEvent(sigma=sigma), count=7)
    assert 0.995 <= acc.epsilon() <= 1.0


def test_a_prefix_over_the_budget_in_zcdp_is_refused_and_nothing_changes():
    acc = PrivacyAccountant(epsilon=1.0, delta=DELTA)
    sigma = acc.plan_gaussian_sigma(10)  # lands on 1.0 by PLD, above it in zCDP
    acc.spend(GaussianEvent(sigma=sigma), count=10)
    before = acc.to_dict()
    with pytest.raises(BudgetExceededError, match="composed in zCDP"):
        acc.declare_fully_adaptive()
    assert acc.to_dict() == before and acc.adaptive_from is None


def test_events_without_a_zcdp_bound_are_refused_before_and_after():
    sgd = SampledGaussianEvent(noise_multiplier=1.0, sample_rate=0.01, steps=100)
    acc = PrivacyAccountant(epsilon=8.0, delta=1e-5)
    acc.spend(sgd)
    with pytest.raises(UnsupportedEventError, match="sampled_gaussian"):
        acc.declare_fully_adaptive()
    assert acc.adaptive_from is None
    acc = PrivacyAccountant(epsilon=8.0, delta=1e-5)
    acc.declare_fully_adaptive()
    with pytest.raises(UnsupportedEventError, match="zCDP bound"):
        acc.spend(sgd)
    assert len(acc) == 0


def test_a_pure_budget_uses_basic_composition():
    acc = PrivacyAccountant(epsilon=1.0, delta=0.0)
    acc.declare_fully_adaptive()
    acc.spend(PureDPEvent(epsilon=0.25), count=3)
    assert acc.epsilon() == pytest.approx(0.75) and acc.ledger.method == "pure"
    with pytest.raises(BudgetExceededError):
        acc.spend(PureDPEvent(epsilon=0.3))


def test_the_record_round_trips_and_verify_replays_the_declaration():
    acc = PrivacyAccountant(epsilon=2.0, delta=DELTA)
    acc.spend(EVENTS[0][0], count=EVENTS[0][1])
    acc.declare_fully_adaptive()
    acc.spend(EVENTS[1][0], count=EVENTS[1][1])
    data = acc.to_dict()
    assert data["fully_adaptive_from"] == 1
    again = PrivacyAccountant.from_ledger(data)
    assert again.to_dict() == data
    assert verify_ledger(data).ok
    assert "declared fully adaptive here" in verify_ledger(data).summary()
    # dropping the declaration recomposes by PLD: a lower epsilon than recorded
    tampered = dict(data, fully_adaptive_from=None)
    result = verify_ledger(tampered)
    assert not result.ok and result.recomputed_epsilon < result.recorded_epsilon


@pytest.mark.parametrize("value", [-1, 3, 1.0, True, "0"])
def test_a_bad_declaration_index_is_refused(value):
    acc = PrivacyAccountant(epsilon=2.0, delta=DELTA)
    acc.spend(EVENTS[0][0], count=EVENTS[0][1])
    data = dict(acc.to_dict(), fully_adaptive_from=value)
    with pytest.raises(ValidationError, match="`fully_adaptive_from`"):
        PrivacyAccountant.from_ledger(data)
