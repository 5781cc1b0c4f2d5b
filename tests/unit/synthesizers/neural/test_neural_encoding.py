"""The neural representation (no torch needed) and the missing-extra error."""

from __future__ import annotations

import importlib
import re

import numpy as np
import pandas as pd
import pytest

from dpsynth.data import Domain
from dpsynth.data.encoding import Encoder
from dpsynth.data.schema import (
    CategoricalColumn,
    IntegerColumn,
    NumericColumn,
    Schema,
)
from dpsynth.errors import ValidationError
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


POS_SCHEMA = Schema(
    (
        CategoricalColumn(name="colour", categories=("red", "green", "blue")),
        IntegerColumn(name="age", lower=0, upper=79, bins=10),  # 8 ages a bin
        NumericColumn(name="pay", lower=0.0, upper=4.0, bins=4),
        IntegerColumn(name="kids", lower=0, upper=3),  # one code per value
    )
)


def _pos_table(seed: int, n: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "colour": rng.choice(["red", "green", "blue"], n),
            "age": rng.integers(0, 80, n),
            "pay": rng.random(n) * 4.0,
            "kids": rng.integers(0, 4, n),
        }
    )


def test_position_blocks_come_from_the_schema_alone():
    rep = TabularRepresentation.from_schema(POS_SCHEMA, position_bins=16)
    # codes first (3 + 10 + 4 + 4), then age (2 x 8 = 16 sub-intervals: every
    # age exact) and pay (16); kids has one code per value: no position
    assert rep.code_width == 21
    assert [(b.column, b.start, b.size) for b in rep.positions] == [
        ("age", 21, 16),
        ("pay", 37, 16),
    ]
    assert [b.column for b in rep.position_parents] == ["age", "pay"]
    assert rep.width == 53
    narrow = TabularRepresentation.from_schema(POS_SCHEMA, position_bins=6)
    assert [b.size for b in narrow.positions] == [6, 6]
    # no positions without position_bins, or from a domain (codes only)
    for plain in (
        TabularRepresentation.from_schema(POS_SCHEMA),
        TabularRepresentation.from_schema(POS_SCHEMA.domain, position_bins=16),
    ):
        assert plain.positions == () and plain.width == 21
    # the same row gets the same vector whatever the rest of the table
    enc = Encoder(POS_SCHEMA)
    first, second = _pos_table(0, 40), _pos_table(1, 300)
    both = pd.concat([first, second], ignore_index=True)
    whole = rep.encode(enc.encode(both), enc.positions(both))
    part = rep.encode(enc.encode(first), enc.positions(first))
    np.testing.assert_array_equal(whole[:40], part)
    np.testing.assert_array_equal(whole.sum(axis=1), 6.0)  # 4 codes, 2 positions
    row = pd.DataFrame({"colour": ["red"], "age": [11], "pay": [2.5], "kids": [0]})
    got = rep.encode(enc.encode(row), enc.positions(row))
    # age 11 is the 4th of 8 in [8, 16): position 3.5 / 8, sub-interval 7;
    # pay 2.5 is half-way in [2, 3): sub-interval 8
    assert np.flatnonzero(got[0]).tolist() == [0, 3 + 1, 13 + 2, 17 + 0, 21 + 7, 37 + 8]


def test_positions_are_required_when_there_are_position_blocks():
    rep = TabularRepresentation.from_schema(POS_SCHEMA, position_bins=16)
    codes = Encoder(POS_SCHEMA).encode(_pos_table(0, 5)).codes
    with pytest.raises(ValidationError, match="`positions`"):
        rep.one_hot(codes)
    with pytest.raises(ValidationError, match="`positions`"):
        rep.one_hot(codes, np.zeros((5, 1)))


@pytest.mark.parametrize("bad", [1, -2, 2.5, True, "16"])
def test_position_bins_must_be_zero_or_at_least_two(bad):
    with pytest.raises(ValidationError, match="`position_bins`"):
        TabularRepresentation.from_schema(POS_SCHEMA, position_bins=bad)


def test_integer_bins_of_at_most_k_over_2_values_come_back_exactly():
    # encode, take each row's own sub-interval as a certain logit, sample a
    # position inside it: decoding gives every age back (bins of 8, K = 16)
    rep = TabularRepresentation.from_schema(POS_SCHEMA, position_bins=16)
    enc = Encoder(POS_SCHEMA)
    table = _pos_table(3, 500)
    ds = enc.encode(table)
    onehot = rep.encode(ds, enc.positions(table))
    logits = np.where(onehot > 0, 0.0, -100.0)
    head = [
        np.zeros((b.size, p.size))
        for b, p in zip(rep.positions, rep.position_parents, strict=True)
    ]
    pos = rep.sample_positions(logits, ds.codes, head, np.random.default_rng(1))
    back = enc.decode(ds, rng=2, positions=pos)
    assert back["age"].tolist() == table["age"].tolist()
    # pay (real numbers) comes back inside its sixteenth of the bin
    assert (np.abs(back["pay"] - table["pay"]) < 1.0 / 16).all()


def test_sample_positions_follow_the_softmax_shifted_by_the_head():
    # K = 16 sub-intervals of pay. The head adds +60 to sub-interval 3 for pay's
    # bin 1 only: those rows all land in [3/16, 4/16); the others draw from
    # flat logits, uniform over the 16 sub-intervals and inside them.
    rep = TabularRepresentation.from_schema(POS_SCHEMA, position_bins=16)
    n = 40_000
    rng = np.random.default_rng(0)
    codes = np.zeros((n, 4), dtype=np.int64)
    codes[:, 2] = rng.integers(0, 2, n)  # pay's bin: 0 or 1
    logits = np.zeros((n, rep.width))
    head = [np.zeros((16, 10)), np.zeros((16, 4))]
    head[1][3, 1] = 60.0
    pos = rep.sample_positions(logits, codes, head, np.random.default_rng(1))
    shifted = codes[:, 2] == 1
    assert ((pos[shifted, 1] >= 3 / 16) & (pos[shifted, 1] < 4 / 16)).all()
    flat = pos[~shifted, 1]
    # each sixteenth holds Binomial(m, 1/16) rows; Hoeffding with a two-sided
    # failure rate of 1e-6 for all 16 together: |freq - 1/16| <= t
    m = flat.size
    t = np.sqrt(np.log(2 * 16 / 1e-6) / (2 * m))
    freq = np.bincount(np.floor(flat * 16).astype(int), minlength=16) / m
    assert np.abs(freq - 1 / 16).max() <= t
    # and age's (unshifted) positions are uniform over [0, 1] the same way
    freq = np.bincount(np.floor(pos[:, 0] * 16).astype(int), minlength=16) / n
    assert np.abs(freq - 1 / 16).max() <= np.sqrt(np.log(2 * 16 / 1e-6) / (2 * n))


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
