"""Benchmark driver: MST and AIM on the private-pgm engine (``mbi==2.0.0``).

mbi 2.0 ships only the estimation engine, so the two mechanisms are written
here, from the papers, on mbi's public API (``Domain``, ``Dataset``,
``LinearMeasurement``, ``estimation.MirrorDescent``,
``MarkovRandomField.synthetic_data``, ``Dataset.compress``/``decompress``):

* MST -- McKenna, Miklau, Sheldon, "Winning the NIST Contest: A scalable and
  general approach to differentially private synthetic data", JPC 2021.
  rho/3 measures every 1-way marginal; rare values (noisy count < 3 sigma) are
  merged; rho/3 picks d-1 edges of a maximum spanning tree with the
  exponential mechanism (score: L1 error of the 1-way model on the pair); rho/3
  measures the chosen 2-way marginals; Private-PGM estimates; sample.
* AIM -- McKenna, Mullins, Sheldon, Miklau, "AIM: An Adaptive and Iterative
  Mechanism for Differentially Private Synthetic Data", VLDB 2022, Algorithm 1.
  Workload: all 3-way marginals (weight 1), candidates its downward closure
  with weights w_r = sum_s |r & s|; T = 16 d, alpha = 0.9, 80 MB model cap,
  annealing (sigma halves when a measurement did not move the model enough).

(eps, delta) -> rho by the tight conversion of Canonne, Kamath, Steinke (2020).
Gaussian noise from numpy (not a secure sampler: fine for utility benchmarks).
"""

from __future__ import annotations

import itertools
import math
import os
import sys

import _common
import numpy as np
import pandas as pd

os.environ.setdefault("JAX_PLATFORMS", "cpu")

import jax  # noqa: E402

jax.config.update("jax_enable_x64", True)
jax.config.update("jax_enable_compilation_cache", False)

import mbi  # noqa: E402
from mbi import Dataset, Domain, LinearMeasurement  # noqa: E402
from mbi.estimation import MirrorDescent  # noqa: E402
from mbi.junction_tree import hypothetical_model_size  # noqa: E402

METHODS = ("mst", "aim")
EST_ITERS = 1000  # final Private-PGM estimation
AIM_ROUND_ITERS = 100  # per-round warm-started estimation inside AIM
AIM_MAX_MODEL_MB = 80.0


def measure(
    data: Dataset, clique: tuple[str, ...], sigma: float, rng: np.random.Generator
) -> LinearMeasurement:
    """Gaussian measurement of the marginal on ``clique`` (L2 sensitivity 1)."""
    x = np.asarray(data.project(clique).datavector(), dtype=float)
    y = x + rng.normal(0.0, sigma, size=x.size)
    return LinearMeasurement(y, clique, stddev=sigma)


def exponential_mechanism(
    scores: np.ndarray,
    eps: float,
    sensitivity: float,
    rng: np.random.Generator,
) -> int:
    """Index drawn with probability proportional to exp(eps q / (2 Delta))."""
    logits = 0.5 * eps * (scores - scores.max()) / sensitivity
    p = np.exp(logits)
    return int(rng.choice(scores.size, p=p / p.sum()))


def estimate(domain: Domain, measurements: list, iters: int, warm=None):
    """Private-PGM mirror descent; the total is estimated from the measurements."""
    return MirrorDescent().estimate(domain, measurements, iters=iters, warm_start=warm)


# --------------------------------------------------------------------- MST
def mst(
    data: Dataset, rho: float, rng: np.random.Generator, job: _common.Job
) -> Dataset:
    attrs = list(data.domain.attributes)
    d = len(attrs)
    edges = max(d - 1, 1)
    # rho/3 for d one-way measurements of L2 sensitivity 1: d / (2 s^2) = rho/3.
    sigma1 = math.sqrt(3.0 * d / (2.0 * rho))
    log1 = [measure(data, (a,), sigma1, rng) for a in attrs]

    # Domain compression: merge values whose noisy count is below 3 sigma.
    mapping: dict[str, np.ndarray] = {}
    for a, m in zip(attrs, log1, strict=True):
        y = np.asarray(m.noisy_measurement)
        keep = y >= 3 * sigma1
        if keep.all():
            continue
        codes = np.empty(y.size, dtype=np.int64)
        codes[keep] = np.arange(int(keep.sum()))
        codes[~keep] = int(keep.sum())
        mapping[a] = codes
    comp = data.compress(mapping) if mapping else data
    log1 = [m.compress(mapping, data.domain) for m in log1]
    job.note(f"compressed {len(mapping)} of {d} attributes")

    # Select d-1 edges with the exponential mechanism (rho/3 in total).
    model1 = NumpyMarginals(estimate(comp.domain, log1, EST_ITERS))
    pairs = list(itertools.combinations(attrs, 2))
    score = np.array(
        [
            np.abs(np.asarray(comp.project(p).datavector()) - model1.project(p)).sum()
            for p in pairs
        ]
    )
    eps_sel = math.sqrt(8.0 * (rho / 3.0) / edges)
    parent = {a: a for a in attrs}

    def find(a: str) -> str:
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    chosen: list[tuple[str, ...]] = []
    for _ in range(d - 1):
        ok = np.array([find(a) != find(b) for a, b in pairs])
        idx = np.flatnonzero(ok)
        pick = idx[exponential_mechanism(score[idx], eps_sel, 1.0, rng)]
        a, b = pairs[pick]
        parent[find(a)] = find(b)
        chosen.append((a, b))

    # Measure the tree's 2-way marginals with the last rho/3.
    sigma2 = math.sqrt(3.0 * edges / (2.0 * rho))
    log2 = [measure(comp, cl, sigma2, rng) for cl in chosen]
    model = estimate(comp.domain, log1 + log2, EST_ITERS)
    job.mark("fit_done")
    synth = model.synthetic_data()
    return synth.decompress(mapping) if mapping else synth


# --------------------------------------------------------------------- AIM
class NumpyMarginals:
    """Exact marginals of a fitted model, computed in numpy.

    Calling ``model.project`` on a clique the model does not hold compiles a
    JAX program per clique (about a second each), which makes AIM's scoring of
    hundreds of candidates per round impractical. Here the junction tree's
    clique marginals are computed once (one belief propagation in mbi), and any
    marginal is then the junction-tree factorisation P(root) * prod P(C | S)
    over the subtree that connects the query's attributes, contracted with
    ``np.einsum`` (exact, not sampled).
    """

    def __init__(self, model) -> None:
        from mbi.junction_tree import make_junction_tree, maximal_cliques
        from mbi.marginal_oracles import message_passing_stable

        self.domain = model.domain
        self.total = float(model.total)
        self.tree, _ = make_junction_tree(self.domain, list(model.cliques))
        cliques = maximal_cliques(self.tree)
        marg = message_passing_stable(model.potentials.expand(cliques), model.total)
        self.tables: dict[tuple[str, ...], np.ndarray] = {}
        for cl in cliques:
            factor = marg[cl]
            order = tuple(factor.domain.attributes)
            arr = np.maximum(np.asarray(factor.values, dtype=float), 0.0)
            self.tables[cl] = np.moveaxis(
                arr, [order.index(a) for a in cl], list(range(len(cl)))
            )
        self.index = {a: i for i, a in enumerate(self.domain.attributes)}

    def project(self, query: tuple[str, ...]) -> np.ndarray:
        """Counts of the marginal on ``query`` (flattened, C order)."""
        import networkx as nx

        need: set[tuple[str, ...]] = set()
        for a in query:
            holders = [cl for cl in self.tables if a in cl]
            need.add(max(holders, key=lambda cl: len(set(cl) & set(query))))
        operands: list = []
        for comp in nx.connected_components(self.tree):
            mine = [cl for cl in need if cl in comp]
            if not mine:
                continue
            nodes = {mine[0]}
            for other in mine[1:]:
                nodes.update(nx.shortest_path(self.tree, mine[0], other))
            root = mine[0]
            operands += [self.tables[root] / self.total, self._axes(root)]
            for parent, child in nx.bfs_edges(self.tree.subgraph(nodes), root):
                sep = tuple(a for a in child if a in parent)
                table = self.tables[child]
                drop = tuple(i for i, a in enumerate(child) if a not in sep)
                denom = table.sum(axis=drop, keepdims=True)
                cond = np.divide(
                    table, denom, out=np.zeros_like(table), where=denom > 0
                )
                operands += [cond, self._axes(child)]
        out = np.einsum(*operands, self._axes(query), optimize="greedy")
        return (out * self.total).ravel()

    def _axes(self, clique: tuple[str, ...]) -> list[int]:
        return [self.index[a] for a in clique]


def aim(
    data: Dataset, rho: float, rng: np.random.Generator, job: _common.Job
) -> Dataset:
    domain = data.domain
    attrs = list(domain.attributes)
    d = len(attrs)
    workload = list(itertools.combinations(attrs, min(3, d)))
    # Candidates: downward closure of the workload, weight sum_s |r & s|.
    cands: dict[tuple[str, ...], float] = {}
    for size in range(1, min(3, d) + 1):
        for r in itertools.combinations(attrs, size):
            w = float(sum(len(set(r) & set(s)) for s in workload))
            if w > 0:
                cands[r] = w
    answers = {r: np.asarray(data.project(r).datavector(), float) for r in cands}
    sens = max(cands.values())

    rounds = 16 * d
    alpha = 0.9
    sigma = math.sqrt(rounds / (2.0 * alpha * rho))
    eps = math.sqrt(8.0 * (1.0 - alpha) * rho / rounds)
    measurements = [measure(data, (a,), sigma, rng) for a in attrs]
    rho_used = d / (2.0 * sigma**2)
    model = estimate(domain, measurements, AIM_ROUND_ITERS)
    measured: list[tuple[str, ...]] = [(a,) for a in attrs]
    margs = NumpyMarginals(model)
    t, last = 0, False
    while not last:
        t += 1
        if rho - rho_used < 2.0 * (1.0 / (2.0 * sigma**2) + eps**2 / 8.0):
            remaining = rho - rho_used
            sigma = math.sqrt(1.0 / (2.0 * alpha * remaining))
            eps = math.sqrt(8.0 * (1.0 - alpha) * remaining)
            last = True
        rho_used += eps**2 / 8.0 + 1.0 / (2.0 * sigma**2)
        limit = AIM_MAX_MODEL_MB * rho_used / rho
        # Exponential mechanism over all candidates, restricted to those whose
        # junction tree fits the size limit (public information). Sampling the
        # full distribution and rejecting infeasible draws is the same
        # distribution as the restricted mechanism, and checks far fewer trees.
        keys = list(cands)
        free = set(mbi.clique_utils.downward_closure(measured))
        scores = np.empty(len(keys))
        for i, r in enumerate(keys):
            bias = math.sqrt(2.0 / math.pi) * sigma * answers[r].size
            est = margs.project(r)
            scores[i] = cands[r] * (np.abs(answers[r] - est).sum() - bias)
        alive = np.ones(len(keys), dtype=bool)
        while True:
            idx = np.flatnonzero(alive)
            pick = idx[exponential_mechanism(scores[idx], eps, sens, rng)]
            r = keys[pick]
            if r in free or hypothetical_model_size(domain, measured + [r]) <= limit:
                break
            alive[pick] = False
        n_r = answers[r].size
        before = margs.project(r)
        measurements.append(measure(data, r, sigma, rng))
        measured.append(r)
        model = estimate(domain, measurements, AIM_ROUND_ITERS, warm=model)
        margs = NumpyMarginals(model)
        after = margs.project(r)
        print(
            f"AIM round {t}: {r} sigma={sigma:.3g} rho_used={rho_used / rho:.3f}",
            file=sys.stderr,
            flush=True,
        )
        if np.abs(after - before).sum() <= math.sqrt(2.0 / math.pi) * sigma * n_r:
            sigma /= 2.0
            eps *= 2.0
    model = estimate(domain, measurements, EST_ITERS, warm=model)
    job.note(f"AIM: {t} rounds, {len(measurements)} measurements")
    job.mark("fit_done")
    return model.synthetic_data()


def synthesize(job: _common.Job) -> pd.DataFrame:
    columns = list(job.frame.columns)
    domain = Domain(columns, [job.domain[c] for c in columns])
    data = Dataset({c: job.frame[c].to_numpy(dtype=np.int64) for c in columns}, domain)
    rho = _common.cdp_rho(job.epsilon, job.delta)
    rng = np.random.default_rng(job.seed)
    job.note(f"our driver on mbi {getattr(mbi, '__version__', '2.0.0')}, rho={rho:.4g}")
    synth = {"mst": mst, "aim": aim}[job.method](data, rho, rng, job)
    return _common.codes_frame(columns, synth.to_dict())


if __name__ == "__main__":
    _common.main(synthesize, METHODS, __doc__.splitlines()[0])
