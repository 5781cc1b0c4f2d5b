"""Singling out (GDPR WP29 Opinion 05/2014): isolating one person's record.

WP29 calls a release anonymous only if nobody can "isolate some or all records
which identify an individual in the dataset". Cohen and Nissim (PNAS 2020) made
this precise as *predicate singling out*: the attacker, seeing only the
release, outputs a predicate over records, and succeeds when exactly one record
of the (unseen) dataset satisfies it. Because a predicate of weight about 1/n
isolates a record of *any* n-row sample with probability about 1/e, success on
the training table means nothing by itself: it must be compared with the same
predicates' success on a sample of the same size that the generator never saw.

Design (ours):

* **Predicates from the synthetic table only.** *Univariate*: ``column = value``
  for values whose synthetic frequency, scaled to the evaluation size ``m``,
  is between 1/2 and 2 (the weight that best isolates), and for ordered
  columns the tails ``column <= c`` and ``column >= c`` whose scaled synthetic
  count is at most 1. *Multivariate*: pick a synthetic record and a random
  order of the columns; add its values as conditions until the scaled
  synthetic count of the conjunction is at most 1.
* **Evaluation.** The predicates are split at random in two halves; the first
  half is counted on a random ``m``-row subsample of the training table, the
  other on the holdout (``m`` = the smaller size). A predicate succeeds when it
  matches exactly one record. Two disjoint halves make the two rates
  independent, so Newcombe's interval and Fisher's test apply as stated.

The risk is the excess isolation rate on training records.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dpsynth._random import RngLike, as_generator
from dpsynth.audit.data import AuditData
from dpsynth.audit.result import AttackResult, Rate, ThreatModel

__all__ = ["Predicate", "singling_out_attacks"]


@dataclass(frozen=True)
class Predicate:
    """A conjunction of conditions on codes.

    Each condition is ``(column, op, code)`` with op one of ``==``, ``<=``,
    ``>=``.
    """

    conditions: tuple[tuple[int, str, int], ...]

    def matches(self, codes: np.ndarray) -> np.ndarray:
        """A boolean mask of the rows of ``codes`` that satisfy the predicate."""
        mask = np.ones(codes.shape[0], dtype=bool)
        for col, op, code in self.conditions:
            column = codes[:, col]
            if op == "==":
                mask &= column == code
            elif op == "<=":
                mask &= column <= code
            else:
                mask &= column >= code
        return mask


def _univariate(data: AuditData, m: int) -> list[Predicate]:
    syn = data.synthetic
    scale = m / syn.shape[0]
    out = []
    for j, k in enumerate(data.sizes):
        counts = np.bincount(syn[:, j], minlength=k) * scale
        for code in np.flatnonzero((counts >= 0.5) & (counts <= 2.0)):
            out.append(Predicate(((j, "==", int(code)),)))
        if data.ordered[j]:
            below = np.cumsum(counts)
            above = np.cumsum(counts[::-1])[::-1]
            low = np.flatnonzero((below <= 1.0) & (below > 0))
            high = np.flatnonzero((above <= 1.0) & (above > 0))
            if low.size:
                out.append(Predicate(((j, "<=", int(low.max())),)))
            if high.size:
                out.append(Predicate(((j, ">=", int(high.min())),)))
    return out


def _multivariate(
    data: AuditData, m: int, count: int, gen: np.random.Generator
) -> list[Predicate]:
    syn = data.synthetic
    n_syn, d = syn.shape
    limit = n_syn / m  # scaled count <= 1
    out: list[Predicate] = []
    seen: set[tuple[tuple[int, str, int], ...]] = set()
    for row in gen.choice(n_syn, size=min(count * 2, n_syn), replace=False):
        if len(out) >= count:
            break
        record = syn[row]
        mask = np.ones(n_syn, dtype=bool)
        conditions: list[tuple[int, str, int]] = []
        for j in gen.permutation(d):
            mask &= syn[:, j] == record[j]
            conditions.append((int(j), "==", int(record[j])))
            if mask.sum() <= limit:
                break
        else:
            continue  # the record's full row is too common to isolate anyone
        key = tuple(sorted(conditions))
        if key not in seen:
            seen.add(key)
            out.append(Predicate(key))
    return out


def singling_out_attacks(
    data: AuditData,
    *,
    predicates: int = 2000,
    rng: RngLike = None,
) -> list[AttackResult]:
    """Univariate and multivariate predicate singling out.

    Args:
        data: the encoded tables.
        predicates: the number of multivariate predicates to draw.
        rng: seed or Generator (predicates, halves, the training subsample).

    Returns:
        ``[univariate_singling_out, multivariate_singling_out]``; an attack
        with no predicate has zero trials and says so in its notes.
    """
    gen = as_generator(rng)
    m = min(data.train.shape[0], data.holdout.shape[0])
    train = data.train[gen.choice(data.train.shape[0], size=m, replace=False)]
    holdout = data.holdout[gen.choice(data.holdout.shape[0], size=m, replace=False)]
    model = ThreatModel(
        knowledge="the synthetic table only (the attacker outputs predicates)",
        targets=(
            f"no target is chosen: a predicate succeeds when it matches exactly one "
            f"record of a {m}-row sample; half the predicates are counted on a "
            "random sample of the training table, half on the holdout"
        ),
    )
    out = []
    for name, title, preds in (
        (
            "univariate_singling_out",
            "Singling out: one-attribute predicates",
            _univariate(data, m),
        ),
        (
            "multivariate_singling_out",
            "Singling out: multi-attribute predicates",
            _multivariate(data, m, predicates, gen),
        ),
    ):
        order = gen.permutation(len(preds))
        half = len(preds) // 2
        first = [preds[i] for i in order[:half]]
        second = [preds[i] for i in order[half : 2 * half]]
        hits_train = sum(int(p.matches(train).sum() == 1) for p in first)
        hits_holdout = sum(int(p.matches(holdout).sum() == 1) for p in second)
        notes = []
        if half == 0:
            notes.append(
                "The synthetic table offers no predicate of the right weight; the "
                "attack made no attempt (no evidence either way)."
            )
        sizes = [len(p.conditions) for p in preds]
        out.append(
            AttackResult(
                name=name,
                title=title,
                criterion="singling_out",
                description=(
                    "Predicates read off the synthetic table are checked for "
                    "isolating exactly one record; success on the training sample "
                    "is compared with success on the holdout."
                ),
                threat_model=model,
                main=Rate(hits_train, half),
                control=Rate(hits_holdout, half),
                baseline=hits_holdout / half if half else 0.0,
                notes=tuple(notes),
                details={
                    "predicates": len(preds),
                    "sample_size": m,
                    "mean_conditions": float(np.mean(sizes)) if sizes else 0.0,
                },
            )
        )
    return out
