"""Within-bin positions in the neural synthesizers: learnt, sampled, saved.

A value's position inside its public bin is part of the network's input and
output (``position_bins``); these tests check that a model learns where values
sit inside their bins, that sampling decodes them there, and the plumbing
(save/load, fits without positions).
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("opacus")

from dpsynth.data.encoding import Encoder  # noqa: E402
from dpsynth.data.schema import (  # noqa: E402
    CategoricalColumn,
    IntegerColumn,
    NumericColumn,
    Schema,
)
from dpsynth.errors import ValidationError  # noqa: E402
from dpsynth.synthesizers import Synthesizer, make_synthesizer  # noqa: E402

METHODS = ["dptvae", "dpctgan"]
SMALL = {"epochs": 10, "steps_per_epoch": 10, "position_bins": 16}  # x exact
SCHEMA = Schema(
    (
        CategoricalColumn(name="g", categories=("a", "b")),
        IntegerColumn(name="x", lower=0, upper=79, bins=10),  # 8 integers a bin
        NumericColumn(name="y", lower=0.0, upper=1.0, bins=2),
    )
)
N = 2000


def _table(seed: int = 0) -> pd.DataFrame:
    """Every x is the 4th integer of its bin (x % 8 == 3); y sits at 0.1 or 0.9."""
    rng = np.random.default_rng(seed)
    g = rng.choice(["a", "b"], N)
    return pd.DataFrame(
        {"g": g, "x": 8 * rng.integers(0, 10, N) + 3, "y": np.where(g == "a", 0.1, 0.9)}
    )


def _fit(method: str, data=None, **params) -> Synthesizer:
    torch.set_num_threads(1)
    syn = make_synthesizer(method, **{**SMALL, **params})
    data = _table() if data is None else data
    return syn.fit(data, schema=SCHEMA, epsilon=10.0, delta=1e-9, rng=0)


@pytest.fixture(scope="module", params=METHODS)
def fitted(request) -> Synthesizer:
    return _fit(request.param)


def _hoeffding(n: int, rate: float = 1e-6) -> float:
    """Two-sided Hoeffding bound on a frequency of n draws (failure ``rate``)."""
    return float(np.sqrt(np.log(2 / rate) / (2 * n)))


def test_the_model_learns_where_values_sit_inside_their_bins(fitted):
    # The bins are learnt either way; the position is what makes x % 8 == 3.
    # Drawn uniformly inside its bin, x would have x % 8 == 3 one time in 8.
    # At epsilon = 10 (noise multiplier about 1) the models put nearly every
    # value there (0.96 and 0.999 when written); 0.6 is far from 1/8.
    assert fitted.positions_
    out = fitted.sample(N, rng=1)
    assert (out["x"] % 8 == 3).mean() > 0.6
    # y = 0.1 is 0.2 into [0, 0.5): position sub-interval 3 of 16
    assert ((out["y"] >= 3 / 32) & (out["y"] < 4 / 32)).mean() > 0.3


@pytest.mark.parametrize("method", METHODS)
def test_without_positions_values_are_drawn_uniformly_inside_their_bins(method):
    syn = _fit(method, position_bins=0)
    assert not syn.positions_
    out = syn.sample(N, rng=1)
    assert abs((out["x"] % 8 == 3).mean() - 1 / 8) <= _hoeffding(N)


@pytest.mark.parametrize("method", METHODS)
def test_a_fit_on_codes_has_no_positions(method):
    # a Dataset carries codes only: the model falls back to the bins
    codes = Encoder(SCHEMA).encode(_table())
    syn = _fit(method, data=codes)
    assert not syn.positions_ and syn.head_ == []
    out = syn.sample(N, rng=1)
    assert abs((out["x"] % 8 == 3).mean() - 1 / 8) <= _hoeffding(N)


def test_positions_survive_save_and_load(fitted, tmp_path):
    path = fitted.save(tmp_path / "model.json")
    loaded = Synthesizer.load(path)
    assert loaded.positions_
    for a, b in zip(fitted.head_, loaded.head_, strict=True):
        np.testing.assert_array_equal(a, b)
    pd.testing.assert_frame_equal(fitted.sample(300, rng=4), loaded.sample(300, rng=4))
    # a head that does not fit the schema is refused on load
    data = json.loads(path.read_text())
    data["model"]["position_head"] = data["model"]["position_head"][:1]
    with pytest.raises(ValidationError, match="position head"):
        Synthesizer.from_dict(data)


def test_the_ledger_pays_for_every_position_measurement(fitted):
    # DP-TVAE's positions ride in the DP-SGD run; DP-CTGAN also measures one
    # bin-by-position table per binned column, with the 1-way marginals, before
    # the DP-SGD run, and all of it lands on the budget
    labels = [e.event.label for e in fitted.ledger]
    if fitted.name == "dptvae":
        assert labels == ["dptvae row count", "dptvae DP-SGD (10 epochs)"]
    else:
        assert labels == [
            "dpctgan 1-way g",
            "dpctgan 1-way x",
            "dpctgan 1-way y",
            "dpctgan bin x position x",
            "dpctgan bin x position y",
            "dpctgan DP-SGD (10 epochs)",
        ]
        sigmas = {e.event.sigma for e in list(fitted.ledger)[:5]}
        assert len(sigmas) == 1
        # the generator's targets: each bin's share from the 1-way marginal,
        # the positions given the bin from the table
        for joint, col in zip(fitted.position_joints_, (1, 2), strict=True):
            assert joint.shape == (fitted.marginals_[col].size, 16)
            np.testing.assert_allclose(joint.sum(axis=1), fitted.marginals_[col])
    assert 0.995 * 10 <= fitted.ledger.epsilon <= 10
