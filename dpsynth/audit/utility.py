"""Utility beside privacy: how much of the real table's structure a synthetic one keeps.

A privacy audit says how much a synthetic table leaks; this module says what was
bought with that leakage. :func:`utility_report` compares the integer-coded
``train`` table (the one the synthesizer saw), a ``holdout`` table from the same
source that it did not see, and the ``synthetic`` table, and returns a JSON-ready
dict with four parts:

* ``marginals``: the total variation distance (TVD, half the L1 distance of the
  normalised histograms, in ``[0, 1]``) between the k-way marginals of ``train``
  and ``synthetic``, for every column, every pair and all (or a random sample of)
  the triples. 0 means the synthetic table reproduces those counts in proportion;
  1 means the two tables never agree. ``holdout_mean_tvd`` is the same mean for
  ``holdout`` against ``train``: the sampling noise floor, i.e. what an ideal
  generator that draws fresh records from the real distribution would score.
  It reflects the holdout's size; TVD shrinks roughly like ``sqrt(cells / rows)``.
* ``one_way``: per column, the share of each code in ``train`` and ``synthetic``,
  for bar charts.
* ``association``: the matrix of bias-corrected Cramér's V (Bergsma 2013)
  between every pair of columns, in ``train`` and in ``synthetic``, and their
  differences. V is 0 for independent columns and 1 when either determines the
  other; it ignores the order of codes, so it serves categorical and binned
  numeric columns alike. A synthetic table can match every one-way marginal and
  still score badly here if it breaks dependencies between columns.
* ``ml_efficacy``: train on synthetic, test on real (TSTR). A gradient-boosted
  classifier predicts a target column of ``holdout`` once after fitting on
  ``synthetic`` and once after fitting on ``train``. The real fit is the ceiling,
  predicting the majority class the floor; a useful synthetic table lands close
  to the ceiling.

Everything here is computed on the real data without noise: the report is for the
data owner's reviewer and is not itself differentially private.

Measured: adult (30,000 train, 10,000 holdout and 30,000 synthetic rows of 15
columns, all 455 triples, binary target) in 4.7 s on one core (7-8 s with the
core shared), of which marginals, one-way shares and association take 0.25 s and
the two classifier fits the rest. The fits grow with the number of target
classes (one tree per class per iteration): a 7-class target took 21 s.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import combinations
from typing import Any

import numpy as np

from dpsynth._random import RngLike, as_generator
from dpsynth.errors import ValidationError

__all__ = ["SKLEARN_MISSING", "cramers_v", "utility_report"]

logger = logging.getLogger(__name__)

Progress = Callable[[str, int, int], object]

SKLEARN_MISSING = "scikit-learn is not installed: pip install 'dpsynth[audit]'"
_STAGES = ("marginals", "one_way", "association", "ml_efficacy")
_TOP = 5  # entries in each "worst" list
_MAX_BARS = 50  # codes per one-way chart; the tail is merged into the last bar
_MAX_FIT_ROWS = 50_000  # rows each classifier is fitted on, at most
_MAX_ITER = 100  # boosting iterations of each classifier
_MAX_CATEGORIES = 255  # HistGradientBoosting's limit on a categorical feature
_DENSE_CELLS = 1 << 22  # beyond this many cells, number only those that occur


@dataclass(frozen=True)
class _Columns:
    """The validated inputs: each table as ``(d, n)`` int64 codes, column-major."""

    train: np.ndarray
    holdout: np.ndarray
    synthetic: np.ndarray
    names: list[str]
    sizes: list[int]
    ordered: list[bool]
    target: int


def _r(x: float) -> float:
    """Rounds to 6 significant digits (and to a plain Python float)."""
    return float(f"{float(x):.6g}")


def _table(values: object, name: str, d: int | None) -> np.ndarray:
    arr = np.asarray(values)
    if arr.ndim != 2 or arr.shape[0] == 0 or not np.issubdtype(arr.dtype, np.integer):
        raise ValidationError(
            f"`{name}` must be a non-empty 2-D array of integer codes; got shape "
            f"{arr.shape} and dtype {arr.dtype}."
        )
    if d is not None and arr.shape[1] != d:
        raise ValidationError(
            f"`{name}` must have the {d} columns of `train`; it has {arr.shape[1]}."
        )
    return arr


def _validate(
    tables: dict[str, object],
    names: object,
    sizes: object,
    ordered: object,
    target: object,
) -> _Columns:
    arrays = {"train": _table(tables["train"], "train", None)}
    d = arrays["train"].shape[1]
    for key in ("holdout", "synthetic"):
        arrays[key] = _table(tables[key], key, d)
    if isinstance(names, str) or not isinstance(names, Sequence):
        raise ValidationError(f"`names` ({names!r}) must be a sequence of {d} strings.")
    name_list = list(names)
    if len(name_list) != d or not all(isinstance(n, str) for n in name_list):
        raise ValidationError(
            f"`names` ({name_list!r}) must be {d} strings, one per column."
        )
    if len(set(name_list)) != d:
        raise ValidationError(f"`names` ({name_list!r}) must be distinct.")
    size = np.asarray(sizes)
    if (
        size.shape != (d,)
        or not np.issubdtype(size.dtype, np.integer)
        or (size < 1).any()
    ):
        raise ValidationError(
            f"`sizes` ({sizes!r}) must be {d} integers >= 1: the number of codes "
            "of each column."
        )
    order = np.zeros(d, bool) if ordered is None else np.asarray(ordered)
    if order.shape != (d,) or order.dtype != np.bool_:
        raise ValidationError(f"`ordered` ({ordered!r}) must be {d} booleans or None.")
    for key, arr in arrays.items():
        bad = (arr.min(axis=0) < 0) | (arr.max(axis=0) >= size)
        if bad.any():
            j = int(np.argmax(bad))
            raise ValidationError(
                f"`{key}` holds codes outside [0, {size[j]}) in column "
                f"{name_list[j]!r} (min {arr[:, j].min()}, max {arr[:, j].max()}). "
                "Encode every table with the same domain as `sizes`."
            )
    if target is None:
        t = d - 1
    elif isinstance(target, str) and target in name_list:
        t = name_list.index(target)
    else:
        raise ValidationError(
            f"`target` ({target!r}) must be one of the column names {name_list!r} "
            "or None (the last column)."
        )
    cols = {k: np.ascontiguousarray(a.T, dtype=np.int64) for k, a in arrays.items()}
    return _Columns(
        **cols,
        names=name_list,
        sizes=[int(s) for s in size],
        ordered=[bool(o) for o in order],
        target=t,
    )


def utility_report(
    train: object,
    holdout: object,
    synthetic: object,
    *,
    names: Sequence[str],
    sizes: Sequence[int],
    ordered: Sequence[bool] | None = None,
    target: str | None = None,
    max_triples: int = 500,
    rng: RngLike = None,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Scores how well ``synthetic`` keeps the structure of ``train``.

    See the module docstring for what each metric means to a reviewer.

    Args:
        train: ``(n, d)`` integer codes of the table the synthesizer was fitted on.
        holdout: ``(m, d)`` codes of real records the synthesizer never saw: the
            test set of the classifiers and the noise floor of the marginals.
        synthetic: ``(s, d)`` codes of the synthetic table.
        names: the ``d`` column names.
        sizes: the number of codes of each column: column ``j`` holds codes in
            ``[0, sizes[j])``.
        ordered: per column, whether its codes are ordered (binned numbers);
            unordered columns enter the classifiers as categorical features.
            Default: none is ordered.
        target: the column the classifiers predict; default the last one.
        max_triples: score all 3-way marginals when there are at most this many,
            otherwise this many triples drawn at random with ``rng``.
        rng: seeds the triple sample, the classifiers' subsamples and their
            ``random_state``.
        progress: called as ``progress(stage, done, total)`` after each of the
            four stages (``"marginals"``, ``"one_way"``, ``"association"``,
            ``"ml_efficacy"``).

    Returns:
        A dict of only str, int, float, bool, None, list and dict (floats
        rounded to 6 significant digits) with keys ``"rows"`` (the three row
        counts), ``"marginals"``, ``"one_way"``, ``"association"`` and
        ``"ml_efficacy"``.

    Raises:
        ValidationError: tables that are not non-empty 2-D integer arrays of the
            same columns, codes outside ``[0, sizes[j])``, or bad ``names``,
            ``sizes``, ``ordered``, ``target``, ``max_triples``, ``progress`` or
            ``rng``.

    Example:
        >>> real = np.array([[0, 0], [0, 0], [1, 1], [1, 1]])
        >>> synth = np.array([[0, 1], [0, 1], [1, 0], [1, 0]])
        >>> report = utility_report(real, real, synth, names=["a", "b"],
        ...                         sizes=[2, 2], rng=0)
        >>> [m["mean_tvd"] for m in report["marginals"]]
        [0.0, 1.0, None]
    """
    cols = _validate(
        {"train": train, "holdout": holdout, "synthetic": synthetic},
        names,
        sizes,
        ordered,
        target,
    )
    if isinstance(max_triples, bool) or not isinstance(max_triples, int | np.integer):
        raise ValidationError(f"`max_triples` ({max_triples!r}) must be an integer.")
    if max_triples < 0:
        raise ValidationError(f"`max_triples` ({max_triples!r}) must be >= 0.")
    if progress is not None and not callable(progress):
        raise ValidationError(f"`progress` ({progress!r}) must be callable or None.")
    triple_rng, ml_rng = as_generator(rng).spawn(2)
    stages: list[Callable[[], Any]] = [
        lambda: _marginals(cols, int(max_triples), triple_rng),
        lambda: _one_way(cols),
        lambda: _association(cols),
        lambda: _ml_efficacy(cols, ml_rng),
    ]
    report: dict[str, Any] = {
        "rows": {
            "train": int(cols.train.shape[1]),
            "holdout": int(cols.holdout.shape[1]),
            "synthetic": int(cols.synthetic.shape[1]),
        }
    }
    for done, (stage, run) in enumerate(zip(_STAGES, stages, strict=True), start=1):
        report[stage] = run()
        logger.debug("utility report: %s done", stage)
        if progress is not None:
            progress(stage, done, len(_STAGES))
    return report


# ---------------------------------------------------------------- marginals


def _compact(keys: list[np.ndarray]) -> tuple[list[np.ndarray], int]:
    """Renumbers joint codes shared by several tables to ``0..(distinct - 1)``."""
    values, inverse = np.unique(np.concatenate(keys), return_inverse=True)
    return np.split(inverse, np.cumsum([k.size for k in keys])[:-1]), int(values.size)


def _joint(
    tables: Sequence[np.ndarray], combo: Sequence[int], sizes: Sequence[int]
) -> tuple[list[np.ndarray], int]:
    """One code per row for the columns ``combo`` of each table, and how many.

    Codes are the ravelled multi-index while the product of the sizes stays below
    ``_DENSE_CELLS``; past that only the combinations that occur are numbered.
    """
    keys = [t[combo[0]] for t in tables]
    cells = sizes[combo[0]]
    for c in combo[1:]:
        keys = [k * sizes[c] + t[c] for k, t in zip(keys, tables, strict=True)]
        cells *= sizes[c]
        if cells > _DENSE_CELLS:
            keys, cells = _compact(keys)
    return keys, cells


def _shares(key: np.ndarray, cells: int) -> np.ndarray:
    return np.bincount(key, minlength=cells) / key.size


def _combos(d: int, k: int, limit: int | None, rng: np.random.Generator) -> np.ndarray:
    """All k-subsets of ``range(d)``, or ``limit`` distinct ones drawn at random.

    A random sample draws ranks without replacement and unranks them in the
    colexicographic order: rank = C(c3, 3) + C(c2, 2) + c1 for c1 < c2 < c3.
    """
    total = math.comb(d, k)
    if limit is None or total <= limit:
        return np.array(list(combinations(range(d), k)), dtype=np.int64).reshape(-1, k)
    ranks = rng.choice(total, size=limit, replace=False)
    c = np.arange(d, dtype=np.int64)
    c3 = np.searchsorted(c * (c - 1) * (c - 2) // 6, ranks, side="right") - 1
    rest = ranks - c3 * (c3 - 1) * (c3 - 2) // 6
    c2 = np.searchsorted(c * (c - 1) // 2, rest, side="right") - 1
    triples = np.stack([rest - c2 * (c2 - 1) // 2, c2, c3], axis=1)
    return triples[np.lexsort(triples.T[::-1])]


def _marginals(
    cols: _Columns, max_triples: int, rng: np.random.Generator
) -> list[dict[str, Any]]:
    d = len(cols.names)
    out = []
    for k in (1, 2, 3):
        combos = _combos(d, k, max_triples if k == 3 else None, rng)
        synth = np.empty(len(combos))
        hold = np.empty(len(combos))
        for i, combo in enumerate(combos.tolist()):
            (kt, kh, ks), cells = _joint(
                (cols.train, cols.holdout, cols.synthetic), combo, cols.sizes
            )
            real = _shares(kt, cells)
            synth[i] = 0.5 * np.abs(_shares(ks, cells) - real).sum()
            hold[i] = 0.5 * np.abs(_shares(kh, cells) - real).sum()
        worst = np.argsort(-synth, kind="stable")[:_TOP]
        out.append(
            {
                "k": k,
                "count": len(combos),
                "sampled": len(combos) < math.comb(d, k),
                "mean_tvd": _r(synth.mean()) if len(combos) else None,
                "max_tvd": _r(synth.max()) if len(combos) else None,
                "holdout_mean_tvd": _r(hold.mean()) if len(combos) else None,
                "worst": [
                    {
                        "columns": [cols.names[c] for c in combos[i]],
                        "tvd": _r(synth[i]),
                        "holdout_tvd": _r(hold[i]),
                    }
                    for i in worst.tolist()
                ],
            }
        )
    return out


def _one_way(cols: _Columns) -> list[dict[str, Any]]:
    out = []
    for j, (name, size) in enumerate(zip(cols.names, cols.sizes, strict=True)):
        shares = [_shares(t[j], size) for t in (cols.train, cols.synthetic)]
        truncated = size > _MAX_BARS
        if truncated:  # bar _MAX_BARS - 1 holds every code from there on
            shares = [
                np.append(s[: _MAX_BARS - 1], s[_MAX_BARS - 1 :].sum()) for s in shares
            ]
        out.append(
            {
                "column": name,
                "real": [_r(x) for x in shares[0].tolist()],
                "synthetic": [_r(x) for x in shares[1].tolist()],
                "truncated": truncated,
            }
        )
    return out


# -------------------------------------------------------------- association


def _bias_corrected_v(chi2: float, n: int, rows: int, cols: int) -> float:
    """Bergsma's bias-corrected Cramér's V from chi2 on an r x k table of n."""
    if n < 2 or rows < 2 or cols < 2:
        return 0.0
    phi2 = max(0.0, chi2 / n - (rows - 1) * (cols - 1) / (n - 1))
    r_corr = rows - (rows - 1) ** 2 / (n - 1)
    k_corr = cols - (cols - 1) ** 2 / (n - 1)
    denominator = min(r_corr, k_corr) - 1
    if denominator <= 0:  # as many categories as records: undefined
        return 0.0
    return min(1.0, math.sqrt(phi2 / denominator))


def cramers_v(table: object) -> float:
    """Bias-corrected Cramér's V of a contingency table (Bergsma 2013).

    Empty rows and columns are dropped first. The value is in ``[0, 1]``: 0 for
    independence (and, by convention, when fewer than two rows or columns
    remain), 1 when each row category determines the column category and vice
    versa. Unlike the plain V it is nearly unbiased for small samples and many
    categories, where the plain V of independent data is well above 0.

    Args:
        table: an ``(r, k)`` array of non-negative counts.

    Returns:
        The bias-corrected V.

    Raises:
        ValidationError: if ``table`` is not a 2-D array of non-negative
            finite counts.

    Example:
        >>> cramers_v([[10, 0], [0, 10]])
        1.0
        >>> cramers_v([[25, 25], [25, 25]])
        0.0

    References:
        Bergsma. A bias-correction for Cramér's V and Tschuprow's T. Journal of
        the Korean Statistical Society 42(3), 2013.
    """
    try:
        counts = np.asarray(table, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValidationError(
            f"`table` ({table!r}) must be a 2-D array of non-negative counts."
        ) from None
    if counts.ndim != 2 or not np.isfinite(counts).all() or (counts < 0).any():
        raise ValidationError(
            "`table` must be a 2-D array of non-negative finite counts; got shape "
            f"{counts.shape}."
        )
    counts = counts[counts.sum(axis=1) > 0][:, counts.sum(axis=0) > 0]
    n = float(counts.sum())
    if counts.size == 0:
        return 0.0
    expected = np.outer(counts.sum(axis=1), counts.sum(axis=0)) / n
    chi2 = float(((counts - expected) ** 2 / expected).sum())
    return _bias_corrected_v(chi2, round(n), *counts.shape)


def _observed(col: np.ndarray, size: int) -> tuple[np.ndarray, int]:
    """Renumbers a column's codes to the ones that occur, in order."""
    seen = np.bincount(col, minlength=size) > 0
    return (np.cumsum(seen) - 1)[col], int(seen.sum())


def _pair_v(a: np.ndarray, ka: int, b: np.ndarray, kb: int) -> float:
    """Cramér's V of two columns of observed codes, from their non-empty cells.

    chi2 = n * (sum over cells of O^2 / (row total * column total) - 1).
    """
    key = a * kb + b
    if ka * kb <= _DENSE_CELLS:
        counts = np.bincount(key, minlength=ka * kb)
        cell = np.flatnonzero(counts)
        o = counts[cell].astype(np.float64)
    else:
        cell, found = np.unique(key, return_counts=True)
        o = found.astype(np.float64)
    i, j = np.divmod(cell, kb)
    row, col = np.bincount(a, minlength=ka), np.bincount(b, minlength=kb)
    chi2 = a.size * (float(np.sum(o * o / (row[i] * col[j].astype(np.float64)))) - 1)
    return _bias_corrected_v(chi2, a.size, ka, kb)


def _v_matrix(table: np.ndarray, sizes: Sequence[int]) -> np.ndarray:
    d = table.shape[0]
    observed = [_observed(table[j], sizes[j]) for j in range(d)]
    v = np.eye(d)
    for a, b in combinations(range(d), 2):
        v[a, b] = v[b, a] = _pair_v(*observed[a], *observed[b])
    return v


def _association(cols: _Columns) -> dict[str, Any]:
    real, synth, hold = (
        _v_matrix(t, cols.sizes) for t in (cols.train, cols.synthetic, cols.holdout)
    )
    upper = np.triu_indices(len(cols.names), k=1)
    diff = np.abs(synth - real)[upper]
    pairs = len(diff)
    worst = np.argsort(-diff, kind="stable")[:_TOP]
    return {
        "columns": list(cols.names),
        "train": [[_r(x) for x in row] for row in real.tolist()],
        "synthetic": [[_r(x) for x in row] for row in synth.tolist()],
        "mean_abs_difference": _r(diff.mean()) if pairs else None,
        "max_abs_difference": _r(diff.max()) if pairs else None,
        "holdout_mean_abs_difference": (
            _r(np.abs(hold - real)[upper].mean()) if pairs else None
        ),
        "worst": [
            {
                "columns": [cols.names[upper[0][p]], cols.names[upper[1][p]]],
                "train": _r(real[upper][p]),
                "synthetic": _r(synth[upper][p]),
            }
            for p in worst.tolist()
        ],
    }


# -------------------------------------------------------------- ml efficacy


def _macro_f1(truth: np.ndarray, predicted: np.ndarray) -> float:
    """Mean F1 over the classes in ``truth`` or ``predicted`` (sklearn's macro F1).

    F1 = 2 TP / (2 TP + FP + FN), which is defined for every class that occurs.
    """
    classes, code = np.unique(np.concatenate([truth, predicted]), return_inverse=True)
    t, p = code[: truth.size], code[truth.size :]
    tp = np.bincount(t[t == p], minlength=classes.size)
    positives = np.bincount(t, minlength=classes.size)  # TP + FN
    predicted_pos = np.bincount(p, minlength=classes.size)  # TP + FP
    return float(np.mean(2 * tp / (positives + predicted_pos)))


def _fit_predict(
    model_class: Any,
    table: np.ndarray,
    test: np.ndarray,
    cols: _Columns,
    rng: np.random.Generator,
) -> tuple[np.ndarray, int, bool]:
    """Fits on at most _MAX_FIT_ROWS rows of ``table``; predicts ``test``.

    Returns the predictions, the number of rows fitted on, and whether the
    target was constant there (then nothing is fitted; the constant is predicted).
    """
    n = table.shape[1]
    if n > _MAX_FIT_ROWS:
        table = table[:, np.sort(rng.choice(n, size=_MAX_FIT_ROWS, replace=False))]
    features = [j for j in range(len(cols.names)) if j != cols.target]
    y = table[cols.target]
    if (y == y[0]).all():
        return np.full(test.shape[1], y[0]), y.size, True
    categorical = [
        not cols.ordered[j] and cols.sizes[j] <= _MAX_CATEGORIES for j in features
    ]
    model = model_class(
        max_iter=_MAX_ITER,
        early_stopping=False,
        categorical_features=np.array(categorical, dtype=bool),
        random_state=int(rng.integers(2**31 - 1)),
    )
    # One OpenMP thread: on a machine whose other cores are busy, OpenMP's
    # barriers made the fit 10x slower (34 s instead of 2.6 s on Adult).
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1):
        model.fit(table[features].T, y)
        predicted = np.asarray(model.predict(test[features].T))
    return predicted, y.size, False


def _ml_efficacy(cols: _Columns, rng: np.random.Generator) -> dict[str, Any]:
    try:
        from sklearn.ensemble import HistGradientBoostingClassifier
    except ImportError:
        return {"skipped": SKLEARN_MISSING}
    if len(cols.names) < 2:
        return {"skipped": "there is no feature column besides the target."}
    truth = cols.holdout[cols.target]
    majority = np.bincount(cols.synthetic[cols.target]).argmax()
    result: dict[str, Any] = {
        "target": cols.names[cols.target],
        "model": (
            f"HistGradientBoostingClassifier(max_iter={_MAX_ITER}, "
            "early_stopping=False); unordered columns categorical"
        ),
        "test_rows": int(truth.size),
        "majority_baseline": _r(np.mean(truth == majority)),
    }
    notes = []
    synth_rng, real_rng = rng.spawn(2)
    for side, table, side_rng in (
        ("synthetic", cols.synthetic, synth_rng),
        ("real", cols.train, real_rng),
    ):
        predicted, fitted, constant = _fit_predict(
            HistGradientBoostingClassifier, table, cols.holdout, cols, side_rng
        )
        result[f"accuracy_{side}"] = _r(np.mean(predicted == truth))
        result[f"macro_f1_{side}"] = _r(_macro_f1(truth, predicted))
        result[f"fit_rows_{side}"] = fitted
        if constant:
            notes.append(
                f"The target is constant in the {side} training data: no model was "
                "fitted on it; that side predicts its single class."
            )
    if notes:
        result["note"] = " ".join(notes)
    return result
