"""Attribute inference by linear reconstruction from marginal queries.

After Annamalai, Gadotti and Rocher (2024). The attacker knows the
*quasi-identifiers* of every record of a dataset but none of its secrets, and
holds the synthetic table. A generator built on marginals (MST, AIM,
PrivBayes) reproduces counts such as "people aged 40-45 in sales who earn more
than 50K"; each such count, read off the synthetic table, is a linear equation
in the unknown secrets of the records that match it. Enough equations pin the
secrets down, for *every* record, not only outliers.

**The secret** is reconstructed as a bit: ``s_i = 1`` when record ``i``'s secret
code is the *positive value*, the value whose indicator is most balanced in the
synthetic table (share closest to 1/2, which leaves the most to infer; ties go
to the rarer value, then the smaller code). For a binary secret that is simply
the rarer of its two values (``income>50K = 1`` on Adult). A record counts as
guessed when its bit is.

**Queries** are the paper's 3-way marginal queries: for every pair of
quasi-identifiers ``(a, b)`` (the single one, if there is only one) and every
cell ``(u, v)`` that occurs among the attacked records, ``q(D) = #{i in D :
a_i = u, b_i = v, s_i = 1}``. The answer is the synthetic table's count of that
cell with the positive value, scaled by ``|D| / |synthetic|``. At most
``max_queries`` cells are kept, drawn at random.

**Solver.** The paper solves ``min ||A t - b||_1`` over ``t in [0, 1]^n`` with
a linear program. On Adult (40,000 records, 15,611 queries, 3.6 million
non-zeros) HiGHS (interior point and dual simplex alike) did not finish in
150 s, and SciPy's bounded least squares (``lsq_linear``) took 88 s. We
minimise instead the weighted squared error ``sum_q (a_q t - b_q)^2 / n_q``,
``n_q`` the number of attacked records in cell ``q``, over the same box, by
accelerated projected gradient (FISTA, Beck and Teboulle 2009). The weight is
the inverse of the sampling variance of a cell's count (which grows with
``n_q``); it also makes each pair's block of the normal matrix an orthogonal
projection, so the step size is known in closed form. At most 200 iterations
run (about 3 s of CPU on Adult; the rounded reconstruction barely moves after
100), and the reconstruction is rounded at 1/2.

**Scoring (exact under the null).** The attacked dataset ``D`` is the training
table *pooled with the holdout*, in a random order: one reconstruction for all
records, success counted on the membership targets (members vs non-members).
The attacker thus knows the quasi-identifiers of every training record, mixed
with those of people who were not in it, without knowing which are which (the
paper's attacker knows exactly the training records; pooling can only blur
the answers' match to the training table, so it plausibly understates their
risk). The pooling is what makes Fisher's test exact. Under the null
hypothesis, the synthetic table is independent of which records were trained
on, the training/holdout split being random. Everything the attack computes
(the positive value, the queries, the reconstruction) depends on the pooled
records and on a random order drawn by the attack, not on which of them were
trained on; and targets are chosen without looking at membership. So, given
the per-record successes, the member/non-member labels of the targets are a
uniform draw: the hypergeometric law of Fisher's test, exactly. Reconstructing
a training subsample and the holdout *separately* (the obvious alternative)
has no such guarantee, as the successes within one reconstruction are
dependent; it was also weaker on Adult with a copied table (a 4-point excess
instead of 8), because a subsample does not match the answers, which describe
the whole training table.

References:
    M. S. M. S. Annamalai, A. Gadotti and L. Rocher. A Linear Reconstruction
    Approach for Attribute Inference Attacks against Synthetic Data. USENIX
    Security 2024.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import combinations
from typing import Any

import numpy as np
import scipy.sparse as sp

from dpsynth._random import RngLike, as_generator
from dpsynth.audit.attribute import default_roles
from dpsynth.audit.data import AuditData
from dpsynth.audit.membership import MembershipTargets
from dpsynth.audit.result import AttackResult, Rate, ThreatModel
from dpsynth.errors import ValidationError

__all__ = ["reconstruction_attack"]

MAX_ITERATIONS = 200
STEP_TOLERANCE = 1e-4  # stop when no estimate moves by more in one iteration
_DENSE_CELLS = 1 << 22  # pair domains up to this size are counted with bincount


def reconstruction_attack(
    data: AuditData,
    targets: MembershipTargets,
    *,
    secret: str,
    quasi_identifiers: Sequence[str],
    max_queries: int = 20_000,
    rng: RngLike = None,
) -> AttackResult:
    """Reconstructs every record's secret bit from 3-way marginal queries.

    Args:
        data: the encoded tables.
        targets: the membership targets; success is counted on all of them.
        secret: the column to infer (reconstructed as the bit "equals the
            positive value", see the module docstring).
        quasi_identifiers: the columns the attacker knows for every record.
        max_queries: the most queries (cells) to use, drawn at random when
            more cells occur. Time and memory grow with the number of
            non-zeros, at most ``(training + holdout rows) * pairs``.
        rng: seed or Generator for the records' order and the query draw.

    Returns:
        The ``reconstruction_attribute`` result: main = members whose bit is
        reconstructed correctly, control = the same for non-members.

    Raises:
        ValidationError: an unknown column, the secret among the
            quasi-identifiers, a secret with a single value in the synthetic
            table, or a bad ``max_queries``.
    """
    if isinstance(max_queries, bool) or not isinstance(max_queries, int | np.integer):
        raise ValidationError(f"`max_queries` ({max_queries!r}) must be an integer.")
    if max_queries < 1:
        raise ValidationError(f"`max_queries` ({max_queries!r}) must be >= 1.")
    secret, qis = default_roles(data, secret, quasi_identifiers)
    s = data.columns([secret])[0]
    q = data.columns(qis)
    positive = _positive_value(data.synthetic[:, s], data.sizes[s], secret)
    gen = as_generator(rng)
    pool = np.concatenate([data.train, data.holdout])
    order = gen.permutation(pool.shape[0])  # exact symmetry, whatever the solver
    syn_bit = data.synthetic[:, s] == positive
    a, b, candidates = _queries(
        pool[order][:, q],
        data.synthetic[:, q],
        syn_bit,
        [data.sizes[j] for j in q],
        max_queries,
        gen,
    )
    prior = float(syn_bit.mean())
    estimate, iterations, objective = _solve(a, b, np.full(pool.shape[0], prior))
    reconstructed = np.empty_like(estimate)
    reconstructed[order] = estimate
    value = _value_label(data, s, positive)
    details = {
        "secret": secret,
        "quasi_identifiers": qis,
        "reconstructed_value": value,
        "reconstructed_code": positive,
        "query_family": (
            f"{min(len(qis), 2) + 1}-way marginal queries: every occupied cell of "
            "every pair of quasi-identifiers (of the one, if alone), with the "
            "secret equal to the reconstructed value"
        ),
        "queries": int(a.shape[0]),
        "candidate_queries": candidates,
        "nonzeros": int(a.nnz),
        "records_reconstructed": int(pool.shape[0]),
        "solver": (
            "FISTA (accelerated projected gradient) on the 1/n_q-weighted squared "
            "error over [0, 1]^n, rounded at 1/2"
        ),
        "iterations": iterations,
        "objective": float(f"{objective:.6g}"),
    }
    return _result(
        data,
        targets,
        truth=pool[:, s] == positive,
        reconstructed=reconstructed,
        majority=prior > 0.5,
        details=details,
    )


def _result(
    data: AuditData,
    targets: MembershipTargets,
    *,
    truth: np.ndarray,
    reconstructed: np.ndarray,
    majority: bool,
    details: dict[str, Any],
) -> AttackResult:
    """Scores the pooled reconstruction on the members and the non-members."""
    secret, value = details["secret"], details["reconstructed_value"]
    members = targets.members
    controls = data.train.shape[0] + targets.nonmembers
    hit = (reconstructed > 0.5) == truth
    notes = list(targets.notes)
    k = data.sizes[data.names.index(secret)]
    if k > 2:
        notes.append(
            f"The secret {secret!r} has {k} values; the attack reconstructs "
            f"whether it equals {value!r} (the value whose share in the synthetic "
            "table is closest to one half), and a guess counts as correct when "
            "that yes/no is right."
        )
    if details["candidate_queries"] > details["queries"]:
        notes.append(
            f"{details['queries']:,} of {details['candidate_queries']:,} queries "
            "were used (drawn at random): raise max_queries for a stronger, "
            "slower attack."
        )
    for name, rows in (("members", members), ("controls", controls)):
        mean = float(reconstructed[rows].mean()) if rows.size else 0.0
        details[f"mean_estimate_{name}"] = round(mean, 6)
    qis = details["quasi_identifiers"]
    return AttackResult(
        name="reconstruction_attribute",
        title="Attribute inference: linear reconstruction from marginal queries",
        criterion="attribute",
        description=(
            "Answers counting queries 'records with given values of "
            f"{'two quasi-identifiers' if len(qis) > 1 else 'the quasi-identifier'} "
            f"and {secret} = {value}' from "
            "the synthetic table, then solves for the secret bits of all records "
            "at once (bounded weighted least squares, rounded at 1/2), after "
            "Annamalai, Gadotti and Rocher (2024)."
        ),
        threat_model=ThreatModel(
            knowledge=(
                f"the synthetic table and the quasi-identifiers ({', '.join(qis)}) "
                "of every record of the training table pooled with the holdout "
                f"({truth.size:,} records, not knowing which were trained on); no "
                f"record's secret {secret!r}"
            ),
            targets=(
                f"{targets.rule}; every pooled record is reconstructed at once and "
                "success is counted on these targets"
            ),
        ),
        main=Rate(int(hit[members].sum()), int(members.size)),
        control=Rate(int(hit[controls].sum()), int(controls.size)),
        baseline=float((truth[controls] == majority).mean()) if controls.size else 0.0,
        per_record=1.0 - np.abs(reconstructed[members] - truth[members]),
        target_rows=members,
        notes=tuple(notes),
        details=details,
    )


def _positive_value(codes: np.ndarray, size: int, secret: str) -> int:
    """The code whose share is closest to 1/2 (ties: rarer, then smaller)."""
    count = np.bincount(codes, minlength=size)
    present = np.flatnonzero(count)
    if present.size < 2:
        raise ValidationError(
            f"The secret {secret!r} takes a single value in the synthetic table: "
            "there is nothing to reconstruct. Choose another secret column."
        )
    # integers, so that the two values of a binary secret tie exactly
    keys = [
        (abs(2 * int(count[c]) - codes.size), int(count[c]), int(c)) for c in present
    ]
    return min(keys)[2]


def _value_label(data: AuditData, column: int, code: int) -> str | int:
    labels = data.labels[column]
    return labels[code] if labels is not None and code < len(labels) else code


def _queries(
    known: np.ndarray,
    synthetic: np.ndarray,
    syn_bit: np.ndarray,
    sizes: Sequence[int],
    max_queries: int,
    gen: np.random.Generator,
) -> tuple[sp.csr_matrix, np.ndarray, int]:
    """The query matrix (queries x records), the answers, and the candidates.

    Every occupied cell of every pair of columns of ``known`` is a candidate
    query; at most ``max_queries`` are kept, drawn at random.
    """
    n, d = known.shape
    pairs = list(combinations(range(d), min(d, 2)))
    cells, answers = [], []
    positives = synthetic[syn_bit]
    scale = n / synthetic.shape[0]
    for pair in pairs:
        key, syn_key = _cell_keys(known, positives, pair, sizes)
        inverse, answer = _occupied_cells(
            key, syn_key, int(np.prod([sizes[j] for j in pair]))
        )
        answers.append(answer * scale)
        cells.append(inverse)
    counts = [c.size for c in answers]
    candidates = int(sum(counts))
    keep = np.ones(candidates, dtype=bool)
    if candidates > max_queries:
        keep[:] = False
        keep[gen.choice(candidates, size=max_queries, replace=False)] = True
    rows, cols, kept_answers = [], [], []
    offset, query = 0, 0
    for cell, answer, count in zip(cells, answers, counts, strict=True):
        chosen = keep[offset : offset + count]
        offset += count
        renumber = np.cumsum(chosen) - 1 + query
        member = chosen[cell]
        rows.append(renumber[cell[member]])
        cols.append(np.flatnonzero(member))
        kept_answers.append(answer[chosen])
        query += int(chosen.sum())
    r, c = np.concatenate(rows), np.concatenate(cols)
    matrix = sp.csr_matrix((np.ones(r.size), (r, c)), shape=(query, n))
    return matrix, np.concatenate(kept_answers), candidates


def _cell_keys(
    known: np.ndarray,
    synthetic: np.ndarray,
    pair: tuple[int, ...],
    sizes: Sequence[int],
) -> tuple[np.ndarray, np.ndarray]:
    key = np.zeros(known.shape[0], dtype=np.int64)
    syn_key = np.zeros(synthetic.shape[0], dtype=np.int64)
    for j in pair:
        key = key * sizes[j] + known[:, j]
        syn_key = syn_key * sizes[j] + synthetic[:, j]
    return key, syn_key


def _occupied_cells(
    key: np.ndarray, syn_key: np.ndarray, domain: int
) -> tuple[np.ndarray, np.ndarray]:
    """Per record, its cell's rank among occupied cells; per cell, its count.

    Cells are the values of ``key`` that occur; the count is the number of
    ``syn_key`` values equal to the cell's.
    """
    if domain <= _DENSE_CELLS:
        occupied = np.flatnonzero(np.bincount(key, minlength=domain))
        rank = np.full(domain, -1, dtype=np.int64)
        rank[occupied] = np.arange(occupied.size)
        return rank[key], np.bincount(syn_key, minlength=domain)[occupied]
    ids, inverse = np.unique(key, return_inverse=True)
    at = np.minimum(np.searchsorted(ids, syn_key), ids.size - 1)
    found = ids[at] == syn_key
    return inverse.reshape(-1), np.bincount(at[found], minlength=ids.size)


def _solve(
    a: sp.csr_matrix, b: np.ndarray, start: np.ndarray
) -> tuple[np.ndarray, int, float]:
    """FISTA on ``0.5 * sum_q (a_q t - b_q)^2 / n_q`` over ``t in [0, 1]^n``.

    The gradient's Lipschitz constant is bounded by Gershgorin: row ``i`` of
    ``A^T W A`` sums to the number of queries containing record ``i``.

    Returns:
        The estimate, the iterations run, and the final objective.
    """
    n_q = np.asarray(a.sum(axis=1)).ravel()
    weight = 1.0 / np.maximum(n_q, 1.0)
    covered = np.asarray(a.sum(axis=0)).ravel()
    lipschitz = max(float(covered.max(initial=0.0)), 1.0)
    at = a.T.tocsr()
    x, y, momentum = start.copy(), start.copy(), 1.0
    iterations = 0
    while iterations < MAX_ITERATIONS:
        iterations += 1
        gradient = at @ (weight * (a @ y - b))
        step = np.clip(y - gradient / lipschitz, 0.0, 1.0)
        following = (1.0 + np.sqrt(1.0 + 4.0 * momentum**2)) / 2.0
        y = step + (momentum - 1.0) / following * (step - x)
        moved = float(np.abs(step - x).max(initial=0.0))
        x, momentum = step, following
        if moved < STEP_TOLERANCE:
            break
    residual = a @ x - b
    return x, iterations, float(0.5 * np.sum(weight * residual**2))
