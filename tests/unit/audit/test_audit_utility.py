"""The utility part of the audit report: marginals, association, TSTR."""

import itertools
import json
import math
import re
import sys

import numpy as np
import pytest
import scipy.stats

from dpsynth.audit.utility import SKLEARN_MISSING, cramers_v, utility_report
from dpsynth.errors import ValidationError


def _dependent(n, rng, *, k=4, keep=0.9):
    """Columns a ~ uniform(k) and b = a with probability `keep`, else uniform(k)."""
    a = rng.integers(0, k, n)
    b = np.where(rng.random(n) < keep, a, rng.integers(0, k, n))
    return np.stack([a, b], axis=1)


def _independent_like(table, sizes, rng, n=None):
    """Each column drawn on its own from the table's one-way marginal."""
    n = table.shape[0] if n is None else n
    return np.stack(
        [
            rng.choice(s, n, p=np.bincount(table[:, j], minlength=s) / table.shape[0])
            for j, s in enumerate(sizes)
        ],
        axis=1,
    )


def _report(train, holdout, synthetic, **kwargs):
    d = train.shape[1]
    kwargs.setdefault("names", [f"c{j}" for j in range(d)])
    kwargs.setdefault(
        "sizes",
        [
            int(max(t[:, j].max() for t in (train, holdout, synthetic))) + 1
            for j in range(d)
        ],
    )
    kwargs.setdefault("rng", 0)
    return utility_report(train, holdout, synthetic, **kwargs)


def _marginal(report, k):
    return report["marginals"][k - 1]


# ------------------------------------------------------------------ marginals


def test_identical_tables_score_zero_everywhere():
    table = _dependent(500, np.random.default_rng(0))
    table = np.concatenate([table, table[:, :1] % 2], axis=1)  # three columns
    report = _report(table, table, table)
    for k in (1, 2, 3):
        entry = _marginal(report, k)
        assert entry["count"] == math.comb(3, k)
        assert entry["mean_tvd"] == entry["max_tvd"] == entry["holdout_mean_tvd"] == 0
        assert all(w["tvd"] == 0 for w in entry["worst"])
    association = report["association"]
    assert association["train"] == association["synthetic"]
    assert association["mean_abs_difference"] == 0
    assert association["max_abs_difference"] == 0
    for bars in report["one_way"]:
        assert bars["real"] == bars["synthetic"]


def test_tvd_of_a_hand_computed_example():
    train = np.array([[0, 0], [0, 1], [1, 1], [1, 1]])
    synthetic = np.array([[0, 1], [1, 1], [1, 1], [1, 1], [2, 0], [2, 0]])
    report = _report(train, train, synthetic, sizes=[3, 2], names=["a", "b"])
    # a: train (1/2, 1/2, 0), synthetic (1/6, 1/2, 1/3): 0.5 * (1/3 + 0 + 1/3)
    # b: train (1/4, 3/4), synthetic (1/3, 2/3): 0.5 * (1/12 + 1/12)
    one = _marginal(report, 1)
    tvd = {w["columns"][0]: w["tvd"] for w in one["worst"]}
    assert tvd == pytest.approx({"a": 1 / 3, "b": 1 / 12}, abs=1e-6)
    assert one["mean_tvd"] == pytest.approx((1 / 3 + 1 / 12) / 2, abs=1e-6)
    assert one["worst"][0]["columns"] == ["a"]  # the worst first
    # (a, b) cells 00 01 10 11 20: train 1/4 1/4 0 1/2 0; synthetic 0 1/6 0 1/2 1/3
    two = _marginal(report, 2)
    assert two["worst"] == [
        {"columns": ["a", "b"], "tvd": pytest.approx(1 / 3, abs=1e-6), "holdout_tvd": 0}
    ]
    assert two["count"] == 1 and not two["sampled"]
    three = _marginal(report, 3)  # only two columns: no triple
    assert three["count"] == 0 and three["mean_tvd"] is None and three["worst"] == []


def test_independent_synthetic_loses_the_dependence_a_resample_keeps():
    rng = np.random.default_rng(1)
    n = 5_000
    train = _dependent(n, rng)
    holdout = _dependent(n, rng)
    resample = train[rng.integers(0, n, n)]
    independent = _independent_like(train, [4, 4], rng)
    kept = _report(train, holdout, resample, sizes=[4, 4])
    lost = _report(train, holdout, independent, sizes=[4, 4])
    # Population: joint 0.23125 on the diagonal and 0.00625 off it, against the
    # product 1/16 per cell, so TVD(joint, product) = 0.675. An empirical
    # distribution of n draws from 16 cells has E[TVD] <= 0.5 * sqrt(16 / n)
    # = 0.028 (Cauchy-Schwarz), and TVD moves by at most 1/n per record, so by
    # McDiarmid it exceeds its mean by 0.05 with probability <= exp(-2 n 0.05^2)
    # = exp(-25). Each TVD below is within 2 * (0.028 + 0.05) of its population
    # value with probability > 1 - 1e-10.
    assert _marginal(kept, 2)["mean_tvd"] < 0.16
    assert _marginal(lost, 2)["mean_tvd"] > 0.675 - 0.16
    assert _marginal(lost, 2)["holdout_mean_tvd"] < 0.16  # the noise floor
    # one-way marginals are kept by both
    assert _marginal(lost, 1)["max_tvd"] < 0.16


def test_triples_are_sampled_beyond_max_triples_reproducibly():
    rng = np.random.default_rng(2)
    table = rng.integers(0, 3, size=(200, 7))
    everything = _report(table, table, table, max_triples=35)
    assert _marginal(everything, 3)["count"] == 35 == math.comb(7, 3)
    assert not _marginal(everything, 3)["sampled"]
    synthetic = rng.integers(0, 3, size=(200, 7))
    first = _report(table, table, synthetic, max_triples=10, rng=5)
    again = _report(table, table, synthetic, max_triples=10, rng=5)
    assert _marginal(first, 3) == _marginal(again, 3)
    three = _marginal(first, 3)
    assert three["count"] == 10 and three["sampled"]
    assert _marginal(_report(table, table, synthetic, max_triples=0), 3)["count"] == 0


def test_sampled_triples_are_distinct_valid_and_cover_all_ranks():
    from dpsynth.audit.utility import _combos

    d = 9
    every = {tuple(t) for t in itertools.combinations(range(d), 3)}
    rng = np.random.default_rng(3)
    seen = set()
    for _ in range(40):
        triples = _combos(d, 3, 20, rng)
        as_tuples = [tuple(t) for t in triples.tolist()]
        assert len(set(as_tuples)) == 20 and set(as_tuples) <= every
        assert as_tuples == sorted(as_tuples)
        seen |= set(as_tuples)
    # 40 draws of 20 of the 84 triples: a given triple is missed with
    # probability (64/84)^40 < 2e-5, so all are seen but with prob. < 2e-3
    assert seen == every


def test_large_domains_take_the_sparse_path_with_the_same_tvd():
    rng = np.random.default_rng(4)
    sizes = [3000, 3000, 3000]  # 2.7e10 cells: only those that occur are counted
    train = rng.integers(0, 5, size=(300, 3)) * 600
    synthetic = rng.integers(0, 5, size=(300, 3)) * 600
    big = _report(train, train, synthetic, sizes=sizes)
    small = _report(train // 600, train // 600, synthetic // 600, sizes=[5, 5, 5])
    assert big["marginals"] == small["marginals"]
    assert big["association"] == small["association"]


# ------------------------------------------------------------------ one way


def test_one_way_shares_and_the_truncated_tail():
    train = np.array([[0, 59], [1, 49], [1, 48], [1, 0]])
    synthetic = np.array([[0, 0], [0, 1], [0, 55], [1, 1]])
    report = _report(train, train, synthetic, sizes=[2, 60], names=["x", "y"])
    x, y = report["one_way"]
    assert x == {
        "column": "x",
        "real": [0.25, 0.75],
        "synthetic": [0.75, 0.25],
        "truncated": False,
    }
    assert y["truncated"] and len(y["real"]) == len(y["synthetic"]) == 50
    assert y["real"][0] == 0.25 and y["real"][48] == 0.25 and y["real"][49] == 0.5
    assert y["synthetic"][:2] == [0.25, 0.5] and y["synthetic"][49] == 0.25
    assert sum(y["real"]) == pytest.approx(1) and sum(y["synthetic"]) == pytest.approx(
        1
    )


# ----------------------------------------------------------------- Cramér's V


def test_cramers_v_of_a_perfectly_dependent_pair_is_one():
    # chi2 = n (k - 1) gives phi2 - bias = (k - 1)(1 - (k - 1) / (n - 1)), which
    # is exactly the corrected min(r, k) - 1.
    rng = np.random.default_rng(5)
    a = rng.integers(0, 6, 1000)
    table = np.zeros((6, 6))
    np.add.at(table, (a, (a + 2) % 6), 1)  # a relabelled: still a bijection
    assert cramers_v(table) == pytest.approx(1, abs=1e-12)
    report = _report(np.stack([a, (a + 2) % 6], axis=1), *[np.zeros((1, 2), int)] * 2)
    assert report["association"]["train"] == [[1, 1], [1, 1]]


def test_cramers_v_matches_its_formula_on_a_hand_example():
    table = np.array([[20, 10], [10, 20]])
    chi2 = scipy.stats.chi2_contingency(table, correction=False).statistic
    assert chi2 == pytest.approx(20 / 3)
    n = 60  # phi2 = 1/9 - 1/59; r~ = k~ = 2 - 1/59
    expected = math.sqrt((chi2 / n - 1 / (n - 1)) / (1 - 1 / (n - 1)))
    assert cramers_v(table) == pytest.approx(expected, rel=1e-12)
    assert cramers_v(table) == pytest.approx(0.309493, abs=1e-6)
    # the pairwise path agrees with the public function (empty rows dropped)
    rows = np.repeat([[0, 0], [0, 2], [2, 0], [2, 2]], [20, 10, 10, 20], axis=0)
    report = _report(rows, rows, rows, sizes=[3, 3])
    assert report["association"]["train"][0][1] == pytest.approx(expected, abs=1e-6)


@pytest.mark.statistical
def test_cramers_v_of_large_independent_samples_is_near_zero():
    rng = np.random.default_rng(6)
    n, r, k, alpha = 20_000, 5, 7, 1e-9
    table = np.zeros((r, k))
    np.add.at(table, (rng.integers(0, r, n), rng.integers(0, k, n)), 1)
    # Under independence chi2 ~ chi2((r-1)(k-1)); V grows with chi2, so V stays
    # below its value at the 1 - alpha quantile with probability 1 - alpha.
    df = (r - 1) * (k - 1)
    q = scipy.stats.chi2.ppf(1 - alpha, df)
    bound = math.sqrt(max(0, q / n - df / (n - 1)) / (r - 1 - (r - 1) ** 2 / (n - 1)))
    assert bound < 0.05
    assert 0 <= cramers_v(table) < bound


def test_cramers_v_refuses_a_bad_table_and_is_zero_without_two_categories():
    with pytest.raises(ValidationError, match="non-negative finite counts"):
        cramers_v([[1, -1], [0, 2]])
    with pytest.raises(ValidationError, match="non-negative finite counts"):
        cramers_v([[1, np.nan], [0, 2]])
    with pytest.raises(ValidationError, match="non-negative finite counts"):
        cramers_v([1, 2])
    with pytest.raises(ValidationError, match="must be a 2-D array"):
        cramers_v([["a", "b"]])
    assert cramers_v([[5, 7], [0, 0]]) == 0.0
    assert cramers_v([[0, 0], [0, 0]]) == 0.0


def test_association_reports_the_broken_pairs():
    rng = np.random.default_rng(7)
    train = np.concatenate([_dependent(4000, rng), rng.integers(0, 3, (4000, 1))], 1)
    synthetic = _independent_like(train, [4, 4, 3], rng)
    report = _report(train, train, synthetic, sizes=[4, 4, 3], names=["a", "b", "z"])
    association = report["association"]
    assert association["columns"] == ["a", "b", "z"]
    assert association["worst"][0]["columns"] == ["a", "b"]
    # population V of (a, b): P(b = a) = 0.925, so phi2 = 0.81 * 3 and V = 0.9
    assert association["worst"][0]["train"] == pytest.approx(0.9, abs=0.03)
    assert association["worst"][0]["synthetic"] < 0.06
    assert association["max_abs_difference"] == pytest.approx(
        association["worst"][0]["train"] - association["worst"][0]["synthetic"],
        abs=1e-5,
    )
    assert association["holdout_mean_abs_difference"] == 0
    matrix = np.array(association["synthetic"])
    assert (matrix == matrix.T).all() and (np.diag(matrix) == 1).all()


# --------------------------------------------------------------- ml efficacy


def _copy_target(n, rng):
    """x ~ (0.6, 0.3, 0.1), noise z ~ uniform(4) and the target y = x."""
    x = rng.choice(3, n, p=[0.6, 0.3, 0.1])
    return np.stack([x, rng.integers(0, 4, n), x], axis=1)


def test_tstr_real_beats_a_synthetic_table_that_breaks_the_dependence():
    rng = np.random.default_rng(8)
    train, holdout = _copy_target(3000, rng), _copy_target(2000, rng)
    synthetic = _independent_like(train, [3, 4, 3], rng)
    report = _report(
        train,
        holdout,
        synthetic,
        names=["x", "z", "y"],
        sizes=[3, 4, 3],
        ordered=[False, True, False],
    )
    ml = report["ml_efficacy"]
    assert ml["target"] == "y" and ml["test_rows"] == 2000
    assert ml["accuracy_real"] == 1.0 and ml["macro_f1_real"] == 1.0
    # predicting class 0 scores the holdout's share of 0: 0.6 +- 4 * 0.011
    assert ml["majority_baseline"] == pytest.approx(0.6, abs=0.045)
    # without the dependence, the conditional shares given (x, z), of 250
    # synthetic rows each, stay near (0.6, 0.3, 0.1), so class 0 wins everywhere
    assert ml["accuracy_synthetic"] == pytest.approx(ml["majority_baseline"], abs=0.02)
    assert ml["macro_f1_synthetic"] < 0.35  # about 0.25 = mean(0.75, 0, 0)
    assert ml["fit_rows_synthetic"] == ml["fit_rows_real"] == 3000
    assert "note" not in ml and "HistGradientBoostingClassifier" in ml["model"]


def test_tstr_names_its_target_and_handles_a_constant_one():
    rng = np.random.default_rng(9)
    train = _copy_target(600, rng)
    synthetic = train.copy()
    synthetic[:, 0] = 2  # x constant in the synthetic table
    report = _report(train, train, synthetic, names=["x", "z", "y"], target="x")
    ml = report["ml_efficacy"]
    assert ml["target"] == "x"
    assert "constant in the synthetic" in ml["note"] and "real" not in ml["note"]
    truth_share_of_2 = np.mean(train[:, 0] == 2)
    assert ml["accuracy_synthetic"] == pytest.approx(truth_share_of_2, abs=1e-6)
    assert ml["majority_baseline"] == ml["accuracy_synthetic"]
    assert ml["accuracy_real"] == 1.0  # x = y in train


def test_the_classifiers_are_reproducible():
    rng = np.random.default_rng(10)
    train, holdout = rng.integers(0, 3, (400, 4)), rng.integers(0, 3, (200, 4))
    synthetic = rng.integers(0, 3, (400, 4))
    first = _report(train, holdout, synthetic, rng=3)["ml_efficacy"]
    assert first == _report(train, holdout, synthetic, rng=3)["ml_efficacy"]


def test_without_scikit_learn_ml_efficacy_is_skipped(monkeypatch):
    monkeypatch.setitem(sys.modules, "sklearn", None)
    monkeypatch.setitem(sys.modules, "sklearn.ensemble", None)
    table = np.random.default_rng(11).integers(0, 2, (50, 3))
    report = _report(table, table, table)
    assert report["ml_efficacy"] == {"skipped": SKLEARN_MISSING}
    assert "pip install 'dpsynth[audit]'" in SKLEARN_MISSING
    assert report["marginals"][0]["mean_tvd"] == 0  # the rest still runs


# ------------------------------------------------------------ report as whole


def test_the_report_is_json_ready_and_progress_is_called():
    rng = np.random.default_rng(12)
    table = rng.integers(0, 3, (300, 4))
    calls = []
    report = _report(
        table,
        table[:100],
        rng.integers(0, 3, (300, 4)),
        progress=lambda *args: calls.append(args),
    )
    assert calls == [
        ("marginals", 1, 4),
        ("one_way", 2, 4),
        ("association", 3, 4),
        ("ml_efficacy", 4, 4),
    ]
    assert set(report) == {"rows", "marginals", "one_way", "association", "ml_efficacy"}
    assert report["rows"] == {"train": 300, "holdout": 100, "synthetic": 300}
    assert json.loads(json.dumps(report, allow_nan=False)) == report

    def plain(value):
        if isinstance(value, dict):
            return all(isinstance(k, str) and plain(v) for k, v in value.items())
        if isinstance(value, list):
            return all(plain(v) for v in value)
        return value is None or type(value) in (str, int, float, bool)

    assert plain(report)


GOOD = np.zeros((4, 2), dtype=int)


@pytest.mark.parametrize(
    ("args", "kwargs", "message"),
    [
        (
            (GOOD, np.zeros((4, 3), int), GOOD),
            {},
            "`holdout` must have the 2 columns of `train`; it has 3.",
        ),
        (
            (GOOD, GOOD, np.zeros((4, 1), int)),
            {},
            "`synthetic` must have the 2 columns of `train`; it has 1.",
        ),
        ((np.zeros((0, 2), int), GOOD, GOOD), {}, "`train` must be a non-empty 2-D"),
        ((GOOD, GOOD, np.zeros((4, 2))), {}, "`synthetic` must be a non-empty 2-D"),
        ((GOOD, GOOD, GOOD), {"target": "nope"}, "`target` ('nope') must be one of"),
        ((GOOD, GOOD, GOOD), {"names": ["a"]}, "`names` (['a']) must be 2 strings"),
        ((GOOD, GOOD, GOOD), {"names": ["a", "a"]}, "must be distinct"),
        ((GOOD, GOOD, GOOD), {"sizes": [2, 0]}, "`sizes` ([2, 0]) must be 2 integers"),
        ((GOOD, GOOD, GOOD), {"sizes": [2.0, 2.0]}, "must be 2 integers >= 1"),
        ((GOOD, GOOD, GOOD), {"ordered": [True]}, "must be 2 booleans or None"),
        ((GOOD, GOOD, GOOD), {"max_triples": -1}, "`max_triples` (-1) must be >= 0."),
        ((GOOD, GOOD, GOOD), {"max_triples": 2.5}, "must be an integer"),
        ((GOOD, GOOD, GOOD), {"progress": 3}, "`progress` (3) must be callable"),
        ((GOOD, GOOD, GOOD), {"rng": -1}, "`rng` (-1) must be a non-negative seed"),
        (
            (GOOD, GOOD, GOOD + [[0, 0], [0, 0], [0, 0], [0, 2]]),
            {},
            "`synthetic` holds codes outside [0, 2) in column 'b' (min 0, max 2).",
        ),
    ],
)
def test_bad_arguments_are_refused(args, kwargs, message):
    kwargs = {"names": ["a", "b"], "sizes": [2, 2], **kwargs}
    with pytest.raises(ValidationError, match=re.escape(message)):
        utility_report(*args, **kwargs)
