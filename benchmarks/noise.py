"""Cost of dpsynth's OpenDP noise mechanisms.

Run: ``python benchmarks/noise.py`` (about a minute). Prints microseconds per noised
value (counts), per call (selection) and per row (discovery), each through the
public API with a fresh unlimited accountant, so accounting overhead is included.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import numpy as np

from dpsynth.mechanisms import (
    gaussian_counts,
    laplace_counts,
    noisy_max,
    quantiles,
    threshold_for_delta,
    threshold_histogram,
)
from dpsynth.privacy.accountant import PrivacyAccountant


def _acc() -> PrivacyAccountant:
    return PrivacyAccountant.unlimited(delta=1e-9)


def _timed(fn: Callable[[], object], budget_s: float) -> tuple[float, int]:
    """Mean seconds per call of ``fn`` (repeated until ``budget_s`` is used)."""
    fn()  # warm: OpenDP import, measurement construction and calibration
    calls, start = 0, time.perf_counter()
    while True:
        fn()
        calls += 1
        elapsed = time.perf_counter() - start
        if elapsed >= budget_s:
            return elapsed / calls, calls


Row = tuple[str, str, float, int, int]


def _row(what: str, size: str, per_call_s: float, units: int, calls: int) -> Row:
    return what, size, per_call_s, units, calls


def _table(rows: list[Row]) -> str:
    head = ("mechanism", "size", "ms / call", "us / unit", "calls")
    body = [
        (what, size, f"{t * 1e3:.3f}", f"{t / units * 1e6:.2f}", str(calls))
        for what, size, t, units, calls in rows
    ]
    widths = [max(len(r[i]) for r in [head, *body]) for i in range(len(head))]

    def line(cells: tuple[str, ...]) -> str:
        first = cells[0].ljust(widths[0])
        rest = [c.rjust(w) for c, w in zip(cells[1:], widths[1:], strict=True)]
        return "| " + " | ".join([first, *rest]) + " |"

    rule = (
        "|"
        + "|".join("-" * (w + 1) + (":" if i else "-") for i, w in enumerate(widths))
        + "|"
    )
    return "\n".join([line(head), rule, *map(line, body)])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--budget", type=float, default=1.0, help="seconds per row")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    rows: list[Row] = []

    for name, fn in [
        ("discrete Gaussian", gaussian_counts),
        ("discrete Laplace", laplace_counts),
    ]:
        key = "sigma" if fn is gaussian_counts else "scale"
        for scale in (1.0, 10.0, 1000.0):
            for n in (1, 1_000, 100_000):
                counts = rng.integers(0, 1000, size=n)

                def call(counts=counts, scale=scale, fn=fn, key=key) -> object:
                    return fn(counts, accountant=_acc(), label="bench", **{key: scale})

                per_call, calls = _timed(call, args.budget)
                rows.append(
                    _row(f"{name}, {key}={scale:g}", f"{n:,}", per_call, n, calls)
                )

    fresh = iter(np.linspace(1.0, 2.0, 1_000_000))

    def uncached() -> object:  # a new sigma each call: build and calibrate anew
        return gaussian_counts(
            [0], sigma=float(next(fresh)), accountant=_acc(), label="b"
        )

    per_call, calls = _timed(uncached, args.budget)
    rows.append(_row("discrete Gaussian, new sigma each", "1", per_call, 1, calls))

    for n in (10, 1_000, 100_000):
        scores = rng.normal(size=n)

        def select(scores=scores) -> object:
            return noisy_max(
                scores, epsilon=1.0, sensitivity=1.0, accountant=_acc(), label="b"
            )

        per_call, calls = _timed(select, args.budget)
        rows.append(
            _row("noisy max (Gumbel), per candidate", f"{n:,}", per_call, n, calls)
        )

    n = 32_000
    column = [f"cat{int(k)}" for k in rng.zipf(1.5, size=n) % 5_000]
    threshold = threshold_for_delta(2.0, 1e-9)

    def discover() -> object:
        return threshold_histogram(
            column, scale=2.0, threshold=threshold, accountant=_acc(), label="b"
        )

    per_call, calls = _timed(discover, args.budget)
    rows.append(_row("threshold histogram, per row", f"{n:,}", per_call, n, calls))

    values = rng.normal(50, 10, size=n)
    candidates = np.linspace(0, 100, 1_001)

    def quantile() -> object:
        return quantiles(
            values, candidates=candidates, alphas=[0.5], epsilon=1.0,
            accountant=_acc(), label="b",
        )  # fmt: skip

    per_call, calls = _timed(quantile, args.budget)
    rows.append(
        _row("quantile (1001 candidates), per row", f"{n:,}", per_call, n, calls)
    )

    start = time.perf_counter()
    threshold_for_delta(2.0, 1e-9)
    rows.append(
        _row("threshold_for_delta (search)", "-", time.perf_counter() - start, 1, 1)
    )
    print(_table(rows))


if __name__ == "__main__":
    main()
