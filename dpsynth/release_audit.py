"""The audit inside a release: a holdout kept from the fit, and ``DIR/audit/``.

``dpsynth generate`` holds out a random fraction of the input (10% by default)
that the synthesizer never sees, or takes a separate holdout table, and after
sampling audits the synthetic table against the fitted rows and the holdout
(:mod:`dpsynth.audit`). The report goes to ``DIR/audit/report.json`` and
``report.html``.

Privacy: the holdout split uses the release's own (non-DP) randomness and the
synthesizer is fitted on the remaining rows only, so the DP guarantee covers
every input row (held-out rows are not used at all). The audit itself reads the
real data without privacy: ``DIR/audit/`` is for the data controller and must be
removed before the release is published. The manifest says so, and records the
holdout's fraction, never its number of rows (that would disclose the input's
size).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from dpsynth.audit.battery import AuditConfig, Claim, run_audit
from dpsynth.audit.data import MIN_HOLDOUT, AuditData
from dpsynth.audit.report import reproducibility
from dpsynth.data.dataset import Dataset
from dpsynth.data.domain import Domain
from dpsynth.data.encoding import Encoder
from dpsynth.data.schema import Schema
from dpsynth.errors import ValidationError

__all__ = [
    "AUDIT_FOLDER",
    "AUDIT_WARNING",
    "DEFAULT_HOLDOUT",
    "HoldoutPlan",
    "audit_release",
    "plan_holdout",
    "synthesizer_factory",
]

DEFAULT_HOLDOUT = 0.1
AUDIT_FOLDER = "audit"
AUDIT_WARNING = (
    "audit/ was computed on the real data WITHOUT differential privacy: it is for "
    "the data controller only. Remove it before publishing this release."
)


@dataclass(frozen=True)
class HoldoutPlan:
    """The rows to fit on and the holdout to audit against.

    Attributes:
        fit: the rows the synthesizer is fitted on.
        holdout: the rows it never sees.
        fraction: the held-out fraction of the input, or None for a separate
            holdout table.
    """

    fit: Dataset
    holdout: Dataset
    fraction: float | None

    def manifest(self) -> dict[str, Any]:
        """The manifest's ``audit`` block (no row counts: they are private)."""
        return {
            "folder": AUDIT_FOLDER,
            "holdout": (
                {"kind": "fraction", "fraction": self.fraction}
                if self.fraction is not None
                else {"kind": "table"}
            ),
            "fitted_on": (
                "the input minus a random holdout drawn with the release's seed"
                if self.fraction is not None
                else "the whole input (the holdout is a separate table)"
            ),
            "private": False,
            "warning": AUDIT_WARNING,
        }


def _check_fraction(value: Any) -> float:
    ok = isinstance(value, int | float) and not isinstance(value, bool)
    if not ok or not 0 < value < 0.5:
        raise ValidationError(
            f"`holdout` ({value!r}) must be a fraction in (0, 0.5) of the input, or "
            "a holdout table."
        )
    return float(value)


def plan_holdout(
    codes: Dataset,
    holdout: float | pd.DataFrame | Dataset,
    schema: Schema | Domain,
    rng: np.random.Generator,
) -> HoldoutPlan:
    """Splits off the holdout before anything is spent.

    Args:
        codes: the encoded input.
        holdout: a fraction of the input to hold out at random, or a separate
            holdout table (encoded by the same schema).
        schema: the public Schema or Domain.
        rng: the release's generator for the split.

    Raises:
        ValidationError: a bad fraction, or a holdout of fewer than
            ``MIN_HOLDOUT`` rows (the message says how to skip the audit).
        DomainError: a holdout table the schema refuses.
    """
    if isinstance(holdout, pd.DataFrame | Dataset):
        if isinstance(holdout, Dataset):
            held = holdout
        elif isinstance(schema, Schema):
            held = Encoder(schema).encode(holdout)
        else:
            held = Dataset.from_frame(holdout, schema)
        if held.n_rows_nonprivate < MIN_HOLDOUT:
            raise ValidationError(
                f"The holdout table has {held.n_rows_nonprivate} rows; the audit "
                f"needs at least {MIN_HOLDOUT}. Pass a larger one, or skip the "
                "audit (--no-audit)."
            )
        return HoldoutPlan(fit=codes, holdout=held, fraction=None)
    fraction = _check_fraction(holdout)
    n = codes.n_rows_nonprivate
    k = int(round(fraction * n))
    if k < MIN_HOLDOUT or n - k < 1:
        raise ValidationError(
            f"A holdout of {fraction:g} of this table has {k} rows; the audit needs "
            f"at least {MIN_HOLDOUT}. Hold out a larger fraction, pass a holdout "
            "table, or skip the audit (--no-audit)."
        )
    order = rng.permutation(n)
    held_rows, fit_rows = np.sort(order[:k]), np.sort(order[k:])
    return HoldoutPlan(
        fit=Dataset(codes.codes[fit_rows], codes.domain),
        holdout=Dataset(codes.codes[held_rows], codes.domain),
        fraction=fraction,
    )


def synthesizer_factory(
    method: str,
    params: Mapping[str, Any],
    schema: Schema | Domain,
    *,
    epsilon: float,
    delta: float,
) -> Callable[[np.ndarray, np.random.Generator], np.ndarray]:
    """A factory that refits a dpsynth synthesizer, for shadow modelling.

    Each call fits a fresh ``method(**params)`` at ``(epsilon, delta)`` on the
    given codes (a shadow dataset drawn from the holdout, inside the audit) and
    returns the codes of as many synthetic rows. These fits never leave the
    audit; their noise comes from OpenDP like any fit.
    """
    from dpsynth.synthesizers.registry import synthesizer_class

    klass = synthesizer_class(method)
    domain = schema.domain if isinstance(schema, Schema) else schema

    def factory(codes: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        synth = klass(**dict(params))
        synth.fit(
            Dataset(codes, domain),
            schema=schema,
            epsilon=epsilon,
            delta=delta,
            rng=rng,
        )
        return np.asarray(synth._sample_codes(codes.shape[0], rng).codes)

    return factory


def audit_release(
    plan: HoldoutPlan,
    synthetic: pd.DataFrame,
    *,
    schema: Schema | Domain,
    ledger: Mapping[str, Any],
    method: str,
    seed: int | None,
    rng: np.random.Generator,
    config: AuditConfig | None = None,
    command: list[str] | None = None,
    progress: Callable[[str, int, int], None] | None = None,
    shadow: Callable[[np.ndarray, np.random.Generator], np.ndarray] | None = None,
) -> dict[str, Any]:
    """Audits a release's synthetic table; returns the report dict.

    Args:
        plan: the fitted rows and the holdout.
        synthetic: the sampled table (decoded).
        schema: the public Schema or Domain.
        ledger: the fit's ledger dict (the claim and its events).
        method: the synthesizer's name.
        seed: the release's seed (the audit's draws are derived from it).
        rng: the audit's generator.
        config: thresholds and sizes.
        command: the release's command line.
        progress: ``progress(stage, done, total)``.
        shadow: a factory refitting the generator (:func:`synthesizer_factory`)
            to run the shadow-model attack too, or None.
    """
    if isinstance(schema, Schema):
        syn = Encoder(schema).encode(synthetic)
    else:
        syn = Dataset.from_frame(synthetic, schema)
    data = AuditData.from_encoded(
        np.asarray(plan.fit.codes),
        np.asarray(plan.holdout.codes),
        np.asarray(syn.codes),
        schema=schema,
    )
    budget = ledger.get("budget") or {}
    claim = Claim(
        epsilon=budget.get("epsilon"),
        delta=budget.get("delta"),
        method=method,
        manifest="manifest.json (this release)",
        ledger=ledger,
    )

    def staged(stage: str, done: int, total: int) -> None:
        if progress is not None:
            progress(f"audit: {stage}", done, total)

    report = run_audit(
        data,
        claim=claim,
        config=config,
        rng=rng,
        progress=staged,
        factory=shadow,
        generator=f"dpsynth's {method} at the release's (epsilon, delta)",
    )
    out = report.to_dict()
    out["reproducibility"] = reproducibility(
        seed=seed,
        inputs={
            "train": (None, int(data.train.shape[0])),
            "holdout": (None, int(data.holdout.shape[0])),
            "synthetic": (None, int(data.synthetic.shape[0])),
        },
        command=command,
    )
    out["reproducibility"]["seed_note"] = (
        "The audit's draws come from the release's seed (a stream of its own)."
        if seed is not None
        else "No seed: the release and its audit used OS entropy."
    )
    return out
