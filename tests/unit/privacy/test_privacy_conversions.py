import math
import re
from fractions import Fraction

import numpy as np
import opendp.prelude as dp
import pytest

from dpsynth.errors import ValidationError
from dpsynth.privacy import conversions as conv

dp.enable_features("contrib")

RHOS = [0.005, 0.05, 0.5, 2.0]
DELTAS = [1e-9, 1e-6, 1e-5]


def opendp_epsilon(rho: float, delta: float) -> tuple[float, float]:
    """OpenDP's zCDP -> approx-DP epsilon; returns (rho as OpenDP states it, eps)."""
    gauss = dp.m.make_gaussian(
        dp.vector_domain(dp.atom_domain(T=float, nan=False)),
        dp.l2_distance(T=float),
        scale=1.0,
    )
    d_in = math.sqrt(2 * rho)  # rho = d_in^2 / (2 scale^2)
    profile = dp.c.make_zCDP_to_approxDP(gauss).map(d_in)
    return gauss.map(d_in), profile.epsilon(delta)


@pytest.mark.parametrize("rho", RHOS)
@pytest.mark.parametrize("delta", DELTAS)
def test_approx_epsilon_equals_opendp(rho, delta):
    rho_opendp, eps_opendp = opendp_epsilon(rho, delta)
    assert rho_opendp == pytest.approx(rho, rel=1e-12)
    assert abs(conv.approx_epsilon(rho_opendp, delta) - eps_opendp) <= 1e-9


@pytest.mark.parametrize("rho", RHOS)
@pytest.mark.parametrize("delta", DELTAS)
def test_rho_for_epsilon_is_the_largest_fitting_rho(rho, delta):
    eps = conv.approx_epsilon(rho, delta)
    r = conv.rho_for_epsilon(eps, delta)
    assert conv.approx_epsilon(r, delta) <= eps
    assert conv.approx_epsilon(r * (1 + 1e-9), delta) > eps
    assert r == pytest.approx(rho, rel=1e-9)


def test_approx_epsilon_edge_cases():
    assert conv.approx_epsilon(0.0, 1e-9) == 0.0
    assert conv.approx_epsilon(0.1, 0.0) == math.inf
    assert conv.approx_epsilon(math.inf, 1e-9) == math.inf
    assert conv.rho_for_epsilon(1.0, 0.0) == 0.0
    with pytest.raises(ValidationError, match=re.escape("`rho` (-1.0) must be >= 0.")):
        conv.approx_epsilon(-1.0, 1e-9)
    with pytest.raises(ValidationError, match=re.escape("`delta` (2.0) must be in")):
        conv.approx_epsilon(0.1, 2.0)


def test_gaussian_rho_rounds_up_to_at_least_opendp():
    assert conv.gaussian_rho(3.0) == 0.05555555555555556
    domain = dp.vector_domain(dp.atom_domain(T=int))
    rng = np.random.default_rng(7)
    for sigma in [*rng.uniform(0.1, 500.0, 40), 1.0, 3.0, 7.0, 1e4]:
        for l2 in (1.0, 2.0, math.sqrt(2.0)):
            ours = conv.gaussian_rho(float(sigma), l2)
            theirs = dp.m.make_gaussian(domain, dp.l2_distance(T=float), scale=sigma)
            assert ours >= theirs.map(l2)
            exact = Fraction(l2) ** 2 / (2 * Fraction(float(sigma)) ** 2)
            assert Fraction(ours) >= exact


def test_gaussian_sigma_is_smallest_fitting_sigma():
    for rho in (1e-6, 0.0123, 0.5, 3.0):
        for l2 in (1.0, 3.0):
            s = conv.gaussian_sigma(rho, l2)
            assert conv.gaussian_rho(s, l2) <= rho
            assert conv.gaussian_rho(math.nextafter(s, 0), l2) > rho


def test_exponential_rho_matches_opendp_noisy_max():
    domain = dp.vector_domain(dp.atom_domain(T=float, nan=False))
    metric = dp.linf_distance(T=float)
    for scale in (0.5, 1.0, 3.0, 7.3):
        pure = dp.m.make_noisy_max(domain, metric, dp.max_divergence(), scale=scale)
        zcdp = dp.m.make_noisy_max(
            domain, metric, dp.zero_concentrated_divergence(), scale=scale
        )
        assert conv.exponential_rho(pure.map(1.0)) >= zcdp.map(1.0)
    assert conv.exponential_rho(2.0) == 0.5
    e = conv.exponential_epsilon(0.01)
    assert conv.exponential_rho(e) <= 0.01 < conv.exponential_rho(math.nextafter(e, 9))


def test_simple_conversions_are_exact_when_representable():
    assert conv.laplace_epsilon(2.0) == 0.5
    assert conv.laplace_epsilon(1.0, 3.0) == 3.0
    assert conv.laplace_scale(0.5) == 2.0
    assert conv.pure_rho(1.0) == 0.5
    assert Fraction(conv.pure_rho(0.1)) >= Fraction(0.1) ** 2 / 2
    assert Fraction(conv.laplace_epsilon(3.0)) >= Fraction(1, 1) / Fraction(3.0)


def test_rdp_conversion_of_zcdp_is_close_to_cks_and_never_below():
    for rho in RHOS:
        for delta in DELTAS:
            rdp = conv.rdp_epsilon(conv.zcdp_rdp(rho), delta)
            cks = conv.approx_epsilon(rho, delta)
            # CKS minimises the same expression over all alpha; the grid cannot
            # do better, and is fine enough to be within 0.5%.
            assert cks <= rdp <= cks * 1.005


def randomized_response_renyi(eps: float, alpha: float) -> float:
    mpmath = pytest.importorskip("mpmath")
    with mpmath.workdps(60):
        e, a = mpmath.mpf(eps), mpmath.mpf(alpha)
        p = mpmath.exp(e) / (1 + mpmath.exp(e))
        q = 1 - p
        value = mpmath.log(p**a * q ** (1 - a) + q**a * p ** (1 - a)) / (a - 1)
        return float(value)


def test_pure_dp_rdp_is_randomized_response_divergence():
    orders = np.array([1.01, 1.5, 2.0, 3.0, 10.0, 50.0, 8192.0])
    for eps in (1e-4, 0.01, 0.3, 1.0, 3.0, 30.0):
        curve = conv.pure_dp_rdp(eps, orders)
        for a, value in zip(orders, curve, strict=True):
            exact = randomized_response_renyi(eps, a)
            assert value >= exact
            assert value == pytest.approx(exact, rel=1e-9, abs=1e-15)
            assert value <= min(eps, a * eps * eps / 2) * (1 + 1e-9)


def test_single_pure_event_rdp_route_approaches_epsilon():
    # D_infinity = eps: at large orders the RDP conversion nears eps from above.
    eps = conv.rdp_epsilon(conv.pure_dp_rdp(1.0), 1e-9)
    assert 1.0 < eps < 1.01


def test_exponential_rdp_is_min_of_pure_and_bounded_range():
    for eps in (0.1, 1.0, 4.0):
        curve = conv.exponential_rdp(eps)
        bound = np.minimum(conv.pure_dp_rdp(eps), conv.zcdp_rdp(eps * eps / 8))
        np.testing.assert_allclose(curve, bound, rtol=1e-11)


def test_subsampled_gaussian_rdp_bounds_dp_accounting_and_the_plain_gaussian():
    from dp_accounting.rdp import rdp_privacy_accountant as rdp

    curve = conv.subsampled_gaussian_rdp(1.0, 0.01)
    assert np.all(curve <= conv.zcdp_rdp(0.5))
    integer = conv.RDP_ORDERS == np.floor(conv.RDP_ORDERS)
    reference = rdp._compute_rdp_poisson_subsampled_gaussian(
        0.01, 1.0, conv.RDP_ORDERS[integer]
    )
    np.testing.assert_allclose(curve[integer], reference, rtol=1e-11)
    # at fractional orders: never below dp_accounting's own series
    frac = conv.RDP_ORDERS[~integer][20:40]
    series = rdp._compute_rdp_poisson_subsampled_gaussian(0.01, 1.0, frac)
    assert np.all(conv.subsampled_gaussian_rdp(1.0, 0.01, frac) >= series)
    full = conv.subsampled_gaussian_rdp(2.0, 1.0)
    np.testing.assert_allclose(full, conv.zcdp_rdp(1 / 8), rtol=1e-9)


def test_rdp_epsilon_validates_shape_and_delta():
    with pytest.raises(ValidationError, match="one value per order"):
        conv.rdp_epsilon(np.zeros(3), 1e-9)
    assert conv.rdp_epsilon(conv.zcdp_rdp(0.1), 0.0) == math.inf


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: conv.gaussian_rho(0.0), "`sigma` (0.0) must be positive and finite."),
        (
            lambda: conv.gaussian_rho(math.nan),
            "`sigma` (nan) must be a number, not NaN.",
        ),
        (
            lambda: conv.gaussian_sigma(-1.0),
            "`rho` (-1.0) must be positive and finite.",
        ),
        (lambda: conv.laplace_epsilon(True), "`scale` (True) must be a real number."),
        (lambda: conv.exponential_rho(math.inf), "`epsilon` (inf) must be positive"),
    ],
)
def test_validation_messages(call, message):
    with pytest.raises(ValidationError, match=re.escape(message)):
        call()
