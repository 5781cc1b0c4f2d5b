"""OpenDP plumbing shared by the mechanisms (private).

OpenDP is imported lazily, and its ``contrib`` features are enabled on first use
rather than at import time (dpsynth has no import-time side effects).

Every mechanism follows the same sequence:

1. validate the arguments and build the :class:`~dpsynth.privacy.events.DpEvent`;
2. build the OpenDP measurement (no data is touched) and read its privacy map;
3. check that the event we charge is at least the loss OpenDP states
   (:func:`calibrate`), else raise :class:`~dpsynth.errors.InternalError`;
4. ``accountant.spend(event)``, which raises before anything is sampled when the
   budget would be exceeded;
5. :func:`invoke` the measurement: the only place data meets noise.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from dpsynth.errors import InternalError

if TYPE_CHECKING:
    from dpsynth.privacy.accountant import PrivacyAccountant
    from dpsynth.privacy.events import DpEvent

__all__ = ["calibrate", "charge", "invoke", "opendp", "sensitivity_distance"]

# OpenDP rounds its privacy maps up, so a map can exceed the same formula
# evaluated in plain floating point by an ulp or two. We then raise the noise
# scale by that many ulps (more noise than the event states is always sound).
# A discrepancy that survives this many ulps is a real mismatch: a bug.
_MAX_ULPS = 64


@functools.cache
def opendp() -> Any:
    """Returns ``opendp.prelude`` with the ``contrib`` features enabled."""
    import opendp.prelude as dp

    dp.enable_features("contrib")
    return dp


def sensitivity_distance(sensitivity: float) -> tuple[Any, int | float]:
    """The OpenDP distance type and ``d_in`` for a sensitivity.

    Whole sensitivities use an integer distance (``i64``) and an exact integer
    ``d_in``; fractional ones (such as ``sqrt(2)``) a float distance.
    """
    if float(sensitivity).is_integer():
        return "i64", int(sensitivity)
    return float, float(sensitivity)


def calibrate(
    make: Callable[[float], Any],
    scale: float,
    fits: Callable[[float, Any], bool],
    *,
    what: str,
) -> tuple[float, Any]:
    """The least ``s >= scale`` that ``fits``, and its measurement ``make(s)``.

    ``s`` starts at ``scale`` and grows by one ulp at a time (at most
    ``_MAX_ULPS``), which absorbs the upward rounding of OpenDP's privacy maps
    without a visible change of the noise.

    Args:
        make: builds the OpenDP measurement for a noise scale.
        scale: the nominal noise scale.
        fits: ``fits(s, measurement)`` is True when the loss OpenDP's map states
            for the measurement is at most the loss we charge.
        what: the mechanism, for the error message.

    Returns:
        ``(s, make(s))``: the noise scale used and the measurement to invoke.

    Raises:
        InternalError: when no scale within ``_MAX_ULPS`` ulps fits, i.e. the
            event we would charge understates OpenDP's privacy loss.
    """
    s = scale
    for _ in range(_MAX_ULPS + 1):
        meas = make(s)
        if fits(s, meas):
            return s, meas
        s = math.nextafter(s, math.inf)
    raise InternalError(
        f"The privacy event for {what} (scale {scale!r}) would understate the loss "
        "stated by OpenDP's privacy map; nothing was spent or sampled. This is "
        "probably a bug in dpsynth; please report it."
    )


def charge(accountant: PrivacyAccountant, event: DpEvent, *, count: int = 1) -> None:
    """Spends ``event`` (``count`` times); raises before any noise is drawn."""
    if count == 1:
        accountant.spend(event)
    else:
        accountant.spend(event, count=count)


def invoke(measurement: Any, data: Any) -> Any:
    """Runs an OpenDP measurement on data: the only place data meets noise."""
    return measurement(data)
