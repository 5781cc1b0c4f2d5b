"""The audit battery: every attack, one verdict, one report dict.

:func:`run_audit` runs membership inference (distance and density ratio, and
shadow models when given a factory that refits the generator), attribute
inference (nearest neighbour, model, CAP, linear reconstruction), singling out
(univariate, multivariate) and linkability on the same encoded tables, then
decides:

* an attack **fails** when its excess over the controls is significant at
  family-wise level ``alpha`` across the whole battery (Holm's step-down on
  Fisher's one-sided exact p-values), i.e. a leak is demonstrated;
* it **passes** when it is not significant and its interval's upper end is at
  most ``tolerance``, i.e. the data rule out an excess above the tolerance;
* otherwise it is **inconclusive** (too few records to tell).

The empirical epsilon is the largest lower bound among the membership attacks,
each computed at one-sided confidence ``1 - (1 - confidence) / k`` for ``k``
attacks, so that the maximum holds at ``confidence`` (a union bound). A claimed
epsilon below it fails the audit: the mechanism cannot be as private as claimed
(a bug or a false claim). The overall verdict is the worst attack's, criteria
take the worst of their attacks, and the report keeps everything.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from dpsynth._random import RngLike, as_generator
from dpsynth.audit.attribute import attribute_attacks, default_roles
from dpsynth.audit.data import AuditData
from dpsynth.audit.linkability import linkability_attack
from dpsynth.audit.membership import (
    choose_targets,
    copy_diagnostics,
    membership_attacks,
)
from dpsynth.audit.reconstruction import reconstruction_attack
from dpsynth.audit.result import CRITERIA, AttackResult, Verdict
from dpsynth.audit.shadow import Factory, shadow_attack
from dpsynth.audit.singling_out import singling_out_attacks
from dpsynth.audit.stats import holm, holm_adjusted, newcombe
from dpsynth.errors import ValidationError

__all__ = ["AuditConfig", "AuditReport", "Claim", "powered", "run_audit"]

FORMAT = "dpsynth-audit-report"
VERSION = 1
Progress = Callable[[str, int, int], None]

_CRITERION_WORDS = {
    "membership": "membership inference (was a person's record used?)",
    "attribute": "attribute inference (GDPR WP29: inference)",
    "singling_out": "singling out (GDPR WP29)",
    "linkability": "linkability (GDPR WP29)",
}

NO_SHADOW = (
    "Attacks are no-box: they see the synthetic table, not the generator. "
    "Shadow-model attacks that refit the generator are stronger on some "
    "generators and are not part of this run."
)
WITH_SHADOW = (
    "The shadow-model attack refits the generator on samples of the holdout: it "
    "measures the generator on a few records (the rarest and some random ones), "
    "not this table, and its precision is limited by the number of games."
)
LIMITATIONS = (
    "The audit reads the real training and holdout data without differential "
    "privacy: its figures, and this report, are for the data controller and are "
    "not covered by the release's DP guarantee. Do not publish the per-record "
    "section.",
    "A pass means these attacks, with this many records, found no excess risk "
    "above the tolerance; it is not a proof of privacy. Only the DP guarantee "
    "bounds every attack; the empirical epsilon can refute a claim, never "
    "confirm it.",
    NO_SHADOW,
    "Risks are measured on records unique in training ∪ holdout (the most "
    "exposed); records with exact twins cannot be told apart by any attack.",
    "The empirical epsilon assumes the training/holdout split was random, so that "
    "each target's membership is the random event the DP guarantee speaks to.",
    "Distance-to-closest-record figures are diagnostics of copying, never the "
    "basis of a verdict: they pass releases that membership attacks break.",
)


@dataclass(frozen=True, kw_only=True)
class Claim:
    """The privacy claim under audit (from a release manifest, or stated).

    Attributes:
        epsilon: the claimed epsilon, or None.
        delta: the claimed delta (0 when None).
        method: the generator's name, if known.
        manifest: the manifest's path, if any.
        ledger: the manifest's ledger dict, if any.
    """

    epsilon: float | None = None
    delta: float | None = None
    method: str | None = None
    manifest: str | None = None
    ledger: Mapping[str, Any] | None = None

    @classmethod
    def from_manifest(cls, manifest: Mapping[str, Any], path: str | None) -> Claim:
        """Reads the claim of a ``dpsynth-release`` manifest dict."""
        if manifest.get("format") != "dpsynth-release":
            raise ValidationError(
                f"`manifest` ({path or 'dict'}) is not a dpsynth release manifest "
                f"(format {manifest.get('format')!r})."
            )
        claimed = manifest.get("claimed") or {}
        return cls(
            epsilon=claimed.get("epsilon"),
            delta=claimed.get("delta"),
            method=manifest.get("method"),
            manifest=path,
            ledger=manifest.get("ledger"),
        )


@dataclass(frozen=True, kw_only=True)
class AuditConfig:
    """The audit's knobs; the defaults are justified in the report.

    Attributes:
        alpha: family-wise error rate across the battery.
        tolerance: the largest excess risk a pass accepts.
        confidence: two-sided confidence of intervals, one-sided of the
            empirical epsilon.
        max_targets: members (and as many non-members) for membership attacks.
        attribute_targets: members (and controls) for attribute inference.
        link_targets: members (and controls) for linkability.
        secret: the attribute-inference secret (default: the last column).
        quasi_identifiers: the columns an attacker knows (default: all others).
        predicates: multivariate singling-out predicates to draw.
        link_group: candidates per linkability decision.
        kernel_scale: the density attack's kernel decay per unit of distance.
        utility: whether to compute the utility section.
        utility_target: the column of the train-on-synthetic classifier
            (default: the secret).
        shadow_outliers: rarest training records attacked by shadow models
            (only when :func:`run_audit` is given a factory).
        shadow_random: random training records attacked by shadow models.
        shadow_games: membership games per target and half (the generator is
            refitted ``2 * shadow_games`` times per target).
        shadow_size: rows of each shadow dataset (capped at the holdout's).
    """

    alpha: float = 0.05
    tolerance: float = 0.05
    confidence: float = 0.95
    max_targets: int = 5000
    attribute_targets: int = 2000
    link_targets: int = 2000
    secret: str | None = None
    quasi_identifiers: Sequence[str] | None = None
    predicates: int = 4000
    link_group: int = 5
    kernel_scale: float = 2.0
    utility: bool = True
    utility_target: str | None = None
    shadow_outliers: int = 2
    shadow_random: int = 2
    shadow_games: int = 40
    shadow_size: int = 1000

    def __post_init__(self) -> None:
        for name in ("alpha", "confidence"):
            value = getattr(self, name)
            if not isinstance(value, int | float) or not 0 < value < 1:
                raise ValidationError(f"`{name}` ({value!r}) must be in (0, 1).")
        if not isinstance(self.tolerance, int | float) or not 0 <= self.tolerance < 1:
            raise ValidationError(
                f"`tolerance` ({self.tolerance!r}) must be in [0, 1)."
            )
        for name in ("max_targets", "attribute_targets", "link_targets", "predicates"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 2:
                raise ValidationError(f"`{name}` ({value!r}) must be an integer >= 2.")

    def to_dict(self) -> dict[str, Any]:
        """The thresholds and sizes for the report, with their justification."""
        return {
            "alpha": self.alpha,
            "risk_tolerance": self.tolerance,
            "confidence": self.confidence,
            "max_targets": self.max_targets,
            "attribute_targets": self.attribute_targets,
            "link_targets": self.link_targets,
            "predicates": self.predicates,
            "link_group": self.link_group,
            "kernel_scale": self.kernel_scale,
            "shadow": {
                "outliers": self.shadow_outliers,
                "random": self.shadow_random,
                "games": self.shadow_games,
                "shadow_size": self.shadow_size,
            },
            "justification": {
                "alpha": (
                    f"An attack fails only when its excess over the controls is "
                    f"significant with family-wise error {self.alpha:g} across all "
                    "attacks (Holm), so a clean release fails by chance with "
                    f"probability at most {self.alpha:g}."
                ),
                "risk_tolerance": (
                    f"A pass needs the interval to rule out an excess above "
                    f"{self.tolerance:g}: fewer than {self.tolerance:.0%} more "
                    "attacked people exposed than people never in the data. GDPR "
                    "sets no number; lower it for sensitive data, at the price of "
                    "more records needed to pass."
                ),
                "confidence": (
                    f"Intervals are {self.confidence:.0%} two-sided (Newcombe for "
                    "differences, Clopper-Pearson for rates); the empirical epsilon "
                    f"is a {self.confidence:.0%} one-sided bound over all membership "
                    "attacks together."
                ),
            },
        }


@dataclass(frozen=True, kw_only=True)
class AuditReport:
    """Every attack's result and the decisions taken on them.

    Attributes:
        attacks: the attack results, in battery order.
        verdicts: per attack name, its verdict.
        p_adjusted: per attack name, its Holm-adjusted p-value.
        criteria: per criterion, ``{"verdict", "reason", "attacks"}``.
        verdict: the overall verdict.
        empirical_epsilon: the empirical-epsilon section of the report.
        diagnostics: copying diagnostics (never verdicts).
        per_record: the exposure section (controller only), or None.
        utility: the utility section, or None.
        data: the inputs' description.
        config: the configuration used.
        claim: the claim audited.
        seconds: wall time per stage.
    """

    attacks: tuple[AttackResult, ...]
    verdicts: Mapping[str, Verdict]
    p_adjusted: Mapping[str, float]
    criteria: Mapping[str, dict[str, Any]]
    verdict: Verdict
    empirical_epsilon: dict[str, Any]
    diagnostics: dict[str, Any]
    per_record: dict[str, Any] | None
    utility: dict[str, Any] | None
    data: dict[str, Any]
    config: AuditConfig
    claim: Claim
    seconds: dict[str, float] = field(default_factory=dict)

    def attack(self, name: str) -> AttackResult:
        """The result of the attack called ``name``."""
        for result in self.attacks:
            if result.name == name:
                return result
        raise KeyError(name)

    def summary(self) -> str:
        """One plain-language sentence for the report's headline."""
        failed = [a.title for a in self.attacks if self.verdicts[a.name] == "fail"]
        eps = self.empirical_epsilon
        if eps.get("verdict") == "fail":
            return (
                f"FAIL: the attacks prove epsilon >= {eps['lower_bound']:.3g} with "
                f"{eps['confidence']:.0%} confidence, above the claimed "
                f"{eps['claimed']:g}: the release is not as private as claimed."
            )
        if failed:
            return (
                f"FAIL: {len(failed)} attack(s) demonstrate a leak beyond what the "
                f"holdout explains, worst first: {'; '.join(failed[:3])}."
            )
        if self.verdict == "pass":
            return (
                "PASS: no attack found an excess risk, and every risk above "
                f"{self.config.tolerance:g} is ruled out at "
                f"{self.config.confidence:.0%} confidence."
            )
        return (
            "INCONCLUSIVE: no attack demonstrates a leak, but some intervals are too "
            f"wide to rule out an excess above {self.config.tolerance:g} (more "
            "holdout records would decide)."
        )

    def to_dict(self) -> dict[str, Any]:
        """The report dict (``report.json``), without reproducibility details."""
        conf = self.config.confidence
        attacks = []
        for result in self.attacks:
            entry = result.to_dict(conf)
            entry["p_adjusted"] = self.p_adjusted.get(result.name)
            entry["verdict"] = self.verdicts[result.name]
            entry["powered"] = powered(result, self.config)
            attacks.append(entry)
        ledger = None
        if self.claim.ledger is not None:
            ledger = _ledger_section(self.claim.ledger)
        return {
            "format": FORMAT,
            "version": VERSION,
            "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "verdict": self.verdict,
            "summary": self.summary(),
            "criteria": dict(self.criteria),
            "claim": {
                "epsilon": self.claim.epsilon,
                "delta": self.claim.delta,
                "method": self.claim.method,
                "manifest": self.claim.manifest,
            },
            "empirical_epsilon": self.empirical_epsilon,
            "attacks": attacks,
            "diagnostics": self.diagnostics,
            "per_record": self.per_record,
            "utility": self.utility,
            "ledger": ledger,
            "thresholds": self.config.to_dict(),
            "limitations": [
                WITH_SHADOW
                if item == NO_SHADOW
                and any(a.name == "shadow_membership" for a in self.attacks)
                else item
                for item in LIMITATIONS
            ],
            "data": self.data,
            "seconds": {k: round(v, 2) for k, v in self.seconds.items()},
        }


def run_audit(
    data: AuditData,
    *,
    claim: Claim | None = None,
    config: AuditConfig | None = None,
    rng: RngLike = None,
    progress: Progress | None = None,
    factory: Factory | None = None,
    generator: str = "the generator",
) -> AuditReport:
    """Runs the no-box battery and decides the verdicts.

    Args:
        data: the encoded training, holdout and synthetic tables.
        claim: the privacy claim (epsilon, delta) under audit, if any.
        config: thresholds and sizes (defaults: :class:`AuditConfig`).
        rng: seed or Generator for every draw of the audit (targets, splits,
            predicates, groups); the same seed gives the same report.
        progress: ``progress(stage, done, total)`` between stages.
        factory: refits the generator on codes (``factory(codes, rng) ->
            synthetic codes``); with it, the black-box shadow-model attack runs
            too (:mod:`dpsynth.audit.shadow`), refitting the generator
            ``(shadow_outliers + shadow_random) * 2 * shadow_games`` times.
        generator: the generator's name, for the shadow attack's threat model.

    Returns:
        The :class:`AuditReport`.

    Raises:
        ValidationError: bad secret or quasi-identifiers, or a bad claim.
    """
    import time

    claim = claim or Claim()
    config = config or AuditConfig()
    if claim.epsilon is not None and not claim.epsilon >= 0:
        raise ValidationError(f"The claimed epsilon ({claim.epsilon!r}) must be >= 0.")
    delta = float(claim.delta or 0.0)
    secret, qis = default_roles(data, config.secret, config.quasi_identifiers)
    streams = as_generator(rng).spawn(7)
    stages = ["targets", "membership", "attribute", "singling out", "linkability"]
    stages += ["diagnostics"] + (["utility"] if config.utility else [])
    if factory is not None:
        stages.insert(2, "shadow models")
    seconds: dict[str, float] = {}
    tick = time.perf_counter()

    def step(stage: str) -> None:
        nonlocal tick
        now = time.perf_counter()
        seconds[stage] = now - tick
        tick = now
        if progress is not None:
            progress(stage, stages.index(stage) + 1, len(stages))

    targets = choose_targets(data, max_targets=config.max_targets, rng=streams[0])
    step("targets")
    n_mia = 2 + (factory is not None)
    eps_conf = 1 - (1 - config.confidence) / n_mia
    results = membership_attacks(
        data,
        targets,
        delta=delta,
        epsilon_confidence=eps_conf,
        scale=config.kernel_scale,
    )
    step("membership")
    if factory is not None:

        def shadow_progress(stage: str, done: int, total: int) -> None:
            if progress is not None and done < total:
                progress(stage, done, total)

        results.append(
            shadow_attack(
                data,
                factory,
                outliers=config.shadow_outliers,
                random=config.shadow_random,
                games=config.shadow_games,
                shadow_size=min(config.shadow_size, data.holdout.shape[0] - 1),
                delta=delta,
                epsilon_confidence=eps_conf,
                generator=generator,
                rng=streams[5],
                progress=shadow_progress,
            )
        )
        step("shadow models")
    results += attribute_attacks(
        data,
        targets,
        secret=secret,
        quasi_identifiers=qis,
        max_targets=config.attribute_targets,
    )
    secret_codes = data.synthetic[:, data.columns([secret])[0]]
    if np.unique(secret_codes).size > 1:  # a constant secret has nothing to solve
        results.append(
            reconstruction_attack(
                data,
                targets,
                secret=secret,
                quasi_identifiers=qis,
                rng=streams[6],
            )
        )
    step("attribute")
    results += singling_out_attacks(data, predicates=config.predicates, rng=streams[1])
    step("singling out")
    left = list(config.quasi_identifiers) if config.quasi_identifiers else None
    results.append(
        linkability_attack(
            data,
            targets,
            left=left,
            group=config.link_group,
            max_targets=config.link_targets,
            rng=streams[2],
        )
    )
    step("linkability")
    diagnostics = {"copies": copy_diagnostics(data, rng=streams[3])}
    step("diagnostics")
    utility = None
    if config.utility:
        utility = _utility(data, config.utility_target or secret, streams[4])
        step("utility")

    verdicts, adjusted = _verdicts(results, config)
    criteria = _criteria(results, verdicts, config)
    eps = _empirical_epsilon(results, claim, delta, config.confidence)
    worst = [v["verdict"] for v in criteria.values()] + [eps["verdict"]]
    overall: Verdict
    if "fail" in worst:
        overall = "fail"
    elif all(v == "pass" for v in worst[:-1]) and eps["verdict"] != "fail":
        overall = "pass"
    else:
        overall = "inconclusive"
    return AuditReport(
        attacks=tuple(results),
        verdicts=verdicts,
        p_adjusted=adjusted,
        criteria=criteria,
        verdict=overall,
        empirical_epsilon=eps,
        diagnostics=diagnostics,
        per_record=_per_record(results),
        utility=utility,
        data={
            "train_rows": int(data.train.shape[0]),
            "holdout_rows": int(data.holdout.shape[0]),
            "synthetic_rows": int(data.synthetic.shape[0]),
            "columns": list(data.names),
            "secret": secret,
            "quasi_identifiers": qis,
            "schema_source": data.schema_source,
            "notes": list(data.notes) + list(targets.notes),
            "targets": {
                "members": int(targets.members.size),
                "nonmembers": int(targets.nonmembers.size),
                "rule": targets.rule,
            },
        },
        config=config,
        claim=claim,
        seconds=seconds,
    )


def _verdicts(
    results: Sequence[AttackResult], config: AuditConfig
) -> tuple[dict[str, Verdict], dict[str, float]]:
    scored = [r for r in results if not r.diagnostic and r.main.trials > 0]
    pvals = [r.p_value for r in scored]
    reject = holm(pvals, alpha=config.alpha) if scored else []
    adjusted = holm_adjusted(pvals)
    verdicts: dict[str, Verdict] = {}
    for r, rejected in zip(scored, reject, strict=True):
        if rejected:
            verdicts[r.name] = "fail"
        elif r.ci(config.confidence)[1] <= config.tolerance:
            verdicts[r.name] = "pass"
        else:
            verdicts[r.name] = "inconclusive"
    for r in results:
        verdicts.setdefault(r.name, "inconclusive")
    return verdicts, {
        r.name: float(f"{p:.6g}") for r, p in zip(scored, adjusted, strict=True)
    }


def powered(result: AttackResult, config: AuditConfig) -> bool:
    """Whether the attack made enough attempts to pass at all.

    True when, had the targets succeeded exactly as often as the controls, the
    interval's upper end would be within the tolerance. An underpowered attack
    (univariate singling out on a table without rare values, say) can still
    fail, but it is not required to pass; the report says which were.
    """
    n1, n2 = result.main.trials, result.control.trials
    if n1 == 0 or n2 == 0:
        return False
    k1 = min(n1, round(result.control.rate * n1))
    upper = newcombe(
        (k1, n1),
        (result.control.successes, n2),
        confidence=config.confidence,
    )[1]
    return upper <= config.tolerance


def _criteria(
    results: Sequence[AttackResult],
    verdicts: Mapping[str, Verdict],
    config: AuditConfig,
) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for criterion in CRITERIA:
        mine = [r for r in results if r.criterion == criterion and not r.diagnostic]
        able = [r for r in mine if powered(r, config)]
        weak = [r.name for r in mine if r not in able]
        vs = [verdicts[r.name] for r in mine]
        verdict: Verdict = (
            "fail"
            if "fail" in vs
            else "pass"
            if able and all(verdicts[r.name] == "pass" for r in able)
            else "inconclusive"
        )
        words = _CRITERION_WORDS[criterion]
        if verdict == "fail":
            worst = max(
                (r for r in mine if verdicts[r.name] == "fail"), key=lambda r: r.risk
            )
            lo, hi = worst.ci(config.confidence)
            reason = (
                f"Fails on {words}: {worst.title.lower()} succeeds on "
                f"{worst.main.rate:.1%} of training records against "
                f"{worst.control.rate:.1%} of records never used, an excess of "
                f"{worst.risk:.3f} [{lo:.3f}, {hi:.3f}]."
            )
        elif verdict == "pass":
            top = max(r.ci(config.confidence)[1] for r in able)
            reason = (
                f"Passes on {words}: no attack found an excess, and the largest "
                f"excess still compatible with the data is {top:.3f}."
            )
        elif not mine:
            reason = f"No attack was run for {words}."
        else:
            reason = (
                f"Inconclusive on {words}: no leak demonstrated, but the intervals "
                "are too wide to rule one out at the tolerance."
            )
        if weak and verdict != "fail":
            reason += (
                f" Too few attempts to pass on their own (not required to): "
                f"{', '.join(weak)}."
            )
        out[criterion] = {
            "verdict": verdict,
            "reason": reason,
            "attacks": [r.name for r in mine],
            "underpowered": weak,
        }
    return out


def _empirical_epsilon(
    results: Sequence[AttackResult], claim: Claim, delta: float, confidence: float
) -> dict[str, Any]:
    bounded = [r for r in results if r.epsilon is not None]
    best = max(bounded, key=lambda r: r.epsilon.lower_bound) if bounded else None  # type: ignore[union-attr]
    lower = 0.0 if best is None else float(best.epsilon.lower_bound)  # type: ignore[union-attr]
    verdict: Verdict
    if claim.epsilon is None:
        verdict = "inconclusive"
        note = "No epsilon was claimed, so there is nothing to test the bound against."
    elif lower > claim.epsilon:
        verdict = "fail"
        note = (
            f"The attacks prove epsilon >= {lower:.3g}, above the claimed "
            f"{claim.epsilon:g}: the claim is false (a bug or a wrong ledger)."
        )
    else:
        verdict = "pass"
        note = (
            f"The bound ({lower:.3g}) does not exceed the claimed epsilon "
            f"({claim.epsilon:g}). This cannot confirm the claim: it only fails to "
            "refute it."
        )
    return {
        "lower_bound": float(f"{lower:.6g}"),
        "confidence": confidence,
        "claimed": claim.epsilon,
        "delta": delta,
        "attack": None if best is None else best.name,
        "verdict": verdict,
        "note": note,
    }


def _per_record(results: Sequence[AttackResult]) -> dict[str, Any] | None:
    scored = [
        r
        for r in results
        if r.criterion == "membership"
        and r.per_record is not None
        and r.name != "shadow_membership"
    ]
    if not scored:
        return None
    rows = scored[0].target_rows
    assert rows is not None
    stack = np.vstack([np.asarray(r.per_record) for r in scored])
    score = stack.max(axis=0)
    which = stack.argmax(axis=0)
    counts, edges = np.histogram(score, bins=20, range=(0.0, 1.0))
    top = np.argsort(-score, kind="stable")[:20]
    return {
        "note": (
            "Exposure of each attacked training record: the share of non-member "
            "records it outscores under the strongest membership attack (0.5 is "
            "typical; near 1 stands out). Row numbers refer to the training table. "
            "For the data controller only: do not publish."
        ),
        "histogram": {
            "edges": [float(e) for e in edges],
            "counts": [int(c) for c in counts],
        },
        "most_exposed": [
            {
                "record": int(rows[i]),
                "score": float(f"{score[i]:.6g}"),
                "attacks": [scored[int(which[i])].name],
            }
            for i in top
        ],
    }


def _ledger_section(ledger: Mapping[str, Any]) -> dict[str, Any]:
    budget = ledger.get("budget") or {}
    events = []
    for entry in ledger.get("entries", []):
        event = dict(entry.get("event", {}))
        events.append(
            {
                "kind": event.pop("kind", "?"),
                "label": event.pop("label", ""),
                "count": entry.get("count", 1),
                "epsilon_after": entry.get("epsilon_after"),
                "parameters": {
                    k: v for k, v in event.items() if isinstance(v, int | float | str)
                },
            }
        )
    return {
        "epsilon": budget.get("epsilon"),
        "delta": budget.get("delta"),
        "fully_adaptive_from": ledger.get("fully_adaptive_from"),
        "events": events,
    }


def _utility(data: AuditData, target: str, gen: np.random.Generator) -> dict[str, Any]:
    from dpsynth.audit.utility import utility_report

    report = utility_report(
        data.train,
        data.holdout,
        data.synthetic,
        names=data.names,
        sizes=data.sizes,
        ordered=data.ordered,
        target=target,
        rng=gen,
    )
    for entry in report.get("one_way", []):
        labels = data.labels[data.names.index(entry["column"])]
        if labels is not None and not entry.get("truncated"):
            entry["labels"] = list(labels[: len(entry["real"])])
    return report
