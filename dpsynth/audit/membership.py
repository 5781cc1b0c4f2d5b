"""No-box membership inference: was this record in the training table?

The attacker holds the synthetic table (and, for the density-ratio attack, a
reference sample of the population: the holdout) and scores each target record;
a high score says "member". Two scores:

* **distance to the closest synthetic record** (``dcr_membership``): a record
  the generator copied or nearly copied sits at distance 0 or close to it;
* **density ratio** (``density_membership``), in the spirit of DOMIAS (van
  Breugel et al., AISTATS 2023): the kernel density of the synthetic table at
  the record over the kernel density of the reference sample there. A
  generator that overfits puts more mass near its training records than the
  population has; dividing by the population's density discounts records that
  are merely typical.

**Targets.** On discretised tables many records have exact twins, and a twin of
a non-member in the training table makes the two indistinguishable for any
attack. Targets are therefore chosen by a rule that does not look at
membership: records **unique in training ∪ holdout** (on all audited columns),
the vulnerable records of the membership-inference literature (Meeus et al.
2023; Stadler et al. 2022). Up to ``max_targets`` members (training rows) and as
many non-members (holdout rows) are drawn, and each side is split at random in
half: a calibration half chooses the attack's threshold, and only the evaluation
half is counted. Counting the data that chose the threshold would take the best
of many tests and overstate the risk.

**Scores reported.** The risk is the attack's advantage ``TPR - FPR`` on the
evaluation half (main = members flagged, control = non-members flagged), with
Newcombe's interval; the ROC over all targets (AUC, TPR at FPR 0.1% and 1%);
and the empirical epsilon lower bound of Jagielski et al. (2020) from the
evaluation counts (:func:`dpsynth.audit.stats.epsilon_from_split`). That bound
treats each target's inclusion as the random event a DP guarantee speaks to,
which holds when the training/holdout split was random (``dpsynth generate``
splits at random; a caller's own split should be random too).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from dpsynth._random import RngLike, as_generator
from dpsynth.audit.data import AuditData
from dpsynth.audit.distance import nearest_distances, neighbour_summaries
from dpsynth.audit.result import AttackResult, Rate, ThreatModel
from dpsynth.audit.stats import epsilon_from_split, roc, youden_threshold
from dpsynth.errors import ValidationError

__all__ = [
    "MembershipTargets",
    "choose_targets",
    "copy_diagnostics",
    "membership_attacks",
    "row_groups",
]

MIN_UNIQUE_TARGETS = 100  # per side; fewer and targets fall back to all records


@dataclass(frozen=True, kw_only=True)
class MembershipTargets:
    """The records a membership attack scores, and their calibration split.

    Attributes:
        members: rows of the training table, in random order (any prefix is a
            random subset).
        nonmembers: rows of the holdout table, as many as ``members``, likewise.
        member_calibration: per member, True when it only chooses thresholds.
        nonmember_calibration: the same for the non-members.
        rule: how targets were chosen, in words (for the threat model).
        notes: degradations.
    """

    members: np.ndarray
    nonmembers: np.ndarray
    member_calibration: np.ndarray
    nonmember_calibration: np.ndarray
    rule: str
    notes: tuple[str, ...] = ()


def row_groups(codes: np.ndarray) -> np.ndarray:
    """An integer group id per row: equal rows share an id.

    Example:
        >>> row_groups(np.array([[0, 1], [1, 0], [0, 1]])).tolist()
        [0, 1, 0]
    """
    if codes.shape[1] == 0:
        return np.zeros(codes.shape[0], dtype=np.int64)
    _, inverse = np.unique(codes, axis=0, return_inverse=True)
    return inverse.reshape(-1).astype(np.int64)


def choose_targets(
    data: AuditData, *, max_targets: int = 4000, rng: RngLike = None
) -> MembershipTargets:
    """Members and non-members unique in training ∪ holdout, split in halves.

    Falls back to records drawn at random from each table, with a note, when
    fewer than ``MIN_UNIQUE_TARGETS`` unique records are on either side (a
    table with few columns, where nobody is unique).

    Args:
        data: the encoded tables.
        max_targets: the most members (and non-members) to score.
        rng: seed or Generator for the draws and the split.
    """
    if isinstance(max_targets, bool) or not isinstance(max_targets, int):
        raise ValidationError(f"`max_targets` ({max_targets!r}) must be an integer.")
    if max_targets < 2:
        raise ValidationError(f"`max_targets` ({max_targets}) must be >= 2.")
    gen = as_generator(rng)
    n_train = data.train.shape[0]
    groups = row_groups(np.concatenate([data.train, data.holdout]))
    counts = np.bincount(groups)
    unique = counts[groups] == 1
    pool_m = np.flatnonzero(unique[:n_train])
    pool_n = np.flatnonzero(unique[n_train:])
    notes: list[str] = []
    rule = (
        "records unique in training ∪ holdout on all audited columns (chosen "
        "without looking at membership), drawn at random: members from the "
        "training table, as many non-members from the holdout"
    )
    if min(pool_m.size, pool_n.size) < MIN_UNIQUE_TARGETS:
        notes.append(
            f"Only {pool_m.size} training and {pool_n.size} holdout records are "
            "unique in training ∪ holdout, too few to attack; targets are records "
            "drawn at random instead. Records with exact twins on the other side "
            "cannot be told apart by any attack, so the risk is understated."
        )
        pool_m, pool_n = np.arange(n_train), np.arange(data.holdout.shape[0])
        rule = (
            "records drawn at random: members from training, non-members from "
            "the holdout"
        )
    n = min(pool_m.size, pool_n.size, max_targets)
    # in random order, so that any prefix is a random subset
    members = gen.choice(pool_m, size=n, replace=False)
    nonmembers = gen.choice(pool_n, size=n, replace=False)
    return MembershipTargets(
        members=members,
        nonmembers=nonmembers,
        member_calibration=_halves(n, gen),
        nonmember_calibration=_halves(n, gen),
        rule=rule,
        notes=tuple(notes),
    )


def _halves(n: int, gen: np.random.Generator) -> np.ndarray:
    mask = np.zeros(n, dtype=bool)
    mask[gen.permutation(n)[: n // 2]] = True
    return mask


def membership_attacks(
    data: AuditData,
    targets: MembershipTargets,
    *,
    delta: float = 0.0,
    epsilon_confidence: float = 0.95,
    scale: float = 2.0,
) -> list[AttackResult]:
    """Runs the distance and density-ratio attacks on the same targets.

    Args:
        data: the encoded tables.
        targets: from :func:`choose_targets`.
        delta: the delta at which the empirical epsilon is stated (the claim's).
        epsilon_confidence: one-sided confidence of each attack's epsilon bound
            (the battery lowers it for the union over attacks).
        scale: the density kernel's decay per unit of distance.

    Returns:
        ``[dcr_membership, density_membership]``.
    """
    kw: dict[str, Any] = {"sizes": data.sizes, "ordered": data.ordered}
    queries = np.concatenate(
        [data.train[targets.members], data.holdout[targets.nonmembers]]
    )
    n = targets.members.size
    near, dens_syn = neighbour_summaries(queries, data.synthetic, scale=scale, **kw)
    _, dens_ref = neighbour_summaries(queries, data.holdout, scale=scale, **kw)
    # Leave each non-member target out of its own reference sample: the holdout
    # holds it, at distance 0 (kernel 1). Members are not in the holdout.
    dens_ref[n:] -= 1.0
    n_ref = np.full(queries.shape[0], float(data.holdout.shape[0]))
    n_ref[n:] -= 1.0
    n_syn = float(data.synthetic.shape[0])
    floor = 1e-12
    ratio = np.log(dens_syn / n_syn + floor) - np.log(
        np.maximum(dens_ref, 0.0) / np.maximum(n_ref, 1.0) + floor
    )
    common = {
        "targets": targets,
        "delta": delta,
        "epsilon_confidence": epsilon_confidence,
    }
    dcr = _scored(
        scores=-near,
        name="dcr_membership",
        title="Membership: distance to the closest synthetic record",
        description=(
            "Scores each target by minus its distance to the nearest synthetic "
            "record (mixed-type: 1 per differing category, scaled gaps for "
            "ordered columns); copies and near-copies score highest. The threshold "
            "is chosen on a calibration half and applied to the other half."
        ),
        knowledge="the synthetic table and the target records",
        details={
            "median_distance_members": float(np.median(near[:n])),
            "median_distance_nonmembers": float(np.median(near[n:])),
            "exact_copies_members": int((near[:n] == 0).sum()),
            "exact_copies_nonmembers": int((near[n:] == 0).sum()),
        },
        **common,  # type: ignore[arg-type]
    )
    density = _scored(
        scores=ratio,
        name="density_membership",
        title="Membership: synthetic over population density (DOMIAS-style)",
        description=(
            "Scores each target by the log ratio of a kernel density of the "
            "synthetic table at the record to the same density of a reference "
            f"sample of the population (the holdout, each target left out of its "
            f"own reference); the kernel decays by exp(-{scale:g}) per unit of "
            "distance. A generator that overfits puts more mass near its training "
            "records than the population has."
        ),
        knowledge=(
            "the synthetic table, the target records, and a reference sample of "
            "the population (the holdout)"
        ),
        details={"kernel_scale": scale},
        **common,  # type: ignore[arg-type]
    )
    return [dcr, density]


def _scored(
    *,
    scores: np.ndarray,
    name: str,
    title: str,
    description: str,
    knowledge: str,
    targets: MembershipTargets,
    delta: float,
    epsilon_confidence: float,
    details: dict[str, Any],
) -> AttackResult:
    n = targets.members.size
    pos, neg = scores[:n], scores[n:]
    cal_p, cal_n = targets.member_calibration, targets.nonmember_calibration
    threshold = youden_threshold(pos[cal_p], neg[cal_n])
    ev_pos, ev_neg = pos[~cal_p], neg[~cal_n]
    main = Rate(int((ev_pos >= threshold).sum()), int(ev_pos.size))
    control = Rate(int((ev_neg >= threshold).sum()), int(ev_neg.size))
    bound, eps_threshold = epsilon_from_split(
        (pos[cal_p], neg[cal_n]),
        (ev_pos, ev_neg),
        delta=delta,
        confidence=epsilon_confidence,
    )
    # Exposure of each member: the share of non-members it outscores.
    exposure = np.searchsorted(np.sort(neg), pos, side="left") / neg.size
    details = {
        **details,
        # None: no threshold beat chance on the calibration half (nobody flagged)
        "threshold": float(threshold) if np.isfinite(threshold) else None,
        "calibration_targets": int(cal_p.sum() + cal_n.sum()),
        "evaluation_targets": int(ev_pos.size + ev_neg.size),
    }
    return AttackResult(
        name=name,
        title=title,
        criterion="membership",
        description=description,
        threat_model=ThreatModel(knowledge=knowledge, targets=targets.rule),
        main=main,
        control=control,
        baseline=control.rate,
        roc=roc(pos, neg),
        epsilon=bound,
        epsilon_threshold=eps_threshold,
        per_record=exposure,
        target_rows=targets.members,
        notes=targets.notes,
        details=details,
    )


def copy_diagnostics(
    data: AuditData, *, sample: int = 5000, rng: RngLike = None
) -> dict[str, Any]:
    """How often synthetic records copy training records, beside the holdout.

    A diagnostic of copying, never the basis of a verdict: such figures pass
    generators that membership attacks break (Ganev and De Cristofaro 2023).
    Up to ``sample`` synthetic records are compared with the holdout and with a
    random subsample of the training table of the holdout's size, so the two
    shares are comparable (more rows means more chance matches).

    Returns:
        A JSON-ready dict: ``exact_copy_share`` and ``median_distance`` against
        training and holdout, and the sizes used.
    """
    gen = as_generator(rng)
    m = data.holdout.shape[0]
    k = min(sample, data.synthetic.shape[0])
    syn = data.synthetic[gen.choice(data.synthetic.shape[0], size=k, replace=False)]
    size = min(m, data.train.shape[0])
    train = data.train[gen.choice(data.train.shape[0], size=size, replace=False)]
    holdout = data.holdout[gen.choice(m, size=size, replace=False)]
    kw: dict[str, Any] = {"sizes": data.sizes, "ordered": data.ordered}
    to_train = nearest_distances(syn, train, **kw)
    to_holdout = nearest_distances(syn, holdout, **kw)
    return {
        "synthetic_rows_compared": int(k),
        "reference_rows": int(size),
        "exact_copy_share": {
            "training": float((to_train == 0).mean()),
            "holdout": float((to_holdout == 0).mean()),
        },
        "median_distance": {
            "training": float(np.median(to_train)),
            "holdout": float(np.median(to_holdout)),
        },
        "note": (
            "Diagnostic of copying only, never a verdict: a synthetic table can "
            "copy no record exactly and still leak membership."
        ),
    }
