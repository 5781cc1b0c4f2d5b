"""Log-space factors: a table of log-values over an ordered set of attributes.

A :class:`Factor` stands for the non-negative function ``exp(values)`` of the
attributes it names. Products and quotients of factors are sums and differences
of their log-values, sums are ``logaddexp``, and marginalising (summing out)
attributes is a ``logsumexp``, so nothing underflows however small the
probabilities get. Every operation is vectorised with numpy broadcasting.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from dpsynth.errors import ValidationError

__all__ = ["LOG_FLOOR", "Factor", "logsumexp"]

_HUGE = 1e300
LOG_FLOOR = -700.0
"""Log-values below this are raised to it before ``exp`` (``exp(-700) ~ 1e-304``)."""


def logsumexp(values: np.ndarray, axis: tuple[int, ...] | None = None) -> np.ndarray:
    """``log(sum(exp(values)))`` over ``axis`` (all axes when None), without overflow.

    Slices that are all ``-inf`` give ``-inf`` (no warning).

    Args:
        values: log-values.
        axis: the axes to sum out.

    Returns:
        The reduced array (a 0-d array when every axis is summed out).
    """
    if axis is None:
        axis = tuple(range(values.ndim))
    if not axis:
        return values
    # An all -inf slice gets a finite peak, so that it sums to exp(-inf) = 0.
    raw = values.max(axis=axis, keepdims=True)
    peak = np.maximum(raw, -_HUGE)
    shifted = values - peak
    # exp(-700) is still a normal float: subnormal results (which are two
    # orders of magnitude slower to compute with) never appear.
    np.maximum(shifted, LOG_FLOOR, out=shifted)
    np.exp(shifted, out=shifted)
    with np.errstate(divide="ignore"):
        out = np.log(shifted.sum(axis=axis))
    out = out + peak.reshape(np.shape(out))
    dead = np.isneginf(raw).reshape(np.shape(out))
    return np.where(dead, -np.inf, out) if dead.any() else np.asarray(out)


@dataclass(frozen=True, eq=False)
class Factor:
    """A non-negative table ``exp(values)`` over ``attributes``, kept in log space.

    Axis ``i`` of ``values`` runs over the codes of ``attributes[i]``.

    Args:
        attributes: distinct attribute names, one per axis of ``values``.
        values: the log-values, a float64 array (``-inf`` means zero).

    Raises:
        ValidationError: if the attributes repeat, are not strings, or do not
            match the number of axes of ``values``, or if a value is NaN or +inf.

    Example:
        >>> f = Factor(("a", "b"), np.log([[1.0, 2.0], [3.0, 4.0]]))
        >>> np.exp(f.project(["b"]).values).round(6).tolist()
        [4.0, 6.0]
        >>> (f * f).transpose(["b", "a"]).exp().round(6).tolist()
        [[1.0, 9.0], [4.0, 16.0]]
    """

    attributes: tuple[str, ...]
    values: np.ndarray

    def __post_init__(self) -> None:
        attrs = self.attributes
        if isinstance(attrs, str) or not isinstance(attrs, Iterable):
            raise ValidationError(
                f"`attributes` ({attrs!r}) must be a sequence of attribute names."
            )
        attrs = tuple(attrs)
        if any(not isinstance(a, str) for a in attrs) or len(set(attrs)) != len(attrs):
            raise ValidationError(
                f"`attributes` ({attrs!r}) must be distinct strings. "
                "Name each axis once."
            )
        values = np.asarray(self.values, dtype=np.float64)
        if values.ndim != len(attrs):
            raise ValidationError(
                f"`values` (shape {values.shape!r}) must have one axis per attribute "
                f"({len(attrs)}: {attrs!r})."
            )
        if np.isnan(values).any() or np.isposinf(values).any():
            raise ValidationError(
                "`values` (with NaN or +inf) must hold finite log-values or -inf "
                "(for zero). Check the input."
            )
        object.__setattr__(self, "attributes", attrs)
        object.__setattr__(self, "values", values)

    @classmethod
    def uniform(cls, sizes: Mapping[str, int], attributes: Sequence[str]) -> Factor:
        """The constant factor 1 (log-value 0) over ``attributes``.

        Args:
            sizes: a mapping attribute -> number of codes (a Domain works).
            attributes: the attributes, in axis order.

        Returns:
            A factor of zeros in log space.
        """
        attrs = tuple(attributes)
        return cls(attrs, np.zeros(tuple(sizes[a] for a in attrs)))

    @property
    def shape(self) -> tuple[int, ...]:
        """The number of codes of each attribute, in axis order."""
        return self.values.shape

    @property
    def sizes(self) -> dict[str, int]:
        """A mapping attribute -> number of codes."""
        return dict(zip(self.attributes, self.values.shape, strict=True))

    def transpose(self, attributes: Sequence[str]) -> Factor:
        """The same factor with its axes in the order of ``attributes``.

        Raises:
            ValidationError: if ``attributes`` is not a permutation of the factor's.
        """
        attrs = tuple(attributes)
        if sorted(attrs) != sorted(self.attributes):
            raise ValidationError(
                f"`attributes` ({attrs!r}) must be a permutation of "
                f"{self.attributes!r}."
            )
        perm = [self.attributes.index(a) for a in attrs]
        return Factor(attrs, np.transpose(self.values, perm))

    def expand(self, attributes: Sequence[str], sizes: Mapping[str, int]) -> Factor:
        """The factor over a superset ``attributes``, constant along the new axes.

        Args:
            attributes: every attribute of this factor and possibly more, in the
                axis order wanted.
            sizes: the number of codes of the new attributes (a Domain works).

        Returns:
            A factor whose ``values`` broadcast this one's (a full-size copy).

        Raises:
            ValidationError: if ``attributes`` misses one of the factor's.
        """
        attrs = tuple(attributes)
        missing = [a for a in self.attributes if a not in attrs]
        if missing:
            raise ValidationError(
                f"`attributes` ({attrs!r}) must contain every attribute of the "
                f"factor; missing {missing!r}."
            )
        shape = tuple(self.sizes.get(a) or sizes[a] for a in attrs)
        return Factor(attrs, np.broadcast_to(self._aligned(attrs), shape).copy())

    def _aligned(self, attributes: tuple[str, ...]) -> np.ndarray:
        """A view of ``values`` that broadcasts against the axes ``attributes``."""
        kept = sorted(self.attributes, key=attributes.index)
        perm = [self.attributes.index(a) for a in kept]
        shape = [self.sizes[a] if a in self.attributes else 1 for a in attributes]
        return np.transpose(self.values, perm).reshape(shape)

    def _union(self, other: Factor) -> tuple[str, ...]:
        extra = tuple(a for a in other.attributes if a not in self.attributes)
        for a in self.attributes:
            if a in other.attributes and self.sizes[a] != other.sizes[a]:
                raise ValidationError(
                    f"Attribute {a!r} has {self.sizes[a]} codes in one factor and "
                    f"{other.sizes[a]} in the other. Build both on one Domain."
                )
        return self.attributes + extra

    def __mul__(self, other: Factor | float) -> Factor:
        """The product (log-values add); a number multiplies every cell."""
        if not isinstance(other, Factor):
            with np.errstate(divide="ignore"):
                return Factor(self.attributes, self.values + np.log(float(other)))
        attrs = self._union(other)
        return Factor(attrs, self._aligned(attrs) + other._aligned(attrs))

    def __truediv__(self, other: Factor) -> Factor:
        """The quotient (log-values subtract), with ``0 / 0 = 0``."""
        attrs = self._union(other)
        num, den = self._aligned(attrs), other._aligned(attrs)
        with np.errstate(invalid="ignore"):
            out = num - den
        return Factor(attrs, np.where(np.isneginf(num), -np.inf, out))

    def __add__(self, other: Factor) -> Factor:
        """The sum of the two non-negative tables (``logaddexp`` of log-values)."""
        attrs = self._union(other)
        return Factor(attrs, np.logaddexp(self._aligned(attrs), other._aligned(attrs)))

    def sum_out(self, attributes: Iterable[str]) -> Factor:
        """Sums ``attributes`` out (a logsumexp over their axes)."""
        drop = set(attributes)
        axes = tuple(i for i, a in enumerate(self.attributes) if a in drop)
        kept = tuple(a for a in self.attributes if a not in drop)
        return Factor(kept, logsumexp(self.values, axes))

    def project(self, attributes: Sequence[str]) -> Factor:
        """The marginal over ``attributes`` (a subset), axes in the order given.

        Raises:
            ValidationError: if an attribute is not one of the factor's.
        """
        attrs = tuple(attributes)
        missing = [a for a in attrs if a not in self.attributes]
        if missing:
            raise ValidationError(
                f"`attributes` ({attrs!r}) must be attributes of the factor "
                f"{self.attributes!r}; unknown {missing!r}."
            )
        return self.sum_out(a for a in self.attributes if a not in attrs).transpose(
            attrs
        )

    def log_total(self) -> float:
        """``log`` of the sum of every cell."""
        return float(logsumexp(self.values))

    def normalize(self, total: float = 1.0) -> Factor:
        """The factor rescaled so that its cells sum to ``total``."""
        shift = np.log(total) - self.log_total()
        return Factor(self.attributes, self.values + shift)

    def exp(self) -> np.ndarray:
        """The table itself, ``exp(values)``."""
        return np.exp(self.values)

    def __repr__(self) -> str:
        return f"Factor(attributes={self.attributes!r}, shape={self.shape!r})"
