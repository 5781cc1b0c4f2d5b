"""DP-SGD plumbing shared by the neural generators (torch + Opacus).

Imported only inside a fit: torch and Opacus are optional. The DP noise comes
from Opacus's optimizer (per-row clipping to ``max_grad_norm``, Gaussian noise of
``noise_multiplier * max_grad_norm`` on the clipped sum), the batches from
Opacus's Poisson sampler; nothing here adds noise for privacy by hand.

Per-row clipping is ghost clipping (Li et al. 2022, Bu et al. 2023) on
Opacus's ``GradSampleModuleFastGradientClipping``: a first backward pass lets
Opacus's hooks compute each row's gradient norm from a Linear layer's input
activations and output gradients, a second backward pass on the loss
reweighted by the clipping factors gives the clipped sum; no per-row gradient
is materialised. :meth:`PrivateTraining.backward` runs the two passes; unlike
Opacus's own loss wrapper, its first pass stops at the batch and computes no
parameter gradient (it would be thrown away). On the Adult VAE (batch 650, one
CPU core) ghost clipping costs about 2x a non-DP step, against 11.6x for
ExpandedWeights and 23x for hooks (``benchmarks/neural.py``).
"""

from __future__ import annotations

import contextlib
import math
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from dpsynth.errors import InternalError, ValidationError
from dpsynth.synthesizers.neural._torch import require_neural, torch_generator

__all__ = [
    "DPSGDPlan",
    "PrivateTraining",
    "make_private",
    "quiet_opacus",
    "sampling_rate_for",
]

GRAD_SAMPLE_MODE = "ghost"

# Opacus warns on every engine without secure mode; dpsynth records the choice
# in the model's parameters and the docs instead of raising (pytest: errors).
_QUIET = (
    r"Secure RNG turned off",
    r"Using a non-full backward hook",
    r"Full backward hook will not fire",
    r"Full backward hook is firing",
)


@contextlib.contextmanager
def quiet_opacus() -> Iterator[None]:
    """Silences Opacus's known, documented warnings (see ``_QUIET``)."""
    with warnings.catch_warnings():
        for message in _QUIET:
            warnings.filterwarnings("ignore", message=message)
        yield


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
class DPSGDPlan:
    """The DP-SGD run's privacy parameters, fixed before any data is touched."""

    noise_multiplier: float
    sample_rate: float
    steps_per_epoch: int
    epochs: int
    max_grad_norm: float
    secure_mode: bool
    device: str = "cpu"

    @property
    def steps(self) -> int:
        """The number of noisy steps (the SampledGaussianEvent's ``steps``)."""
        return self.epochs * self.steps_per_epoch


@dataclass
class PrivateTraining:
    """Opacus's private objects for one run.

    Attributes:
        engine: the PrivacyEngine (its accountant's history is checked at the end).
        module: the wrapped module (call it in the DP steps).
        optimizer: the DP optimizer (one ``step`` per Poisson batch).
        loader: the Poisson data loader.
    """

    engine: Any
    module: Any
    optimizer: Any
    loader: Any

    def backward(self, losses: Any, leaf: Any) -> None:
        """Leaves the sum of the per-row clipped gradients of ``losses`` in ``.grad``.

        ``losses`` holds one loss per example, each depending on its own row
        of ``leaf`` only; ``leaf`` is the module's input, a leaf tensor that
        requires grad (the first pass stops there). Opacus's optimizer then
        adds the noise in ``step()``.
        """
        import torch

        torch.autograd.backward(losses.sum(), inputs=[leaf], retain_graph=True)
        factors = self.module.get_clipping_coef()
        self.module.disable_hooks()
        try:
            (factors * losses).sum().backward()
        finally:
            self.module.enable_hooks()

    def check_history(self, plan: DPSGDPlan) -> None:
        """Raises unless Opacus ran exactly the planned steps (the ledger's event)."""
        history = list(self.engine.accountant.history)
        expected = [(plan.noise_multiplier, plan.sample_rate, plan.steps)]
        if history != expected:
            raise InternalError(
                f"Opacus ran {history!r}, not the DP-SGD spent in the ledger "
                f"{expected!r}. Please report."
            )


def make_private(
    *,
    model: Any,
    optimizer: Any,
    rows: np.ndarray,
    plan: DPSGDPlan,
) -> PrivateTraining:
    """Wraps ``model`` and ``optimizer`` for DP-SGD over the float32 ``rows``.

    ``model`` must already be on ``plan.device``; the loader yields CPU
    batches (move them there). The Poisson sampling and the noise draw from OS
    entropy, never from a seeded generator: a release publishes its seed, and
    with it an attacker could replay the noise and the batches, leaving
    training a deterministic function of the data (no privacy at all). With
    ``secure_mode`` Opacus's CSPRNG is used.

    Raises:
        ValidationError: ``secure_mode`` without ``torchcsprng``.
        InternalError: Opacus's loader is not the planned Poisson sampler.
    """
    torch, opacus = require_neural()
    from opacus.data_loader import DPDataLoader
    from opacus.utils.uniform_sampler import UniformWithReplacementSampler

    gen_sample = torch_generator(np.random.default_rng())
    gen_noise = torch.Generator(device=plan.device)  # where the parameters are
    gen_noise.manual_seed(int(np.random.default_rng().integers(0, 2**63 - 1)))
    _, q_loader = sampling_rate_for(plan.steps_per_epoch)
    try:
        engine = opacus.PrivacyEngine(accountant="prv", secure_mode=plan.secure_mode)
    except ImportError as exc:
        raise ValidationError(
            "`secure_mode` (True) needs the `torchcsprng` package, which is not "
            "installed; nothing was spent. Hint: install torchcsprng or fit with "
            "secure_mode=False (noise from a generator seeded by OS entropy)."
        ) from exc
    dataset = torch.utils.data.TensorDataset(torch.from_numpy(rows))
    loader = DPDataLoader(dataset, sample_rate=q_loader, generator=gen_sample)
    # Opacus's ghost mode wraps a criterion; PrivateTraining.backward replaces
    # that wrapper, so the criterion given here is never called.
    module, optimizer, _, loader = engine.make_private(
        module=model,
        optimizer=optimizer,
        data_loader=loader,
        criterion=torch.nn.L1Loss(reduction="sum"),
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
    return PrivateTraining(engine, module, optimizer, loader)
