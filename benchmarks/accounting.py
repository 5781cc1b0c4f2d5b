"""Tightness and cost of dpsynth's privacy accounting, side by side with its references.

Run: ``python benchmarks/accounting.py`` (about ten seconds). Prints two tables:

1. zCDP -> (epsilon, delta): dpsynth's Canonne-Kamath-Steinke conversion against
   OpenDP's ``make_zCDP_to_approxDP`` at the rho values of issue 2 (must agree to
   1e-9), with RDP's classic bound for contrast.
2. DP-SGD (sigma = 1, q = 0.01, T = 10,000, delta = 1e-5): the accountant's epsilon
   (PLD route) against dp-accounting's RDP accountant and the time it takes
   (target: epsilon <= 6.20; RDP gives about 6.71).
"""

from __future__ import annotations

import math
import time

import opendp.prelude as dp
from dp_accounting import dp_event, rdp

from dpsynth.privacy import conversions as conv
from dpsynth.privacy.accountant import PrivacyAccountant
from dpsynth.privacy.events import SampledGaussianEvent

dp.enable_features("contrib")


def opendp_epsilon(rho: float, delta: float) -> float:
    """OpenDP's own conversion of a Gaussian mechanism with zCDP ``rho``."""
    gauss = dp.m.make_gaussian(
        dp.vector_domain(dp.atom_domain(T=float, nan=False)),
        dp.l2_distance(T=float),
        scale=1.0,
    )
    return dp.c.make_zCDP_to_approxDP(gauss).map(math.sqrt(2 * rho)).epsilon(delta)


def conversion_table() -> None:
    print("| rho   | delta | dpsynth (CKS)  | OpenDP         | abs. diff | RDP bound |")
    print("|-------|-------|----------------|----------------|-----------|-----------|")
    for rho in (0.005, 0.05, 0.5, 2.0):
        for delta in (1e-9, 1e-5):
            ours = conv.approx_epsilon(rho, delta)
            ref = opendp_epsilon(rho, delta)
            classic = rho + 2 * math.sqrt(rho * math.log(1 / delta))
            print(
                f"| {rho:<5g} | {delta:<5g} | {ours:14.10f} | {ref:14.10f} | "
                f"{abs(ours - ref):9.2e} | {classic:9.4f} |"
            )


def dp_sgd_table() -> None:
    sigma, q, steps, delta = 1.0, 0.01, 10_000, 1e-5
    start = time.perf_counter()
    acc = PrivacyAccountant(epsilon=100.0, delta=delta)
    acc.spend(
        SampledGaussianEvent(noise_multiplier=sigma, sample_rate=q, steps=steps),
        label="dp-sgd",
    )
    ours = acc.epsilon()
    ours_s = time.perf_counter() - start
    start = time.perf_counter()
    event = dp_event.SelfComposedDpEvent(
        dp_event.PoissonSampledDpEvent(q, dp_event.GaussianDpEvent(sigma)), steps
    )
    rdp_eps = rdp.RdpAccountant().compose(event).get_epsilon(delta)
    rdp_s = time.perf_counter() - start
    print()
    print("| DP-SGD sigma=1 q=0.01 T=10000 d=1e-5 | epsilon | seconds |")
    print("|--------------------------------------|---------|---------|")
    print(
        f"| {'dpsynth accountant (' + acc.composition().method + ')':<36} "
        f"| {ours:7.4f} | {ours_s:7.2f} |"
    )
    print(f"| dp-accounting RDP                    | {rdp_eps:7.4f} | {rdp_s:7.2f} |")
    print(f"target epsilon <= 6.20: {'met' if ours <= 6.20 else 'MISSED'}")


if __name__ == "__main__":
    conversion_table()
    dp_sgd_table()
