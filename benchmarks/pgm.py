"""Times graphical-model estimation (dpsynth.pgm.estimate) on an hd-datasets table.

Two workloads, measured with Gaussian noise of scale ``--sigma`` on each cell:

* ``tree``: every 1-way marginal plus the 2-way marginals of a spanning tree
  (maximum mutual information, as MST picks), estimated cold;
* ``3-way``: AIM-like, every 1-way marginal plus up to 30 random 3-way
  marginals accepted while the model stays under ``--cap`` cells; estimated
  cold on all but the last ``--rounds`` triples, then re-estimated with a warm
  start as each of those is added (as AIM does every round).

The noise comes from numpy and the spanning tree from exact counts: this is a
timing benchmark, NOT a differentially private pipeline. Prints one row per
estimate: the model size, iterations, wall and CPU seconds, the final loss, and
the mean L1 error (fraction of rows) of the measured marginals, model versus
noisy measurements. Usage (from the repository root)::

    python benchmarks/pgm.py [--data-dir DIR] [--name adult] [--sigma 10]
        [--cap 2000000] [--rounds 3] [--iters 1000] [--tol 1e-3] [--seed 0]

The default data directory is ``../shared/data/hd`` relative to the repository
root; it must hold ``<name>.csv`` (integer codes) and ``<name>-domain.json``.
"""

from __future__ import annotations

import argparse
import itertools
import os
import platform
import time
from pathlib import Path

import networkx as nx
import numpy as np
import pandas as pd

from dpsynth.data.dataset import Dataset
from dpsynth.data.domain import Domain
from dpsynth.marginals import NumpyBackend
from dpsynth.pgm import GraphicalModel, Measurement, estimate, model_size

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA_DIR = REPO_ROOT.parent / "shared" / "data" / "hd"


def mutual_information(counts: np.ndarray) -> float:
    p = counts / counts.sum()
    outer = p.sum(axis=1, keepdims=True) * p.sum(axis=0, keepdims=True)
    mask = p > 0
    return float((p[mask] * np.log(p[mask] / outer[mask])).sum())


def spanning_tree(domain: Domain, backend: NumpyBackend) -> list[tuple[str, str]]:
    graph = nx.Graph()
    for a, b in itertools.combinations(domain.attributes, 2):
        graph.add_edge(a, b, weight=mutual_information(backend.counts((a, b))))
    return sorted(tuple(e) for e in nx.maximum_spanning_tree(graph).edges())


def random_triples(
    domain: Domain, rng: np.random.Generator, cap: int, count: int = 30
) -> list[tuple[str, ...]]:
    triples = list(itertools.combinations(domain.attributes, 3))
    rng.shuffle(triples)
    chosen: list[tuple[str, ...]] = []
    for triple in triples:
        if len(chosen) == count:
            break
        if model_size(domain, chosen + [triple]) <= cap:
            chosen.append(triple)
    return chosen


def measure(
    backend: NumpyBackend,
    sets: list[tuple[str, ...]],
    sigma: float,
    rng: np.random.Generator,
) -> list[Measurement]:
    out = []
    for cols in sets:
        exact = backend.counts(cols).astype(float)
        noisy = exact + rng.normal(0.0, sigma, size=exact.shape)
        out.append(Measurement(columns=cols, values=noisy, sigma=sigma))
    return out


def run(
    label: str,
    domain: Domain,
    backend: NumpyBackend,
    measurements: list[Measurement],
    args: argparse.Namespace,
    warm_start: GraphicalModel | None = None,
) -> GraphicalModel:
    losses: list[float] = []
    w0, c0 = time.perf_counter(), time.process_time()
    model = estimate(
        domain,
        measurements,
        iters=args.iters,
        tol=args.tol,
        warm_start=warm_start,
        callback=lambda _, loss: losses.append(loss),
    )
    wall, cpu = time.perf_counter() - w0, time.process_time() - c0
    rows = model.total
    err_model = np.mean(
        [
            np.abs(model.project(m.columns) - backend.counts(m.columns)).sum() / rows
            for m in measurements
        ]
    )
    err_noisy = np.mean(
        [
            np.abs(m.values - backend.counts(m.columns)).sum() / rows
            for m in measurements
        ]
    )
    size = model_size(domain, [m.columns for m in measurements])
    loss = losses[-1] if losses else float("nan")
    print(
        f"{label:<14} {len(measurements):>5} {len(model.cliques):>7} {size:>10,} "
        f"{len(losses):>6} {wall:>7.2f} {cpu:>7.2f} {loss:>12.1f} "
        f"{err_model:>8.4f} {err_noisy:>8.4f}"
    )
    return model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR)
    parser.add_argument("--name", default="adult")
    parser.add_argument("--sigma", type=float, default=10.0)
    parser.add_argument("--cap", type=int, default=2_000_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--iters", type=int, default=1000)
    parser.add_argument("--tol", type=float, default=1e-3)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    domain = Domain.load(args.data_dir / f"{args.name}-domain.json")
    frame = pd.read_csv(args.data_dir / f"{args.name}.csv")
    backend = NumpyBackend(Dataset.from_frame(frame, domain))
    rng = np.random.default_rng(args.seed)
    print(
        f"{args.name}: {len(frame)} rows x {len(domain)} columns; sigma {args.sigma}, "
        f"iters {args.iters}, tol {args.tol}; numpy {np.__version__}, "
        f"python {platform.python_version()}, {os.cpu_count()} cpus"
    )
    header = (
        f"{'estimate':<14} {'meas':>5} {'cliques':>7} {'cells':>10} {'iters':>6} "
        f"{'wall s':>7} {'cpu s':>7} {'loss':>12} {'err':>8} {'noisy':>8}"
    )
    print(header)
    print("-" * len(header))

    ones = [(a,) for a in domain.attributes]
    tree = measure(backend, ones + spanning_tree(domain, backend), args.sigma, rng)
    run("tree (cold)", domain, backend, tree, args)

    triples = random_triples(domain, rng, args.cap)
    sets = ones + triples
    ms = measure(backend, sets, args.sigma, rng)
    first = len(sets) - args.rounds
    model = run("3-way (cold)", domain, backend, ms[:first], args)
    for r in range(args.rounds):
        upto = first + r + 1
        model = run(f"3-way warm {r + 1}", domain, backend, ms[:upto], args, model)
    run("3-way (cold)", domain, backend, ms, args)


if __name__ == "__main__":
    main()
