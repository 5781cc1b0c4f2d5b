"""Exceptions and warnings raised by dpsynth.

Every error is a :class:`DPSynthError`, so ``except DPSynthError`` catches all of
them. Messages follow one template: ``"`name` (value) must be constraint."`` plus a
hint on how to fix the call.
"""

from __future__ import annotations

__all__ = [
    "BudgetExceededError",
    "DPSynthError",
    "DomainError",
    "InternalError",
    "ModelTooLargeError",
    "NotFittedError",
    "PrivacyWarning",
    "UnsupportedEventError",
    "ValidationError",
]


class DPSynthError(Exception):
    """Base class of every error dpsynth raises."""


class ValidationError(DPSynthError, ValueError):
    """A bad argument at a public entry point (wrong type, range, column, file)."""


class DomainError(ValidationError):
    """A value lies outside the declared public domain and no rule maps it."""


class ModelTooLargeError(ValidationError):
    """A graphical model would have more cells than the allowed maximum.

    Raised by :mod:`dpsynth.pgm` *before* any large table is allocated, when the
    junction tree of the requested cliques (after triangulation) would hold more
    float64 cells than ``max_cells``. Use fewer or smaller cliques, or raise the limit.
    """


class BudgetExceededError(DPSynthError):
    """A privacy spend was refused because it would overshoot the budget.

    Raised *before* any noise is drawn: the ledger is left exactly as it was.

    Attributes:
        requested: the epsilon the ledger would reach with the refused spend.
        budget: the epsilon the accountant may not exceed.
        delta: the delta at which both are stated.
    """

    def __init__(
        self, message: str, *, requested: float, budget: float, delta: float
    ) -> None:
        super().__init__(message)
        self.requested = requested
        self.budget = budget
        self.delta = delta


class UnsupportedEventError(DPSynthError):
    """An accountant was given a privacy event it cannot compose soundly."""


class NotFittedError(DPSynthError, AttributeError):
    """A fitted attribute was used before ``fit`` (sklearn compatible)."""


class InternalError(DPSynthError, AssertionError):
    """An internal invariant failed: probably a bug in dpsynth; please report it."""


class PrivacyWarning(UserWarning):
    """Something weakens the privacy guarantee: read off the data, insecure, or huge."""
