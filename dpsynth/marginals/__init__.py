"""dpsynth.marginals: marginal queries and exact counting backends.

Privacy: every count computed here is exact and private. Counts go only to a
mechanism in :mod:`dpsynth.mechanisms` (which charges the accountant and adds
noise); they are never released directly.
"""

from dpsynth.marginals.backend import DEFAULT_MAX_CELLS, CountingBackend
from dpsynth.marginals.counting import counting_backend, marginal
from dpsynth.marginals.numpy_backend import NumpyBackend
from dpsynth.marginals.query import MarginalQuery, as_query

__all__ = [
    "DEFAULT_MAX_CELLS",
    "CountingBackend",
    "MarginalQuery",
    "NumpyBackend",
    "as_query",
    "counting_backend",
    "marginal",
]
