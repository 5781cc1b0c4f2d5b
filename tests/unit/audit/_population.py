"""A small population with dependent columns, for attack tests.

Records come from a latent class model (5 classes; each column's value depends
on the class), so columns are correlated and most records are unique, like a
real table. ``draw`` samples the population afresh: a synthetic table drawn
this way is independent of the training table, so members and non-members are
exchangeable for every attack (the exact null hypothesis).
"""

import numpy as np
import pandas as pd

from dpsynth.audit.data import AuditData

SIZES = (4, 6, 3, 8, 5, 7, 9, 6, 2)
NAMES = tuple(f"c{j}" for j in range(len(SIZES)))
ORDERED = (True, False, True, False, False, True, True, False, False)


def _tables(rng):
    gen = np.random.default_rng(12345)  # the population itself is fixed
    return [gen.dirichlet(np.full(k, 0.6), size=5) for k in SIZES]


def draw(n, rng):
    """``n`` records of codes, ``(n, 9)`` int64."""
    tables = _tables(rng)
    latent = rng.integers(0, 5, size=n)
    cols = []
    for table in tables:
        u = rng.random(n)
        cdf = np.cumsum(table[latent], axis=1)
        cols.append((u[:, None] > cdf).sum(axis=1))
    return np.column_stack(cols).astype(np.int64)


def frame(codes):
    return pd.DataFrame(codes, columns=list(NAMES))


def split(rng, n_train=3000, n_holdout=1500):
    return draw(n_train, rng), draw(n_holdout, rng)


def leaky(train, rng, share, n=3000):
    """A synthetic table: fresh population draws with ``share`` of its rows
    replaced by copies of training rows."""
    out = draw(n, rng)
    k = int(round(share * n))
    out[:k] = train[rng.choice(train.shape[0], size=k, replace=False)]
    return out


def audit_data(train, holdout, synthetic):
    """The three code tables as AuditData over the population's columns."""
    return AuditData.from_codes(
        train, holdout, synthetic, sizes=SIZES, names=NAMES, ordered=ORDERED
    )
