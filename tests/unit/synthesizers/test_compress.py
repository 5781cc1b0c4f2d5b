"""Domain compression from noisy 1-way counts (post-processing)."""

from __future__ import annotations

import numpy as np
import pytest

from dpsynth.data import Dataset, Domain
from dpsynth.synthesizers._compress import Compression

DOMAIN = Domain({"a": 5, "b": 3})
NOISY = {"a": np.array([100.0, 2.0, -1.0, 50.0, 0.5]), "b": np.array([9.0, 1.0, 8.0])}


def test_small_values_merge_into_one_code_and_single_small_values_stay():
    comp = Compression.from_noisy(DOMAIN, NOISY, threshold=3.0)
    # a: codes 1, 2, 4 are below 3 and merge; kept 0 -> 0, 3 -> 1, merged -> 2
    assert comp.maps["a"].tolist() == [0, 2, 2, 1, 2]
    assert comp.compressed == Domain({"a": 3, "b": 3})
    assert comp.is_identity("b") and not comp.is_identity("a")  # one small b stays
    np.testing.assert_allclose(comp.compress_counts("a", NOISY["a"]), [100, 50, 1.5])


def test_compress_relabels_and_expand_inverts_kept_codes():
    comp = Compression.from_noisy(DOMAIN, NOISY, threshold=3.0)
    codes = np.array([[0, 0], [3, 1], [1, 2], [4, 0], [2, 1]])
    small = comp.compress(Dataset(codes, DOMAIN))
    assert small.codes[:, 0].tolist() == [0, 1, 2, 2, 2]
    back = comp.expand(small, np.random.default_rng(0))
    assert back.domain == DOMAIN
    assert back.codes[:2, 0].tolist() == [0, 3]  # kept codes come back exactly
    assert set(back.codes[2:, 0].tolist()) <= {1, 2, 4}  # merged: one of the members
    np.testing.assert_array_equal(back.codes[:, 1], codes[:, 1])


def test_expansion_draws_merged_values_in_proportion_to_clipped_noisy_counts():
    comp = Compression.from_noisy(DOMAIN, NOISY, threshold=3.0)
    n = 200_000
    merged = np.full((n, 2), [2, 0])
    back = comp.expand(Dataset(merged, comp.compressed), np.random.default_rng(1))
    share = np.bincount(back.codes[:, 0], minlength=5)[[1, 2, 4]] / n
    expected = np.array([2.0, 0.0, 0.5]) / 2.5  # -1 clips to 0
    # binomial sd <= sqrt(0.25 / n) = 0.0011; 6 sd has probability < 1e-8
    np.testing.assert_allclose(share, expected, atol=6 * np.sqrt(0.25 / n))


def test_round_trip_through_dict():
    comp = Compression.from_noisy(DOMAIN, NOISY, threshold=3.0)
    again = Compression.from_dict(DOMAIN, comp.to_dict())
    for col in DOMAIN:
        np.testing.assert_array_equal(again.maps[col], comp.maps[col])
        np.testing.assert_array_equal(again.weights[col], comp.weights[col])


@pytest.mark.parametrize("threshold", [0.0, -1.0])
def test_no_threshold_is_the_identity(threshold):
    comp = Compression.from_noisy(DOMAIN, NOISY, threshold=threshold)
    assert comp.compressed == DOMAIN


def test_a_column_whose_every_value_is_small_keeps_its_codes():
    # merging every value would leave one code: nothing told apart, no signal kept
    comp = Compression.from_noisy(DOMAIN, NOISY, threshold=1000.0)
    assert comp.compressed == DOMAIN
    assert comp.compressed == Compression.identity(DOMAIN).compressed
    codes = np.array([[4, 2], [0, 1]])
    ident = Compression.identity(DOMAIN)
    np.testing.assert_array_equal(
        ident.expand(
            ident.compress(Dataset(codes, DOMAIN)), np.random.default_rng(0)
        ).codes,
        codes,
    )


def test_count_scale_is_the_root_of_how_many_codes_a_compressed_code_sums():
    comp = Compression.from_noisy(DOMAIN, NOISY, threshold=3.0)
    np.testing.assert_allclose(comp.count_scale("a"), [1.0, 1.0, np.sqrt(3.0)])
    assert comp.count_scale("b") is None
