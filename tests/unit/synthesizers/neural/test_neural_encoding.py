"""The neural representation (no torch needed) and the missing-extra error."""

from __future__ import annotations

import importlib
import re

import numpy as np
import pandas as pd
import pytest

from dpsynth.data import Domain
from dpsynth.data.encoding import Encoder
from dpsynth.data.schema import CategoricalColumn, IntegerColumn, Schema
from dpsynth.privacy.accountant import PrivacyAccountant
from dpsynth.release import default_method
from dpsynth.synthesizers import SYNTHESIZERS, make_synthesizer
from dpsynth.synthesizers.neural import MissingExtraError, TabularRepresentation
from dpsynth.synthesizers.neural import _torch as neural_torch

SCHEMA = Schema(
    (
        CategoricalColumn(name="colour", categories=("red", "green", "blue")),
        IntegerColumn(name="age", lower=0, upper=99, bins=10),
    )
)


def _table(seed: int, n: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "colour": rng.choice(["red", "green", "blue"], n, p=[0.8, 0.1, 0.1]),
            "age": rng.integers(0, 100, n) if seed else rng.integers(0, 20, n),
        }
    )


def test_representation_comes_from_the_schema_alone():
    # two different tables with the same schema: the same representation, and
    # the same row gets the same one-hot vector in both
    enc = Encoder(SCHEMA)
    first, second = enc.encode(_table(0, 50)), enc.encode(_table(1, 300))
    rep = TabularRepresentation.from_schema(SCHEMA)
    assert rep == TabularRepresentation.from_schema(first.domain)
    assert rep == TabularRepresentation.from_schema(second.domain)
    assert rep.width == 3 + 10
    assert [(b.column, b.start, b.size) for b in rep.blocks] == [
        ("colour", 0, 3),
        ("age", 3, 10),
    ]
    row = pd.DataFrame({"colour": ["blue"], "age": [15]})
    expected = np.zeros((1, 13), dtype=np.float32)
    expected[0, [2, 3 + 1]] = 1.0
    np.testing.assert_array_equal(rep.encode(enc.encode(row)), expected)
    both = rep.encode(first)
    assert both.dtype == np.float32 and both.shape == (50, 13)
    np.testing.assert_array_equal(both.sum(axis=1), 2.0)


def test_sample_codes_follows_the_block_softmax():
    rep = TabularRepresentation.from_schema(Domain({"a": 2, "b": 3}))
    logits = np.full((4000, 5), -50.0)
    logits[:, 1] = 0.0  # a = 1 surely
    logits[:, 2:5] = np.log([0.2, 0.3, 0.5])  # b ~ (0.2, 0.3, 0.5)
    codes = rep.sample_codes(logits, np.random.default_rng(0))
    assert set(codes.column("a")) == {1}
    freq = np.bincount(codes.column("b"), minlength=3) / 4000
    # binomial sd <= 0.008; 5 sd
    np.testing.assert_allclose(freq, [0.2, 0.3, 0.5], atol=0.04)


def test_dptvae_is_registered_and_aim_stays_the_default():
    assert "dptvae" in SYNTHESIZERS
    assert default_method() == "aim"
    assert make_synthesizer("dptvae", epochs=3).get_params()["epochs"] == 3


def test_a_missing_torch_says_how_to_install_it(monkeypatch):
    real = importlib.import_module

    def no_torch(name, *args, **kwargs):
        if name in ("torch", "opacus"):
            raise ImportError(f"No module named {name!r}")
        return real(name, *args, **kwargs)

    monkeypatch.setattr(neural_torch.importlib, "import_module", no_torch)
    acc = PrivacyAccountant(epsilon=1.0, delta=1e-9)
    with pytest.raises(MissingExtraError) as info:
        make_synthesizer("dptvae").fit(_table(0, 50), schema=SCHEMA, accountant=acc)
    assert isinstance(info.value, ImportError)
    assert re.search(r"need `torch`.*pip install 'dpsynth\[neural\]'", str(info.value))
    assert len(acc.ledger) == 0
