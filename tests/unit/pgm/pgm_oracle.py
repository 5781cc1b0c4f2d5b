"""Brute-force references for the PGM tests: full joint tables built with numpy."""

from __future__ import annotations

import itertools

import numpy as np

from dpsynth.data.domain import Domain
from dpsynth.pgm import Factor


def random_domain(rng: np.random.Generator, n_attrs: int) -> Domain:
    names = "abcdefgh"[:n_attrs]
    return Domain({c: int(rng.integers(2, 5)) for c in names})


def random_cliques(
    rng: np.random.Generator, domain: Domain, count: int, max_size: int = 3
) -> list[tuple[str, ...]]:
    attrs = list(domain.attributes)
    out = []
    for _ in range(count):
        size = int(rng.integers(1, max_size + 1))
        out.append(tuple(rng.choice(attrs, size=size, replace=False).tolist()))
    return out


def random_factors(
    rng: np.random.Generator,
    domain: Domain,
    cliques: list[tuple[str, ...]],
    scale: float = 1.5,
    zeros: float = 0.0,
) -> list[Factor]:
    """Log-normal potentials; a fraction ``zeros`` of cells set to -inf."""
    factors = []
    for clique in cliques:
        values = rng.normal(0.0, scale, size=domain.project(clique).shape)
        if zeros:
            mask = rng.random(values.shape) < zeros
            mask.flat[int(rng.integers(values.size))] = False  # keep one cell
            values[mask] = -np.inf
        factors.append(Factor(clique, values))
    return factors


def aligned(domain: Domain, attrs: tuple[str, ...], table: np.ndarray) -> np.ndarray:
    """``table`` (axes ``attrs``) reshaped to broadcast over the full domain."""
    order = sorted(range(len(attrs)), key=lambda i: domain.attributes.index(attrs[i]))
    moved = np.transpose(table, order)
    shape = [domain[a] if a in attrs else 1 for a in domain.attributes]
    return moved.reshape(shape)


def joint(domain: Domain, factors: list[Factor], total: float = 1.0) -> np.ndarray:
    """The full table ``total * prod(exp(factor)) / Z`` over the domain."""
    log_p = np.zeros(domain.shape)
    for f in factors:
        log_p = log_p + aligned(domain, f.attributes, f.values)
    p = np.exp(log_p - log_p.max())
    return total * p / p.sum()


def log_partition(domain: Domain, factors: list[Factor]) -> float:
    log_p = np.zeros(domain.shape)
    for f in factors:
        log_p = log_p + aligned(domain, f.attributes, f.values)
    peak = log_p.max()
    return float(peak + np.log(np.exp(log_p - peak).sum()))


def marginal(domain: Domain, table: np.ndarray, columns: tuple[str, ...]) -> np.ndarray:
    """The marginal of a full-domain ``table`` over ``columns``, axes in that order."""
    axes = tuple(i for i, a in enumerate(domain.attributes) if a not in columns)
    kept = [a for a in domain.attributes if a in columns]
    summed = table.sum(axis=axes)
    return np.transpose(summed, [kept.index(c) for c in columns])


def all_column_sets(domain: Domain, max_size: int = 3) -> list[tuple[str, ...]]:
    out = []
    for size in range(1, max_size + 1):
        out.extend(itertools.combinations(domain.attributes, size))
    return out
