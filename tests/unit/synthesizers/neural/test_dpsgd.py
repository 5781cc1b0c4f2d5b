"""The shared DP-SGD plumbing: ghost clipping computes the clipped per-row sum."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("opacus")

from dpsynth.data import Domain  # noqa: E402
from dpsynth.data.schema import (  # noqa: E402
    CategoricalColumn,
    IntegerColumn,
    NumericColumn,
    Schema,
)
from dpsynth.synthesizers.neural import _dpsgd, _vae  # noqa: E402
from dpsynth.synthesizers.neural._blocks import TorchBlocks  # noqa: E402
from dpsynth.synthesizers.neural.encoding import TabularRepresentation  # noqa: E402

REP = TabularRepresentation.from_schema(Domain({"a": 3, "b": 5, "c": 2}))
# the same shape of codes, with position blocks (and the position head) for b, c
REP_POS = TabularRepresentation.from_schema(
    Schema(
        (
            CategoricalColumn(name="a", categories=("x", "y", "z")),
            IntegerColumn(name="b", lower=0, upper=19, bins=5),
            NumericColumn(name="c", lower=0.0, upper=1.0, bins=2),
        )
    ),
    position_bins=6,
)


def _plan(max_grad_norm: float) -> _dpsgd.DPSGDPlan:
    q, _ = _dpsgd.sampling_rate_for(4)
    return _dpsgd.DPSGDPlan(
        noise_multiplier=0.0,
        sample_rate=q,
        steps_per_epoch=4,
        epochs=1,
        max_grad_norm=max_grad_norm,
        secure_mode=False,
    )


def _rows(n: int, seed: int, rep: TabularRepresentation = REP) -> np.ndarray:
    rng = np.random.default_rng(seed)
    codes = np.stack([rng.integers(0, s, n) for s in (3, 5, 2)], axis=1)
    positions = rng.random((n, len(rep.positions))) if rep.positions else None
    return rep.one_hot(codes, positions)


def _explicit_clipped_sum(model, x, eps, index, c: float) -> list:
    """Sum over rows of each row's gradient scaled to norm at most ``c``."""
    params = list(model.parameters())
    total = [torch.zeros_like(p) for p in params]
    for i in range(x.shape[0]):
        out = model(x[i : i + 1], eps[i : i + 1])
        loss = _vae._per_row_loss(torch, index, x[i : i + 1], out).sum()
        grads = torch.autograd.grad(loss, params)
        norm = torch.sqrt(sum((g.double() ** 2).sum() for g in grads))
        scale = min(1.0, c / (float(norm) + 1e-6))
        for t, g in zip(total, grads, strict=True):
            t += scale * g
    return total


@pytest.mark.parametrize("rep", [REP, REP_POS], ids=["codes", "positions"])
@pytest.mark.parametrize("max_grad_norm", [0.05, 1e6])
def test_ghost_clipping_equals_explicit_per_row_clipping(max_grad_norm, rep):
    # With noise 0, the DP gradient is the sum of per-row gradients each clipped
    # to max_grad_norm: ghost clipping must give it without per-row gradients.
    # A clip of 1e6 leaves every row unclipped (the plain gradient sum), 0.05
    # clips every row (the per-row norms here are far above it). With position
    # blocks the model has the position head's bias-free layers too.
    assert len(rep.positions) == (2 if rep is REP_POS else 0)
    gen = torch.Generator().manual_seed(0)
    vae_plan = _vae.TrainingPlan(
        dpsgd=_plan(max_grad_norm),
        learning_rate=1e-3,
        hidden_dims=(8,),
        latent_dim=3,
    )
    model = _vae.build_vae(torch, rep, vae_plan, gen)
    if model.head is not None:  # off its zero start, so that it matters
        with torch.no_grad():
            for layer in model.head.layers:
                layer.weight.normal_(generator=gen)
    reference = _vae.build_vae(torch, rep, vae_plan, gen)
    reference.load_state_dict(model.state_dict())
    index = TorchBlocks.of(torch, rep)
    x = torch.from_numpy(_rows(12, 2, rep))
    eps = torch.randn(12, 3, generator=gen)
    with _dpsgd.quiet_opacus():
        private = _dpsgd.make_private(
            model=model,
            optimizer=torch.optim.SGD(model.parameters(), lr=0.1),
            rows=_rows(40, 1, rep),
            plan=vae_plan.dpsgd,
        )
        private.module.train()
        leaf = x.clone().requires_grad_(True)
        losses = _vae._per_row_loss(torch, index, leaf, private.module(leaf, eps))
        private.backward(losses, leaf)
    want = _explicit_clipped_sum(reference, x, eps, index, max_grad_norm)
    for p, w in zip(model.parameters(), want, strict=True):
        assert torch.allclose(p.grad, w, rtol=1e-4, atol=1e-6)
    norms = private.module.per_sample_gradient_norms
    if max_grad_norm < 1:
        assert bool((norms > 10 * max_grad_norm).all())  # every row was clipped
