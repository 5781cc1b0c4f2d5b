"""Linkability (GDPR WP29 Opinion 05/2014): joining two records of one person.

WP29: linkability is "the ability to link, at least, two records concerning the
same data subject". The scenario (ours): two sources hold different attributes
of the same people, source A the columns ``A`` and source B the others, with
no shared identifier. The attacker uses the synthetic table as a bridge: among
``g`` candidates of source B it links a person of source A to the one whose
joint record lies closest to some synthetic record, i.e. the pair
``(a, b_j)`` minimising ``min_s d_A(a, s) + d_B(b_j, s)``.

A synthetic table that keeps the population's correlations between ``A`` and
``B`` links better than chance (1/g) for everyone; the risk is the excess
success for people in the training table over holdout controls linked the same
way.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from dpsynth._random import RngLike, as_generator
from dpsynth.audit.data import AuditData
from dpsynth.audit.distance import pairwise_distances
from dpsynth.audit.membership import MembershipTargets
from dpsynth.audit.result import AttackResult, Rate, ThreatModel
from dpsynth.errors import ValidationError

__all__ = ["linkability_attack"]


def linkability_attack(
    data: AuditData,
    targets: MembershipTargets,
    *,
    left: Sequence[str] | None = None,
    group: int = 5,
    max_targets: int = 1000,
    rng: RngLike = None,
) -> AttackResult:
    """Links split records through the synthetic table.

    Args:
        data: the encoded tables.
        targets: the membership targets; up to ``max_targets`` members and as
            many controls are linked, in random groups of ``group``.
        left: source A's columns (default: the first half of the columns);
            source B holds the rest.
        group: candidates per link (the chance success is ``1 / group``).
        max_targets: the most members (and controls) to link.
        rng: seed or Generator for the groups.

    Raises:
        ValidationError: a bad ``group``, or a split that leaves a side empty.
    """
    if isinstance(group, bool) or not isinstance(group, int) or group < 2:
        raise ValidationError(f"`group` ({group!r}) must be an integer >= 2.")
    gen = as_generator(rng)
    names = list(data.names)
    left = list(left) if left is not None else names[: len(names) // 2]
    a = data.columns(left)
    b = [j for j in range(len(names)) if j not in a]
    if not a or not b:
        raise ValidationError(
            "Linkability needs columns on both sides: source A's "
            f"{[names[j] for j in a]!r} and source B's {[names[j] for j in b]!r}."
        )
    n = min(targets.members.size, max_targets)
    n -= n % group
    members = data.train[targets.members[:n]]
    controls = data.holdout[targets.nonmembers[:n]]
    kw_a: dict[str, Any] = {
        "sizes": [data.sizes[j] for j in a],
        "ordered": [data.ordered[j] for j in a],
    }
    kw_b: dict[str, Any] = {
        "sizes": [data.sizes[j] for j in b],
        "ordered": [data.ordered[j] for j in b],
    }
    syn_a, syn_b = data.synthetic[:, a], data.synthetic[:, b]

    def linked(records: np.ndarray) -> np.ndarray:
        """Per record: whether its A part is linked to its own B part."""
        hit = np.zeros(records.shape[0], dtype=bool)
        order = gen.permutation(records.shape[0])
        per_block = max(1, 200 // group)  # groups per block: bounded memory
        for start in range(0, records.shape[0], per_block * group):
            idx = order[start : start + per_block * group]
            d_a = pairwise_distances(records[idx][:, a], syn_a, **kw_a)
            d_b = pairwise_distances(records[idx][:, b], syn_b, **kw_b)
            for g0 in range(0, idx.size, group):
                da, db = d_a[g0 : g0 + group], d_b[g0 : g0 + group]
                # cost[i, j] = min_s da[i, s] + db[j, s]
                cost = (da[:, None, :] + db[None, :, :]).min(axis=2)
                choice = cost.argmin(axis=1)
                hit[idx[g0 : g0 + group]] = choice == np.arange(group)
        return hit

    notes = list(targets.notes)
    if n == 0:
        notes.append("Too few targets to form one group; no attempt was made.")
        hit_m = hit_c = np.zeros(0, dtype=bool)
    else:
        hit_m, hit_c = linked(members), linked(controls)
    return AttackResult(
        name="linkability",
        title="Linkability: joining two sources through the synthetic table",
        criterion="linkability",
        description=(
            f"Source A holds {[names[j] for j in a]!r}, source B the other "
            f"columns. Each person of A is linked, among {group} candidates of B, "
            "to the one whose joint record lies closest to a synthetic record."
        ),
        threat_model=ThreatModel(
            knowledge=(
                "the synthetic table and two sources with disjoint columns of the "
                f"same {group} people at a time, without a shared identifier"
            ),
            targets=targets.rule,
        ),
        main=Rate(int(hit_m.sum()), int(hit_m.size)),
        control=Rate(int(hit_c.sum()), int(hit_c.size)),
        baseline=1.0 / group,
        notes=tuple(notes),
        details={
            "source_a": [names[j] for j in a],
            "source_b": [names[j] for j in b],
            "group": group,
        },
    )
