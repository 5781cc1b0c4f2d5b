import math
import re
from statistics import NormalDist

import numpy as np
import pandas as pd
import pytest

from dpsynth.data import discovery
from dpsynth.data.discovery import _merge_edges, _Plan, _plan, discover
from dpsynth.data.encoding import Encoder
from dpsynth.data.schema import CategoricalColumn, IntegerColumn, Schema
from dpsynth.errors import BudgetExceededError, PrivacyWarning, ValidationError
from dpsynth.privacy.accountant import PrivacyAccountant

KINDS = {
    "city": "categorical",
    "age": "integer",
    "pay": "numeric",
    "day": "datetime",
    "kids": "integer",
}


def table(n: int = 4000, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    city = rng.choice(["Oslo", "Rome", "Lima"], size=n).astype(object)
    city[0] = "Hamlet-with-one-resident"  # held by a single row
    city[1] = None
    pay = rng.uniform(0, 1000, size=n)
    pay[2] = np.nan
    return pd.DataFrame(
        {
            "city": city,
            "age": rng.integers(20, 80, size=n),
            "pay": pay,
            "day": pd.Timestamp("2021-01-01")
            + pd.to_timedelta(rng.integers(0, 365, size=n), unit="D"),
            "kids": rng.integers(0, 4, size=n),
        }
    )


def test_discover_spends_within_budget_and_records_provenance():
    acc = PrivacyAccountant(epsilon=4.0, delta=1e-6)
    schema = discover(
        table(), epsilon=4.0, delta=1e-6, accountant=acc, kinds=KINDS, bins=4
    )
    assert acc.epsilon() <= 4.0
    prov = schema.provenance
    assert prov["method"] == "discover" and prov["private"] is True and schema.private
    assert prov["epsilon"] == pytest.approx(acc.epsilon())
    assert prov["delta"] == 1e-6 and prov["kinds_from_dtypes"] == []
    assert prov["ledger"]  # the accountant's ledger, JSON-ready
    assert Schema.from_dict(schema.to_dict()) == schema
    assert schema.names == tuple(KINDS)
    assert all(c.missing == "code" for c in schema.columns)
    # the table it came from encodes without errors (other, missing, clip)
    Encoder(schema).encode(table())


def test_discovered_categories_keep_frequent_and_never_rare_values():
    schema = discover(table(), epsilon=4.0, delta=1e-6, kinds=KINDS, bins=4)
    city = schema.column("city")
    assert isinstance(city, CategoricalColumn) and city.unknown == "other"
    # A value held by one row is released with probability at most the threshold
    # delta (5e-7 here): a false failure rate below 1e-6.
    assert "Hamlet-with-one-resident" not in city.categories
    # ~1333 rows each; the test below fails only if a Laplace draw falls more than
    # 20 scales below its count (probability < 1e-8 per value).
    plan = _plan_for_test(n_cat=1, n_bounded=4, bins=4, epsilon=4.0, delta=1e-6)
    threshold = discovery_threshold(plan)
    assert threshold + 20 * plan.category_scale < 1200
    assert city.categories == ("Lima", "Oslo", "Rome")


def test_kinds_from_dtypes_are_warned_and_recorded():
    df = table()[["city", "age"]]
    with pytest.warns(PrivacyWarning, match=re.escape("columns ['city', 'age']")):
        schema = discover(df, epsilon=2.0, delta=1e-6, bins=2)
    assert schema.provenance["kinds_from_dtypes"] == ["city", "age"]


def test_plan_ends_within_a_hair_of_the_budget():
    plan = _plan_for_test(n_cat=3, n_bounded=4, bins=16, epsilon=1.0, delta=1e-9)
    acc = PrivacyAccountant(epsilon=1.0, delta=1e-9)
    for event, count in plan.events(3, 4, 15):
        acc.spend(event, count=count)
    assert 0.999 < acc.epsilon() <= 1.0


def test_budget_is_refused_before_any_noise():
    acc = PrivacyAccountant(epsilon=1e-3, delta=1e-6)
    with pytest.raises(BudgetExceededError):
        discover(table(), epsilon=1.0, delta=1e-6, accountant=acc, kinds=KINDS)
    assert acc.epsilon() == 0


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"epsilon": 0.0}, "`epsilon` (0.0) must be a positive, finite number."),
        ({"delta": 1.0}, "`delta` (1.0) must be in the open interval (0, 1)."),
        ({"bins": 0}, "`bins` (0) must be an integer >= 1."),
        ({"bounds_fraction": 1.0}, "`bounds_fraction` (1.0) must be in the open"),
        ({"categorical_threshold_delta": 1e-3}, "`categorical_threshold_delta`"),
        ({"kinds": {"pay": "integer"}}, "`kinds` of column 'pay' ('integer') must be"),
        ({"kinds": {"nope": "integer"}}, "`kinds` (['nope']) must be columns"),
    ],
)
def test_bad_arguments_spend_nothing(kwargs, message):
    acc = PrivacyAccountant(epsilon=1.0, delta=1e-6)
    args = {"epsilon": 1.0, "delta": 1e-6, "accountant": acc, "kinds": KINDS} | kwargs
    with pytest.raises(ValidationError, match=re.escape(message)):
        discover(table(200), **args)
    assert acc.epsilon() == 0


def test_bounds_post_processing_with_exact_counts(monkeypatch):
    # Post-processing tested on fixed measurements: the "noisy" counts are exact.
    monkeypatch.setattr(
        "dpsynth.mechanisms.gaussian_counts", lambda counts, **_: np.asarray(counts)
    )
    plan = _Plan(category_scale=1, category_delta=1e-9, bound_sigma=1, edge_epsilon=1)
    acc = PrivacyAccountant.unlimited()
    values = np.repeat(np.array([17, 40, 90]), 100)
    # int grid ... 10, 18, 32, 56, 100 ...: bins [10, 18) and [56, 100) are occupied
    assert discovery._bounds(values, "integer", plan, acc, "age") == (10, 99)
    floats = np.repeat(np.array([0.5, 2.0]), 100)
    low, high = discovery._bounds(floats, "numeric", plan, acc, "x")
    assert (low, high) == (pytest.approx(10**-0.5), pytest.approx(10**0.5))
    # a single value gets a range of two values
    assert discovery._bounds(np.zeros(50, np.int64), "integer", plan, acc, "z") == (
        0,
        1,
    )


def test_merge_edges_isolates_point_masses():
    grid = np.arange(0, 101, 10)
    found = np.array([0, 0, 0, 40, 70, 70])
    assert _merge_edges(found, grid, "integer") == [0, 1, 40, 70, 71, 100]
    assert _merge_edges(found.astype(float), grid.astype(float), "numeric") == [
        0.0,
        10.0,
        40.0,
        70.0,
        80.0,
        100.0,
    ]


def test_integer_column_with_few_values_gets_one_code_per_value(monkeypatch):
    # The bounds stretch to an empty bin of the grid when its noisy count passes
    # the threshold z * sigma. The discrete Gaussian is sigma^2-subgaussian
    # (Canonne, Kamath, Steinke 2020), so P(noise >= z * sigma) <= exp(-z^2 / 2)
    # per bin; the default z (a 1% chance over all bins) would fail this test
    # about once in a hundred runs. Raise z until the union over the bins of the
    # grid is below 1e-6 and check that the occupied bins still pass easily.
    bins_in_grid = len(discovery._bound_grid("integer")) + 1
    z = math.sqrt(2 * math.log(bins_in_grid / 1e-6))
    monkeypatch.setattr(
        discovery, "BOUND_FALSE_BIN", bins_in_grid * (1 - NormalDist().cdf(z))
    )
    plan = _plan_for_test(n_cat=1, n_bounded=4, bins=8, epsilon=4.0, delta=1e-6)
    # each of the 4 values holds about 1000 of the 4000 rows (fewer than 800 with
    # probability < 1e-30); missing one takes noise below -30 sigma
    assert z * plan.bound_sigma + 30 * plan.bound_sigma < 800
    schema = discover(table(), epsilon=4.0, delta=1e-6, kinds=KINDS, bins=8)
    kids = schema.column("kids")
    assert isinstance(kids, IntegerColumn) and kids.bins is None
    assert kids.lower <= 0 and kids.upper >= 3 and kids.upper - kids.lower < 8


def _plan_for_test(*, n_cat, n_bounded, bins, epsilon, delta) -> _Plan:
    return _plan(
        n_cat=n_cat,
        n_bounded=n_bounded,
        n_edges=bins - 1,
        epsilon=epsilon,
        delta=delta,
        category_delta=delta * discovery.THRESHOLD_DELTA_SHARE / max(n_cat, 1),
        fraction=0.5,
    )


def discovery_threshold(plan: _Plan) -> int:
    from dpsynth.mechanisms import threshold_for_delta

    return threshold_for_delta(plan.category_scale, plan.category_delta)


def test_bound_grid_is_data_independent_and_wide():
    ints = discovery._bound_grid("integer")
    floats = discovery._bound_grid("numeric")
    assert ints[0] == -(10**12) and ints[-1] == 10**12 and 0 in ints
    assert np.all(np.diff(ints) > 0) and np.all(np.diff(floats) > 0)
    assert math.isclose(floats[len(floats) // 2 + 1], 1e-3)
