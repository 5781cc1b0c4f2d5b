"""The privacy budget: a validated ``(epsilon, delta)`` pair."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from dpsynth.errors import ValidationError

__all__ = ["PrivacyBudget"]


def _number(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValidationError(
            f"`{name}` ({value!r}) must be a real number. Hint: pass a float such "
            f"as {name}=1.0."
        )
    value = float(value)
    if math.isnan(value):
        raise ValidationError(f"`{name}` ({value!r}) must be a number, not NaN.")
    return value


def _check_delta(value: Any) -> float:
    delta = _number("delta", value)
    if not 0.0 <= delta < 1.0:
        raise ValidationError(
            f"`delta` ({value!r}) must be in [0, 1). Hint: use a value far below "
            "1 / (number of rows), such as 1e-9."
        )
    return delta


@dataclass(frozen=True)
class PrivacyBudget:
    """A total privacy budget ``(epsilon, delta)`` under add/remove-one neighbours.

    Attributes:
        epsilon: the epsilon that may not be exceeded; positive and finite
            (:meth:`unlimited` gives ``inf`` for tests and analysis).
        delta: the delta at which epsilon is stated, in ``[0, 1)``. Use a value
            well below ``1 / number of rows`` (e.g. ``1e-9``).

    Raises:
        ValidationError: for ``epsilon <= 0``, NaN, ``inf``, or ``delta``
            outside ``[0, 1)``.

    Example:
        >>> PrivacyBudget(1.0, 1e-9)
        PrivacyBudget(epsilon=1.0, delta=1e-09)
        >>> PrivacyBudget.unlimited().is_unlimited
        True
    """

    epsilon: float
    delta: float = 0.0

    def __post_init__(self) -> None:
        eps = _number("epsilon", self.epsilon)
        if math.isinf(eps) and eps > 0:
            raise ValidationError(
                f"`epsilon` ({self.epsilon!r}) must be finite. Hint: use "
                "PrivacyBudget.unlimited(delta=...) for an unlimited budget "
                "(tests and analysis only)."
            )
        if eps <= 0:
            raise ValidationError(
                f"`epsilon` ({self.epsilon!r}) must be > 0. Hint: epsilon = 0 "
                "allows no measurement at all; typical values are 0.1 to 10."
            )
        object.__setattr__(self, "epsilon", eps)
        object.__setattr__(self, "delta", _check_delta(self.delta))

    @classmethod
    def unlimited(cls, delta: float = 1e-9) -> PrivacyBudget:
        """A budget with ``epsilon = inf``: never refuses (tests and analysis)."""
        budget = object.__new__(cls)
        object.__setattr__(budget, "epsilon", math.inf)
        object.__setattr__(budget, "delta", _check_delta(delta))
        return budget

    @property
    def is_unlimited(self) -> bool:
        """Whether epsilon is infinite."""
        return math.isinf(self.epsilon)

    def to_dict(self) -> dict[str, float | None]:
        """JSON-ready dict; an unlimited epsilon is written as ``None``."""
        return {
            "epsilon": None if self.is_unlimited else self.epsilon,
            "delta": self.delta,
        }

    @classmethod
    def from_dict(cls, data: Any) -> PrivacyBudget:
        """Inverse of :meth:`to_dict`.

        Raises:
            ValidationError: for a malformed record.
        """
        if not isinstance(data, dict) or not {"epsilon", "delta"} <= set(data):
            raise ValidationError(
                f"`budget` ({data!r}) must be a dict with 'epsilon' and 'delta'."
            )
        if data["epsilon"] is None:
            return cls.unlimited(delta=data["delta"])
        return cls(data["epsilon"], data["delta"])
