"""The CTGAN-style networks and their DP training loop (torch + Opacus).

Imported only inside a fit: torch and Opacus are optional. Only the
discriminator reads real rows, and it is trained with DP-SGD through
:mod:`._dpsgd` (Poisson batches, ghost clipping, Opacus's noise); the generator
is trained on the discriminator's output and on public randomness only, so its
updates are post-processing. Nothing here adds noise for privacy by hand: the
latent draws, the Gumbel noise, dropout and the conditioning choices are model
randomness.

**The privacy unit of a discriminator step.** Each Poisson-sampled real row
``x_i`` is paired with one fake row generated under the same condition ``c_i``
(a column chosen at random and the row's own value in it), and the pair is one
example: the discriminator sees a (2 x features) "sequence" ``[x_i, G(z_i,
c_i)]`` and the example's loss is the sum of the real and fake terms. Opacus
clips each pair's whole gradient, so adding or removing a row changes the
clipped sum by one clipped term, whatever the batch size (a fake batch sized by
the real one would let one row add a second clipped term). No gradient
penalty: it needs a second-order backward pass that per-row clipping does not
support; the loss is the non-saturating GAN loss.

The discriminator does not see the condition: a real row's condition is a
copy of one of its own values, so it adds nothing but inputs, and under DP-SGD
every extra parameter adds noise (the noise's norm grows with the square root
of the parameter count while the clipped signal does not).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from dpsynth.synthesizers.neural._blocks import TorchBlocks, build_position_head
from dpsynth.synthesizers.neural._dpsgd import DPSGDPlan, make_private, quiet_opacus
from dpsynth.synthesizers.neural._torch import require_neural, torch_generator
from dpsynth.synthesizers.neural._vae import _linear
from dpsynth.synthesizers.neural.encoding import TabularRepresentation

__all__ = ["GANPlan", "build_discriminator", "build_generator", "train_dp_gan"]

#: The Gumbel-softmax temperature of the generator's outputs (CTGAN's 0.2).
TAU = 0.2
#: The slope of the discriminator's LeakyReLU (CTGAN's 0.2).
LEAKY = 0.2


@dataclass(frozen=True)
class GANPlan:
    """Everything the GAN's training is, fixed before any data is touched."""

    dpsgd: DPSGDPlan
    generator_lr: float
    discriminator_lr: float
    embedding_dim: int
    generator_dims: tuple[int, ...]
    discriminator_dims: tuple[int, ...]
    dropout: float
    marginal_weight: float


def build_generator(
    torch: Any, rep: TabularRepresentation, plan: GANPlan, gen: Any
) -> Any:
    """CTGAN's residual generator from ``[z, c]`` to per-block logits.

    ``c`` is a one-hot condition over the code blocks, the output covers every
    block (codes and positions). One block per hidden width: Linear,
    BatchNorm, ReLU, concatenated with the block's input; then a Linear to the
    logits. With position blocks, ``generator.head`` is the position head
    (:func:`_soft_outputs` applies it to the generated codes), else None.
    """
    width, cond_width = rep.width, rep.code_width

    class Residual(torch.nn.Module):  # type: ignore[misc,name-defined]
        def __init__(self, n_in: int, n_out: int) -> None:
            super().__init__()
            self.fc = _linear(torch, n_in, n_out, gen)
            self.bn = torch.nn.BatchNorm1d(n_out)

        def forward(self, h: Any) -> Any:
            return torch.cat([torch.relu(self.bn(self.fc(h))), h], dim=1)

    class Generator(torch.nn.Module):  # type: ignore[misc,name-defined]
        def __init__(self) -> None:
            super().__init__()
            n = plan.embedding_dim + cond_width
            blocks = []
            for d in plan.generator_dims:
                blocks.append(Residual(n, d))
                n += d
            self.blocks = torch.nn.Sequential(*blocks)
            self.out = _linear(torch, n, width, gen)
            self.head = build_position_head(torch, rep) if rep.positions else None

        def forward(self, z: Any, cond: Any) -> Any:
            return self.out(self.blocks(torch.cat([z, cond], dim=1)))

    return Generator()


def build_discriminator(torch: Any, width: int, plan: GANPlan, gen: Any) -> Any:
    """CTGAN's discriminator (no packing, no condition) from a row to one score.

    One (Linear, LeakyReLU, Dropout) per hidden width, then a Linear to 1.
    """
    layers: list[Any] = []
    n = width
    for d in plan.discriminator_dims:
        layers += [
            _linear(torch, n, d, gen),
            torch.nn.LeakyReLU(LEAKY),
            torch.nn.Dropout(plan.dropout),
        ]
        n = d
    layers.append(_linear(torch, n, 1, gen))
    return torch.nn.Sequential(*layers)


def _soft_outputs(
    torch: Any, blocks: TorchBlocks, logits: Any, gen: Any, head: Any = None
) -> Any:
    """The generator's soft rows: per-block Gumbel-softmax at temperature :data:`TAU`.

    With a position ``head``, the code blocks come first and the position
    blocks' logits are then shifted by the head given the soft codes, as
    sampling shifts them given the drawn codes; one Gumbel draw serves both
    (each logit gets its own noise).
    """
    u = torch.rand(logits.shape, generator=gen).clamp_(1e-10, 1.0 - 1e-7)
    gumbel = -torch.log(-torch.log(u.to(logits.device)))
    soft = blocks.softmax(torch, (logits + gumbel) / TAU)
    if head is None:
        return soft
    cw = head.code_width
    shifted = blocks.softmax(torch, (head(soft[:, :cw], logits) + gumbel) / TAU)
    return torch.cat([soft[:, :cw], shifted[:, cw:]], dim=1)


def _cond_loss(torch: Any, blocks: TorchBlocks, logits: Any, cond: Any) -> Any:
    """Mean cross-entropy of the conditioned column's block against its value.

    ``cond`` covers the code blocks, the first ``cond.shape[1]`` logits.
    """
    cw = cond.shape[1]
    picked = cond @ blocks.matrix[:cw]  # rows x blocks: 1 on the conditioned one
    norm = blocks.logsumexp(torch, logits)
    return ((norm * picked).sum(dim=1) - (logits[:, :cw] * cond).sum(dim=1)).mean()


def _position_joint(
    torch: Any, rep: TabularRepresentation, soft: Any, logits: Any, head: Any
) -> list[Any]:
    """The generator's (bin, sub-interval) distribution of each position block.

    Averaged over the batch: ``P(bin b) P(sub | b)``, with ``P(bin)`` the
    code block's softmax (``soft``, rows x code width) and ``P(sub | b)`` the
    softmax of the position logits shifted by the head's column ``b``, as
    sampling draws them. One (codes x sub-intervals) tensor per position block.
    """
    out = []
    for block, parent, layer in zip(
        rep.positions, rep.position_parents, head.layers, strict=True
    ):
        shifted = logits[:, None, block.start : block.stop] + layer.weight.T[None]
        given = torch.softmax(shifted, dim=2)  # rows x codes x sub-intervals
        bins = soft[:, parent.start : parent.stop, None]
        out.append((bins * given).mean(dim=0))
    return out


def pair_loss(torch: Any, scores: Any) -> Any:
    """The non-saturating GAN loss of each (real, fake) pair: rows x 2 x 1 scores."""
    real, fake = scores[:, 0, 0], scores[:, 1, 0]
    return torch.nn.functional.softplus(-real) + torch.nn.functional.softplus(fake)


def train_dp_gan(
    onehot: np.ndarray,
    rep: TabularRepresentation,
    plan: GANPlan,
    *,
    rng: np.random.Generator,
    before_training: Callable[
        [], tuple[Sequence[np.ndarray], Sequence[np.ndarray], int]
    ],
    on_epoch: Callable[[int], None],
) -> Any:
    """Trains the GAN; returns the generator (in eval mode, on the CPU).

    ``before_training`` runs after every Opacus object is built and checked and
    before the first row is sampled: the synthesizer spends its budget there
    and returns ``(marginals, joints, generator_batch)``, all from DP outputs:
    ``marginals[j]`` is column ``j``'s distribution over its codes (from its
    DP 1-way marginal), ``joints[k]`` position block ``k``'s distribution over
    (bin, sub-interval) pairs (from its DP bin-by-position table),
    ``generator_batch`` the rows of a generator step (fixed for the run,
    independent of the Poisson batches). A generator step draws its
    conditions from ``marginals`` (a column uniformly, then its code) and adds
    to its loss ``marginal_weight`` times the KL divergence of each column's
    ``marginals[j]`` from the batch's mean softmax, and of each ``joints[k]``
    from the generator's (bin, sub-interval) distribution over the batch
    (:func:`_position_joint`): post-processing of the DP measurements that
    keeps the unconditioned columns, and the positions inside bins, on them.
    Each discriminator step (one per Poisson batch, ``plan.dpsgd.steps`` in
    all, checked against Opacus's history) is followed by one generator step.

    Raises:
        ValidationError: ``secure_mode`` without ``torchcsprng``.
        InternalError: Opacus's loader or history disagrees with ``plan``.
    """
    torch, _ = require_neural()
    gen_init, gen_model = (torch_generator(g) for g in rng.spawn(2))
    width, cw = rep.width, rep.code_width
    dev = plan.dpsgd.device
    blocks = TorchBlocks.of(torch, rep, dev)
    n_cols = len(rep.blocks)
    masks = blocks.matrix[:cw, :n_cols].T.contiguous()  # columns x code width
    starts = torch.tensor([b.start for b in rep.blocks], device=dev)
    cum: list[Any] = []
    target = torch.zeros(cw, device=dev)  # the DP marginals, concatenated

    def draw_conditions(m: int) -> Any:
        """``m`` public conditions: a column uniformly, a code by its marginal."""
        cols = torch.randint(0, n_cols, (m,), generator=gen_model).to(dev)
        u = torch.rand(m, generator=gen_model, dtype=torch.float64).to(dev)
        cond = torch.zeros(m, cw, device=dev)
        for j in range(n_cols):
            rows = (cols == j).nonzero().squeeze(1)
            if rows.numel():
                code = torch.searchsorted(cum[j], u[rows] * cum[j][-1], right=True)
                code = code.clamp_(max=rep.blocks[j].size - 1)
                cond[rows, starts[j] + code] = 1.0
        return cond

    with quiet_opacus():
        generator = build_generator(torch, rep, plan, gen_init).to(dev)
        critic = build_discriminator(torch, width, plan, gen_init).to(dev)
        g_opt = torch.optim.Adam(
            generator.parameters(),
            lr=plan.generator_lr,
            betas=(0.5, 0.9),
            weight_decay=1e-6,
        )
        private = make_private(
            model=critic,
            optimizer=torch.optim.Adam(
                critic.parameters(), lr=plan.discriminator_lr, betas=(0.5, 0.9)
            ),
            rows=onehot,
            plan=plan.dpsgd,
        )
        d_module, d_opt = private.module, private.optimizer
        g_params = list(generator.parameters())
        marginals, joints, g_batch = before_training()
        cum.extend(torch.from_numpy(np.cumsum(p)).to(dev) for p in marginals)
        target.copy_(torch.from_numpy(np.concatenate(marginals)))
        target_entropy = float((target * torch.log(target.clamp_min(1e-30))).sum())
        joint_targets = [torch.from_numpy(j).float().to(dev) for j in joints]
        joint_entropy = sum(
            float((t * torch.log(t.clamp_min(1e-30))).sum()) for t in joint_targets
        )
        d_module.train()
        generator.train()
        for epoch in range(plan.dpsgd.epochs):
            for (batch,) in private.loader:
                # -- discriminator: one DP-SGD step on (real, fake) pairs
                d_opt.zero_grad(set_to_none=True)
                empty = batch.shape[0] == 0  # a noisy step all the same
                x = (torch.zeros(1, width) if empty else batch).to(dev)
                m = x.shape[0]
                cols = torch.randint(0, n_cols, (m,), generator=gen_model)
                # the row's own value in a random column
                cond = x[:, :cw] * masks[cols.to(dev)]
                # The generator runs in eval mode here: in training mode its
                # BatchNorm would mix the batch's conditions (real values) into
                # every fake row, so one row would reach the other examples'
                # gradients (breaking per-example clipping), and into the running
                # statistics that the released generator keeps.
                generator.eval()
                with torch.no_grad():
                    z = torch.randn(m, plan.embedding_dim, generator=gen_model)
                    fake = _soft_outputs(
                        torch,
                        blocks,
                        generator(z.to(dev), cond),
                        gen_model,
                        generator.head,
                    )
                generator.train()
                pairs = torch.stack([x, fake], dim=1).requires_grad_(True)
                losses = pair_loss(torch, d_module(pairs))
                private.backward(losses * 0.0 if empty else losses, pairs)
                d_opt.step()
                # -- generator: post-processing of the discriminator
                g_opt.zero_grad(set_to_none=True)
                cond = draw_conditions(g_batch)
                z = torch.randn(g_batch, plan.embedding_dim, generator=gen_model)
                z = z.to(dev)
                logits = generator(z, cond)
                fake = _soft_outputs(torch, blocks, logits, gen_model, generator.head)
                # Opacus's hooks stay off through the backward pass: this pass
                # reads no real row and leaves the discriminator's grads alone
                d_module.disable_hooks()
                try:
                    score = d_module(fake.unsqueeze(1))
                    g_loss = torch.nn.functional.softplus(-score).mean()
                    g_loss = g_loss + _cond_loss(torch, blocks, logits, cond)
                    soft = blocks.softmax(torch, logits)[:, :cw]
                    mean = soft.mean(dim=0)
                    kl = target_entropy - (target * torch.log(mean + 1e-12)).sum()
                    if joint_targets:
                        kl = kl + joint_entropy
                        for t, joint in zip(
                            joint_targets,
                            _position_joint(torch, rep, soft, logits, generator.head),
                            strict=True,
                        ):
                            kl = kl - (t * torch.log(joint + 1e-12)).sum()
                    g_loss = g_loss + plan.marginal_weight * kl
                    torch.autograd.backward(g_loss, inputs=g_params)
                finally:
                    d_module.enable_hooks()
                g_opt.step()
            on_epoch(epoch + 1)
    private.check_history(plan.dpsgd)
    generator.eval()
    return generator


def export_generator(torch: Any, generator: Any) -> list[dict[str, np.ndarray]]:
    """The eval-mode generator as float32 arrays, BatchNorm folded into its Linear.

    One dict per residual block (``weight``, ``bias``: ``h -> [relu(W h + b), h]``)
    and a last one for the output layer, all numpy, so that sampling needs no
    torch.
    """
    layers: list[dict[str, np.ndarray]] = []
    with torch.no_grad():
        for block in generator.blocks:
            bn = block.bn
            scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
            w = block.fc.weight * scale.unsqueeze(1)
            b = (block.fc.bias - bn.running_mean) * scale + bn.bias
            layers.append(_arrays(w, b))
        layers.append(_arrays(generator.out.weight, generator.out.bias))
    return layers


def _arrays(w: Any, b: Any) -> dict[str, np.ndarray]:
    return {
        "weight": w.detach().cpu().numpy().astype(np.float32),
        "bias": b.detach().cpu().numpy().astype(np.float32),
    }


def generator_logits(
    layers: Sequence[dict[str, np.ndarray]], z: np.ndarray, cond: np.ndarray
) -> np.ndarray:
    """The exported generator's logits for latent ``z`` and conditions ``cond``."""
    h = np.concatenate([z, cond], axis=1).astype(np.float32)
    for layer in layers[:-1]:
        h = np.concatenate([np.maximum(h @ layer["weight"].T + layer["bias"], 0), h], 1)
    last = layers[-1]
    return h @ last["weight"].T + last["bias"]
