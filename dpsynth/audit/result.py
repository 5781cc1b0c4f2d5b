"""What every attack returns: :class:`AttackResult`, with its threat model.

An attack is scored the same way whatever it attacks: its success on *targets*
(records of the training table) beside its success on *controls* (records of a
holdout from the same population that the generator never saw). The excess of
the first over the second is the risk the synthetic table adds: what an attacker
learns about people *because they were in the training data*, beyond what the
synthetic table teaches about the population as a whole (which is its purpose).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from dpsynth.audit.stats import (
    EpsilonLowerBound,
    Roc,
    clopper_pearson,
    excess_p_value,
    newcombe,
)
from dpsynth.errors import ValidationError

__all__ = ["AttackResult", "Criterion", "Rate", "ThreatModel", "Verdict"]

Criterion = Literal["membership", "attribute", "singling_out", "linkability"]
Verdict = Literal["pass", "fail", "inconclusive"]
CRITERIA: tuple[Criterion, ...] = (
    "membership",
    "attribute",
    "singling_out",
    "linkability",
)

# FPRs at which membership attacks report their TPR (Carlini et al. 2022).
LOW_FPRS = (0.001, 0.01)
_ROC_POINTS = 200  # points of a ROC curve kept in the report


@dataclass(frozen=True, kw_only=True)
class ThreatModel:
    """Who the attacker is, stated in every result.

    Attributes:
        knowledge: what the attacker holds (the synthetic table, a reference
            sample of the population, a target's quasi-identifiers...).
        targets: which records are attacked and by what rule they were chosen.
        neighbouring: the privacy unit the attack speaks to (one record added
            or removed).
    """

    knowledge: str
    targets: str
    neighbouring: str = (
        "add/remove one record: one row is one person (the unit of the DP claim)"
    )

    def to_dict(self) -> dict[str, str]:
        """The JSON-ready dict."""
        return {
            "knowledge": self.knowledge,
            "targets": self.targets,
            "neighbouring": self.neighbouring,
        }


@dataclass(frozen=True)
class Rate:
    """``successes`` out of ``trials``, with an exact (Clopper-Pearson) interval."""

    successes: int
    trials: int

    def __post_init__(self) -> None:
        clopper_pearson(self.successes, self.trials)  # validates the counts

    @property
    def rate(self) -> float:
        """The observed rate (0 when there were no trials)."""
        return self.successes / self.trials if self.trials else 0.0

    def ci(self, confidence: float = 0.95) -> tuple[float, float]:
        """The two-sided Clopper-Pearson interval."""
        return clopper_pearson(self.successes, self.trials, confidence=confidence)

    def to_dict(self, confidence: float = 0.95) -> dict[str, Any]:
        """The JSON-ready dict (counts, rate and interval)."""
        return {
            "successes": self.successes,
            "trials": self.trials,
            "rate": _num(self.rate),
            "ci": [_num(x) for x in self.ci(confidence)],
        }


@dataclass(frozen=True, kw_only=True)
class AttackResult:
    """One attack's outcome on targets and on controls.

    The risk is ``main.rate - control.rate`` (an attacker's advantage from the
    training data) with Newcombe's interval, and the p-value is Fisher's
    one-sided exact test of main > control. Which verdict follows from them is
    decided by the battery (:mod:`dpsynth.audit.battery`), across attacks, with
    multiple-testing control.

    Attributes:
        name: short identifier (``dcr_membership``...).
        title: a human title.
        criterion: the GDPR WP29 criterion (or membership) it speaks to.
        description: what the attack does, in two sentences.
        threat_model: what the attacker knows and whom it attacks.
        main: successes on training targets.
        control: successes on holdout controls.
        baseline: the success rate of the best guess without the synthetic table
            (random guessing or the majority value), for reading the rates.
        roc: the ROC of a scoring attack on all its targets, if it has one.
        epsilon: the empirical epsilon lower bound, for membership attacks.
        per_record: one exposure score per training target, higher = more
            exposed (kept for the data controller), or None.
        target_rows: the training-table row of each ``per_record`` entry.
        diagnostic: reported but never the basis of a verdict.
        notes: degradations and caveats, in plain words.
        details: attack-specific JSON-ready figures.
    """

    name: str
    title: str
    criterion: Criterion
    description: str
    threat_model: ThreatModel
    main: Rate
    control: Rate
    baseline: float
    roc: Roc | None = None
    epsilon: EpsilonLowerBound | None = None
    epsilon_threshold: float | None = None
    per_record: np.ndarray | None = field(default=None, repr=False)
    target_rows: np.ndarray | None = field(default=None, repr=False)
    diagnostic: bool = False
    notes: tuple[str, ...] = ()
    details: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.criterion not in CRITERIA:
            raise ValidationError(
                f"`criterion` ({self.criterion!r}) must be one of {list(CRITERIA)}."
            )

    @property
    def risk(self) -> float:
        """The excess success on targets over controls."""
        return self.main.rate - self.control.rate

    def ci(self, confidence: float = 0.95) -> tuple[float, float]:
        """Newcombe's interval for :attr:`risk`."""
        return newcombe(
            (self.main.successes, self.main.trials),
            (self.control.successes, self.control.trials),
            confidence=confidence,
        )

    @property
    def p_value(self) -> float:
        """Fisher's one-sided exact p-value of main > control."""
        return excess_p_value(
            (self.main.successes, self.main.trials),
            (self.control.successes, self.control.trials),
        )

    def to_dict(self, confidence: float = 0.95) -> dict[str, Any]:
        """The JSON-ready dict of the report (without the per-record scores)."""
        out: dict[str, Any] = {
            "name": self.name,
            "title": self.title,
            "criterion": self.criterion,
            "description": self.description,
            "threat_model": self.threat_model.to_dict(),
            "risk": _num(self.risk),
            "ci": [_num(x) for x in self.ci(confidence)],
            "p_value": _num(self.p_value),
            "diagnostic": self.diagnostic,
            "main": self.main.to_dict(confidence),
            "control": self.control.to_dict(confidence),
            "baseline": _num(self.baseline),
            "roc": None if self.roc is None else roc_dict(self.roc),
            "epsilon": None,
            "notes": list(self.notes),
            "details": self.details,
        }
        if self.epsilon is not None:
            out["epsilon"] = {
                "lower_bound": _num(self.epsilon.lower_bound),
                "confidence": self.epsilon.confidence,
                "delta": self.epsilon.delta,
                "fpr_upper": _num(self.epsilon.fpr_upper),
                "fnr_upper": _num(self.epsilon.fnr_upper),
                "threshold": (
                    None
                    if self.epsilon_threshold is None
                    else _num(self.epsilon_threshold)
                ),
            }
        return out


def roc_dict(curve: Roc) -> dict[str, Any]:
    """A ROC for the report: AUC, TPR at low FPRs, and at most 200 points.

    Points are kept on a log grid of FPR (the region a membership audit reads)
    plus the curve's corners, so the plot on log axes keeps its shape.
    """
    fpr, tpr = curve.fpr, curve.tpr
    if fpr.size > _ROC_POINTS:
        grid = np.unique(
            np.concatenate([[0.0], np.geomspace(1e-5, 1.0, _ROC_POINTS - 2), [1.0]])
        )
        idx = np.searchsorted(fpr, grid, side="right") - 1
        idx = np.unique(np.clip(idx, 0, fpr.size - 1))
        fpr, tpr = fpr[idx], tpr[idx]
    return {
        "auc": _num(curve.auc),
        "fpr": [_num(x) for x in fpr],
        "tpr": [_num(x) for x in tpr],
        "tpr_at": {str(f): _num(curve.tpr_at(f)) for f in LOW_FPRS},
    }


def _num(x: float) -> float:
    """A float rounded to 6 significant digits for the JSON report."""
    x = float(x)
    return float(f"{x:.6g}") if np.isfinite(x) else x
