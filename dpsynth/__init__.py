"""dpsynth: differentially private synthetic tabular data.

Public API (curated; importing dpsynth has no side effects).
"""

from dpsynth.data.domain import Domain
from dpsynth.errors import (
    BudgetExceededError,
    DomainError,
    DPSynthError,
    InternalError,
    NotFittedError,
    PrivacyWarning,
    UnsupportedEventError,
    ValidationError,
)

__version__ = "0.1.0.dev0"

__all__ = [
    "BudgetExceededError",
    "DPSynthError",
    "Domain",
    "DomainError",
    "InternalError",
    "NotFittedError",
    "PrivacyWarning",
    "UnsupportedEventError",
    "ValidationError",
    "__version__",
]
