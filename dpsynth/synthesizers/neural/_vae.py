"""The TVAE-style network and its DP-SGD training loop (torch + Opacus).

Imported only inside a fit: torch and Opacus are optional. The DP-SGD plumbing
(Poisson loader, ghost clipping, Opacus's noise) is :mod:`._dpsgd`; nothing here
adds noise for privacy by hand. The reparameterisation draws of the VAE are
model randomness, not privacy noise.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from dpsynth.synthesizers.neural._blocks import (
    TorchBlocks,
    build_position_head,
    export_head,
)
from dpsynth.synthesizers.neural._dpsgd import DPSGDPlan, make_private, quiet_opacus
from dpsynth.synthesizers.neural._torch import require_neural, torch_generator
from dpsynth.synthesizers.neural.encoding import TabularRepresentation

__all__ = ["TrainingPlan", "train_dp_vae"]


@dataclass(frozen=True)
class TrainingPlan:
    """Everything the VAE's training is, fixed before any data is touched."""

    dpsgd: DPSGDPlan
    learning_rate: float
    hidden_dims: tuple[int, ...]
    latent_dim: int


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


def build_vae(
    torch: Any, rep: TabularRepresentation, plan: TrainingPlan, gen: Any
) -> Any:
    """The VAE: MLP encoder to (mu, logvar), MLP decoder to per-block logits.

    With position blocks, the decoder's position logits are shifted by the
    position head given the row's own codes (teacher forcing; at sampling, the
    drawn codes).
    """
    hidden = list(plan.hidden_dims)
    latent = plan.latent_dim
    width, cw = rep.width, rep.code_width

    class VAE(torch.nn.Module):  # type: ignore[misc,name-defined]
        def __init__(self) -> None:
            super().__init__()
            self.encoder = _mlp(torch, [width, *hidden, 2 * latent], gen)
            self.decoder = _mlp(torch, [latent, *hidden, width], gen)
            self.head = build_position_head(torch, rep) if rep.positions else None

        def forward(self, x: Any, eps: Any) -> tuple[Any, Any, Any]:
            mu, logvar = self.encoder(x).chunk(2, dim=1)
            z = mu + eps * torch.exp(0.5 * logvar)
            logits = self.decoder(z)
            if self.head is not None:
                logits = self.head(x[:, :cw], logits)
            return logits, mu, logvar

    return VAE()


def _per_row_loss(
    torch: Any, blocks: TorchBlocks, x: Any, out: tuple[Any, Any, Any]
) -> Any:
    """Reconstruction cross-entropy summed over the blocks plus the KL term, per row.

    ``x`` has exactly one 1 per block, so the cross-entropy is the sum of the
    blocks' log-normalisers minus the logits at the row's codes.
    """
    logits, mu, logvar = out
    kl = -0.5 * (1.0 + logvar - mu.pow(2) - logvar.exp()).sum(dim=1)
    normaliser = blocks.logsumexp(torch, logits).sum(dim=1)
    return kl + normaliser - (x * logits).sum(dim=1)


def train_dp_vae(
    onehot: np.ndarray,
    rep: TabularRepresentation,
    plan: TrainingPlan,
    *,
    rng: np.random.Generator,
    before_training: Callable[[], None],
    on_epoch: Callable[[int], None],
) -> tuple[list[tuple[np.ndarray, np.ndarray]], list[np.ndarray]]:
    """Trains the VAE with Opacus DP-SGD.

    Returns the decoder's (weight, bias) list and the position head's weights
    (empty without position blocks).

    ``before_training`` runs after every Opacus object is built and checked and
    before the first row is sampled: the synthesizer charges the accountant
    there. Every step runs; the Poisson loader yields ``steps_per_epoch``
    batches per epoch, so ``plan.steps`` steps in all (checked against Opacus's
    own history).

    Raises:
        ValidationError: ``secure_mode`` without ``torchcsprng``.
        InternalError: Opacus's loader or history disagrees with ``plan``.
    """
    torch, _ = require_neural()
    gen_init, gen_reparam = (torch_generator(g) for g in rng.spawn(2))
    dev = plan.dpsgd.device
    blocks = TorchBlocks.of(torch, rep, dev)
    with quiet_opacus():
        model = build_vae(torch, rep, plan, gen_init).to(dev)
        private = make_private(
            model=model,
            optimizer=torch.optim.Adam(model.parameters(), lr=plan.learning_rate),
            rows=onehot,
            plan=plan.dpsgd,
        )
        module, optimizer = private.module, private.optimizer
        before_training()
        module.train()
        for epoch in range(plan.dpsgd.epochs):
            for (batch,) in private.loader:
                optimizer.zero_grad(set_to_none=True)
                # An empty Poisson batch still takes a noisy step (the mechanism
                # releases noise alone): one all-zero row with weight 0 gives
                # zero per-row gradients (Opacus cannot clip an empty batch).
                empty = batch.shape[0] == 0
                x = torch.zeros(1, rep.width) if empty else batch
                x = x.to(dev).requires_grad_(True)
                # the VAE's reparameterisation draw: part of the per-row loss,
                # not privacy noise (DP-SGD holds for any per-row randomness;
                # its guarantee comes from Opacus's clipped, noised gradients)
                eps = torch.randn(x.shape[0], plan.latent_dim, generator=gen_reparam)
                eps = eps.to(dev)
                losses = _per_row_loss(torch, blocks, x, module(x, eps))
                private.backward(losses * 0.0 if empty else losses, x)
                optimizer.step()
            on_epoch(epoch + 1)
    private.check_history(plan.dpsgd)
    layers = [m for m in model.decoder if isinstance(m, torch.nn.Linear)]
    decoder = [
        (
            m.weight.detach().cpu().numpy().astype(np.float32),
            m.bias.detach().cpu().numpy().astype(np.float32),
        )
        for m in layers
    ]
    return decoder, export_head(model.head)
