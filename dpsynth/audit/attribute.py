"""Attribute inference: guessing a target's secret from its quasi-identifiers.

The attacker knows some attributes of a person (the *quasi-identifiers*: age,
sex, postcode...) and uses the synthetic table to guess a *secret* attribute
(income, diagnosis). A synthetic table is *supposed* to teach such population
patterns, so success alone proves nothing; what matters is how much better the
guess is for people in the training table than for people of the same
population who were not (the holdout controls). That excess is the risk.

Three attackers, all given the same targets (the membership targets: records
unique in training ∪ holdout):

* ``nn_attribute``: copy the secret of the synthetic record nearest on the
  quasi-identifiers (mixed-type distance);
* ``model_attribute``: a naive-Bayes classifier learnt from the synthetic table
  (Laplace-smoothed), the attacker who models instead of matching;
* ``cap_attribute``: the correct attribution probability of Taub et al. (2018):
  among synthetic records equal to the target on every quasi-identifier, the
  share carrying the target's secret. The attacker guesses the most common
  secret among those matches (the synthetic table's most common secret when
  nothing matches); the mean CAP score is reported beside it.

Secrets are compared as codes: a binned number counts as guessed when its bin is.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from dpsynth.audit.data import AuditData
from dpsynth.audit.distance import nearest_neighbours
from dpsynth.audit.membership import MembershipTargets, row_groups
from dpsynth.audit.result import AttackResult, Rate, ThreatModel
from dpsynth.errors import ValidationError

__all__ = ["attribute_attacks", "default_roles"]


def default_roles(
    data: AuditData,
    secret: str | None = None,
    quasi_identifiers: Sequence[str] | None = None,
) -> tuple[str, list[str]]:
    """The secret and quasi-identifiers, checked, with their defaults.

    The secret defaults to the last column, the quasi-identifiers to all other
    columns.

    Raises:
        ValidationError: unknown names, the secret among the quasi-identifiers,
            or no quasi-identifier left.
    """
    if secret is None:
        secret = data.names[-1]
    data.columns([secret])
    if quasi_identifiers is None:
        qis = [n for n in data.names if n != secret]
    else:
        qis = list(dict.fromkeys(quasi_identifiers))
        data.columns(qis)
        if secret in qis:
            raise ValidationError(
                f"The secret {secret!r} must not also be a quasi-identifier."
            )
    if not qis:
        raise ValidationError(
            "Attribute inference needs at least one quasi-identifier besides the "
            f"secret {secret!r}; the table has no other column."
        )
    return secret, qis


def attribute_attacks(
    data: AuditData,
    targets: MembershipTargets,
    *,
    secret: str,
    quasi_identifiers: Sequence[str],
    max_targets: int = 2000,
) -> list[AttackResult]:
    """Runs the nearest-neighbour, model and CAP attackers on one secret.

    Args:
        data: the encoded tables.
        targets: the membership targets; up to ``max_targets`` members and
            non-members of them are attacked.
        secret: the column to infer.
        quasi_identifiers: the columns the attacker knows.
        max_targets: the most members (and controls) to attack.

    Returns:
        ``[nn_attribute, model_attribute, cap_attribute]``.
    """
    s = data.columns([secret])[0]
    q = data.columns(quasi_identifiers)
    members = targets.members[:max_targets]
    controls = targets.nonmembers[:max_targets]
    known = np.concatenate([data.train[members], data.holdout[controls]])
    truth = known[:, s]
    n = members.size
    syn_secret = data.synthetic[:, s]
    k_s = data.sizes[s]
    majority = int(np.bincount(syn_secret, minlength=k_s).argmax())
    baseline = float((data.holdout[controls, s] == majority).mean())
    qi_text = ", ".join(quasi_identifiers)
    model = ThreatModel(
        knowledge=(
            f"the synthetic table and each target's quasi-identifiers ({qi_text}); "
            f"the secret is {secret!r}"
        ),
        targets=targets.rule,
    )
    sizes = [data.sizes[j] for j in q]
    ordered = [data.ordered[j] for j in q]

    _, nearest = nearest_neighbours(
        known[:, q], data.synthetic[:, q], sizes=sizes, ordered=ordered
    )
    nn_guess = syn_secret[nearest]
    model_guess = _naive_bayes(
        data.synthetic[:, q], syn_secret, known[:, q], sizes, k_s
    )
    cap_guess, cap = _cap(data.synthetic[:, q], syn_secret, known[:, q], truth, k_s)
    if cap_guess is None:
        cap_guess = np.full(truth.size, majority)
    else:
        cap_guess = np.where(cap_guess < 0, majority, cap_guess)

    def result(
        name: str, title: str, description: str, guess: np.ndarray, **details: object
    ) -> AttackResult:
        hit = guess == truth
        return AttackResult(
            name=name,
            title=title,
            criterion="attribute",
            description=description,
            threat_model=model,
            main=Rate(int(hit[:n].sum()), n),
            control=Rate(int(hit[n:].sum()), int(hit.size - n)),
            baseline=baseline,
            per_record=hit[:n].astype(float),
            target_rows=members,
            notes=targets.notes,
            details={"secret": secret, "quasi_identifiers": list(quasi_identifiers)}
            | dict(details),
        )

    matched = cap >= 0
    return [
        result(
            "nn_attribute",
            "Attribute inference: nearest synthetic record",
            "Guesses the secret of the synthetic record nearest to the target on "
            "the quasi-identifiers.",
            nn_guess,
        ),
        result(
            "model_attribute",
            "Attribute inference: a model learnt from the synthetic table",
            "Guesses the secret with a naive-Bayes classifier (Laplace-smoothed) "
            "learnt from the synthetic table on the quasi-identifiers.",
            model_guess,
        ),
        result(
            "cap_attribute",
            "Attribute inference: correct attribution probability (exact match)",
            "Guesses the most common secret among synthetic records equal to the "
            "target on every quasi-identifier (the synthetic table's most common "
            "secret when none matches); reports the mean CAP score beside it.",
            cap_guess,
            mean_cap_members=float(np.where(matched[:n], cap[:n], 0.0).mean()),
            mean_cap_controls=float(np.where(matched[n:], cap[n:], 0.0).mean()),
            matched_members=int(matched[:n].sum()),
            matched_controls=int(matched[n:].sum()),
        ),
    ]


def _naive_bayes(
    train_q: np.ndarray,
    train_s: np.ndarray,
    query_q: np.ndarray,
    sizes: Sequence[int],
    k_s: int,
) -> np.ndarray:
    """argmax_s log p(s) + sum_j log p(q_j | s), counts Laplace-smoothed."""
    prior = np.bincount(train_s, minlength=k_s) + 1.0
    score = np.tile(np.log(prior / prior.sum()), (query_q.shape[0], 1))
    for j, k in enumerate(sizes):
        table = (
            np.bincount(
                train_q[:, j].astype(np.int64) * k_s + train_s, minlength=k * k_s
            ).reshape(k, k_s)
            + 1.0
        )
        score += np.log(table / table.sum(axis=0))[query_q[:, j]]
    return score.argmax(axis=1)


def _cap(
    syn_q: np.ndarray,
    syn_s: np.ndarray,
    query_q: np.ndarray,
    truth: np.ndarray,
    k_s: int,
) -> tuple[np.ndarray | None, np.ndarray]:
    """Per query: the majority secret among exact QI matches, and the CAP score.

    Both are -1 where no synthetic record matches; the CAP score is the share
    of matches carrying the query's true secret.
    """
    groups = row_groups(np.concatenate([syn_q, query_q]))
    g_syn, g_query = groups[: syn_q.shape[0]], groups[syn_q.shape[0] :]
    n_groups = int(groups.max()) + 1
    table = np.bincount(
        g_syn * k_s + syn_s.astype(np.int64), minlength=n_groups * k_s
    ).reshape(n_groups, k_s)
    rows = table[g_query]
    total = rows.sum(axis=1)
    has = total > 0
    guess = np.where(has, rows.argmax(axis=1), -1)
    cap = np.full(query_q.shape[0], -1.0)
    cap[has] = rows[has, truth[has]] / total[has]
    return guess, cap
