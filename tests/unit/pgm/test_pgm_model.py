"""GraphicalModel: construction, serialisation round trip, validation."""

import json
import re

import numpy as np
import pytest
from pgm_oracle import random_factors

from dpsynth.data.domain import Domain
from dpsynth.errors import ValidationError
from dpsynth.pgm import Factor, GraphicalModel, Measurement, estimate

DOMAIN = Domain({"a": 3, "b": 2, "c": 4, "d": 3})


def _fitted():
    rng = np.random.default_rng(0)
    ms = [
        Measurement(
            columns=cols,
            values=rng.uniform(0, 50, size=DOMAIN.project(cols).shape),
            sigma=2.0,
        )
        for cols in [("a", "b"), ("b", "c"), ("c", "d"), ("a", "d")]
    ]
    return estimate(DOMAIN, ms, iters=50)


def test_round_trip_through_json_is_exact():
    model = _fitted()
    text = json.dumps(model.to_dict())
    again = GraphicalModel.from_dict(json.loads(text))
    assert again.domain == model.domain
    assert again.cliques == model.cliques
    assert again.total == model.total
    for cols in [("a",), ("d", "a"), ("b", "c", "a"), ("a", "b", "c", "d"), ()]:
        np.testing.assert_array_equal(again.project(cols), model.project(cols))
    np.testing.assert_array_equal(
        again.sample(100, rng=1).codes, model.sample(100, rng=1).codes
    )


def test_to_dict_is_plain_json_data():
    data = _fitted().to_dict()
    assert data["format"] == "dpsynth.pgm.GraphicalModel"
    assert data["version"] == 1
    assert all(isinstance(v, float) for table in data["potentials"] for v in table)
    assert isinstance(data["total"], float)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d.pop("format"), "`data` must be a mapping with format"),
        (lambda d: d.update(version=2), "`data['version']` (2) must be 1."),
        (lambda d: d.pop("total"), "`data` is not a saved GraphicalModel"),
        (lambda d: d["potentials"].pop(), "must have one table per clique"),
        (lambda d: d["potentials"][0].pop(), "must hold"),
        (lambda d: d.update(total=-1.0), "`total` (-1.0) must be a finite number"),
        (
            lambda d: d.update(cliques=[["a"], *d["cliques"][1:]]),
            "must be the maximal cliques of a junction tree",
        ),
    ],
)
def test_from_dict_rejects_bad_data(change, message):
    data = json.loads(json.dumps(_fitted().to_dict()))
    change(data)
    with pytest.raises(ValidationError, match=re.escape(message)):
        GraphicalModel.from_dict(data)


def test_from_dict_rejects_non_mappings():
    with pytest.raises(ValidationError, match="must be a mapping"):
        GraphicalModel.from_dict([1, 2])


def test_factors_are_multiplied_into_cliques():
    rng = np.random.default_rng(1)
    factors = random_factors(rng, DOMAIN, [("a", "b"), ("a",), ("b", "a")])
    model = GraphicalModel(DOMAIN, factors, total=1.0)
    assert model.cliques[0] == ("b", "a")  # fewer codes first: b has 2, a has 3
    product = factors[0] * factors[1] * factors[2]
    expected = np.exp(product.transpose(("a", "b")).values)
    np.testing.assert_allclose(
        model.project(("a", "b")), expected / expected.sum(), rtol=1e-12
    )
    potentials = model.potentials
    assert [p.attributes for p in potentials] == list(model.cliques)
    assert "GraphicalModel(cliques=" in repr(model)


@pytest.mark.parametrize(
    ("args", "kwargs", "message"),
    [
        (({"a": 2}, []), {"total": 1.0}, "`domain` (dict) must be a Domain"),
        ((DOMAIN, ["f"]), {"total": 1.0}, "`potentials` item ('f') must be a Factor"),
        (
            (DOMAIN, [Factor(("a",), np.zeros(2))]),
            {"total": 1.0},
            "(shape (2,)) must have the domain's shape (3,)",
        ),
        (
            (DOMAIN, [Factor(("z",), np.zeros(2))]),
            {"total": 1.0},
            "must have the domain's shape (-1,)",
        ),
        ((DOMAIN, []), {"total": 0}, "`total` (0) must be a finite number > 0"),
        ((DOMAIN, []), {"total": float("nan")}, "`total` (nan) must be a finite"),
        ((DOMAIN, []), {"total": True}, "`total` (True) must be a number > 0"),
    ],
)
def test_constructor_rejects_bad_arguments(args, kwargs, message):
    with pytest.raises(ValidationError, match=re.escape(message)):
        GraphicalModel(*args, **kwargs)
