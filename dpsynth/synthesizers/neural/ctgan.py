"""DP-CTGAN: a CTGAN-style conditional GAN, its discriminator trained with DP-SGD."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import numpy as np

from dpsynth.data.dataset import Dataset
from dpsynth.errors import ValidationError
from dpsynth.privacy.accountant import PrivacyAccountant
from dpsynth.synthesizers._measure import measure_marginals, noisy_total
from dpsynth.synthesizers._params import (
    check_fraction,
    check_int,
    check_nonnegative,
    check_positive,
)
from dpsynth.synthesizers.base import Progress
from dpsynth.synthesizers.neural._base import (
    DPSGDSynthesizer,
    array_from_dict,
    array_to_dict,
    check_widths,
)
from dpsynth.synthesizers.neural.encoding import TabularRepresentation

__all__ = ["DPCTGANSynthesizer"]

logger = logging.getLogger(__name__)


class DPCTGANSynthesizer(DPSGDSynthesizer):
    """A CTGAN-style conditional GAN; only the discriminator reads rows (DP-SGD).

    The networks see the public representation of the table only
    (:class:`~dpsynth.synthesizers.neural.encoding.TabularRepresentation`). The
    generator maps a latent point and a condition (one column's value) to one
    softmax per column (Gumbel-softmax outputs while training), through CTGAN's
    residual blocks; the discriminator scores rows. CTGAN's
    conditional vector needs category frequencies: they come from DP 1-way
    marginals, measured first. Conditions are drawn by those frequencies, not
    CTGAN's log-frequencies (training-by-sampling): the discriminator's real
    pairs carry each row's own value, so natural frequencies keep real and fake
    conditions alike. The generator's loss also pulls each column's batch-mean
    output towards its DP marginal (``marginal_weight``). Sampling draws a
    column uniformly and a value from its DP marginal, decodes with numpy
    alone, and keeps the conditioned value.

    Args:
        epochs: passes over the data, in expectation (``epochs *
            steps_per_epoch`` discriminator steps, each followed by one
            generator step).
        steps_per_epoch: Poisson sampling includes each row in a step with
            probability ``sample_rate = 1 / steps_per_epoch``.
        max_grad_norm: the per-example clipping norm ``C`` of the discriminator.
        generator_lr, discriminator_lr: Adam's step sizes (CTGAN's betas 0.5,
            0.9).
        embedding_dim: the latent dimension of the generator.
        generator_dims: the widths of the generator's residual blocks.
        discriminator_dims: the widths of the discriminator's hidden layers.
        dropout: the discriminator's dropout rate.
        marginal_weight: the weight, in the generator's loss, of the KL
            divergence of each column's DP 1-way marginal from the generator's
            batch-mean output (post-processing; 0 turns it off).
        marginal_fraction: the share of the budget (zCDP rho) spent on the 1-way
            marginals (conditions, the marginal term, the row count).
        max_noise_multiplier: a fit whose budget needs more noise than this for
            the requested epochs is refused before anything is spent, with the
            number of epochs that would fit.
        secure_mode: Opacus's secure mode (a CSPRNG for sampling and noise,
            needs ``torchcsprng``). Off, the noise and the Poisson sampling come
            from torch generators seeded from OS entropy (never from ``rng``).
        device: ``"auto"`` (a CUDA GPU when torch sees one, else the CPU),
            ``"cpu"``, ``"cuda"`` or ``"cuda:N"``. The model's randomness
            (initial weights, latent and dropout draws) comes from CPU
            generators whatever the device; Opacus draws the DP noise where
            the parameters are.

    Privacy:
        Add/remove-one-row neighbours. The ledger holds, in this order, both
        checked against the budget before the first is spent: (1) one
        ``GaussianEvent(sigma)`` per column for its 1-way marginal (discrete
        Gaussian through :mod:`dpsynth.mechanisms`, L2 sensitivity 1), with
        ``marginal_fraction`` of the budget; (2) one
        ``SampledGaussianEvent(noise_multiplier, sample_rate, steps)`` for the
        discriminator's DP-SGD run, spent before the first batch is drawn, its
        noise multiplier the smallest that lands the ledger on the budget.
        Each discriminator example is a Poisson-sampled real row paired with
        one fake row under the same condition (the row's own value in a random
        column), and Opacus clips the pair's whole gradient: one row changes
        the clipped sum by one clipped term. The generator learns from the
        discriminator's scores on fake rows and from public conditions drawn
        from the DP marginals: post-processing. No packing (PacGAN would put
        several rows in one example) and no gradient penalty (per-row clipping
        cannot take second-order gradients); the loss is the non-saturating
        GAN loss. Training losses are never logged or stored.

    References:
        Xu, Skoularidou, Cuesta-Infante, Veeramachaneni. Modeling Tabular Data
        using Conditional GAN. NeurIPS 2019 (CTGAN: conditional vector).
        Abadi et al. Deep Learning with Differential Privacy. CCS 2016
        (Algorithm 1). Xie et al. Differentially Private
        Generative Adversarial Network, 2018 (DP on the discriminator only).

    Example:
        >>> syn = DPCTGANSynthesizer(epochs=2, steps_per_epoch=10)
        >>> syn.get_params()["generator_dims"]
        (256, 256)
    """

    name = "dpctgan"

    def __init__(
        self,
        *,
        epochs: int = 20,
        steps_per_epoch: int = 25,
        max_grad_norm: float = 1.0,
        generator_lr: float = 1e-3,
        discriminator_lr: float = 1e-3,
        embedding_dim: int = 128,
        generator_dims: Sequence[int] = (256, 256),
        discriminator_dims: Sequence[int] = (64,),
        dropout: float = 0.5,
        marginal_weight: float = 1.0,
        marginal_fraction: float = 0.1,
        max_noise_multiplier: float = 10.0,
        secure_mode: bool = False,
        device: str = "auto",
    ) -> None:
        self.epochs = epochs
        self.steps_per_epoch = steps_per_epoch
        self.max_grad_norm = max_grad_norm
        self.generator_lr = generator_lr
        self.discriminator_lr = discriminator_lr
        self.embedding_dim = embedding_dim
        self.generator_dims = generator_dims
        self.discriminator_dims = discriminator_dims
        self.dropout = dropout
        self.marginal_weight = marginal_weight
        self.marginal_fraction = marginal_fraction
        self.max_noise_multiplier = max_noise_multiplier
        self.secure_mode = secure_mode
        self.device = device

    # ----------------------------------------------------------------- fit
    def _check_params(self) -> None:
        check_int("embedding_dim", self.embedding_dim, 1)
        check_widths("generator_dims", self.generator_dims)
        check_widths("discriminator_dims", self.discriminator_dims)
        check_nonnegative("marginal_weight", self.marginal_weight)
        for name in ("generator_lr", "discriminator_lr"):
            check_positive(name, getattr(self, name))
        if not (
            isinstance(self.dropout, int | float)
            and not isinstance(self.dropout, bool)
            and 0 <= self.dropout < 1
        ):
            raise ValidationError(f"`dropout` ({self.dropout!r}) must be in [0, 1).")
        check_fraction("marginal_fraction", self.marginal_fraction)
        self._check_dpsgd_params()

    def _fit(
        self,
        dataset: Dataset,
        accountant: PrivacyAccountant,
        rng: np.random.Generator,
        callback: Progress,
    ) -> None:
        from dpsynth.synthesizers.neural._gan import (
            GANPlan,
            export_generator,
            train_dp_gan,
        )
        from dpsynth.synthesizers.neural._torch import require_neural

        cols = dataset.columns
        sigma, dpsgd, sgd = self._plan_budget(
            accountant, len(cols), self.marginal_fraction, cols
        )
        nm = dpsgd.noise_multiplier
        rep = TabularRepresentation.from_schema(dataset.domain)
        plan = GANPlan(
            dpsgd=dpsgd,
            generator_lr=float(self.generator_lr),
            discriminator_lr=float(self.discriminator_lr),
            embedding_dim=self.embedding_dim,
            generator_dims=tuple(int(d) for d in self.generator_dims),
            discriminator_dims=tuple(int(d) for d in self.discriminator_dims),
            dropout=float(self.dropout),
            marginal_weight=float(self.marginal_weight),
        )

        def charge() -> tuple[list[np.ndarray], int]:
            callback("measure", 0, 1)
            noisy = measure_marginals(
                dataset,
                [(c,) for c in cols],
                sigma=sigma,
                accountant=accountant,
                label="dpctgan 1-way",
            )
            counts = [np.maximum(m.astype(np.float64), 0.0) for m in noisy]
            self.total_ = noisy_total(noisy, [sigma] * len(noisy))
            self.marginals_ = [_normalise(c) for c in counts]
            callback("measure", 1, 1)
            accountant.spend(sgd, label=f"dpctgan DP-SGD ({dpsgd.epochs} epochs)")
            batch = max(2, round(self.total_ * dpsgd.sample_rate))
            return self.marginals_, batch

        callback("train", 0, dpsgd.epochs)
        generator = train_dp_gan(
            rep.encode(dataset),
            rep,
            plan,
            rng=rng,
            before_training=charge,
            on_epoch=lambda e: callback("train", e, dpsgd.epochs),
        )
        torch, _ = require_neural()
        self.noise_multiplier_ = nm
        self.generator_ = export_generator(torch, generator)
        logger.info(
            "dpctgan trained: noise multiplier %.4g, sample rate %g, %d steps",
            nm,
            dpsgd.sample_rate,
            dpsgd.steps,
        )

    # --------------------------------------------------------------- sample
    def _sample_codes(self, n: int, rng: np.random.Generator) -> Dataset:
        from dpsynth.synthesizers.neural._gan import generator_logits

        rep = TabularRepresentation.from_schema(self.domain_)
        latent = self.generator_[0]["weight"].shape[1] - rep.width
        gen_cond, gen_z, gen_codes = rng.spawn(3)
        parts = []
        for start in range(0, n, 65536):
            m = min(65536, n - start)
            cols = gen_cond.integers(0, len(rep.blocks), m)
            values = np.zeros(m, dtype=np.int64)
            for j, p in enumerate(self.marginals_):
                rows = np.flatnonzero(cols == j)
                values[rows] = gen_cond.choice(p.size, size=rows.size, p=p)
            starts = np.array([b.start for b in rep.blocks])
            cond = np.zeros((m, rep.width), dtype=np.float32)
            cond[np.arange(m), starts[cols] + values] = 1.0
            z = gen_z.standard_normal((m, latent), dtype=np.float32)
            logits = generator_logits(self.generator_, z, cond)
            codes = rep.sample_codes(logits, gen_codes).codes.copy()
            codes[np.arange(m), cols] = values  # keep the condition
            parts.append(codes)
        return Dataset(np.concatenate(parts, axis=0), self.domain_)

    # ----------------------------------------------------------- save / load
    def _model_to_dict(self) -> dict[str, Any]:
        return {
            "total": self.total_,
            "noise_multiplier": self.noise_multiplier_,
            "marginals": [p.tolist() for p in self.marginals_],
            "generator": [
                {key: array_to_dict(a) for key, a in layer.items()}
                for layer in self.generator_
            ],
        }

    def _model_from_dict(self, data: dict[str, Any]) -> None:
        try:
            self.total_ = float(data["total"])
            self.noise_multiplier_ = float(data["noise_multiplier"])
            self.marginals_ = [
                np.asarray(p, dtype=np.float64) for p in data["marginals"]
            ]
            self.generator_ = [
                {key: array_from_dict(layer[key]) for key in ("weight", "bias")}
                for layer in data["generator"]
            ]
        except (KeyError, TypeError, ValueError) as exc:
            raise ValidationError(
                "`model` must hold a dpctgan generator (total, noise_multiplier, "
                f"marginals, generator layers): {exc!r}"
            ) from exc
        rep = TabularRepresentation.from_schema(self.domain_)
        sizes = [p.size for p in self.marginals_]
        if sizes != [b.size for b in rep.blocks] or any(
            not np.isclose(p.sum(), 1.0) or (p < 0).any() for p in self.marginals_
        ):
            raise ValidationError(
                "`model` marginals must be one distribution per domain column."
            )
        if not self.generator_ or self.generator_[-1]["weight"].shape[0] != rep.width:
            raise ValidationError(
                f"`model` generator must end in the domain's width ({rep.width})."
            )


def _normalise(weights: np.ndarray) -> np.ndarray:
    """``weights`` over their sum, or uniform when they sum to zero."""
    total = float(weights.sum())
    if total <= 0:
        return np.full(weights.size, 1.0 / weights.size)
    return weights / total
