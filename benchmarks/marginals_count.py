"""Times exact marginal counting (NumpyBackend) on an hd-datasets table.

Counts every 1-, 2- and 3-way marginal of the table, batched (``counts_many``) and
one query at a time (``counts``), and prints the best wall and CPU time of several
runs. Usage (from the repository root)::

    python benchmarks/marginals_count.py [--data-dir DIR] [--name adult]
        [--repeat 7] [--max-way 3] [--tile 1]

The default data directory is ``../shared/data/hd`` relative to the repository
root; it must hold ``<name>.csv`` (integer codes) and ``<name>-domain.json``.
"""

from __future__ import annotations

import argparse
import itertools
import os
import platform
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd

from dpsynth.data.dataset import Dataset
from dpsynth.data.domain import Domain
from dpsynth.marginals import MarginalQuery, NumpyBackend

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA_DIR = REPO_ROOT.parent / "shared" / "data" / "hd"


def best_of(fn: Callable[[], object], repeat: int) -> tuple[float, float]:
    """Best wall and best CPU seconds of ``repeat`` runs (after one warm-up)."""
    fn()
    walls, cpus = [], []
    for _ in range(repeat):
        w0, c0 = time.perf_counter(), time.process_time()
        fn()
        walls.append(time.perf_counter() - w0)
        cpus.append(time.process_time() - c0)
    return min(walls), min(cpus)


def one_by_one(backend: NumpyBackend, queries: list[MarginalQuery]) -> list[object]:
    """Counts each query on its own, keeping the answers (as a batch does)."""
    return [backend.counts(q) for q in queries]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR)
    parser.add_argument("--name", default="adult")
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--max-way", type=int, default=3)
    parser.add_argument(
        "--tile", type=int, default=1, help="stack the table N times (scaling)"
    )
    args = parser.parse_args()

    domain = Domain.load(args.data_dir / f"{args.name}-domain.json")
    frame = pd.read_csv(args.data_dir / f"{args.name}.csv")
    if args.tile > 1:
        frame = pd.concat([frame] * args.tile, ignore_index=True)
    t0 = time.perf_counter()
    dataset = Dataset.from_frame(frame, domain)
    build = time.perf_counter() - t0
    backend = NumpyBackend(dataset)

    print(
        f"{args.name}: {dataset.n_rows_nonprivate} rows x {len(domain)} columns, "
        f"codes {dataset.codes.dtype}; Dataset.from_frame {build * 1e3:.1f} ms"
    )
    print(
        f"numpy {np.__version__}, python {platform.python_version()}, "
        f"{os.cpu_count()} cpus, best of {args.repeat}"
    )
    header = (
        f"{'way':>3} {'queries':>7} {'cells':>9} | {'batched wall ms':>15} "
        f"{'cpu ms':>7} {'us/query':>8} | {'one-by-one wall ms':>18} {'cpu ms':>7}"
    )
    print(header)
    print("-" * len(header))
    for k in range(1, args.max_way + 1):
        queries = [
            MarginalQuery(cols) for cols in itertools.combinations(domain.attributes, k)
        ]
        cells = sum(q.size(domain) for q in queries)
        wall, cpu = best_of(partial(backend.counts_many, queries), args.repeat)
        wall1, cpu1 = best_of(partial(one_by_one, backend, queries), args.repeat)
        print(
            f"{k:>3} {len(queries):>7} {cells:>9} | {wall * 1e3:>15.1f} "
            f"{cpu * 1e3:>7.1f} {wall / len(queries) * 1e6:>8.0f} | "
            f"{wall1 * 1e3:>18.1f} {cpu1 * 1e3:>7.1f}"
        )


if __name__ == "__main__":
    main()
