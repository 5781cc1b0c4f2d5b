"""Privacy accounting for dpsynth.

Events, budgets, the accountant (ledger + filter), the conversions between privacy
notions, ledger verification and the budget store.

Neighbouring relation throughout: add or remove one row (unbounded DP).
"""

from dpsynth.privacy.accountant import PrivacyAccountant
from dpsynth.privacy.budget import PrivacyBudget
from dpsynth.privacy.events import (
    ApproxDPEvent,
    DpEvent,
    ExponentialEvent,
    GaussianEvent,
    LaplaceEvent,
    PureDPEvent,
    SampledGaussianEvent,
    ZCDPEvent,
    event_from_dict,
)
from dpsynth.privacy.ledger import Composition, Ledger, LedgerEntry
from dpsynth.privacy.store import BudgetStore, ReleaseRecord, fingerprint_file
from dpsynth.privacy.verify import VerificationResult, verify_ledger

__all__ = [
    "ApproxDPEvent",
    "BudgetStore",
    "Composition",
    "DpEvent",
    "ExponentialEvent",
    "GaussianEvent",
    "LaplaceEvent",
    "Ledger",
    "LedgerEntry",
    "PrivacyAccountant",
    "PrivacyBudget",
    "PureDPEvent",
    "ReleaseRecord",
    "SampledGaussianEvent",
    "VerificationResult",
    "ZCDPEvent",
    "event_from_dict",
    "fingerprint_file",
    "verify_ledger",
]
