"""Contract every privacy accountant configuration must honour, for every event kind.

(The style guide's dp_accounting-derived contract: compose(e, count=k) equals k
compositions exactly; an empty ledger is 0; epsilon only grows; a refused spend
changes nothing; more noise means less epsilon.)
"""

import math

import pytest

from dpsynth.errors import BudgetExceededError
from dpsynth.privacy.accountant import PrivacyAccountant
from dpsynth.privacy.events import (
    ApproxDPEvent,
    ExponentialEvent,
    GaussianEvent,
    LaplaceEvent,
    PureDPEvent,
    SampledGaussianEvent,
    ZCDPEvent,
)

EVENTS = {
    "gaussian": GaussianEvent(sigma=5.0),
    "gaussian_l2": GaussianEvent(sigma=5.0, l2_sensitivity=2.0),
    "laplace": LaplaceEvent(scale=3.0),
    "laplace_l1": LaplaceEvent(scale=3.0, l1_sensitivity=2.0),
    "exponential": ExponentialEvent(epsilon=0.3),
    "zcdp": ZCDPEvent(rho=0.02),
    "pure_dp": PureDPEvent(epsilon=0.2),
    "approx_dp": ApproxDPEvent(epsilon=0.2, delta=1e-11),
    "sampled_gaussian": SampledGaussianEvent(
        noise_multiplier=1.2, sample_rate=0.05, steps=20
    ),
}
POLICIES = ["auto", "always", "never"]
# A prior ledger so that composition with other groups is exercised too.
PRIOR = [(GaussianEvent(sigma=8.0), 2), (ExponentialEvent(epsilon=0.1), 1)]


def make(policy: str, *, prior: bool) -> PrivacyAccountant:
    acc = PrivacyAccountant.unlimited(delta=1e-8, pld=policy)
    for event, count in PRIOR if prior else []:
        acc.spend(event, count=count)
    return acc


@pytest.mark.parametrize("policy", POLICIES)
@pytest.mark.parametrize("prior", [False, True])
@pytest.mark.parametrize("kind", list(EVENTS))
def test_count_k_equals_k_compositions_exactly(kind, prior, policy):
    event, k = EVENTS[kind], 3
    at_once = make(policy, prior=prior)
    at_once.spend(event, count=k)
    one_by_one = make(policy, prior=prior)
    for i in range(k):
        one_by_one.spend(event, label=f"call {i}")  # labels do not matter
    assert at_once.epsilon() == one_by_one.epsilon()
    assert at_once.composition() == one_by_one.composition()
    assert at_once.epsilon(1e-6) == one_by_one.epsilon(1e-6)
    assert at_once.epsilon() > 0


@pytest.mark.parametrize("policy", POLICIES)
def test_empty_ledger_is_zero(policy):
    acc = PrivacyAccountant(epsilon=1.0, delta=1e-9, pld=policy)
    assert acc.epsilon() == 0.0
    assert acc.epsilon(1e-3) == 0.0
    assert len(acc.ledger) == 0 and acc.ledger.epsilon == 0.0


@pytest.mark.parametrize("policy", POLICIES)
def test_epsilon_grows_with_every_spend(policy):
    acc = PrivacyAccountant.unlimited(delta=1e-8, pld=policy)
    previous = 0.0
    for kind in EVENTS:
        for _ in range(2):
            entry = acc.spend(EVENTS[kind])
            assert entry.epsilon_after >= previous, kind
            assert acc.epsilon() == entry.epsilon_after
            previous = entry.epsilon_after
    # every entry of the ledger is non-decreasing
    values = [e.epsilon_after for e in acc.ledger]
    assert values == sorted(values)


def test_dp_sgd_joining_a_ledger_never_lowers_epsilon():
    # Under "auto" the PLD route switches on when DP-SGD joins; on Gaussians it is
    # tighter than zCDP, so without the floor epsilon could drop here.
    acc = PrivacyAccountant.unlimited(delta=1e-9)
    acc.spend(GaussianEvent(sigma=10.0), count=40)
    before = acc.epsilon()
    tiny = SampledGaussianEvent(noise_multiplier=50.0, sample_rate=0.001, steps=1)
    assert acc.spend(tiny).epsilon_after >= before


@pytest.mark.parametrize("policy", POLICIES)
@pytest.mark.parametrize("kind", list(EVENTS))
def test_refused_spend_leaves_ledger_unchanged(kind, policy):
    acc = PrivacyAccountant(epsilon=0.5, delta=1e-8, pld=policy)
    acc.spend(ZCDPEvent(rho=0.004), label="first")
    before = (acc.to_dict(), acc.epsilon(), acc.epsilon(1e-5), len(acc))
    event = EVENTS[kind]
    with pytest.raises(BudgetExceededError) as info:
        acc.spend(event, count=1000)
    assert info.value.requested > 0.5
    assert (info.value.budget, info.value.delta) == (0.5, 1e-8)
    assert (acc.to_dict(), acc.epsilon(), acc.epsilon(1e-5), len(acc)) == before
    assert not acc.can_spend(event, 1000)
    # and the accountant still works afterwards
    acc.spend(ZCDPEvent(rho=1e-4))
    assert len(acc) == 2


NOISE = {
    "gaussian": lambda s: GaussianEvent(sigma=s),
    "gaussian_l2": lambda s: GaussianEvent(sigma=s, l2_sensitivity=2.0),
    "laplace": lambda s: LaplaceEvent(scale=s),
    "exponential": lambda s: ExponentialEvent(epsilon=1.0 / s),
    "zcdp": lambda s: ZCDPEvent(rho=1.0 / s**2),
    "pure_dp": lambda s: PureDPEvent(epsilon=1.0 / s),
    "approx_dp": lambda s: ApproxDPEvent(epsilon=1.0 / s, delta=1e-12),
    "sampled_gaussian": lambda s: SampledGaussianEvent(
        noise_multiplier=s, sample_rate=0.05, steps=10
    ),
}


@pytest.mark.parametrize("policy", POLICIES)
@pytest.mark.parametrize("kind", list(NOISE))
def test_epsilon_falls_as_noise_grows(kind, policy):
    values = []
    for scale in (1.0, 2.0, 4.0):
        acc = PrivacyAccountant.unlimited(delta=1e-8, pld=policy)
        acc.spend(NOISE[kind](scale), count=5)
        values.append(acc.epsilon())
    assert values[0] > values[1] > values[2] > 0
    assert all(math.isfinite(v) for v in values)
