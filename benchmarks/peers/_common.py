"""Shared command line and bookkeeping of the benchmark drivers (``run_*.py``).

Every driver runs in its own virtual environment (the peers' pins conflict),
so this module needs only the standard library, numpy and pandas. A driver
calls :func:`main` with a function ``synthesize(job) -> DataFrame`` and a list
of method names. The command line is the same for all drivers::

    run_X.py --data CSV --domain JSON --method NAME --epsilon E --delta D
             --seed S --out CSV [--meta JSON]

The driver writes the synthetic rows as integer codes, same columns as the
input, to ``--out``, and a small JSON (``--meta``, default ``OUT.meta.json``)
with its status, fit and sample timings and notes. Exit status: 0 done,
3 method not available ("not implemented yet" / unsupported), 1 crashed.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import resource
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

EXIT_OK = 0
EXIT_CRASH = 1
EXIT_UNAVAILABLE = 3


class Unavailable(Exception):
    """The method does not exist (yet) in this library; the row says why."""


@dataclass
class Job:
    """One fit+sample request, as parsed from the command line."""

    frame: pd.DataFrame
    domain: dict[str, int]  # column -> number of values, in CSV column order
    domain_path: Path
    method: str
    epsilon: float
    delta: float
    seed: int
    notes: list[str] = field(default_factory=list)
    _marks: dict[str, tuple[float, float]] = field(default_factory=dict)

    def mark(self, name: str) -> None:
        """Records wall and CPU time now (``fit_done`` splits fit from sample)."""
        self._marks[name] = (time.perf_counter(), time.process_time())

    def note(self, text: str) -> None:
        """Adds a note (fairness caveat, parameter choice) to the result row."""
        self.notes.append(text)


def parse_args(description: str, methods: Sequence[str]) -> argparse.Namespace:
    """The drivers' shared command line."""
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--data", type=Path, required=True, help="integer-coded CSV")
    p.add_argument("--domain", type=Path, required=True, help="{column: size} JSON")
    p.add_argument("--method", required=True, help=f"one of {', '.join(methods)}")
    p.add_argument("--epsilon", type=float, required=True)
    p.add_argument("--delta", type=float, default=1e-9)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, required=True, help="synthetic CSV to write")
    p.add_argument("--meta", type=Path, default=None, help="status JSON to write")
    return p.parse_args()


def _write_meta(path: Path, meta: dict) -> None:
    path.write_text(json.dumps(meta, indent=1, default=str))


def main(
    synthesize: Callable[[Job], pd.DataFrame],
    methods: Sequence[str],
    description: str,
) -> None:
    """Parses the command line, runs ``synthesize``, writes CSV and meta."""
    args = parse_args(description, methods)
    meta_path = args.meta or args.out.with_name(args.out.name + ".meta.json")
    meta: dict = {"method": args.method, "status": "crashed", "reason": ""}
    random.seed(args.seed)
    # peers draw from numpy's global RNG (mbi, smartnoise, dpmm): seed it too
    np.random.seed(args.seed % 2**32)  # noqa: NPY002
    try:
        domain_all = json.loads(args.domain.read_text())
        frame = pd.read_csv(args.data)
        domain = {c: int(domain_all[c]) for c in frame.columns}
        job = Job(
            frame=frame,
            domain=domain,
            domain_path=args.domain,
            method=args.method,
            epsilon=args.epsilon,
            delta=args.delta,
            seed=args.seed,
        )
        if args.method not in methods:
            raise Unavailable(f"unknown method {args.method!r}")
        job.mark("start")
        out = synthesize(job)
        job.mark("end")
        missing = [c for c in frame.columns if c not in out.columns]
        if missing:
            raise RuntimeError(f"output lacks columns {missing}")
        out = out[list(frame.columns)]
        out.to_csv(args.out, index=False)
    except Unavailable as exc:
        meta.update(status="unavailable", reason=str(exc))
        _write_meta(meta_path, meta)
        print(f"unavailable: {exc}", file=sys.stderr)
        sys.exit(EXIT_UNAVAILABLE)
    except Exception as exc:
        traceback.print_exc()
        meta.update(status="crashed", reason=short_reason(exc))
        _write_meta(meta_path, meta)
        sys.exit(EXIT_CRASH)
    marks = job._marks
    start, end = marks["start"], marks["end"]
    fit = marks.get("fit_done", end)
    meta.update(
        status="ok",
        fit_wall_s=fit[0] - start[0],
        fit_cpu_s=fit[1] - start[1],
        sample_wall_s=end[0] - fit[0],
        sample_cpu_s=end[1] - fit[1],
        rows=len(out),
        self_maxrss_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        notes=job.notes,
        python=sys.version.split()[0],
        pid=os.getpid(),
    )
    _write_meta(meta_path, meta)


def short_reason(exc: BaseException, limit: int = 200) -> str:
    """``Type: message`` on one line, whitespace collapsed, cut to ``limit``."""
    text = " ".join(str(exc).split())
    reason = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
    return reason if len(reason) <= limit else reason[: limit - 3] + "..."


def codes_frame(columns: Sequence[str], arrays: dict[str, np.ndarray]) -> pd.DataFrame:
    """A DataFrame of int64 codes in ``columns`` order."""
    return pd.DataFrame({c: np.asarray(arrays[c]).astype(np.int64) for c in columns})


def cdp_delta(rho: float, eps: float) -> float:
    """Smallest delta of (eps, delta)-DP implied by rho-zCDP.

    Canonne, Kamath, Steinke (2020), Proposition 12: delta =
    inf_{a>1} exp((a-1)(a rho - eps)) / (a-1) * (1 - 1/a)^a, minimised on a
    fine log-spaced grid (the objective is smooth in log a).
    """
    if rho <= 0:
        return 0.0
    a = 1.0 + np.logspace(-6, 6, 20001)
    log_d = (a - 1) * (a * rho - eps) - np.log(a - 1) + a * np.log1p(-1.0 / a)
    return float(min(1.0, math.exp(float(log_d.min()))))


def cdp_rho(eps: float, delta: float) -> float:
    """Largest rho whose zCDP guarantee implies (eps, delta)-DP (bisection)."""
    lo, hi = 0.0, eps + 1.0
    for _ in range(200):
        mid = (lo + hi) / 2
        if cdp_delta(mid, eps) <= delta:
            lo = mid
        else:
            hi = mid
    return lo
