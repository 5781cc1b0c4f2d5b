"""Black-box membership inference by shadow modelling (Stadler et al. 2022).

The strongest attacker of the literature knows the generator (it can run it
again) and has a sample of the population. For one target record it plays the
membership game many times: draw a dataset from the population, add the target
or not (a fair coin), run the generator, and compute features of the synthetic
output that would betray the target. A classifier learnt on these *shadow*
outputs then guesses, for fresh outputs, whether the target was in.

This measures the **generator**, not one table: how much any of its releases
can reveal about a record like the target. Because each game is independent
and the coin is ours, the counts on fresh test games give a valid empirical
epsilon for the generator (the DP inequality holds for every target), and the
excess of "in" over "out" detections is the risk.

Design (ours):

* **Targets.** ``outliers`` training records of highest *rarity* (the mean over
  columns of ``-log`` the share of the record's value in the population sample,
  Laplace-smoothed: the records a generator must work hardest to hide; Meeus et
  al. 2023 and Stadler et al. 2022 show such records are the most exposed) and
  ``random`` training records drawn at random.
* **Games.** Per target, ``2 * games`` datasets of ``shadow_size`` rows drawn
  from the population sample (the holdout, the target removed); a fair coin
  puts the target in place of one row. Half the games train, half test.
* **Features** of a synthetic output S for target x: the share of S equal to x
  on each of up to ``subsets`` column subsets of size 1 to 3 (TAPAS's
  target-specific counting queries), the share of exact copies of x, the
  distance from x to its nearest record in S, and a kernel density of S at x.
* **Classifier.** Each feature is standardised on the training games and
  weighted by its difference of means over its pooled variance (diagonal linear
  discriminant, which needs no extra dependency); the threshold maximising
  TPR - FPR on the training games is applied, unchanged, to the test games.
"""

from __future__ import annotations

from collections.abc import Callable
from itertools import combinations
from typing import Any

import numpy as np

from dpsynth._random import RngLike, as_generator
from dpsynth.audit.data import AuditData
from dpsynth.audit.distance import neighbour_summaries
from dpsynth.audit.result import AttackResult, Rate, ThreatModel
from dpsynth.audit.stats import epsilon_lower_bound, roc, youden_threshold
from dpsynth.errors import ValidationError

__all__ = ["Factory", "choose_shadow_targets", "rarity", "shadow_attack"]

#: ``factory(train_codes, rng) -> synthetic_codes``: fits the generator afresh on
#: an integer-coded table and returns the codes of its synthetic output.
Factory = Callable[[np.ndarray, np.random.Generator], np.ndarray]
Progress = Callable[[str, int, int], None]


def rarity(records: np.ndarray, population: np.ndarray, sizes: list[int]) -> np.ndarray:
    """Mean over columns of ``-log`` the smoothed share of each record's value.

    Example:
        >>> pop = np.array([[0, 0], [0, 1], [0, 0], [1, 0]])
        >>> rarity(np.array([[0, 0], [1, 1]]), pop, [2, 2]).round(3).tolist()
        [0.405, 1.099]
    """
    score = np.zeros(records.shape[0])
    for j, k in enumerate(sizes):
        counts = np.bincount(population[:, j], minlength=k) + 1.0
        share = counts / counts.sum()
        score -= np.log(share[records[:, j]])
    return score / max(len(sizes), 1)


def choose_shadow_targets(
    data: AuditData, *, outliers: int, random: int, rng: np.random.Generator
) -> tuple[np.ndarray, list[str]]:
    """Training rows to attack: the rarest ``outliers``, then ``random`` others.

    Returns:
        The rows and, for each, ``"outlier"`` or ``"random"``.
    """
    score = rarity(data.train, data.holdout, list(data.sizes))
    order = np.argsort(-score, kind="stable")
    rare = order[:outliers]
    rest = np.setdiff1d(np.arange(data.train.shape[0]), rare)
    picked = rng.choice(rest, size=min(random, rest.size), replace=False)
    rows = np.concatenate([rare, picked]).astype(np.int64)
    return rows, ["outlier"] * rare.size + ["random"] * picked.size


def _subsets(d: int, limit: int, rng: np.random.Generator) -> list[tuple[int, ...]]:
    every = [c for k in (1, 2, 3) for c in combinations(range(d), k)]
    if len(every) <= limit:
        return every
    ones = [c for c in every if len(c) == 1]
    others = [c for c in every if len(c) > 1]
    keep = rng.choice(len(others), size=max(limit - len(ones), 0), replace=False)
    return ones + [others[i] for i in sorted(keep)]


def _features(
    synthetic: np.ndarray,
    target: np.ndarray,
    subsets: list[tuple[int, ...]],
    sizes: list[int],
    ordered: list[bool],
) -> np.ndarray:
    equal = synthetic == target  # (s, d)
    n = max(synthetic.shape[0], 1)
    shares = [equal[:, list(c)].all(axis=1).sum() / n for c in subsets]
    copies = equal.all(axis=1).sum() / n
    near, dens = neighbour_summaries(
        target[None, :], synthetic, sizes=sizes, ordered=ordered, scale=2.0
    )
    return np.array([*shares, copies, -near[0], np.log(dens[0] / n + 1e-12)])


def _discriminant(x_in: np.ndarray, x_out: np.ndarray) -> Callable[[np.ndarray], Any]:
    """A diagonal linear discriminant: ``x -> w . (x - mid)``."""
    mu1, mu0 = x_in.mean(axis=0), x_out.mean(axis=0)
    var = 0.5 * (x_in.var(axis=0) + x_out.var(axis=0))
    spread = np.concatenate([x_in, x_out]).std(axis=0)
    var = var + 1e-6 * (spread**2 + 1e-12)  # constant features weigh nothing
    w = (mu1 - mu0) / var
    mid = 0.5 * (mu1 + mu0)
    return lambda x: (x - mid) @ w


def shadow_attack(
    data: AuditData,
    factory: Factory,
    *,
    outliers: int = 2,
    random: int = 2,
    games: int = 40,
    shadow_size: int = 1000,
    subsets: int = 40,
    delta: float = 0.0,
    epsilon_confidence: float = 0.95,
    generator: str = "the generator",
    rng: RngLike = None,
    progress: Progress | None = None,
) -> AttackResult:
    """Plays the membership game for a few targets with the generator itself.

    Args:
        data: the encoded tables; the holdout is the attacker's population
            sample, the targets are training records.
        factory: refits the generator on codes and returns synthetic codes.
        outliers: how many of the rarest training records to attack.
        random: how many random training records to attack.
        games: games per target and per half (train and test): the factory
            runs ``2 * games`` times per target.
        shadow_size: rows of each shadow dataset (at most the holdout's size).
        subsets: column subsets whose matching shares are features.
        delta: the delta at which the empirical epsilon is stated.
        epsilon_confidence: one-sided confidence of the epsilon bound.
        generator: the generator's name, for the threat model.
        rng: seed or Generator for targets, datasets, coins and the factory.
        progress: ``progress("shadow models", done, total)`` after each run.

    Returns:
        One :class:`AttackResult` pooling every target's test games (main =
        "in" games flagged, control = "out" games flagged), with per-target
        figures in ``details``.

    Raises:
        ValidationError: bad sizes, or a holdout too small for the shadow
            datasets.
    """
    for name, value in (("outliers", outliers), ("random", random)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValidationError(f"`{name}` ({value!r}) must be an integer >= 0.")
    if outliers + random == 0:
        raise ValidationError("Give at least one target (`outliers` or `random`).")
    if isinstance(games, bool) or not isinstance(games, int) or games < 4:
        raise ValidationError(f"`games` ({games!r}) must be an integer >= 4.")
    pool = data.holdout
    if isinstance(shadow_size, bool) or not isinstance(shadow_size, int):
        raise ValidationError(f"`shadow_size` ({shadow_size!r}) must be an integer.")
    if not 10 <= shadow_size <= pool.shape[0] - 1:
        raise ValidationError(
            f"`shadow_size` ({shadow_size}) must be between 10 and the holdout's "
            f"size minus one ({pool.shape[0] - 1}): shadow datasets are drawn from "
            "the holdout."
        )
    gen = as_generator(rng)
    rows, kinds = choose_shadow_targets(data, outliers=outliers, random=random, rng=gen)
    sizes, ordered = list(data.sizes), list(data.ordered)
    cols = _subsets(len(sizes), subsets, gen)
    total = rows.size * 2 * games
    done = 0
    per_target = []
    tp = fn = fp = tn = 0
    all_in: list[float] = []
    all_out: list[float] = []
    for row, kind in zip(rows.tolist(), kinds, strict=True):
        target = data.train[row]
        feats, coins = [], []
        for _ in range(2 * games):
            idx = gen.choice(pool.shape[0], size=shadow_size, replace=False)
            shadow = pool[idx].copy()
            coin = bool(gen.integers(2))
            if coin:
                shadow[0] = target
            synthetic = np.asarray(factory(shadow, gen))
            feats.append(_features(synthetic, target, cols, sizes, ordered))
            coins.append(coin)
            done += 1
            if progress is not None:
                progress("shadow models", done, total)
        x, y = np.array(feats), np.array(coins)
        train, test = slice(0, games), slice(games, 2 * games)
        x_tr, y_tr, x_te, y_te = x[train], y[train], x[test], y[test]
        if y_tr.all() or not y_tr.any() or y_te.all() or not y_te.any():
            per_target.append({"row": row, "kind": kind, "note": "one-sided coins"})
            continue
        score = _discriminant(x_tr[y_tr], x_tr[~y_tr])
        s_tr, s_te = score(x_tr), score(x_te)
        threshold = youden_threshold(s_tr[y_tr], s_tr[~y_tr])
        flagged = s_te >= threshold
        t_tp, t_fp = int((flagged & y_te).sum()), int((flagged & ~y_te).sum())
        t_in, t_out = int(y_te.sum()), int((~y_te).sum())
        tp, fn, fp, tn = tp + t_tp, fn + t_in - t_tp, fp + t_fp, tn + t_out - t_fp
        all_in += s_te[y_te].tolist()
        all_out += s_te[~y_te].tolist()
        per_target.append(
            {
                "row": row,
                "kind": kind,
                "rarity": float(rarity(target[None, :], pool, sizes)[0]),
                "tpr": t_tp / t_in,
                "fpr": t_fp / t_out,
                "auc": roc(s_te[y_te], s_te[~y_te]).auc,
            }
        )
    notes = []
    if tp + fn == 0 or fp + tn == 0:
        notes.append("No target had both kinds of test game; nothing to count.")
    bound = epsilon_lower_bound(
        true_positives=tp,
        false_negatives=fn,
        false_positives=fp,
        true_negatives=tn,
        delta=delta,
        confidence=epsilon_confidence,
    )
    return AttackResult(
        name="shadow_membership",
        title="Membership: shadow models of the generator (black box)",
        criterion="membership",
        description=(
            f"For {rows.size} training records ({outliers} rarest, {random} random) "
            f"the generator is refitted {2 * games} times per record on "
            f"{shadow_size}-row samples of the population, with the record in or "
            "out by a fair coin; a classifier of target-specific counts learnt on "
            "half the games guesses the coin on the other half."
        ),
        threat_model=ThreatModel(
            knowledge=(
                f"{generator} (black box: it can be run again), a sample of the "
                "population (the holdout) and the target record"
            ),
            targets=(
                "the rarest training records (mean -log share of their values) and "
                "random ones; membership is decided by our own coin in each game"
            ),
        ),
        main=Rate(tp, tp + fn),
        control=Rate(fp, fp + tn),
        baseline=(fp / (fp + tn)) if fp + tn else 0.0,
        roc=roc(all_in, all_out) if all_in and all_out else None,
        epsilon=bound,
        notes=tuple(notes),
        details={
            "targets": per_target,
            "games_per_target": 2 * games,
            "shadow_size": shadow_size,
            "feature_subsets": len(cols),
            "measures": "the generator (any of its releases), not one table",
        },
    )
