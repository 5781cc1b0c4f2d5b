"""What the DP-SGD synthesizers share: parameters, the budget plan, the refusal.

Each neural synthesizer spends, in order, ``k`` discrete-Gaussian measurements
at one sigma (a row count, or the 1-way marginals) and then one
``SampledGaussianEvent`` for its DP-SGD run. Both are planned here before
anything is spent: the sigma takes a stated share of the budget, the noise
multiplier is the smallest that lands the ledger on the budget.
"""

from __future__ import annotations

import base64
import copy
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from dpsynth.data.dataset import Dataset
from dpsynth.data.schema import Schema
from dpsynth.errors import BudgetExceededError, ValidationError
from dpsynth.privacy.accountant import PrivacyAccountant
from dpsynth.privacy.events import GaussianEvent, SampledGaussianEvent
from dpsynth.synthesizers._params import check_int, check_positive
from dpsynth.synthesizers.base import Progress, Synthesizer
from dpsynth.synthesizers.neural._torch import require_neural
from dpsynth.synthesizers.neural.encoding import (
    TabularRepresentation,
    check_position_bins,
)

if TYPE_CHECKING:
    from dpsynth.synthesizers.neural._dpsgd import DPSGDPlan

__all__ = [
    "DPSGDSynthesizer",
    "array_from_dict",
    "array_to_dict",
    "check_head",
    "check_widths",
]

_DEVICE = re.compile(r"auto|cpu|cuda(:\d+)?")


class DPSGDSynthesizer(Synthesizer):
    """Base of the DP-SGD synthesizers (not registered itself).

    Subclasses set ``epochs``, ``steps_per_epoch``, ``max_grad_norm``,
    ``max_noise_multiplier``, ``secure_mode``, ``position_bins`` and ``device``
    in ``__init__``, and implement :meth:`_fit_rows` and :meth:`_sample_rows`.
    """

    epochs: int
    steps_per_epoch: int
    max_grad_norm: float
    max_noise_multiplier: float
    secure_mode: bool
    position_bins: int
    device: str
    total_: float  # the noisy row count, set by the fit
    positions_: bool  # whether the fit modelled positions inside bins

    def _estimated_rows(self) -> float:
        return self.total_

    def _wants_positions(self) -> bool:
        return bool(self.position_bins)

    def _fit(
        self,
        dataset: Dataset,
        accountant: PrivacyAccountant,
        rng: np.random.Generator,
        callback: Progress,
    ) -> None:
        self._fit_rows(dataset, None, accountant, rng, callback)

    def _sample_codes(self, n: int, rng: np.random.Generator) -> Dataset:
        return self._sample_rows(n, rng)[0]

    def _representation(self, positions: bool) -> TabularRepresentation:
        """The network's representation (with positions, or codes only).

        With ``positions``, the schema's with ``position_bins``; else the
        domain's.
        """
        if positions:
            if not isinstance(self.schema_, Schema):
                raise ValidationError(
                    "`model` has positions inside bins but no schema to place "
                    "them with."
                )
            return TabularRepresentation.from_schema(
                self.schema_, position_bins=self.position_bins
            )
        return TabularRepresentation.from_schema(self.domain_)

    def _check_dpsgd_params(self) -> None:
        check_int("epochs", self.epochs, 1)
        check_int("steps_per_epoch", self.steps_per_epoch, 1)
        for name in ("max_grad_norm", "max_noise_multiplier"):
            check_positive(name, getattr(self, name))
        if not isinstance(self.secure_mode, bool):
            raise ValidationError(
                f"`secure_mode` ({self.secure_mode!r}) must be True or False."
            )
        check_position_bins(self.position_bins)
        self._torch_device()

    def _torch_device(self) -> str:
        """The torch device of the fit: ``device``, with ``"auto"`` resolved.

        ``"auto"`` is the first CUDA GPU when torch sees one, else the CPU.

        Raises:
            ValidationError: an unknown device, or CUDA that torch cannot see.
            MissingExtraError: torch or Opacus is not installed.
        """
        torch, _ = require_neural()
        device = self.device
        if not (isinstance(device, str) and _DEVICE.fullmatch(device)):
            raise ValidationError(
                f"`device` ({device!r}) must be 'auto', 'cpu', 'cuda' or 'cuda:N'."
            )
        if device == "auto":
            return "cuda" if torch.cuda.is_available() else "cpu"
        if device.startswith("cuda"):
            index = int(device.partition(":")[2] or 0)
            if not torch.cuda.is_available() or index >= torch.cuda.device_count():
                raise ValidationError(
                    f"`device` ({device!r}) needs a CUDA GPU that torch can see "
                    f"(it sees {torch.cuda.device_count()}); nothing was spent. "
                    "Hint: use 'auto' or 'cpu'."
                )
        return device

    def _plan_budget(
        self,
        accountant: PrivacyAccountant,
        measurements: int,
        fraction: float,
        columns: tuple[str, ...],
    ) -> tuple[float, DPSGDPlan, SampledGaussianEvent]:
        """``(sigma, DP-SGD plan, its event)``, or a refusal with nothing spent.

        ``sigma`` is the scale of ``measurements`` GaussianEvents taking
        ``fraction`` of the budget (zCDP rho); the DP-SGD run's noise
        multiplier is the smallest that fits in what is left. The measurements
        and the event together are checked against ``accountant``.
        """
        from dpsynth.synthesizers.neural._dpsgd import DPSGDPlan, sampling_rate_for

        sigma, nm = self._solve(accountant, measurements, fraction)
        plan = DPSGDPlan(
            noise_multiplier=nm,
            sample_rate=sampling_rate_for(self.steps_per_epoch)[0],
            steps_per_epoch=self.steps_per_epoch,
            epochs=self.epochs,
            max_grad_norm=float(self.max_grad_norm),
            secure_mode=self.secure_mode,
            device=self._torch_device(),
        )
        event = SampledGaussianEvent(
            noise_multiplier=nm,
            sample_rate=plan.sample_rate,
            steps=plan.steps,
            columns=columns,
        )
        events = [GaussianEvent(sigma=sigma)] * measurements + [event]
        if not accountant.can_spend_many(events):
            accountant.spend_many(events)  # raises, naming what does not fit
        return sigma, plan, event

    def _solve(
        self, accountant: PrivacyAccountant, measurements: int, fraction: float
    ) -> tuple[float, float]:
        """``(sigma, noise_multiplier)`` for :meth:`_plan_budget`, or a refusal."""
        from dpsynth.synthesizers.neural._dpsgd import sampling_rate_for

        trial = copy.deepcopy(accountant)
        sigma = trial.plan_gaussian_sigma(measurements, fraction=fraction)
        trial.spend(GaussianEvent(sigma=sigma), label="measure", count=measurements)
        q, _ = sampling_rate_for(self.steps_per_epoch)
        steps = self.epochs * self.steps_per_epoch
        nm = trial.plan_noise_multiplier(sample_rate=q, steps=steps)
        if nm > self.max_noise_multiplier:
            raise self._refusal(trial, q, nm)
        return sigma, nm

    def _refusal(
        self, trial: PrivacyAccountant, q: float, nm: float
    ) -> BudgetExceededError:
        """The error for a budget too small for the requested epochs."""
        top = float(self.max_noise_multiplier)

        def event(epochs: int) -> SampledGaussianEvent:
            steps = epochs * self.steps_per_epoch
            return SampledGaussianEvent(
                noise_multiplier=top, sample_rate=q, steps=steps
            )

        lo, hi = 0, self.epochs  # event(hi) does not fit
        while hi - lo > 1:
            mid = (lo + hi) // 2
            lo, hi = (mid, hi) if trial.can_spend(event(mid)) else (lo, mid)
        budget = trial.budget
        need = PrivacyAccountant.unlimited(delta=budget.delta, pld=trial.pld)  # type: ignore[arg-type]
        need.replay([(e.event, e.count) for e in trial.ledger.entries])
        need.spend(event(self.epochs))
        fits = f"at most {lo} epoch(s) fit" if lo else "not even one epoch fits"
        return BudgetExceededError(
            f"`epochs` ({self.epochs}) needs noise multiplier {nm:.4g} under the "
            f"budget epsilon = {budget.epsilon:.6g} at delta = {budget.delta:g}, "
            f"above `max_noise_multiplier` ({top:g}); at that noise, {fits} "
            f"(sample rate {q:g}), and {self.epochs} epoch(s) need epsilon = "
            f"{need.epsilon():.4g}. Nothing was spent or sampled. Hint: lower "
            "`epochs`, raise `epsilon`, or raise `max_noise_multiplier`.",
            requested=need.epsilon(),
            budget=budget.epsilon,
            delta=budget.delta,
        )


def check_head(rep: TabularRepresentation, head: Sequence[np.ndarray]) -> None:
    """Raises unless ``head`` fits ``rep`` (a loaded model's position head).

    One weight per position block, of shape (sub-intervals, the column's codes).
    """
    pairs = zip(rep.positions, rep.position_parents, strict=True)
    want = [(b.size, p.size) for b, p in pairs]
    if [tuple(w.shape) for w in head] != want:
        raise ValidationError(
            f"`model` position head must have weights of shapes {want} (one per "
            "binned column)."
        )


def check_widths(name: str, dims: Any) -> None:
    """Raises unless ``dims`` is a list (or tuple) of layer widths >= 1."""
    if isinstance(dims, str | bytes) or not isinstance(dims, Sequence):
        raise ValidationError(f"`{name}` ({dims!r}) must be a list of integers >= 1.")
    for d in dims:
        check_int(name, d, 1)


def array_to_dict(a: np.ndarray) -> dict[str, Any]:
    """A float32 array as its shape and base64 little-endian bytes."""
    data = np.ascontiguousarray(a, dtype="<f4").tobytes()
    return {"shape": list(a.shape), "float32": base64.b64encode(data).decode("ascii")}


def array_from_dict(d: dict[str, Any]) -> np.ndarray:
    """The inverse of :func:`array_to_dict`."""
    raw = base64.b64decode(d["float32"], validate=True)
    flat = np.frombuffer(raw, dtype="<f4").astype(np.float32)
    return flat.reshape(tuple(int(s) for s in d["shape"]))
