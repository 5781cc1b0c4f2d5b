"""DP-CTGAN: ledger, Poisson sampling, refusals, the pair example, save/load."""

from __future__ import annotations

import re

import numpy as np
import opendp.mod
import pandas as pd
import pytest

torch = pytest.importorskip("torch")
opacus = pytest.importorskip("opacus")

from _small import DOMAIN, small_table  # noqa: E402
from opacus.data_loader import DPDataLoader  # noqa: E402
from opacus.utils.uniform_sampler import UniformWithReplacementSampler  # noqa: E402

from dpsynth.data import Domain  # noqa: E402
from dpsynth.errors import BudgetExceededError, ValidationError  # noqa: E402
from dpsynth.privacy.accountant import PrivacyAccountant  # noqa: E402
from dpsynth.privacy.events import GaussianEvent, SampledGaussianEvent  # noqa: E402
from dpsynth.synthesizers import Synthesizer, make_synthesizer  # noqa: E402
from dpsynth.synthesizers.neural import DPCTGANSynthesizer, _dpsgd, _gan  # noqa: E402
from dpsynth.synthesizers.neural._blocks import TorchBlocks  # noqa: E402
from dpsynth.synthesizers.neural.encoding import TabularRepresentation  # noqa: E402

FAST = {
    "epochs": 2,
    "steps_per_epoch": 5,
    "generator_dims": (16,),
    "discriminator_dims": (16,),
    "embedding_dim": 4,
}


def _table(seed: int = 0) -> pd.DataFrame:
    return small_table(seed)


def _fit(seed: int = 1, epsilon: float = 1.0, **params) -> DPCTGANSynthesizer:
    syn = DPCTGANSynthesizer(**{**FAST, **params})
    return syn.fit(_table(), schema=DOMAIN, epsilon=epsilon, delta=1e-9, rng=seed)


@pytest.fixture(scope="module")
def fitted() -> DPCTGANSynthesizer:
    torch.set_num_threads(1)
    return _fit()


def test_registered_as_dpctgan():
    assert isinstance(make_synthesizer("dpctgan"), DPCTGANSynthesizer)


def test_the_ledger_holds_the_one_way_marginals_then_one_dp_sgd_run(fitted):
    ledger = fitted.ledger
    kinds = [e.event.kind for e in ledger]
    assert kinds == ["gaussian"] * 3 + ["sampled_gaussian"]
    marginals = [e.event for e in ledger][:3]
    assert [m.columns for m in marginals] == [("a",), ("b",), ("c",)]
    assert len({m.sigma for m in marginals}) == 1
    assert all(isinstance(m, GaussianEvent) for m in marginals)
    assert all(m.l2_sensitivity == 1 for m in marginals)
    sgd = ledger[3].event
    assert isinstance(sgd, SampledGaussianEvent)
    assert sgd.sample_rate == 1 / 5 and sgd.steps == 2 * 5
    assert sgd.noise_multiplier == fitted.noise_multiplier_
    assert sgd.label == "dpctgan DP-SGD (2 epochs)"
    assert 0.995 <= ledger.epsilon <= 1.0
    again = PrivacyAccountant.from_ledger(ledger.to_dict())
    assert again.epsilon() == pytest.approx(ledger.epsilon, rel=1e-12)


def test_the_marginal_share_follows_marginal_fraction():
    # rho of the d marginals = fraction * rho of the budget (zCDP planning)
    acc = PrivacyAccountant(epsilon=1.0, delta=1e-9)
    rho = acc.remaining_rho()
    syn = _fit(marginal_fraction=0.3)
    sigma = syn.ledger[0].event.sigma
    assert 3 / (2 * sigma**2) == pytest.approx(0.3 * rho, rel=1e-6)


def test_opacus_trains_the_discriminator_on_poisson_batches(monkeypatch):
    seen = {}
    make_private = opacus.PrivacyEngine.make_private

    def spy(self, **kwargs):
        seen["kwargs"] = kwargs
        out = make_private(self, **kwargs)
        seen["loader"] = out[-1]
        return out

    monkeypatch.setattr(opacus.PrivacyEngine, "make_private", spy)
    syn = _fit(steps_per_epoch=7)
    loader = seen["loader"]
    assert seen["kwargs"]["poisson_sampling"] is True
    assert seen["kwargs"]["grad_sample_mode"] == "ghost"
    assert isinstance(seen["kwargs"]["module"], torch.nn.Sequential)  # the critic
    assert isinstance(loader, DPDataLoader)
    assert isinstance(loader.batch_sampler, UniformWithReplacementSampler)
    assert loader.batch_sampler.sample_rate == syn.ledger[3].event.sample_rate == 1 / 7
    assert len(loader) == 7


def test_ghost_clipping_clips_each_real_fake_pair_as_one_example():
    # The discriminator's example is a (real, fake) pair, a 2-row "sequence":
    # Opacus must clip the gradient of the pair's summed loss, not each half.
    rep = TabularRepresentation.from_schema(DOMAIN)
    plan = _gan.GANPlan(
        dpsgd=_dpsgd.DPSGDPlan(0.0, 0.25, 4, 1, 0.01, False),
        generator_lr=1e-3,
        discriminator_lr=1e-3,
        embedding_dim=4,
        generator_dims=(8,),
        discriminator_dims=(8,),
        dropout=0.0,
        marginal_weight=1.0,
    )
    gen = torch.Generator().manual_seed(0)
    critic = _gan.build_discriminator(torch, rep.width, plan, gen)
    reference = _gan.build_discriminator(torch, rep.width, plan, gen)
    reference.load_state_dict(critic.state_dict())
    pairs = torch.rand(10, 2, rep.width, generator=gen)
    with _dpsgd.quiet_opacus():
        private = _dpsgd.make_private(
            model=critic,
            optimizer=torch.optim.SGD(critic.parameters(), lr=0.1),
            rows=rep.one_hot(np.zeros((20, 3), dtype=np.int64)),
            plan=plan.dpsgd,
        )
        leaf = pairs.clone().requires_grad_(True)
        private.backward(_gan.pair_loss(torch, private.module(leaf)), leaf)
    params = list(reference.parameters())
    want = [torch.zeros_like(p) for p in params]
    for i in range(pairs.shape[0]):
        loss = _gan.pair_loss(torch, reference(pairs[i : i + 1])).sum()
        grads = torch.autograd.grad(loss, params)
        norm = float(torch.sqrt(sum((g**2).sum() for g in grads)))
        assert norm > 0.1  # ten times the clip: every pair is clipped
        for w, g in zip(want, grads, strict=True):
            w += g * min(1.0, 0.01 / (norm + 1e-6))
    for p, w in zip(critic.parameters(), want, strict=True):
        assert torch.allclose(p.grad, w, rtol=1e-4, atol=1e-7)


def test_a_budget_too_small_for_the_epochs_is_refused_before_anything(monkeypatch):
    def forbidden(*args, **kwargs):
        raise AssertionError("noise was drawn or training started")

    monkeypatch.setattr(opendp.mod.Measurement, "__call__", forbidden)
    monkeypatch.setattr(opendp.mod.Measurement, "invoke", forbidden)
    monkeypatch.setattr(_gan, "train_dp_gan", forbidden)
    acc = PrivacyAccountant(epsilon=0.5, delta=1e-9)
    syn = DPCTGANSynthesizer(**{**FAST, "epochs": 8, "max_noise_multiplier": 8.0})
    with pytest.raises(BudgetExceededError) as info:
        syn.fit(_table(), schema=DOMAIN, accountant=acc, rng=0)
    message = str(info.value)
    assert "`epochs` (8) needs noise multiplier" in message
    assert re.search(r"at most [1-7] epoch\(s\) fit", message)
    assert "Nothing was spent or sampled" in message
    assert len(acc.ledger) == 0


def test_save_load_round_trip(fitted, tmp_path):
    loaded = Synthesizer.load(fitted.save(tmp_path / "model.json"))
    assert isinstance(loaded, DPCTGANSynthesizer)
    assert loaded.ledger.to_dict() == fitted.ledger.to_dict()
    assert loaded.estimated_rows == fitted.estimated_rows
    for p, q in zip(fitted.marginals_, loaded.marginals_, strict=True):
        np.testing.assert_array_equal(p, q)
    pd.testing.assert_frame_equal(fitted.sample(300, rng=4), loaded.sample(300, rng=4))
    text = (tmp_path / "model.json").read_text()
    assert "pickle" not in text and '"float32"' in text


def test_the_numpy_sampler_matches_the_torch_generator_in_eval_mode():
    # BatchNorm folded into the Linear layers: the exported numpy generator
    # computes what the torch generator computes in eval mode.
    rep = TabularRepresentation.from_schema(DOMAIN)
    plan = _gan.GANPlan(
        dpsgd=_dpsgd.DPSGDPlan(1.0, 0.25, 4, 1, 1.0, False),
        generator_lr=1e-3,
        discriminator_lr=1e-3,
        embedding_dim=4,
        generator_dims=(8, 6),
        discriminator_dims=(8,),
        dropout=0.5,
        marginal_weight=1.0,
    )
    gen = torch.Generator().manual_seed(3)
    g = _gan.build_generator(torch, rep, plan, gen)
    g.train()
    with torch.no_grad():  # move the running statistics off their defaults
        for _ in range(5):
            g(torch.randn(32, 4, generator=gen) * 3 + 1, torch.rand(32, rep.width))
    g.eval()
    z, cond = torch.randn(7, 4, generator=gen), torch.rand(7, rep.width)
    with torch.no_grad():
        want = g(z, cond).numpy()
    layers = _gan.export_generator(torch, g)
    got = _gan.generator_logits(layers, z.numpy(), cond.numpy())
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)


def test_a_seed_never_reproduces_the_dp_noise(fitted):
    again = _fit()
    assert not np.array_equal(
        fitted.generator_[0]["weight"], again.generator_[0]["weight"]
    )


def test_a_seed_reproduces_sampling_and_samples_stay_in_the_domain(fitted):
    pd.testing.assert_frame_equal(fitted.sample(200, rng=2), fitted.sample(200, rng=2))
    out = fitted.sample(rng=0)
    assert len(out) == round(fitted.estimated_rows)
    for col, size in DOMAIN.items():
        assert out[col].between(0, size - 1).all()


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"epochs": 0}, "`epochs` (0) must be an integer >= 1."),
        ({"generator_dims": "64"}, "`generator_dims` ('64') must be a list"),
        ({"discriminator_dims": (0,)}, "`discriminator_dims` (0) must be an integer"),
        ({"dropout": 1.0}, "`dropout` (1.0) must be in [0, 1)."),
        ({"marginal_fraction": 0.0}, "`marginal_fraction` (0.0) must be in (0, 1)."),
        ({"generator_lr": 0}, "`generator_lr` (0) must be a positive"),
        ({"marginal_weight": -1}, "`marginal_weight` (-1) must be >= 0."),
    ],
)
def test_bad_hyperparameters_are_refused_before_anything(params, message):
    acc = PrivacyAccountant(epsilon=1.0, delta=1e-9)
    with pytest.raises(ValidationError, match=re.escape(message)):
        DPCTGANSynthesizer(**params).fit(_table(), schema=DOMAIN, accountant=acc)
    assert len(acc.ledger) == 0


def test_torch_blocks_match_per_block_softmax_and_stay_finite():
    rep = TabularRepresentation.from_schema(Domain({"a": 3, "b": 1, "c": 5}))
    blocks = TorchBlocks.of(torch, rep)
    logits = torch.randn(6, rep.width, generator=torch.Generator().manual_seed(0))
    logits[0, 0:3] -= 5000.0  # a block far below the others: no underflow
    logits[1, 4:9] += 5000.0
    logits.requires_grad_(True)
    lse = blocks.logsumexp(torch, logits)
    soft = blocks.softmax(torch, logits)
    for j, b in enumerate(rep.blocks):
        part = logits[:, b.start : b.stop]
        assert torch.allclose(lse[:, j], torch.logsumexp(part, dim=1))
        assert torch.allclose(soft[:, b.start : b.stop], torch.softmax(part, dim=1))
    assert bool(torch.isfinite(lse).all())
    (grad,) = torch.autograd.grad(lse.sum(), logits)
    assert torch.allclose(grad, soft.detach(), atol=1e-6)  # d lse / d logit


@pytest.mark.parametrize("cls", ["dptvae", "dpctgan"])
def test_bad_or_missing_devices_are_refused_with_nothing_spent(cls):
    acc = PrivacyAccountant(epsilon=1.0, delta=1e-9)
    with pytest.raises(ValidationError, match=re.escape("`device` ('gpu') must be")):
        make_synthesizer(cls, device="gpu").fit(_table(), schema=DOMAIN, accountant=acc)
    if not torch.cuda.is_available():
        with pytest.raises(ValidationError, match="needs a CUDA GPU that torch"):
            make_synthesizer(cls, device="cuda:0").fit(
                _table(), schema=DOMAIN, accountant=acc
            )
    assert len(acc.ledger) == 0


def test_auto_is_the_gpu_when_torch_sees_one_else_the_cpu():
    want = "cuda" if torch.cuda.is_available() else "cpu"
    assert DPCTGANSynthesizer()._torch_device() == want
    assert DPCTGANSynthesizer(device="cpu")._torch_device() == "cpu"


def test_real_conditions_never_reach_the_generators_batchnorm(monkeypatch):
    # In the discriminator step the fakes are generated under conditions copied
    # from real rows; in training mode BatchNorm would mix them across the batch
    # (one row reaching other examples' gradients) and into the running
    # statistics that the released generator keeps. Those calls run without
    # gradient; every such call must be in eval mode.
    build = _gan.build_generator
    calls = []

    def spying_build(*args, **kwargs):
        g = build(*args, **kwargs)
        forward = g.forward

        def spy(z, cond):
            calls.append((torch.is_grad_enabled(), g.training))
            return forward(z, cond)

        g.forward = spy
        return g

    monkeypatch.setattr(_gan, "build_generator", spying_build)
    _fit(epochs=1)
    no_grad = [training for grad, training in calls if not grad]
    with_grad = [training for grad, training in calls if grad]
    assert len(no_grad) == len(with_grad) == 5  # one of each per step
    assert not any(no_grad) and all(with_grad)
