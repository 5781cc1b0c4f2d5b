import math

import pytest

from dpsynth.errors import InternalError
from dpsynth.mechanisms._opendp import _MAX_ULPS, calibrate, sensitivity_distance


def test_calibrate_returns_the_least_fitting_scale():
    target = math.nextafter(math.nextafter(1.0, 2.0), 2.0)  # two ulps above 1
    built = []

    def make(s):
        built.append(s)
        return ("measurement", s)

    scale, meas = calibrate(make, 1.0, lambda s, m: s >= target, what="x")
    assert scale == target
    assert meas == ("measurement", target)
    assert built == [1.0, math.nextafter(1.0, 2.0), target]


def test_calibrate_never_lowers_the_scale():
    scale, _ = calibrate(lambda s: s, 3.0, lambda s, m: True, what="x")
    assert scale == 3.0


def test_calibrate_gives_up_with_an_internal_error():
    with pytest.raises(InternalError, match="understate the loss stated by OpenDP"):
        calibrate(lambda s: s, 1.0, lambda s, m: s > 1.0 + 1e-9, what="x")


def test_calibrate_tolerates_exactly_max_ulps():
    limit = 1.0
    for _ in range(_MAX_ULPS):
        limit = math.nextafter(limit, 2.0)
    scale, _ = calibrate(lambda s: s, 1.0, lambda s, m: s >= limit, what="x")
    assert scale == limit


@pytest.mark.parametrize(
    ("sensitivity", "expected"),
    [(1.0, ("i64", 1)), (3.0, ("i64", 3)), (0.5, (float, 0.5))],
)
def test_sensitivity_distance(sensitivity, expected):
    assert sensitivity_distance(sensitivity) == expected
