import json
import math
import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dpsynth.errors import BudgetExceededError, UnsupportedEventError, ValidationError
from dpsynth.privacy import conversions as conv
from dpsynth.privacy.accountant import PrivacyAccountant
from dpsynth.privacy.events import (
    ApproxDPEvent,
    DpEvent,
    ExponentialEvent,
    GaussianEvent,
    LaplaceEvent,
    PureDPEvent,
    ZCDPEvent,
)


def test_declares_add_remove_neighbours():
    assert PrivacyAccountant.neighbouring == "add_remove"
    acc = PrivacyAccountant(epsilon=1.0, delta=1e-9)
    assert acc.to_dict()["neighbouring"] == "add_remove"


def test_zcdp_ledger_uses_cks_conversion():
    acc = PrivacyAccountant(epsilon=10.0, delta=1e-9)
    acc.spend(GaussianEvent(sigma=10.0), count=4)
    acc.spend(GaussianEvent(sigma=3.0, l2_sensitivity=2.0))
    rho = 4 * conv.gaussian_rho(10.0) + conv.gaussian_rho(3.0, 2.0)
    comp = acc.composition()
    assert comp.routes["zcdp"] == conv.approx_epsilon(rho, 1e-9)
    assert acc.epsilon() == min(comp.routes.values()) == comp.routes["zcdp"]
    assert comp.method == "zcdp"
    assert "pld" not in comp.routes  # the L2-sensitivity-2 Gaussian has no PLD
    # exponential events: their RDP curve (min of pure and bounded range) can
    # beat the zCDP route; the accountant reports the minimum either way
    acc.spend(ExponentialEvent(epsilon=0.5))
    comp = acc.composition()
    assert acc.epsilon() == min(comp.routes.values())
    assert comp.routes["zcdp"] == conv.approx_epsilon(
        rho + conv.exponential_rho(0.5), 1e-9
    )


def test_pure_ledger_uses_basic_composition_exactly():
    acc = PrivacyAccountant(epsilon=1.0, delta=0.0)
    acc.spend(LaplaceEvent(scale=2.0))
    acc.spend(PureDPEvent(epsilon=0.25), count=2)
    assert acc.epsilon() == 1.0 and acc.ledger.method == "pure"
    with pytest.raises(BudgetExceededError):
        acc.spend(PureDPEvent(epsilon=1e-9))


def test_many_small_pure_events_are_tighter_than_basic_composition():
    acc = PrivacyAccountant.unlimited(delta=1e-9, pld="never")
    acc.spend(LaplaceEvent(scale=10.0), count=200)  # basic composition: 20
    assert acc.epsilon() < 12 and acc.ledger.method == "rdp"
    always = PrivacyAccountant.unlimited(delta=1e-9, pld="always")
    always.spend(LaplaceEvent(scale=10.0), count=200)
    assert always.epsilon() < acc.epsilon() and always.ledger.method == "pld"


def test_approx_dp_deltas_are_subtracted():
    acc = PrivacyAccountant(epsilon=5.0, delta=1e-9)
    acc.spend(GaussianEvent(sigma=20.0), count=3)
    plain = acc.epsilon()
    acc.spend(ApproxDPEvent(epsilon=1e-6, delta=4e-10))
    # converting at 6e-10 instead of 1e-9 costs more than the tiny epsilon added
    assert acc.epsilon() > plain + 1e-6
    rho = 3 * conv.gaussian_rho(20.0) + conv.pure_rho(1e-6)
    assert acc.composition().routes["zcdp"] == conv.approx_epsilon(rho, 6e-10)
    with pytest.raises(BudgetExceededError):
        acc.spend(ApproxDPEvent(epsilon=0.01, delta=7e-10))  # delta exhausted


def test_delta_exhausted_gives_infinite_epsilon():
    acc = PrivacyAccountant.unlimited(delta=1e-9)
    acc.spend(ApproxDPEvent(epsilon=0.1, delta=1e-9))
    acc.spend(GaussianEvent(sigma=3.0))
    assert acc.epsilon() == math.inf
    assert acc.epsilon(1e-6) < math.inf


def test_spend_validation():
    acc = PrivacyAccountant(epsilon=1.0, delta=1e-9)
    with pytest.raises(ValidationError, match=re.escape("`count` (0) must be")):
        acc.spend(ZCDPEvent(rho=0.01), count=0)
    with pytest.raises(ValidationError, match=re.escape("`count` (True) must be")):
        acc.spend(ZCDPEvent(rho=0.01), count=True)
    with pytest.raises(ValidationError, match=re.escape("`event` ('x') must be")):
        acc.spend("x")  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match=re.escape("`label` (3) must be")):
        acc.spend(ZCDPEvent(rho=0.01), label=3)  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match=re.escape("`pld` ('x') must be one")):
        PrivacyAccountant(epsilon=1.0, delta=1e-9, pld="x")  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match=re.escape("`delta` (1.0) must be in")):
        acc.epsilon(1.0)
    assert len(acc) == 0


class MysteryEvent(DpEvent):
    kind = "mystery_test_only"


def test_unknown_event_kind_is_unsupported():
    acc = PrivacyAccountant(epsilon=1.0, delta=1e-9)
    assert not acc.supports(MysteryEvent())
    assert acc.supports(GaussianEvent(sigma=1.0))
    with pytest.raises(UnsupportedEventError, match="mystery_test_only"):
        acc.spend(MysteryEvent())


def test_label_replaces_event_label_and_grouping_ignores_it():
    acc = PrivacyAccountant(epsilon=5.0, delta=1e-9)
    entry = acc.spend(GaussianEvent(sigma=4.0, label="a", columns=("x",)), label="b")
    assert entry.event.label == "b" and entry.event.columns == ("x",)
    acc.spend(GaussianEvent(sigma=4.0, label="other"))
    twice = PrivacyAccountant(epsilon=5.0, delta=1e-9)
    twice.spend(GaussianEvent(sigma=4.0), count=2)
    assert acc.epsilon() == twice.epsilon()


def test_refusal_message_and_attributes():
    acc = PrivacyAccountant(epsilon=1.0, delta=1e-9)
    with pytest.raises(BudgetExceededError, match="over the budget epsilon = 1") as e:
        acc.spend(GaussianEvent(sigma=0.5), label="too much")
    assert e.value.requested > 1.0 and e.value.budget == 1.0 and e.value.delta == 1e-9
    assert acc.epsilon() == 0.0


def test_spend_many_is_all_or_nothing():
    acc = PrivacyAccountant(epsilon=1.0, delta=1e-9)
    with pytest.raises(BudgetExceededError):
        acc.spend_many([ZCDPEvent(rho=0.005), (GaussianEvent(sigma=1.0), 5)])
    assert len(acc) == 0
    entries = acc.spend_many([ZCDPEvent(rho=0.005), (GaussianEvent(sigma=50.0), 2)])
    assert [e.count for e in entries] == [1, 2]
    single = PrivacyAccountant(epsilon=1.0, delta=1e-9)
    single.spend(ZCDPEvent(rho=0.005))
    assert entries[0].epsilon_after == single.epsilon()
    single.spend(GaussianEvent(sigma=50.0), count=2)
    assert acc.epsilon() == single.epsilon()


# ------------------------------------------------------------------ planning
@pytest.mark.parametrize(("epsilon", "delta"), [(1.0, 1e-9), (0.1, 1e-6), (8.0, 1e-5)])
@pytest.mark.parametrize("count", [1, 37, 500])
def test_plan_gaussian_sigma_lands_on_target(epsilon, delta, count):
    acc = PrivacyAccountant(epsilon=epsilon, delta=delta)
    sigma = acc.plan_gaussian_sigma(count)
    acc.spend(GaussianEvent(sigma=sigma), count=count)
    assert acc.epsilon() <= epsilon
    assert acc.epsilon() >= epsilon * (1 - 1e-6)


def test_plan_after_other_spends_and_with_fractions():
    acc = PrivacyAccountant(epsilon=2.0, delta=1e-9)
    acc.spend(ExponentialEvent(epsilon=0.2), count=7)
    acc.spend(LaplaceEvent(scale=50.0))
    eps = acc.plan_exponential_epsilon(10, fraction=0.25)
    acc.spend(ExponentialEvent(epsilon=eps), count=10)
    half = acc.remaining_rho() / 2
    sigma = acc.plan_gaussian_sigma(20, l2_sensitivity=2.0, fraction=0.5)
    assert conv.gaussian_rho(sigma, 2.0) * 20 == pytest.approx(half, rel=1e-8)
    acc.spend(GaussianEvent(sigma=sigma, l2_sensitivity=2.0), count=20)
    sigma = acc.plan_gaussian_sigma(3)
    acc.spend(GaussianEvent(sigma=sigma), count=3)
    assert 2.0 * (1 - 1e-6) <= acc.epsilon() <= 2.0


def test_plan_exponential_never_overshoots():
    acc = PrivacyAccountant(epsilon=0.5, delta=1e-9)
    eps = acc.plan_exponential_epsilon(14)
    acc.spend(ExponentialEvent(epsilon=eps), count=14)
    assert 0.5 * (1 - 1e-6) <= acc.epsilon() <= 0.5


def test_remaining_rho_is_the_largest_fitting_rho():
    def probe(rho):
        return GaussianEvent(sigma=conv.gaussian_sigma(rho))

    acc = PrivacyAccountant(epsilon=1.0, delta=1e-9)
    acc.spend(GaussianEvent(sigma=30.0), count=5)
    r = acc.remaining_rho()
    assert acc.can_spend(probe(r))
    assert not acc.can_spend(probe(r * (1 + 1e-6)))
    # the PLD route fits about 10% more rho than the zCDP conversion
    zcdp = PrivacyAccountant(epsilon=1.0, delta=1e-9, pld="never")
    zcdp.spend(GaussianEvent(sigma=30.0), count=5)
    r0 = zcdp.remaining_rho()
    assert zcdp.can_spend(ZCDPEvent(rho=r0))
    assert not zcdp.can_spend(ZCDPEvent(rho=r0 * (1 + 1e-8)))
    assert r0 == pytest.approx(zcdp.remaining_rho_estimate(), rel=1e-9)
    assert 1.05 * r0 < r < 1.15 * r0
    assert PrivacyAccountant.unlimited().remaining_rho() == math.inf


def test_planning_errors():
    acc = PrivacyAccountant(epsilon=1.0, delta=1e-9)
    acc.spend(ApproxDPEvent(epsilon=0.5, delta=1e-9))  # no delta left for zCDP
    assert acc.remaining_rho() == 0.0
    with pytest.raises(BudgetExceededError, match="no budget remains"):
        acc.plan_gaussian_sigma(3)
    with pytest.raises(ValidationError, match=re.escape("`fraction` (0) must be")):
        PrivacyAccountant(epsilon=1.0, delta=1e-9).plan_gaussian_sigma(3, fraction=0)
    with pytest.raises(ValidationError, match="must be finite to plan"):
        PrivacyAccountant.unlimited().plan_exponential_epsilon(3)


def test_plan_noise_multiplier_for_dp_sgd():
    acc = PrivacyAccountant(epsilon=2.0, delta=1e-5)
    acc.spend(GaussianEvent(sigma=20.0))
    nm = acc.plan_noise_multiplier(sample_rate=1.0, steps=10, rtol=0.01)
    assert acc.can_spend(_sgd(nm, 1.0, 10))
    assert not acc.can_spend(_sgd(nm * 0.985, 1.0, 10))


def _sgd(nm, q, steps):
    from dpsynth.privacy.events import SampledGaussianEvent

    return SampledGaussianEvent(noise_multiplier=nm, sample_rate=q, steps=steps)


# ------------------------------------------------------------- JSON ledger
def test_ledger_json_round_trip():
    acc = PrivacyAccountant(epsilon=3.0, delta=1e-9)
    acc.spend(GaussianEvent(sigma=12.0, columns=("age",)), label="1-way age", count=2)
    acc.spend(ExponentialEvent(epsilon=0.1), label="select")
    acc.spend(ApproxDPEvent(epsilon=0.1, delta=1e-12), label="keys")
    data = json.loads(acc.to_json())
    assert set(data) == {
        "format",
        "version",
        "neighbouring",
        "budget",
        "pld",
        "fully_adaptive_from",
        "entries",
        "epsilon",
        "method",
    }
    assert data["fully_adaptive_from"] is None
    assert data["format"] == "dpsynth-ledger" and data["version"] == 1
    assert data["budget"] == {"epsilon": 3.0, "delta": 1e-9}
    assert [e["index"] for e in data["entries"]] == [0, 1, 2]
    assert data["entries"][0]["event"]["columns"] == ["age"]
    assert data["entries"][-1]["epsilon_after"] == data["epsilon"] == acc.epsilon()
    again = PrivacyAccountant.from_ledger(data)
    assert again.to_dict() == acc.to_dict()
    assert [e.event for e in again.ledger] == [e.event for e in acc.ledger]
    assert PrivacyAccountant.from_ledger({"ledger": data}).epsilon() == acc.epsilon()


def test_unlimited_ledger_is_strict_json():
    acc = PrivacyAccountant.unlimited(delta=1e-9)
    acc.spend(ApproxDPEvent(epsilon=0.1, delta=1e-9))
    acc.spend(GaussianEvent(sigma=2.0))
    text = acc.to_json()
    assert "Infinity" not in text
    data = json.loads(text)
    assert data["budget"]["epsilon"] is None and data["epsilon"] is None
    assert PrivacyAccountant.from_ledger(data).epsilon() == math.inf


def test_from_ledger_refuses_a_ledger_over_its_budget():
    acc = PrivacyAccountant(epsilon=1.0, delta=1e-9)
    acc.spend(GaussianEvent(sigma=10.0))
    data = acc.to_dict()
    data["entries"][0]["event"]["sigma"] = 0.1
    with pytest.raises(BudgetExceededError):
        PrivacyAccountant.from_ledger(data)
    with pytest.raises(ValidationError, match="format 'dpsynth-ledger'"):
        PrivacyAccountant.from_ledger({"entries": []})


# ------------------------------------------------------------ properties
EVENT = st.one_of(
    st.builds(
        GaussianEvent,
        sigma=st.floats(0.3, 300.0),
        l2_sensitivity=st.sampled_from([1.0, 1.0, 2.0]),
    ),
    st.builds(LaplaceEvent, scale=st.floats(0.2, 100.0)),
    st.builds(ExponentialEvent, epsilon=st.floats(1e-3, 3.0)),
    st.builds(ZCDPEvent, rho=st.floats(1e-6, 2.0)),
    st.builds(PureDPEvent, epsilon=st.floats(1e-3, 3.0)),
    st.builds(
        ApproxDPEvent,
        epsilon=st.floats(1e-3, 2.0),
        delta=st.sampled_from([1e-12, 1e-11, 3e-10]),
    ),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    epsilon=st.floats(0.05, 10.0),
    delta=st.sampled_from([0.0, 1e-9, 1e-6]),
    spends=st.lists(st.tuples(EVENT, st.integers(1, 50)), min_size=1, max_size=12),
)
def test_no_sequence_of_spends_ends_above_the_budget(epsilon, delta, spends):
    acc = PrivacyAccountant(epsilon=epsilon, delta=delta)
    previous = 0.0
    for event, count in spends:
        before = acc.to_dict()
        try:
            entry = acc.spend(event, count=count)
        except BudgetExceededError as exc:
            assert exc.requested > epsilon
            assert acc.to_dict() == before
            continue
        assert previous <= entry.epsilon_after <= epsilon
        previous = entry.epsilon_after
    assert acc.epsilon() <= epsilon
    assert acc.ledger.epsilon <= epsilon
    # re-composing the final ledger from scratch agrees with the running value
    assert PrivacyAccountant.from_ledger(acc.to_dict()).epsilon() == acc.epsilon()
