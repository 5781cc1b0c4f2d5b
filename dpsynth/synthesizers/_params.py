"""Hyperparameter checks the synthesizers share (one message template)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from dpsynth.errors import ValidationError

__all__ = [
    "check_fraction",
    "check_int",
    "check_nonnegative",
    "check_positive",
    "is_int",
]


def _is_real(value: Any) -> bool:
    return isinstance(value, int | float | np.integer | np.floating) and not isinstance(
        value, bool
    )


def is_int(value: Any, minimum: int) -> bool:
    """Whether ``value`` is an integer (not a bool) of at least ``minimum``."""
    return bool(
        isinstance(value, int | np.integer)
        and not isinstance(value, bool)
        and value >= minimum
    )


def check_fraction(name: str, value: Any) -> None:
    """Raises unless ``value`` is a number in the open interval (0, 1)."""
    if not (_is_real(value) and 0 < value < 1):
        raise ValidationError(f"`{name}` ({value!r}) must be in (0, 1).")


def check_int(name: str, value: Any, minimum: int, *, none_ok: bool = False) -> None:
    """Raises unless ``value`` is an integer >= ``minimum`` (or None if allowed)."""
    if none_ok and value is None:
        return
    if not is_int(value, minimum):
        tail = " or None" if none_ok else ""
        raise ValidationError(
            f"`{name}` ({value!r}) must be an integer >= {minimum}{tail}."
        )


def check_positive(name: str, value: Any) -> None:
    """Raises unless ``value`` is a positive, finite number."""
    if not (_is_real(value) and math.isfinite(value) and value > 0):
        raise ValidationError(
            f"`{name}` ({value!r}) must be a positive, finite number."
        )


def check_nonnegative(name: str, value: Any) -> None:
    """Raises unless ``value`` is a finite number >= 0."""
    if not (_is_real(value) and math.isfinite(value) and value >= 0):
        raise ValidationError(f"`{name}` ({value!r}) must be >= 0.")
