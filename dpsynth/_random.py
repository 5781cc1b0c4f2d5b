"""The one place an ``rng`` argument is normalised.

Randomness that dpsynth owns (tie-breaks, model sampling, decoding, splits) comes
from an explicit :class:`numpy.random.Generator`. DP noise never does: it comes from
OpenDP's cryptographic sampler, which cannot be seeded (see ``dpsynth.mechanisms``).
"""

from __future__ import annotations

from typing import TypeAlias

import numpy as np

from dpsynth.errors import ValidationError

RngLike: TypeAlias = np.random.Generator | np.random.SeedSequence | int | None

__all__ = ["RngLike", "as_generator"]


def as_generator(rng: RngLike = None) -> np.random.Generator:
    """Returns a numpy Generator for ``rng``.

    Args:
        rng: a Generator (returned as is), a SeedSequence or a non-negative int
            (seeded), or None (fresh OS entropy).

    Returns:
        A :class:`numpy.random.Generator`.

    Raises:
        ValidationError: for any other type, or a negative seed.

    Example:
        >>> bool(as_generator(7).integers(10) == as_generator(7).integers(10))
        True
    """
    if isinstance(rng, np.random.Generator):
        return rng
    if rng is None or isinstance(rng, np.random.SeedSequence):
        return np.random.default_rng(rng)
    if isinstance(rng, int | np.integer) and not isinstance(rng, bool):
        if rng < 0:
            raise ValidationError(
                f"`rng` ({rng!r}) must be a non-negative seed. "
                "Pass an int >= 0, a numpy Generator or None."
            )
        return np.random.default_rng(int(rng))
    raise ValidationError(
        f"`rng` ({rng!r}) must be a numpy Generator, SeedSequence, int or None."
    )
