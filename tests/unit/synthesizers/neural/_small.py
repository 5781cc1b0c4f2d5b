"""A small table for the neural synthesizer tests."""

from __future__ import annotations

import numpy as np
import pandas as pd

from dpsynth.data import Domain

DOMAIN = Domain({"a": 3, "b": 4, "c": 2})
N = 400


def small_table(seed: int = 0) -> pd.DataFrame:
    """N rows over DOMAIN; b depends on a."""
    rng = np.random.default_rng(seed)
    a = rng.integers(0, 3, N)
    b = (a + rng.integers(0, 2, N)) % 4
    return pd.DataFrame({"a": a, "b": b, "c": rng.integers(0, 2, N)})
