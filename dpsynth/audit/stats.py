"""Interval and hypothesis-test arithmetic for privacy audits.

Every rate an audit reports comes with an exact (Clopper-Pearson) or Wilson
interval, and the empirical epsilon is a one-sided lower confidence bound built
from Clopper-Pearson bounds on an attack's error rates. These functions take
counts, never records, and draw no randomness.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from dpsynth.errors import ValidationError

__all__ = [
    "EpsilonLowerBound",
    "Roc",
    "clopper_pearson",
    "epsilon_from_split",
    "epsilon_lower_bound",
    "excess_p_value",
    "holm",
    "holm_adjusted",
    "newcombe",
    "roc",
    "wilson",
    "youden_threshold",
]

Side = Literal["two-sided", "lower", "upper"]


def _counts(successes: object, trials: object) -> tuple[int, int]:
    ok = all(
        isinstance(v, int) and not isinstance(v, bool) for v in (successes, trials)
    )
    if not ok or not 0 <= successes <= trials:  # type: ignore[operator]
        raise ValidationError(
            f"`successes` ({successes!r}) and `trials` ({trials!r}) must be integers "
            "with 0 <= successes <= trials."
        )
    return int(successes), int(trials)  # type: ignore[call-overload]


def _confidence(confidence: object) -> float:
    ok = isinstance(confidence, int | float) and not isinstance(confidence, bool)
    if not ok or not 0 < confidence < 1:  # type: ignore[operator]
        raise ValidationError(
            f"`confidence` ({confidence!r}) must be in the open interval (0, 1)."
        )
    return float(confidence)  # type: ignore[arg-type]


def clopper_pearson(
    successes: int,
    trials: int,
    *,
    confidence: float = 0.95,
    side: Side = "two-sided",
) -> tuple[float, float]:
    """The exact binomial confidence interval for a rate.

    Inverts the binomial test with beta quantiles, so the coverage is at least
    ``confidence`` for every true rate (conservative, never optimistic).

    Args:
        successes: the number of hits, ``0 <= successes <= trials``.
        trials: the number of trials; 0 gives the uninformative ``(0, 1)``.
        confidence: the coverage, in (0, 1).
        side: ``"two-sided"`` splits ``1 - confidence`` between the tails;
            ``"upper"`` bounds the rate from above only (the lower end is 0),
            ``"lower"`` from below only (the upper end is 1).

    Returns:
        ``(low, high)``.

    Raises:
        ValidationError: bad counts, confidence or side.

    Example:
        >>> low, high = clopper_pearson(0, 10)
        >>> low, round(high, 4)
        (0.0, 0.3085)

    References:
        Clopper, Pearson. The use of confidence or fiducial limits illustrated
        in the case of the binomial. Biometrika 26(4), 1934.
    """
    from scipy.stats import beta

    k, n = _counts(successes, trials)
    conf = _confidence(confidence)
    if side not in ("two-sided", "lower", "upper"):
        raise ValidationError(
            f"`side` ({side!r}) must be 'two-sided', 'lower' or 'upper'."
        )
    if n == 0:
        return 0.0, 1.0
    alpha = 1.0 - conf
    tail = alpha / 2 if side == "two-sided" else alpha
    low = 0.0 if k == 0 or side == "upper" else float(beta.ppf(tail, k, n - k + 1))
    high = 1.0 if k == n or side == "lower" else float(beta.isf(tail, k + 1, n - k))
    return low, high


def wilson(
    successes: int, trials: int, *, confidence: float = 0.95
) -> tuple[float, float]:
    """The Wilson score interval (two-sided) for a rate.

    Narrower than Clopper-Pearson and close to nominal coverage on average, but
    not guaranteed at every rate; audits use it for descriptive intervals and
    Clopper-Pearson where a bound must hold.

    Example:
        >>> [round(x, 4) for x in wilson(5, 10)]
        [0.2366, 0.7634]

    References:
        Wilson. Probable inference, the law of succession, and statistical
        inference. JASA 22(158), 1927.
    """
    from statistics import NormalDist

    k, n = _counts(successes, trials)
    conf = _confidence(confidence)
    if n == 0:
        return 0.0, 1.0
    z = NormalDist().inv_cdf(1 - (1 - conf) / 2)
    p = k / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    # at k = 0 (k = n) the end is exactly 0 (1); rounding must not move it
    low = 0.0 if k == 0 else max(0.0, centre - half)
    high = 1.0 if k == n else min(1.0, centre + half)
    return low, high


def newcombe(
    main: tuple[int, int],
    control: tuple[int, int],
    *,
    confidence: float = 0.95,
) -> tuple[float, float]:
    """An interval for the difference of two rates, ``main - control``.

    Newcombe's hybrid score interval (his method 10): the Wilson intervals of
    the two rates combined in quadrature around the observed difference. Its
    coverage is close to nominal down to a few trials and, unlike the Wald
    interval, it never collapses to a point at rates of 0 or 1.

    Args:
        main: ``(successes, trials)`` on the attacked records.
        control: ``(successes, trials)`` on the controls.
        confidence: two-sided confidence.

    Example:
        >>> [round(x, 4) for x in newcombe((56, 70), (48, 80))]
        [0.0524, 0.3339]

    References:
        Newcombe. Interval estimation for the difference between independent
        proportions: comparison of eleven methods. Statistics in Medicine
        17(8), 1998 (the example is his table II, 56/70 - 48/80).
    """
    k1, n1 = _counts(*main)
    k2, n2 = _counts(*control)
    if n1 == 0 or n2 == 0:
        return -1.0, 1.0
    p1, p2 = k1 / n1, k2 / n2
    l1, u1 = wilson(k1, n1, confidence=confidence)
    l2, u2 = wilson(k2, n2, confidence=confidence)
    d = p1 - p2
    low = d - math.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2)
    high = d + math.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)
    return max(-1.0, low), min(1.0, high)


def excess_p_value(main: tuple[int, int], control: tuple[int, int]) -> float:
    """One-sided p-value that the main rate exceeds the control rate.

    Fisher's exact test on the 2 x 2 table (conditional on the margins), so the
    p-value is valid, if conservative, at every sample size; the battery's
    multiple-testing control (:func:`holm`) takes these.

    Example:
        >>> round(excess_p_value((10, 20), (3, 20)), 4)
        0.0204
    """
    from scipy.stats import fisher_exact

    k1, n1 = _counts(*main)
    k2, n2 = _counts(*control)
    if n1 == 0 or n2 == 0:
        return 1.0
    table = [[k1, n1 - k1], [k2, n2 - k2]]
    return float(fisher_exact(table, alternative="greater").pvalue)


@dataclass(frozen=True, kw_only=True)
class EpsilonLowerBound:
    """An empirical lower bound on epsilon from one attack's error counts.

    Attributes:
        lower_bound: epsilon such that the mechanism cannot be ``(eps, delta)``-DP
            for any smaller ``eps``, with probability at least ``confidence``
            over the audit's randomness; 0 when the counts prove nothing.
        confidence: the one-sided confidence of the bound.
        delta: the delta it is stated at.
        fpr_upper: the Clopper-Pearson upper bound on the false-positive rate.
        fnr_upper: the same for the false-negative rate.
    """

    lower_bound: float
    confidence: float
    delta: float
    fpr_upper: float
    fnr_upper: float


def epsilon_lower_bound(
    *,
    true_positives: int,
    false_negatives: int,
    false_positives: int,
    true_negatives: int,
    delta: float,
    confidence: float = 0.95,
) -> EpsilonLowerBound:
    """A one-sided lower confidence bound on epsilon from a membership test.

    Any test of "member" against "non-member" on an ``(eps, delta)``-DP mechanism
    has ``FPR + e^eps FNR >= 1 - delta`` and ``FNR + e^eps FPR >= 1 - delta``. With
    ``u_fp`` and ``u_fn`` one-sided Clopper-Pearson upper bounds on the two rates,
    each at level ``(1 - confidence) / 2`` (a union bound), ``eps >= max(log((1 -
    delta - u_fp) / u_fn), log((1 - delta - u_fn) / u_fp))`` holds with probability
    at least ``confidence``. The decision threshold must be chosen on data that
    is not counted here, or the bound is not valid.

    Args:
        true_positives: members the attack called members.
        false_negatives: members it called non-members.
        false_positives: non-members it called members.
        true_negatives: non-members it called non-members.
        delta: the delta of the claim being audited, in [0, 1).
        confidence: the one-sided confidence, in (0, 1).

    Returns:
        The bound and the rate bounds behind it.

    Raises:
        ValidationError: negative or non-integer counts, no members or no
            non-members, a bad delta or confidence.

    Example:
        >>> b = epsilon_lower_bound(true_positives=1000, false_negatives=0,
        ...     false_positives=0, true_negatives=1000, delta=1e-5)
        >>> round(b.lower_bound, 2)
        5.6

    References:
        Jagielski, Ullman, Oprea. Auditing Differentially Private Machine
        Learning: How Private is Private SGD? NeurIPS 2020 (Section 3).
    """
    counts = (true_positives, false_negatives, false_positives, true_negatives)
    if not all(
        isinstance(c, int) and not isinstance(c, bool) and c >= 0 for c in counts
    ):
        raise ValidationError(
            f"`counts` ({counts!r}) must be non-negative integers (true positives, "
            "false negatives, false positives, true negatives)."
        )
    tp, fn, fp, tn = counts
    if tp + fn == 0 or fp + tn == 0:
        raise ValidationError(
            f"`counts` ({counts!r}) must include members (tp + fn > 0) and "
            "non-members (fp + tn > 0): a bound needs both error rates."
        )
    ok = isinstance(delta, int | float) and not isinstance(delta, bool)
    if not ok or not 0 <= delta < 1:
        raise ValidationError(f"`delta` ({delta!r}) must be in [0, 1).")
    conf = _confidence(confidence)
    level = 1 - (1 - conf) / 2
    u_fp = clopper_pearson(fp, fp + tn, confidence=level, side="upper")[1]
    u_fn = clopper_pearson(fn, tp + fn, confidence=level, side="upper")[1]
    return EpsilonLowerBound(
        lower_bound=float(_bound_from_uppers(u_fp, u_fn, float(delta))),
        confidence=conf,
        delta=float(delta),
        fpr_upper=u_fp,
        fnr_upper=u_fn,
    )


def holm(p_values: Sequence[float], *, alpha: float = 0.05) -> list[bool]:
    """Holm's step-down procedure: which hypotheses to reject at family level alpha.

    Controls the probability of any false rejection across the battery at
    ``alpha`` under any dependence between the tests.

    Example:
        >>> holm([0.01, 0.04, 0.03, 0.2], alpha=0.05)
        [True, False, False, False]

    References:
        Holm. A simple sequentially rejective multiple test procedure.
        Scandinavian Journal of Statistics 6(2), 1979.
    """
    if not 0 < alpha < 1:
        raise ValidationError(f"`alpha` ({alpha!r}) must be in (0, 1).")
    return [a <= alpha for a in holm_adjusted(p_values)]


def holm_adjusted(p_values: Sequence[float]) -> list[float]:
    """Holm-adjusted p-values, one per hypothesis.

    Hypothesis ``i`` is rejected at ``alpha`` iff its adjusted p-value is at
    most ``alpha``, which is what :func:`holm` decides.

    Example:
        >>> holm_adjusted([0.01, 0.04, 0.03, 0.2])
        [0.04, 0.09, 0.09, 0.2]
    """
    ps = [float(p) for p in p_values]
    if any(not 0 <= p <= 1 for p in ps):
        raise ValidationError(f"`p_values` ({p_values!r}) must be in [0, 1].")
    m = len(ps)
    out = [0.0] * m
    running = 0.0
    for rank, i in enumerate(sorted(range(m), key=ps.__getitem__)):
        running = max(running, min(1.0, (m - rank) * ps[i]))
        out[i] = running
    return out


# ------------------------------------------------------------------------- ROC
@dataclass(frozen=True, kw_only=True)
class Roc:
    """An attack's ROC curve: "member" when the score is at least a threshold.

    Attributes:
        thresholds: decreasing; ``thresholds[0]`` is ``+inf`` (nobody flagged).
        fpr: the false-positive rate at each threshold (non-members flagged).
        tpr: the true-positive rate at each threshold (members flagged).
        auc: the area under the curve, ``P(member score > non-member score)``
            with ties counted one half (the Mann-Whitney statistic).
    """

    thresholds: np.ndarray
    fpr: np.ndarray
    tpr: np.ndarray
    auc: float

    def tpr_at(self, fpr: float) -> float:
        """The largest TPR among thresholds whose FPR is at most ``fpr``."""
        ok = self.fpr <= fpr + 1e-15
        return float(self.tpr[ok].max())


def _scores(values: object, name: str) -> np.ndarray:
    arr = np.asarray(values, dtype=np.float64).ravel()
    if arr.size == 0 or not np.isfinite(arr).all():
        raise ValidationError(
            f"`{name}` must be a non-empty array of finite scores; got "
            f"{arr.size} values."
        )
    return arr


def roc(member_scores: object, nonmember_scores: object) -> Roc:
    """The ROC curve of scores where higher means "more likely a member".

    Raises:
        ValidationError: an empty score array or a non-finite score.
    """
    pos = _scores(member_scores, "member_scores")
    neg = _scores(nonmember_scores, "nonmember_scores")
    thresholds = np.unique(np.concatenate([pos, neg]))[::-1]
    pos_sorted, neg_sorted = np.sort(pos), np.sort(neg)
    # flagged at threshold t: score >= t
    tp = pos.size - np.searchsorted(pos_sorted, thresholds, side="left")
    fp = neg.size - np.searchsorted(neg_sorted, thresholds, side="left")
    tpr = np.concatenate([[0.0], tp / pos.size])
    fpr = np.concatenate([[0.0], fp / neg.size])
    # Mann-Whitney with half ties, from the ranks of the pooled scores
    from scipy.stats import rankdata

    ranks = rankdata(np.concatenate([pos, neg]))
    u = ranks[: pos.size].sum() - pos.size * (pos.size + 1) / 2
    return Roc(
        thresholds=np.concatenate([[np.inf], thresholds]),
        fpr=fpr,
        tpr=tpr,
        auc=float(u / (pos.size * neg.size)),
    )


def _bounds_at_thresholds(
    pos: np.ndarray,
    neg: np.ndarray,
    thresholds: np.ndarray,
    delta: float,
    level: float,
) -> np.ndarray:
    """``epsilon_lower_bound`` for "member iff score >= t", for every threshold."""
    from scipy.stats import beta

    fn = np.searchsorted(np.sort(pos), thresholds, side="left")  # below t
    fp = neg.size - np.searchsorted(np.sort(neg), thresholds, side="left")
    tail = 1 - level

    def upper(k: np.ndarray, n: int) -> np.ndarray:
        out = np.ones(k.shape)
        some = k < n
        out[some] = beta.isf(tail, k[some] + 1, n - k[some])
        return out

    u_fp, u_fn = upper(fp, neg.size), upper(fn, pos.size)
    return _bound_from_uppers(u_fp, u_fn, delta)


def _bound_from_uppers(u_fp: object, u_fn: object, delta: float) -> np.ndarray:
    """``max(0, log((1 - delta - u_fp) / u_fn), log((1 - delta - u_fn) / u_fp))``.

    Elementwise; the upper bounds are > 0 (Clopper-Pearson never bounds a rate
    at 0), and a numerator <= 0 proves nothing.
    """
    fp, fn = np.asarray(u_fp, dtype=np.float64), np.asarray(u_fn, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        a = np.where(1 - delta - fp > 0, np.log((1 - delta - fp) / fn), 0.0)
        b = np.where(1 - delta - fn > 0, np.log((1 - delta - fn) / fp), 0.0)
    return np.maximum(0.0, np.maximum(a, b))


def epsilon_from_split(
    calibration: tuple[object, object],
    evaluation: tuple[object, object],
    *,
    delta: float,
    confidence: float = 0.95,
) -> tuple[EpsilonLowerBound, float]:
    """The empirical epsilon with a threshold chosen on a separate split.

    The threshold that gives the largest bound on the calibration scores is
    applied, unchanged, to the evaluation scores, and only the evaluation counts
    enter :func:`epsilon_lower_bound`; choosing the threshold on the counted
    data would make the bound optimistic (a maximum over many tests).

    Args:
        calibration: ``(member_scores, nonmember_scores)`` used only to choose.
        evaluation: ``(member_scores, nonmember_scores)`` that are counted.
        delta: the delta of the claim being audited.
        confidence: the one-sided confidence of the bound.

    Returns:
        The bound on the evaluation split, and the threshold ("member" iff the
        score is at least it).
    """
    conf = _confidence(confidence)
    cal_pos = _scores(calibration[0], "calibration member scores")
    cal_neg = _scores(calibration[1], "calibration non-member scores")
    ev_pos = _scores(evaluation[0], "evaluation member scores")
    ev_neg = _scores(evaluation[1], "evaluation non-member scores")
    candidates = np.unique(np.concatenate([cal_pos, cal_neg]))
    level = 1 - (1 - conf) / 2
    scores = _bounds_at_thresholds(cal_pos, cal_neg, candidates, delta, level)
    threshold = float(candidates[int(np.argmax(scores))])
    tp = int((ev_pos >= threshold).sum())
    fp = int((ev_neg >= threshold).sum())
    bound = epsilon_lower_bound(
        true_positives=tp,
        false_negatives=ev_pos.size - tp,
        false_positives=fp,
        true_negatives=ev_neg.size - fp,
        delta=delta,
        confidence=conf,
    )
    return bound, threshold


def youden_threshold(member_scores: object, nonmember_scores: object) -> float:
    """The threshold maximising TPR - FPR ("member" iff score >= it).

    Returns ``+inf`` (nobody flagged) when no threshold beats chance or a side
    is empty.

    Example:
        >>> youden_threshold([3, 4, 5], [1, 2, 3])
        4.0
    """
    pos = np.asarray(member_scores, dtype=np.float64).ravel()
    neg = np.asarray(nonmember_scores, dtype=np.float64).ravel()
    if pos.size == 0 or neg.size == 0:
        return float("inf")
    candidates = np.unique(np.concatenate([pos, neg]))
    tpr = 1 - np.searchsorted(np.sort(pos), candidates, side="left") / pos.size
    fpr = 1 - np.searchsorted(np.sort(neg), candidates, side="left") / neg.size
    gain = tpr - fpr
    best = int(np.argmax(gain))
    return float(candidates[best]) if gain[best] > 0 else float("inf")
