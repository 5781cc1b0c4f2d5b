"""The TVAE-style network and its DP-SGD training loop (torch + Opacus).

Imported only inside a fit: torch and Opacus are optional. The DP noise comes from
Opacus's :class:`~opacus.optimizers.DPOptimizer` (per-sample clipping to
``max_grad_norm`` and Gaussian noise of ``noise_multiplier * max_grad_norm`` on
the clipped sum), the batches from Opacus's Poisson sampler; nothing here adds
noise for privacy by hand. The reparameterisation draws of the VAE are model
randomness, not privacy noise.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from dpsynth.errors import InternalError, ValidationError
from dpsynth.synthesizers.neural._torch import require_neural, torch_generator
from dpsynth.synthesizers.neural.encoding import TabularRepresentation

__all__ = ["TrainingPlan", "sampling_rate_for", "train_dp_vae"]

#: Per-sample gradients by ExpandedWeights: about twice as fast as hooks for
#: the MLP (measured on CPU, batches of 30 and 320).
GRAD_SAMPLE_MODE = "ew"

# Opacus warns on every engine without secure mode; dpsynth records the choice
# in the model's parameters and the docs instead of raising (pytest: errors).
_QUIET = (
    r"Secure RNG turned off",
    r"Using a non-full backward hook",
    r"Full backward hook will not fire",
    r"Full backward hook is firing",
)


def sampling_rate_for(steps_per_epoch: int) -> tuple[float, float]:
    """The accounted sample rate ``q = 1/steps_per_epoch`` and the loader's rate.

    Returns ``(q, q_loader)``: build the first loader with ``q_loader`` so that
    Opacus re-derives exactly ``q``.

    ``make_private`` rebuilds a Poisson loader with rate ``1 / len(loader)`` and
    ``len`` is ``int(1 / rate)``; ``int(1 / (1 / k))`` is ``k - 1`` for some
    ``k`` (93, 99, ...), so the first loader's rate is nudged down by ulps.
    """
    q = 1.0 / steps_per_epoch
    q_loader = q
    while int(1.0 / q_loader) < steps_per_epoch:
        q_loader = math.nextafter(q_loader, 0.0)
    return q, q_loader


@dataclass(frozen=True)
class TrainingPlan:
    """Everything the DP-SGD run is, fixed before any data is touched."""

    noise_multiplier: float
    sample_rate: float
    steps_per_epoch: int
    epochs: int
    max_grad_norm: float
    learning_rate: float
    hidden_dims: tuple[int, ...]
    latent_dim: int
    secure_mode: bool

    @property
    def steps(self) -> int:
        """The number of noisy steps (the SampledGaussianEvent's ``steps``)."""
        return self.epochs * self.steps_per_epoch


def _linear(torch: Any, n_in: int, n_out: int, gen: Any) -> Any:
    """A Linear layer initialised from ``gen`` (torch's default init, no global RNG)."""
    layer = torch.nn.utils.skip_init(torch.nn.Linear, n_in, n_out)
    bound = 1.0 / math.sqrt(n_in)
    with torch.no_grad():
        torch.nn.init.uniform_(layer.weight, -bound, bound, generator=gen)
        torch.nn.init.uniform_(layer.bias, -bound, bound, generator=gen)
    return layer


def _mlp(torch: Any, dims: Sequence[int], gen: Any) -> Any:
    layers: list[Any] = []
    for k, (a, b) in enumerate(zip(dims[:-1], dims[1:], strict=True)):
        layers.append(_linear(torch, a, b, gen))
        if k < len(dims) - 2:
            layers.append(torch.nn.ReLU())
    return torch.nn.Sequential(*layers)


def build_vae(torch: Any, width: int, plan: TrainingPlan, gen: Any) -> Any:
    """The VAE: MLP encoder to (mu, logvar), MLP decoder to per-block logits."""
    hidden = list(plan.hidden_dims)
    latent = plan.latent_dim

    class VAE(torch.nn.Module):  # type: ignore[misc,name-defined]
        def __init__(self) -> None:
            super().__init__()
            self.encoder = _mlp(torch, [width, *hidden, 2 * latent], gen)
            self.decoder = _mlp(torch, [latent, *hidden, width], gen)

        def forward(self, x: Any, eps: Any) -> tuple[Any, Any, Any]:
            mu, logvar = self.encoder(x).chunk(2, dim=1)
            z = mu + eps * torch.exp(0.5 * logvar)
            return self.decoder(z), mu, logvar

    return VAE()


def block_index(torch: Any, rep: TabularRepresentation) -> Any:
    """A (columns x widest block) index into the logits; padding points past them."""
    widest = max(b.size for b in rep.blocks)
    index = torch.full((len(rep.blocks), widest), rep.width, dtype=torch.long)
    for j, block in enumerate(rep.blocks):
        index[j, : block.size] = torch.arange(block.start, block.stop)
    return index


def _per_row_loss(torch: Any, index: Any, x: Any, out: tuple[Any, Any, Any]) -> Any:
    """Reconstruction cross-entropy summed over the blocks plus the KL term, per row.

    Vectorised over the blocks: the logits are gathered into a (rows x columns x
    widest block) array padded with -inf, whose logsumexp is each block's
    normaliser; ``x`` has exactly one 1 per block.
    """
    logits, mu, logvar = out
    kl = -0.5 * (1.0 + logvar - mu.pow(2) - logvar.exp()).sum(dim=1)
    pad = torch.full((logits.shape[0], 1), -math.inf, dtype=logits.dtype)
    blocks = torch.cat([logits, pad], dim=1)[:, index]
    normaliser = torch.logsumexp(blocks, dim=2).sum(dim=1)
    return kl + normaliser - (x * logits).sum(dim=1)


def train_dp_vae(
    onehot: np.ndarray,
    rep: TabularRepresentation,
    plan: TrainingPlan,
    *,
    rng: np.random.Generator,
    before_training: Callable[[], None],
    on_epoch: Callable[[int], None],
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Trains the VAE with Opacus DP-SGD; returns the decoder's (weight, bias) list.

    ``before_training`` runs after every Opacus object is built and checked and
    before the first row is sampled: the synthesizer charges the accountant
    there. Every step runs; the Poisson loader yields ``steps_per_epoch``
    batches per epoch, so ``plan.steps`` steps in all (checked against Opacus's
    own history).

    Raises:
        ValidationError: ``secure_mode`` without ``torchcsprng``.
        InternalError: Opacus's loader or history disagrees with ``plan``.
    """
    torch, opacus = require_neural()
    from opacus.data_loader import DPDataLoader
    from opacus.utils.uniform_sampler import UniformWithReplacementSampler

    gen_init, gen_reparam = (torch_generator(g) for g in rng.spawn(2))
    # The DP noise and the Poisson sampling are NEVER seeded from ``rng``: a
    # release publishes its seed, and with it an attacker could replay the
    # noise and the batches, leaving training a deterministic function of the
    # data (no privacy at all). They draw from OS entropy, like OpenDP's
    # samplers (secure_mode: Opacus's CSPRNG instead).
    gen_sample, gen_noise = (torch_generator(np.random.default_rng()) for _ in range(2))
    _, q_loader = sampling_rate_for(plan.steps_per_epoch)
    with warnings.catch_warnings():
        for message in _QUIET:
            warnings.filterwarnings("ignore", message=message)
        try:
            engine = opacus.PrivacyEngine(
                accountant="prv", secure_mode=plan.secure_mode
            )
        except ImportError as exc:
            raise ValidationError(
                "`secure_mode` (True) needs the `torchcsprng` package, which is not "
                "installed; nothing was spent. Hint: install torchcsprng or fit with "
                "secure_mode=False (a seeded, non-cryptographic noise generator)."
            ) from exc
        model = build_vae(torch, rep.width, plan, gen_init)
        optimizer = torch.optim.Adam(model.parameters(), lr=plan.learning_rate)
        dataset = torch.utils.data.TensorDataset(torch.from_numpy(onehot))
        loader = DPDataLoader(dataset, sample_rate=q_loader, generator=gen_sample)
        module, optimizer, loader = engine.make_private(
            module=model,
            optimizer=optimizer,
            data_loader=loader,
            noise_multiplier=plan.noise_multiplier,
            max_grad_norm=plan.max_grad_norm,
            loss_reduction="sum",
            poisson_sampling=True,
            noise_generator=None if plan.secure_mode else gen_noise,
            grad_sample_mode=GRAD_SAMPLE_MODE,
        )
        sampler = loader.batch_sampler
        if not (
            isinstance(sampler, UniformWithReplacementSampler)
            and sampler.sample_rate == plan.sample_rate
            and len(loader) == plan.steps_per_epoch
        ):
            raise InternalError(
                f"Opacus's loader ({type(sampler).__name__}, rate "
                f"{getattr(sampler, 'sample_rate', None)!r}, {len(loader)} steps) is "
                f"not the planned Poisson sampler (rate {plan.sample_rate!r}, "
                f"{plan.steps_per_epoch} steps); nothing was spent. Please report."
            )
        index = block_index(torch, rep)
        before_training()
        module.train()
        for epoch in range(plan.epochs):
            for (batch,) in loader:
                optimizer.zero_grad(set_to_none=True)
                # An empty Poisson batch still takes a noisy step (the mechanism
                # releases noise alone): one all-zero row with weight 0 gives
                # zero per-row gradients, which ExpandedWeights cannot do on 0.
                empty = batch.shape[0] == 0
                x = torch.zeros(1, rep.width) if empty else batch
                # the VAE's reparameterisation draw: part of the per-row loss,
                # not privacy noise (DP-SGD holds for any per-row randomness;
                # its guarantee comes from Opacus's clipped, noised gradients)
                eps = torch.randn(x.shape[0], plan.latent_dim, generator=gen_reparam)
                loss = _per_row_loss(torch, index, x, module(x, eps)).sum()
                loss = loss * 0.0 if empty else loss
                loss.backward()
                optimizer.step()
            on_epoch(epoch + 1)
    history = list(engine.accountant.history)
    expected = [(plan.noise_multiplier, plan.sample_rate, plan.steps)]
    if history != expected:
        raise InternalError(
            f"Opacus ran {history!r}, not the DP-SGD spent in the ledger "
            f"{expected!r}. Please report."
        )
    layers = [m for m in model.decoder if isinstance(m, torch.nn.Linear)]
    return [
        (
            m.weight.detach().cpu().numpy().astype(np.float32),
            m.bias.detach().cpu().numpy().astype(np.float32),
        )
        for m in layers
    ]
