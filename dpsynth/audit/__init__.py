"""Privacy audits of synthetic tables: attacks, their statistics and the report.

So far: :mod:`dpsynth.audit.stats` (the interval and epsilon-bound arithmetic) and
:mod:`dpsynth.audit.distance` (exact nearest-record distances on encoded codes).
"""

from dpsynth.audit.distance import nearest_distances
from dpsynth.audit.stats import (
    EpsilonLowerBound,
    Roc,
    clopper_pearson,
    epsilon_from_split,
    epsilon_lower_bound,
    holm,
    roc,
    wilson,
)

__all__ = [
    "EpsilonLowerBound",
    "Roc",
    "clopper_pearson",
    "epsilon_from_split",
    "epsilon_lower_bound",
    "holm",
    "nearest_distances",
    "roc",
    "wilson",
]
