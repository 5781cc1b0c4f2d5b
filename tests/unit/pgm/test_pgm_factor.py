"""Log-space factors against plain numpy."""

import re

import numpy as np
import pytest

from dpsynth.data.domain import Domain
from dpsynth.errors import ValidationError
from dpsynth.pgm import Factor
from dpsynth.pgm.factor import logsumexp

RNG = np.random.default_rng(0)
A = RNG.random((2, 3))  # over (x, y)
B = RNG.random((3, 4))  # over (y, z)
FA = Factor(("x", "y"), np.log(A))
FB = Factor(("y", "z"), np.log(B))


def test_product_quotient_and_sum_follow_numpy():
    prod = (FA * FB).transpose(("x", "y", "z")).exp()
    np.testing.assert_allclose(prod, A[:, :, None] * B[None, :, :])
    quot = (FA / FB).transpose(("z", "y", "x")).exp()
    np.testing.assert_allclose(quot, (A[:, :, None] / B[None, :, :]).transpose())
    total = (FA + FB).transpose(("x", "y", "z")).exp()
    np.testing.assert_allclose(total, A[:, :, None] + B[None, :, :])
    np.testing.assert_allclose((FA * 2.0).exp(), 2 * A)


def test_marginals_expand_and_normalise():
    np.testing.assert_allclose(FA.project(("y",)).exp(), A.sum(axis=0))
    np.testing.assert_allclose(FA.sum_out(("y",)).exp(), A.sum(axis=1))
    np.testing.assert_allclose(FA.log_total(), np.log(A.sum()))
    assert FA.normalize(5.0).exp().sum() == pytest.approx(5.0)
    big = FA.expand(("z", "x", "y"), {"z": 4})
    assert big.shape == (4, 2, 3)
    np.testing.assert_allclose(big.exp()[3], A)
    assert FA.sizes == {"x": 2, "y": 3}
    uniform = Factor.uniform(Domain({"x": 2, "y": 3}), ("y", "x"))
    assert uniform.shape == (3, 2)
    assert not uniform.values.any()


def test_zero_over_zero_is_zero_and_all_minus_inf_sums_to_minus_inf():
    zero = Factor(("x",), np.array([-np.inf, 0.0]))
    np.testing.assert_array_equal((zero / zero).exp(), [0.0, 1.0])
    out = logsumexp(np.array([[-np.inf, -np.inf], [0.0, 0.0]]), (1,))
    np.testing.assert_allclose(out, [-np.inf, np.log(2)])
    assert float(logsumexp(np.full((2, 2), -np.inf))) == -np.inf
    assert logsumexp(np.zeros(3)).shape == ()


def test_logsumexp_is_stable():
    out = logsumexp(np.array([1000.0, 1000.0]))
    assert float(out) == pytest.approx(1000.0 + np.log(2))


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: Factor("xy", np.zeros((2, 2))), "`attributes` ('xy') must be"),
        (lambda: Factor(("x", "x"), np.zeros((2, 2))), "must be distinct strings"),
        (lambda: Factor(("x",), np.zeros((2, 2))), "must have one axis per attribute"),
        (lambda: Factor(("x",), np.array([np.nan, 0])), "`values` (with NaN or +inf)"),
        (lambda: Factor(("x",), np.array([np.inf, 0])), "`values` (with NaN or +inf)"),
        (lambda: FA.transpose(("x",)), "must be a permutation of"),
        (lambda: FA.expand(("x",), {}), "missing ['y']"),
        (lambda: FA.project(("q",)), "unknown ['q']"),
        (lambda: FA * Factor(("y",), np.zeros(5)), "has 3 codes in one factor and 5"),
    ],
)
def test_bad_factors_are_rejected(build, message):
    with pytest.raises(ValidationError, match=re.escape(message)):
        build()
