"""The PLD of bounded-range (exponential mechanism) events against exact values.

Every check is deterministic: exact hockey-stick divergences of small explicit
mechanisms, computed by enumeration, against the PLD the accountant composes.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from dpsynth.privacy import conversions as conv
from dpsynth.privacy.accountant import PrivacyAccountant
from dpsynth.privacy.events import ExponentialEvent, GaussianEvent


def _hockey(p: np.ndarray, q: np.ndarray, loss: float) -> float:
    """H_{e^loss}(P || Q) = sum (P - e^loss Q)_+ for explicit distributions."""
    return float(np.maximum(p - math.exp(loss) * q, 0.0).sum())


def _exponential_mechanism(scores: np.ndarray, epsilon: float) -> np.ndarray:
    """P(i) proportional to exp(epsilon * u_i / 2): epsilon-BR for sensitivity 1."""
    w = np.exp(epsilon * (scores - scores.max()) / 2)
    return w / w.sum()


def _rr(epsilon: float, t: float) -> tuple[np.ndarray, np.ndarray]:
    """The generalised randomised response with losses t and t - epsilon."""
    p = math.expm1(epsilon - t) / (math.exp(epsilon - t) - math.exp(-t))
    q = p * math.exp(-t)
    return np.array([p, 1 - p]), np.array([q, 1 - q])


def _product(pairs):
    p, q = np.array([1.0]), np.array([1.0])
    for a, b in pairs:
        p, q = np.outer(p, a).ravel(), np.outer(q, b).ravel()
    return p, q


@pytest.mark.parametrize("epsilon", [0.02, 0.3, 1.0, 3.0])
def test_pld_matches_the_closed_form_profile_from_above(epsilon):
    pld = conv.group_pld(("bounded_range", epsilon), 1)
    for loss in np.linspace(0, epsilon, 9)[:-1]:
        exact = conv.bounded_range_delta(epsilon, loss)
        got = pld.get_delta_for_epsilon(loss)
        # pessimistic (never below), and loose by at most one grid cell of loss:
        # E_P[(1 - e^(a - L))_+] has the same closed form for a in [-eps, eps]
        a = loss - conv.PLD_VALUE_DISCRETIZATION
        one_cell = (math.exp(epsilon / 2) - math.exp(a / 2)) ** 2 / math.expm1(epsilon)
        assert exact <= got <= one_cell * (1 + 1e-9)
    assert conv.bounded_range_delta(epsilon, 0.0) == pytest.approx(
        math.tanh(epsilon / 4), rel=1e-12
    )
    assert conv.bounded_range_delta(epsilon, epsilon) == 0.0


@pytest.mark.parametrize("epsilon", [0.1, 1.0])
def test_pld_dominates_every_randomised_response_of_the_family(epsilon):
    """The extreme points of epsilon-BR, alone and composed in any mix of t."""
    ts = np.linspace(0, epsilon, 7)
    pld1 = conv.group_pld(("bounded_range", epsilon), 1)
    pld3 = conv.group_pld(("bounded_range", epsilon), 3)
    losses = np.linspace(0, 3 * epsilon, 13)
    for t in ts:
        p, q = _rr(epsilon, t)
        for a in losses[:5]:
            assert _hockey(p, q, a) <= pld1.get_delta_for_epsilon(a) + 1e-15
            assert _hockey(q, p, a) <= pld1.get_delta_for_epsilon(a) + 1e-15
    for combo in itertools.product(ts[::2], repeat=3):
        p, q = _product([_rr(epsilon, t) for t in combo])
        for a in losses:
            bound = pld3.get_delta_for_epsilon(a) + 1e-15
            assert _hockey(p, q, a) <= bound
            assert _hockey(q, p, a) <= bound


def test_pld_dominates_exponential_mechanisms_on_random_neighbours():
    rng = np.random.default_rng(7)
    epsilon = 0.8
    pld2 = conv.group_pld(("bounded_range", epsilon), 2)
    worst = 0.0
    for _ in range(300):
        pairs = []
        for _ in range(2):
            k = int(rng.integers(2, 6))
            u = rng.normal(0, 3, size=k)
            # add/remove one row: every score moves by at most the sensitivity
            v = u + rng.choice([-1.0, 0.0, 1.0], size=k) * rng.uniform(0, 1, size=k)
            pairs.append(
                (_exponential_mechanism(u, epsilon), _exponential_mechanism(v, epsilon))
            )
        p, q = _product(pairs)
        for a in (0.0, 0.2, 0.5, 1.0):
            exact = _hockey(p, q, a)
            assert exact <= pld2.get_delta_for_epsilon(a) + 1e-15
            worst = max(worst, exact / max(pld2.get_delta_for_epsilon(a), 1e-300))
    assert worst > 0.3  # the random pairs came close enough to test something


def test_bounded_range_pld_beats_the_pure_dp_pld_and_the_zcdp_route_for_mixes():
    """Gaussian marginals plus a few selections, as MST spends them."""
    delta = 1e-9

    def spend(acc):
        acc.spend(GaussianEvent(sigma=50.0), count=15)
        acc.spend(ExponentialEvent(epsilon=0.02), count=14)
        acc.spend(GaussianEvent(sigma=25.0), count=14)
        return acc.composition()

    comp = spend(PrivacyAccountant.unlimited(delta=delta))
    assert comp.method == "pld"
    # about 4% below the zCDP route's epsilon here
    assert comp.routes["pld"] < 0.97 * comp.routes["zcdp"]
    # a selection costs less as bounded range than as a generic pure-DP event
    pure = conv.group_pld(("privacy_parameters", 0.02, 0.0), 14)
    br = conv.group_pld(("bounded_range", 0.02), 14)
    assert br.get_epsilon_for_delta(delta) < pure.get_epsilon_for_delta(delta)


def test_gaussian_equivalent_rho_inverts_the_gaussian_profile():
    for eps, delta in [(0.1, 1e-9), (1.0, 1e-9), (10.0, 1e-6)]:
        rho = conv.gaussian_rho_for_epsilon(eps, delta)
        mu = math.sqrt(2 * rho)
        assert conv._gaussian_profile(mu, eps) <= delta
        assert conv._gaussian_profile(mu * (1 + 1e-9), eps) > delta * (1 - 1e-6)
        # tighter than the zCDP conversion: more rho for the same (eps, delta)
        assert rho > conv.rho_for_epsilon(eps, delta)
