"""Privacy audits of synthetic tables: attacks, their statistics and the report.

So far: :mod:`dpsynth.audit.stats`, the interval and epsilon-bound arithmetic.
"""

from dpsynth.audit.stats import (
    EpsilonLowerBound,
    clopper_pearson,
    epsilon_lower_bound,
    holm,
    wilson,
)

__all__ = [
    "EpsilonLowerBound",
    "clopper_pearson",
    "epsilon_lower_bound",
    "holm",
    "wilson",
]
