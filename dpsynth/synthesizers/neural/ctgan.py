"""DP-CTGAN: a CTGAN-style conditional GAN, its discriminator trained with DP-SGD."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import numpy as np

from dpsynth.data.dataset import Dataset
from dpsynth.data.domain import Domain
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
    check_head,
    check_widths,
)
from dpsynth.synthesizers.neural.encoding import TabularRepresentation

__all__ = ["DPCTGANSynthesizer"]

logger = logging.getLogger(__name__)


class DPCTGANSynthesizer(DPSGDSynthesizer):
    """A CTGAN-style conditional GAN; only the discriminator reads rows (DP-SGD).

    The networks see the public representation of the table only
    (:class:`~dpsynth.synthesizers.neural.encoding.TabularRepresentation`: one
    one-hot block per column, and each binned value's position inside its
    bin). The generator maps a latent point and a condition (one column's
    value) to one softmax per block (Gumbel-softmax outputs while training),
    through CTGAN's residual blocks; the discriminator scores rows. CTGAN's
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
            0.9). With ``marginal_weight`` 3, a discriminator step size of
            3e-3 took the median 2-way TVD on Adult codes (3 seeds,
            ``benchmarks/neural.py``) from 0.105 to 0.087 at epsilon = 1 and
            from 0.072 to 0.063 at epsilon = 10 (1e-3 and 1 before).
        embedding_dim: the latent dimension of the generator.
        generator_dims: the widths of the generator's residual blocks.
        discriminator_dims: the widths of the discriminator's hidden layers.
        dropout: the discriminator's dropout rate.
        marginal_weight: the weight, in the generator's loss, of the KL
            divergence of each column's DP 1-way marginal from the generator's
            batch-mean output, and of each binned column's DP (bin, position)
            distribution from the generator's (post-processing; 0 turns it
            off).
        marginal_fraction: the share of the budget (zCDP rho) spent on the 1-way
            marginals (conditions, the marginal term, the row count).
        position_bins: the resolution of a value's position inside its public
            bin: each binned column gets a one-hot block of up to this many
            equal sub-intervals of its bins (fewer for narrow integer bins,
            which are kept exactly), so sampled values follow the data inside
            a bin instead of a uniform draw. 0 models bins only. Positions
            need a DataFrame under a Schema; a fit on codes has none.
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
        ``GaussianEvent(sigma)`` per column for its 1-way marginal, and, with
        positions, one per binned column for its bin-by-position table (the
        counts of each (bin, sub-interval) pair; discrete Gaussian through
        :mod:`dpsynth.mechanisms`, L2 sensitivity 1), together
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
        discriminator_lr: float = 3e-3,
        embedding_dim: int = 128,
        generator_dims: Sequence[int] = (256, 256),
        discriminator_dims: Sequence[int] = (64,),
        dropout: float = 0.5,
        marginal_weight: float = 3.0,
        marginal_fraction: float = 0.1,
        position_bins: int = 8,
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
        self.position_bins = position_bins
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

    def _fit_rows(
        self,
        dataset: Dataset,
        positions: np.ndarray | None,
        accountant: PrivacyAccountant,
        rng: np.random.Generator,
        callback: Progress,
    ) -> None:
        from dpsynth.synthesizers.neural._blocks import export_head
        from dpsynth.synthesizers.neural._gan import (
            GANPlan,
            export_generator,
            train_dp_gan,
        )
        from dpsynth.synthesizers.neural._torch import require_neural

        cols = dataset.columns
        rep = self._representation(positions is not None)
        sigma, dpsgd, sgd = self._plan_budget(
            accountant, len(cols) + len(rep.positions), self.marginal_fraction, cols
        )
        nm = dpsgd.noise_multiplier
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

        def charge() -> tuple[list[np.ndarray], list[np.ndarray], int]:
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
            self.position_joints_: list[np.ndarray] = []
            if rep.positions and positions is not None:
                fine = measure_marginals(
                    _bins_by_positions(dataset, rep, positions),
                    [(b.column,) for b in rep.positions],
                    sigma=sigma,
                    accountant=accountant,
                    label="dpctgan bin x position",
                )
                # the bins' distribution from the 1-way marginal (less noisy
                # than the sum of K cells), the positions' given each bin from
                # the bin-by-position table
                where = {c: j for j, c in enumerate(cols)}
                self.position_joints_ = [
                    self.marginals_[where[block.column]][:, None]
                    * np.apply_along_axis(
                        _normalise,
                        1,
                        np.maximum(f.astype(np.float64), 0.0).reshape(
                            parent.size, block.size
                        ),
                    )
                    for f, block, parent in zip(
                        fine, rep.positions, rep.position_parents, strict=True
                    )
                ]
            callback("measure", 1, 1)
            accountant.spend(sgd, label=f"dpctgan DP-SGD ({dpsgd.epochs} epochs)")
            batch = max(2, round(self.total_ * dpsgd.sample_rate))
            return self.marginals_, self.position_joints_, batch

        callback("train", 0, dpsgd.epochs)
        generator = train_dp_gan(
            rep.encode(dataset, positions),
            rep,
            plan,
            rng=rng,
            before_training=charge,
            on_epoch=lambda e: callback("train", e, dpsgd.epochs),
        )
        torch, _ = require_neural()
        self.noise_multiplier_ = nm
        self.generator_ = export_generator(torch, generator)
        self.head_ = export_head(generator.head)
        self.positions_ = bool(rep.positions)
        logger.info(
            "dpctgan trained: noise multiplier %.4g, sample rate %g, %d steps",
            nm,
            dpsgd.sample_rate,
            dpsgd.steps,
        )

    # --------------------------------------------------------------- sample
    def _sample_rows(
        self, n: int, rng: np.random.Generator
    ) -> tuple[Dataset, np.ndarray | None]:
        from dpsynth.synthesizers.neural._gan import generator_logits

        rep = self._representation(self.positions_)
        latent = self.generator_[0]["weight"].shape[1] - rep.code_width
        gen_cond, gen_z, gen_codes, gen_pos = rng.spawn(4)
        starts = np.array([b.start for b in rep.blocks])
        codes: list[np.ndarray] = []
        positions: list[np.ndarray] = []
        for start in range(0, n, 65536):
            m = min(65536, n - start)
            cols = gen_cond.integers(0, len(rep.blocks), m)
            values = np.zeros(m, dtype=np.int64)
            for j, p in enumerate(self.marginals_):
                rows = np.flatnonzero(cols == j)
                values[rows] = gen_cond.choice(p.size, size=rows.size, p=p)
            cond = np.zeros((m, rep.code_width), dtype=np.float32)
            cond[np.arange(m), starts[cols] + values] = 1.0
            z = gen_z.standard_normal((m, latent), dtype=np.float32)
            logits = generator_logits(self.generator_, z, cond)
            part = rep.sample_codes(logits, gen_codes).codes.copy()
            part[np.arange(m), cols] = values  # keep the condition
            codes.append(part)
            positions.append(rep.sample_positions(logits, part, self.head_, gen_pos))
        data = Dataset(np.concatenate(codes, axis=0), self.domain_)
        return data, np.concatenate(positions, axis=0) if self.positions_ else None

    # ----------------------------------------------------------- save / load
    def _model_to_dict(self) -> dict[str, Any]:
        return {
            "total": self.total_,
            "noise_multiplier": self.noise_multiplier_,
            "positions": self.positions_,
            "position_head": [array_to_dict(w) for w in self.head_],
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
            self.positions_ = bool(data.get("positions", False))
            self.head_ = [array_from_dict(w) for w in data.get("position_head", [])]
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
        rep = self._representation(self.positions_)
        sizes = [p.size for p in self.marginals_]
        if sizes != [b.size for b in rep.blocks] or any(
            not np.isclose(p.sum(), 1.0) or (p < 0).any() for p in self.marginals_
        ):
            raise ValidationError(
                "`model` marginals must be one distribution per domain column."
            )
        if not self.generator_ or self.generator_[-1]["weight"].shape[0] != rep.width:
            raise ValidationError(
                f"`model` generator must end in the representation's width "
                f"({rep.width})."
            )
        check_head(rep, self.head_)


def _bins_by_positions(
    dataset: Dataset, rep: TabularRepresentation, positions: np.ndarray
) -> Dataset:
    """Each binned column's (bin, sub-interval) pair as one code, ``bin K + sub``.

    Row by row from the row's own code and position (the sensitive table in
    another form), for measuring bin-by-position tables.
    """
    subs = rep.sub_intervals(positions)
    index = {c: j for j, c in enumerate(dataset.columns)}
    codes = np.stack(
        [
            dataset.codes[:, index[b.column]].astype(np.int64) * b.size + subs[:, j]
            for j, b in enumerate(rep.positions)
        ],
        axis=1,
    )
    domain = Domain(
        {
            b.column: p.size * b.size
            for b, p in zip(rep.positions, rep.position_parents, strict=True)
        }
    )
    return Dataset(codes, domain)


def _normalise(weights: np.ndarray) -> np.ndarray:
    """``weights`` over their sum, or uniform when they sum to zero."""
    total = float(weights.sum())
    if total <= 0:
        return np.full(weights.size, 1.0 / weights.size)
    return weights / total
