"""Benchmark driver for Anonymeter 1.1.0 (run with its own venv's python).

Anonymeter is driven as a black box through its public evaluators; nothing of
it is copied into dpsynth. ``benchmarks/audit.py`` runs this script in a fresh
process of ``/work/peer-venvs/anonymeter`` (``setup.sh anonymeter``) on the
same training, holdout (control) and synthetic CSVs its own audit reads::

    audit_anonymeter.py --train T.csv --holdout H.csv --synthetic S.csv
        --left COL,COL,... --secret COL [--n-attacks 2000] [--seed 0]
        [--n-jobs 1] --out RESULT.json

Every column is read as text and passed as an ``object`` column, so that
Anonymeter treats the integer codes as categories (Gower distance: 0/1 per
column; singling-out predicates by equality) like dpsynth's audit does with
an integer-coded Domain.

Evaluators, each timed on its own (wall and CPU seconds):

* ``SinglingOutEvaluator`` univariate and multivariate (``n_cols=3``, its
  default; ``max_attempts`` its default 10,000,000);
* ``LinkabilityEvaluator`` with ``aux_cols = (left, the other columns)``,
  ``n_neighbors=1`` (its default);
* ``InferenceEvaluator`` with ``secret`` and ``aux_cols`` = every other column.

All use ``n_attacks`` attacks and the holdout as ``control``. A failing
evaluator is recorded with its error and the others still run. The JSON
(printed on the last line of stdout and written to ``--out``) holds each
evaluator's risk, its confidence interval, the attack / baseline / control
success rates, the timings, and the process's peak RSS.
"""

from __future__ import annotations

import argparse
import json
import logging
import resource
import sys
import time
import traceback
import warnings
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd


def _rate(rate: Any) -> dict[str, float] | None:
    if rate is None:
        return None
    return {"value": float(rate.value), "error": float(rate.error)}


def _summary(evaluator: Any, confidence: float) -> dict[str, Any]:
    """Risk and rates of an evaluated Anonymeter evaluator."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = evaluator.results(confidence_level=confidence)
        risk = evaluator.risk(confidence_level=confidence)
    return {
        "risk": float(risk.value),
        "ci": [float(risk.ci[0]), float(risk.ci[1])],
        "attack_rate": _rate(res.attack_rate),
        "baseline_rate": _rate(res.baseline_rate),
        "control_rate": _rate(res.control_rate),
        "n_success": int(res.n_success),
        "n_baseline": int(res.n_baseline),
        "n_control": None if res.n_control is None else float(res.n_control),
        "warnings": sorted({str(w.message)[:200] for w in caught}),
    }


class _Collect(logging.Handler):
    """Keeps Anonymeter's log messages (e.g. "could generate only N queries")."""

    def __init__(self) -> None:
        super().__init__(level=logging.INFO)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage()[:300])


def _timed(
    name: str, run: Callable[[], Any], confidence: float, out: dict[str, Any]
) -> None:
    print(f"[anonymeter] {name} ...", file=sys.stderr, flush=True)
    collect = _Collect()
    logger = logging.getLogger("anonymeter")
    logger.addHandler(collect)
    logger.setLevel(logging.INFO)
    w0, c0 = time.perf_counter(), time.process_time()
    try:
        evaluator = run()
        entry = {"status": "ok", **_summary(evaluator, confidence)}
    except Exception as exc:  # a peer crash is a result, not our crash
        traceback.print_exc()
        entry = {"status": "crashed", "reason": f"{type(exc).__name__}: {exc}"[:300]}
    finally:
        logger.removeHandler(collect)
    entry["wall_s"] = time.perf_counter() - w0
    entry["cpu_s"] = time.process_time() - c0
    entry["log"] = collect.messages
    out[name] = entry
    print(
        f"[anonymeter] {name}: {entry['status']} in {entry['wall_s']:.1f} s",
        file=sys.stderr,
        flush=True,
    )


def main() -> int:
    """Runs the four evaluations and writes the JSON."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--train", type=Path, required=True)
    p.add_argument("--holdout", type=Path, required=True)
    p.add_argument("--synthetic", type=Path, required=True)
    p.add_argument("--left", required=True, help="comma list: source A's columns")
    p.add_argument("--secret", required=True, help="the inference secret column")
    p.add_argument("--n-attacks", type=int, default=2000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--n-jobs", type=int, default=1)
    p.add_argument("--confidence", type=float, default=0.95)
    p.add_argument("--out", type=Path, required=True)
    args = p.parse_args()

    w0, c0 = time.perf_counter(), time.process_time()
    # Anonymeter's linkability/inference draw targets with DataFrame.sample()
    # without a seed (numpy's global RNG): seed it for repeatability.
    np.random.seed(args.seed % 2**32)  # noqa: NPY002
    from anonymeter.evaluators import (
        InferenceEvaluator,
        LinkabilityEvaluator,
        SinglingOutEvaluator,
    )

    def load(path: Path) -> pd.DataFrame:
        return pd.read_csv(path, dtype=str, keep_default_na=False).astype(object)

    ori, control, syn = load(args.train), load(args.holdout), load(args.synthetic)
    columns = list(ori.columns)
    left = [c for c in args.left.split(",") if c]
    right = [c for c in columns if c not in left]
    aux = [c for c in columns if c != args.secret]
    n = args.n_attacks
    result: dict[str, Any] = {
        "anonymeter": metadata.version("anonymeter"),
        "versions": {
            p: metadata.version(p) for p in ("numpy", "pandas", "polars", "numba")
        },
        "rows": {"train": len(ori), "holdout": len(control), "synthetic": len(syn)},
        "settings": {
            "n_attacks": n,
            "singling_out_n_cols": 3,
            "linkability_aux_cols": [left, right],
            "linkability_n_neighbors": 1,
            "inference_secret": args.secret,
            "inference_aux_cols": aux,
            "n_jobs": args.n_jobs,
            "seed": args.seed,
            "dtype": "object (codes as text: categorical for Gower)",
        },
        "load_wall_s": time.perf_counter() - w0,
        "evaluators": {},
    }
    evals = result["evaluators"]
    conf = args.confidence

    def singling_out(mode: str) -> Any:
        ev = SinglingOutEvaluator(
            ori=ori, syn=syn, control=control, n_attacks=n, seed=args.seed
        )
        return ev.evaluate(mode=mode)

    _timed("singling_out_univariate", lambda: singling_out("univariate"), conf, evals)
    _timed(
        "singling_out_multivariate", lambda: singling_out("multivariate"), conf, evals
    )
    _timed(
        "linkability",
        lambda: LinkabilityEvaluator(
            ori=ori,
            syn=syn,
            control=control,
            aux_cols=(left, right),
            n_attacks=n,
            n_neighbors=1,
        ).evaluate(n_jobs=args.n_jobs),
        conf,
        evals,
    )
    _timed(
        "inference",
        lambda: InferenceEvaluator(
            ori=ori,
            syn=syn,
            control=control,
            aux_cols=aux,
            secret=args.secret,
            regression=False,
            n_attacks=n,
        ).evaluate(n_jobs=args.n_jobs),
        conf,
        evals,
    )
    result["total_wall_s"] = time.perf_counter() - w0
    result["total_cpu_s"] = time.process_time() - c0
    result["self_maxrss_mb"] = (
        resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    )
    result["vm_hwm_mb"] = vm_hwm_mb()
    text = json.dumps(result)
    args.out.write_text(text)
    print(text, flush=True)
    return 0 if all(e["status"] == "ok" for e in evals.values()) else 1


def vm_hwm_mb() -> float | None:
    """This process's own peak RSS (VmHWM), in MB, or None off Linux.

    Unlike ``ru_maxrss``, which Linux carries across ``execve`` from the
    forking parent, VmHWM belongs to the address space of this program only.
    """
    try:
        for line in open("/proc/self/status"):
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return None


if __name__ == "__main__":
    sys.exit(main())
