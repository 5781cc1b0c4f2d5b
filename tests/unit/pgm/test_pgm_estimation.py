"""Estimation: exact recovery, denoising, the total, warm starts, bad input."""

import math
import re

import numpy as np
import pytest
from pgm_oracle import joint, marginal, random_factors

from dpsynth.data.domain import Domain
from dpsynth.errors import ValidationError
from dpsynth.pgm import GraphicalModel, Measurement, estimate

DOMAIN = Domain({"a": 3, "b": 2, "c": 4, "d": 3, "e": 2})
CLIQUES = [("a", "b"), ("b", "c"), ("c", "d", "e")]


def _truth(seed, total=1000.0, cliques=CLIQUES):
    rng = np.random.default_rng(seed)
    return joint(DOMAIN, random_factors(rng, DOMAIN, cliques, scale=1.0), total)


def _measure(full, columns, sigma=1.0, rng=None):
    values = marginal(DOMAIN, full, columns)
    if rng is not None:
        values = values + rng.normal(0.0, sigma, size=values.shape)
    return Measurement(columns=columns, values=values, sigma=sigma)


@pytest.mark.parametrize("seed", range(4))
def test_noise_free_marginals_recover_the_distribution(seed):
    full = _truth(seed)
    measurements = [_measure(full, c) for c in CLIQUES]
    model = estimate(DOMAIN, measurements, total=1000.0, iters=3000, tol=0.0)
    # The truth factorises on the measured cliques, so it is the unique model
    # with these marginals: every marginal is recovered, measured or not.
    for cols in [*CLIQUES, ("a", "e"), ("d", "b", "a"), tuple(DOMAIN)]:
        np.testing.assert_allclose(
            model.project(cols), marginal(DOMAIN, full, cols), atol=1e-6 * 1000
        )


def test_noise_free_recovery_with_the_default_stopping_rule():
    full = _truth(11)
    measurements = [_measure(full, c) for c in CLIQUES]
    model = estimate(DOMAIN, measurements)
    assert model.total == pytest.approx(1000.0)
    for cols in CLIQUES:
        np.testing.assert_allclose(
            model.project(cols), marginal(DOMAIN, full, cols), atol=1e-4
        )


def test_noisy_marginals_are_denoised():
    # Fixed seeds; the model pools the 1-way and 2-way measurements, so its
    # marginals are closer to the truth than the raw noisy ones on average.
    errors_model, errors_noisy = [], []
    for seed in range(5):
        rng = np.random.default_rng(100 + seed)
        full = _truth(seed, total=5000.0)
        sets = [(a,) for a in DOMAIN] + CLIQUES
        measurements = [_measure(full, c, sigma=20.0, rng=rng) for c in sets]
        model = estimate(DOMAIN, measurements)
        for m in measurements:
            truth = marginal(DOMAIN, full, m.columns)
            errors_model.append(np.abs(model.project(m.columns) - truth).sum())
            errors_noisy.append(np.abs(m.values - truth).sum())
    assert np.mean(errors_model) < 0.8 * np.mean(errors_noisy)


def test_negative_noisy_counts_give_a_valid_model():
    rng = np.random.default_rng(7)
    values = rng.normal(0.0, 5.0, size=(3, 2))  # around zero: many negative
    values[0, 0] = 50.0
    y = Measurement(columns=("a", "b"), values=values, sigma=5.0)
    model = estimate(DOMAIN, [y], total=50.0)
    out = model.project(("a", "b"))
    assert np.isfinite(out).all()
    assert (out >= 0).all()
    assert out.sum() == pytest.approx(50.0)


def test_model_marginals_are_consistent():
    rng = np.random.default_rng(8)
    full = _truth(8)
    ms = [_measure(full, c, sigma=10.0, rng=rng) for c in [("a", "b"), ("a",)]]
    model = estimate(DOMAIN, ms)
    np.testing.assert_allclose(
        model.project(("a", "b")).sum(axis=1), model.project(("a",)), rtol=1e-10
    )


def test_total_is_the_inverse_variance_weighted_mean_of_the_sums():
    # Sums 100 (sigma 1, 6 cells) and 190 (sigma 2, 3 cells): the variances of
    # the sums are 6 and 12, so the weights are 1/6 and 1/12.
    y1 = Measurement(columns=("a", "b"), values=np.full((3, 2), 100 / 6), sigma=1.0)
    y2 = Measurement(columns=("a",), values=np.full(3, 190 / 3), sigma=2.0)
    model = estimate(DOMAIN, [y1, y2], iters=0)
    expected = (100 / 6 + 190 / 12) / (1 / 6 + 1 / 12)
    assert model.total == pytest.approx(expected)


def test_estimated_total_is_floored_at_one():
    y = Measurement(columns=("a",), values=np.array([-5.0, -3.0, 1.0]), sigma=3.0)
    assert estimate(DOMAIN, [y], iters=5).total == 1.0


def test_given_total_is_used_and_iters_zero_is_uniform():
    model = estimate(DOMAIN, [], total=60.0, iters=0)
    assert model.total == 60.0
    np.testing.assert_allclose(model.project(("c",)), [15.0] * 4)


def test_measurement_column_order_and_flat_values_do_not_matter():
    rng = np.random.default_rng(9)
    full = _truth(9)
    table = marginal(DOMAIN, full, ("b", "a")) + rng.normal(0, 3.0, size=(2, 3))
    one = estimate(DOMAIN, [Measurement(columns=("b", "a"), values=table, sigma=3.0)])
    two = estimate(
        DOMAIN, [Measurement(columns=("a", "b"), values=table.T.ravel(), sigma=3.0)]
    )
    np.testing.assert_allclose(one.project(("a", "b")), two.project(("a", "b")))


def test_repeated_measurements_are_pooled_by_precision():
    rng = np.random.default_rng(10)
    full = _truth(10)
    y1, y2 = (_measure(full, ("a", "c"), sigma=s, rng=rng) for s in (2.0, 4.0))
    pooled_sigma = 1 / math.sqrt(1 / 2.0**2 + 1 / 4.0**2)
    pooled_values = (y1.values / 4.0 + y2.values / 16.0) * pooled_sigma**2
    pooled = Measurement(columns=("a", "c"), values=pooled_values, sigma=pooled_sigma)
    both = estimate(DOMAIN, [y1, y2], total=1000.0, tol=0.0, iters=300)
    single = estimate(DOMAIN, [pooled], total=1000.0, tol=0.0, iters=300)
    np.testing.assert_allclose(
        both.project(("a", "c")), single.project(("a", "c")), atol=1e-6
    )


def _losses(*args, **kwargs):
    losses = []
    estimate(*args, callback=lambda i, loss: losses.append((i, loss)), **kwargs)
    return losses


def test_callback_gets_each_iteration_and_the_loss_never_increases():
    rng = np.random.default_rng(12)
    full = _truth(12)
    ms = [_measure(full, c, sigma=5.0, rng=rng) for c in CLIQUES + [("a", "d")]]
    losses = _losses(DOMAIN, ms, iters=200, tol=0.0)
    assert [i for i, _ in losses] == list(range(1, 201))
    values = np.array([loss for _, loss in losses])
    assert (np.diff(values) <= 1e-9 * values[:-1]).all()


def test_the_loss_is_the_gaussian_negative_log_likelihood():
    rng = np.random.default_rng(13)
    full = _truth(13)
    sigmas = (2.0, 3.0, 5.0)
    ms = [
        _measure(full, c, sigma=s, rng=rng)
        for c, s in zip(CLIQUES, sigmas, strict=True)
    ]
    losses = _losses(DOMAIN, ms, iters=50)
    model = estimate(DOMAIN, ms, iters=50)
    expected = sum(
        ((model.project(m.columns) - m.values) ** 2).sum() / (2 * m.sigma**2)
        for m in ms
    )
    assert losses[-1][1] == pytest.approx(expected, rel=1e-9)


@pytest.mark.parametrize("seed", [14, 15])
def test_warm_start_converges_at_least_as_fast(seed):
    # AIM's situation: one new marginal, (a, c), on top of those already fitted.
    rng = np.random.default_rng(seed)
    full = _truth(seed, total=5000.0)
    sets = [(a,) for a in DOMAIN] + CLIQUES + [("a", "c")]
    ms = [_measure(full, c, sigma=10.0, rng=rng) for c in sets]
    previous = estimate(DOMAIN, ms[:-1])
    best = _losses(DOMAIN, ms, iters=2000, tol=0.0)[-1][1]
    cold = np.array([loss for _, loss in _losses(DOMAIN, ms, iters=300, tol=0.0)])
    warm = [
        loss for _, loss in _losses(DOMAIN, ms, iters=300, tol=0.0, warm_start=previous)
    ]
    target = 1.01 * best
    assert (cold <= target).any()
    assert np.argmax(np.array(warm) <= target) <= np.argmax(cold <= target)
    assert len(_losses(DOMAIN, ms, warm_start=previous)) <= len(_losses(DOMAIN, ms))


def test_warm_start_from_the_final_model_starts_at_its_loss():
    rng = np.random.default_rng(16)
    full = _truth(16, total=5000.0)
    ms = [_measure(full, c, sigma=10.0, rng=rng) for c in CLIQUES]
    first = _losses(DOMAIN, ms)
    done = estimate(DOMAIN, ms)
    again = _losses(DOMAIN, ms, warm_start=done)
    assert again[0][1] <= first[-1][1] * (1 + 1e-9)


def test_warm_start_from_a_model_on_other_cliques():
    # The old clique (a, d) fits in no clique of the new tree: the new start is
    # the old model's best approximation there, and estimation still works.
    rng = np.random.default_rng(15)
    full = _truth(15)
    old = estimate(DOMAIN, [_measure(full, ("a", "d"), sigma=2.0, rng=rng)])
    ms = [_measure(full, c, sigma=2.0, rng=rng) for c in CLIQUES]
    model = estimate(DOMAIN, ms, warm_start=old)
    cold = estimate(DOMAIN, ms)
    np.testing.assert_allclose(
        model.project(("c", "d")), cold.project(("c", "d")), rtol=0.05, atol=2.0
    )


def test_extra_cliques_enter_the_model():
    y = Measurement(columns=("a",), values=np.array([1.0, 2.0, 3.0]), sigma=1.0)
    model = estimate(DOMAIN, [y], cliques=[("b", "c", "d")], iters=3)
    assert {"b", "c", "d"} in [set(c) for c in model.cliques]


def _m(columns=("a",), values=(1.0, 2.0, 3.0), sigma=1.0):
    return Measurement(columns=columns, values=np.array(values), sigma=sigma)


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: _m(sigma=0.0), "`sigma` (0.0) must be a finite number > 0"),
        (lambda: _m(sigma=-1), "`sigma` (-1) must be a finite number > 0"),
        (lambda: _m(sigma=math.nan), "`sigma` (nan) must be a finite number > 0"),
        (lambda: _m(sigma=True), "`sigma` (True) must be a finite number > 0"),
        (lambda: _m(values=(1.0, math.nan, 2.0)), "with 1 NaN or infinite cells"),
        (lambda: _m(values=(1.0, math.inf, 2.0)), "with 1 NaN or infinite cells"),
        (lambda: _m(columns=()), "`columns` (()) must hold one or more"),
        (lambda: _m(columns=("a", "a")), "`columns` (('a', 'a')) must not repeat"),
        (lambda: _m(columns="a"), "`columns` ('a') must be a tuple of column names"),
    ],
)
def test_bad_measurements_are_rejected(build, message):
    with pytest.raises(ValidationError, match=re.escape(message)):
        build()


@pytest.mark.parametrize(
    ("args", "kwargs", "message"),
    [
        (([_m(columns=("z",))],), {}, "Columns ['z'] are not in the domain"),
        (([_m(values=(1.0, 2.0))],), {}, "must have shape (3,) (or be flat with 3"),
        (
            ([_m(columns=("a", "b"), values=[[1, 2, 3], [4, 5, 6]])],),
            {},
            "(shape (2, 3)) must have shape (3, 2)",
        ),
        (([],), {}, "`total` (None) must be given when there are no measurements"),
        (([_m()],), {"total": 0.0}, "`total` (0.0) must be a finite number > 0"),
        (([_m()],), {"total": math.inf}, "`total` (inf) must be a finite number > 0"),
        (([_m()],), {"total": "10"}, "`total` ('10') must be a number > 0"),
        (([_m()],), {"iters": -1}, "`iters` (-1) must be an integer >= 0."),
        (([_m()],), {"iters": 2.5}, "`iters` (2.5) must be an integer >= 0."),
        (([_m()],), {"max_cells": 0}, "`max_cells` (0) must be an integer >= 1."),
        (([_m()],), {"tol": -1.0}, "`tol` (-1.0) must be a number >= 0."),
        (([_m()],), {"callback": 3}, "`callback` (3) must be callable or None."),
        (([_m()],), {"cliques": [("a", "q")]}, "unknown ['q']"),
        (([_m()],), {"warm_start": "model"}, "`warm_start` ('model') must be a"),
        ((_m(),), {}, "`measurements` (Measurement("),
        (([_m(), "y"],), {}, "`measurements` item ('y') must be a Measurement."),
    ],
)
def test_bad_estimate_arguments_are_rejected(args, kwargs, message):
    with pytest.raises(ValidationError, match=re.escape(message)):
        estimate(DOMAIN, *args, **kwargs)


def test_warm_start_on_another_domain_is_rejected():
    other = GraphicalModel(Domain({"a": 3}), [], total=1.0)
    with pytest.raises(ValidationError, match="on the same domain"):
        estimate(DOMAIN, [_m()], warm_start=other)


def test_estimate_rejects_a_non_domain():
    with pytest.raises(ValidationError, match=re.escape("`domain` (dict) must be")):
        estimate({"a": 3}, [_m()])


def test_measurement_values_are_a_read_only_copy():
    source = np.array([1.0, 2.0, 3.0])
    m = Measurement(columns=["a"], values=source, sigma=2)
    source[0] = 99.0
    assert m.values[0] == 1.0
    assert m.columns == ("a",)
    assert isinstance(m.sigma, float)
    with pytest.raises(ValueError, match="read-only"):
        m.values[0] = 5.0


def test_per_cell_scale_weighs_each_cell_by_its_own_noise():
    # Two measurements of one 3-cell marginal; the first says 1000 for the last
    # cell but with noise 1e4 times larger there (a compressed cell summing 1e8
    # counts would have that). The fit follows the precise cells.
    dom = Domain({"a": 3})
    loud = Measurement(
        columns=("a",),
        values=np.array([10.0, 20.0, 1000.0]),
        sigma=1.0,
        scale=np.array([1.0, 1.0, 1e4]),
    )
    quiet = Measurement(columns=("a",), values=np.array([10.0, 20.0, 30.0]), sigma=1.0)
    model = estimate(dom, [loud, quiet], iters=3000)
    np.testing.assert_allclose(model.project(("a",)), [10.0, 20.0, 30.0], atol=0.5)
    # without the scale the last cell is the average of 1000 and 30
    plain = Measurement(columns=("a",), values=loud.values, sigma=1.0)
    assert estimate(dom, [plain, quiet], iters=3000).project(("a",))[2] > 400


@pytest.mark.parametrize("scale", [[1.0, 1.0], [1.0, 0.0, 1.0], [1.0, np.inf, 1.0]])
def test_a_bad_scale_is_refused(scale):
    with pytest.raises(ValidationError, match="`scale`"):
        Measurement(columns=("a",), values=np.zeros(3), sigma=1.0, scale=scale)
