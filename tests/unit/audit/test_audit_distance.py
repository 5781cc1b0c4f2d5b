"""Nearest-record distances against brute force."""

import numpy as np
import pytest

from dpsynth.audit.distance import nearest_distances
from dpsynth.errors import ValidationError


def _brute(q, r, sizes, ordered):
    out = []
    for row in q:
        best = np.inf
        for other in r:
            dist = 0.0
            for j, k in enumerate(sizes):
                if ordered[j]:
                    dist += abs(int(row[j]) - int(other[j])) / max(k - 1, 1)
                else:
                    dist += float(row[j] != other[j])
            best = min(best, dist)
        out.append(best)
    return np.array(out)


@pytest.mark.parametrize("block", [1, 7, 1000])
def test_nearest_distances_match_brute_force(block):
    rng = np.random.default_rng(0)
    sizes = [2, 5, 9, 1, 4, 4]
    ordered = [False, True, True, True, False, True]  # the last: thirds
    q = np.stack([rng.integers(0, k, 40) for k in sizes], axis=1)
    r = np.stack([rng.integers(0, k, 60) for k in sizes], axis=1)
    got = nearest_distances(q, r, sizes=sizes, ordered=ordered, block=block)
    # float32 sums of at most 6 terms: within 1e-6 of the float64 brute force
    np.testing.assert_allclose(got, _brute(q, r, sizes, ordered), rtol=0, atol=1e-6)


def test_a_copied_record_is_at_distance_zero_and_all_categorical_is_hamming():
    r = np.array([[0, 1, 2], [2, 2, 0]], dtype=np.uint8)
    q = np.array([[2, 2, 0], [0, 0, 0]], dtype=np.uint8)
    assert nearest_distances(q, r, sizes=[3, 3, 3]).tolist() == [0.0, 2.0]


@pytest.mark.parametrize(
    ("q", "r", "kwargs", "match"),
    [
        (np.zeros((2, 2), int), np.zeros((2, 3), int), {}, "columns"),
        (np.zeros((0, 2), int), np.zeros((2, 2), int), {}, "non-empty"),
        (np.zeros((2, 2)), np.zeros((2, 2), int), {}, "integer codes"),
        (np.full((2, 2), 3), np.zeros((2, 2), int), {}, "outside"),
        (np.zeros((2, 2), int), np.zeros((2, 2), int), {"block": 0}, "`block`"),
        (np.zeros((2, 2), int), np.zeros((2, 2), int), {"ordered": [True]}, "ordered"),
    ],
)
def test_bad_input_is_refused(q, r, kwargs, match):
    with pytest.raises(ValidationError, match=match):
        nearest_distances(q, r, sizes=[3, 3], **kwargs)
