"""What every registered synthesizer promises (run for each name in the registry).

New synthesizers are checked as soon as they are registered.
"""

from __future__ import annotations

import numpy as np
import opendp.mod
import pandas as pd
import pytest

from dpsynth.data import Domain
from dpsynth.data.schema import CategoricalColumn, IntegerColumn, Schema
from dpsynth.errors import BudgetExceededError, NotFittedError, ValidationError
from dpsynth.privacy.accountant import PrivacyAccountant
from dpsynth.privacy.events import ZCDPEvent
from dpsynth.synthesizers import SYNTHESIZERS, Synthesizer, make_synthesizer

NAMES = sorted(SYNTHESIZERS)
# Small but real settings where a default fit takes too long for a contract
# run (the promises do not depend on the size of the network).
SMALL: dict[str, dict[str, object]] = {
    "dptvae": {
        "epochs": 2,
        "steps_per_epoch": 10,
        "hidden_dims": (32,),
        "latent_dim": 8,
    },
    "dpctgan": {
        "epochs": 2,
        "steps_per_epoch": 10,
        "generator_dims": (32,),
        "discriminator_dims": (32,),
        "embedding_dim": 8,
    },
}
DOMAIN = Domain({"a": 3, "b": 4, "c": 2, "d": 5})
N = 3000


def _make(name: str) -> Synthesizer:
    return make_synthesizer(name, **SMALL.get(name, {}))


def _table(seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    a = rng.integers(0, 3, N)
    b = (a + rng.integers(0, 2, N)) % 4
    c = (b >= 2).astype(np.int64) ^ (rng.random(N) < 0.1)
    d = rng.integers(0, 5, N)
    return pd.DataFrame({"a": a, "b": b, "c": c.astype(np.int64), "d": d})


@pytest.fixture(scope="module")
def fitted() -> dict[str, Synthesizer]:
    data = _table()
    return {
        name: _make(name).fit(data, schema=DOMAIN, epsilon=2.0, delta=1e-9, rng=1)
        for name in NAMES
    }


@pytest.mark.parametrize("name", NAMES)
def test_ledger_lands_on_the_budget_and_verifies(fitted, name):
    ledger = fitted[name].ledger
    assert 0.995 * 2.0 <= ledger.epsilon <= 2.0
    # an independent recomputation of the recorded events gives the same epsilon
    again = PrivacyAccountant.from_ledger(ledger.to_dict())
    assert again.epsilon() == pytest.approx(ledger.epsilon, rel=1e-12)


@pytest.mark.parametrize("name", NAMES)
def test_fit_returns_self_and_leaves_input_unchanged(name):
    data = _table()
    copy = data.copy()
    syn = _make(name)
    assert syn.fit(data, schema=DOMAIN, epsilon=1.0, delta=1e-9, rng=0) is syn
    pd.testing.assert_frame_equal(data, copy)


@pytest.mark.parametrize("name", NAMES)
def test_samples_stay_in_the_domain_with_the_default_noisy_size(fitted, name):
    syn = fitted[name]
    out = syn.sample(rng=3)
    assert list(out.columns) == list(DOMAIN)
    for col, size in DOMAIN.items():
        assert out[col].between(0, size - 1).all()
    assert len(out) == max(round(syn.estimated_rows), 1)
    # The estimate is noisy but close: its noise has sd far below 5% of N at
    # epsilon = 2 for any of these synthesizers (well beyond 6 sd).
    assert abs(syn.estimated_rows - N) < 0.05 * N


@pytest.mark.parametrize("name", NAMES)
def test_same_seed_same_sample_and_save_load_round_trip(fitted, name, tmp_path):
    syn = fitted[name]
    first = syn.sample(500, rng=11)
    pd.testing.assert_frame_equal(first, syn.sample(500, rng=11))
    path = syn.save(tmp_path / "model.json")
    loaded = Synthesizer.load(path)
    assert type(loaded) is type(syn)
    assert loaded.ledger.to_dict() == syn.ledger.to_dict()
    pd.testing.assert_frame_equal(first, loaded.sample(500, rng=11))


@pytest.mark.parametrize("name", NAMES)
def test_row_order_is_not_correlated_with_any_column(fitted, name):
    out = fitted[name].sample(4000, rng=5)
    order = np.arange(len(out), dtype=np.float64)
    for col in out.columns:
        values = out[col].to_numpy(dtype=np.float64)
        if values.std() == 0:
            continue
        r = np.corrcoef(order, values)[0, 1]
        # under independence sqrt(n) r ~ N(0, 1); |z| > 5.3 has probability < 1e-7
        assert abs(r) * np.sqrt(len(out)) < 5.3, (col, r)


@pytest.mark.parametrize("name", NAMES)
def test_sample_before_fit_raises(name):
    with pytest.raises(NotFittedError, match="not fitted"):
        _make(name).sample(10)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"epsilon": 0.0, "delta": 1e-9}, "`epsilon` (0.0) must be positive"),
        ({"epsilon": -1.0, "delta": 1e-9}, "`epsilon` (-1.0) must be positive"),
        ({"epsilon": 1.0, "delta": 1.0}, "`delta` (1.0) must be in (0, 1)"),
        ({"epsilon": float("nan"), "delta": 1e-9}, "`epsilon` (nan)"),
    ],
)
def test_bad_budget_is_refused_before_anything(name, kwargs, message, monkeypatch):
    def forbidden(*args, **kw):
        raise AssertionError("noise was drawn")

    monkeypatch.setattr(opendp.mod.Measurement, "__call__", forbidden)
    monkeypatch.setattr(opendp.mod.Measurement, "invoke", forbidden)
    with pytest.raises(ValidationError) as info:
        _make(name).fit(_table(), schema=DOMAIN, **kwargs)
    assert message in str(info.value)


@pytest.mark.parametrize("name", NAMES)
def test_wrong_columns_and_bad_codes_are_refused_with_nothing_spent(name):
    acc = PrivacyAccountant(epsilon=1.0, delta=1e-9)
    wrong = _table().rename(columns={"d": "e"})
    with pytest.raises(ValidationError, match="d"):
        _make(name).fit(wrong, schema=DOMAIN, accountant=acc)
    bad = _table()
    bad.loc[3, "b"] = 4  # outside b's 4 values
    with pytest.raises(ValidationError, match="b"):
        _make(name).fit(bad, schema=DOMAIN, accountant=acc)
    assert len(acc.ledger) == 0


@pytest.mark.parametrize("name", NAMES)
def test_an_exhausted_budget_raises_before_any_noise(name, monkeypatch):
    # zCDP accounting: rho adds up, so spending what remains leaves exactly
    # nothing (under the PLD route a ledger's remaining rho depends a little
    # on the width of the next Gaussian)
    acc = PrivacyAccountant(epsilon=1.0, delta=1e-9, pld="never")
    acc.spend(ZCDPEvent(rho=acc.remaining_rho()), label="spent elsewhere")
    before = acc.ledger.to_dict()

    def forbidden(*args, **kw):
        raise AssertionError("noise was drawn")

    monkeypatch.setattr(opendp.mod.Measurement, "__call__", forbidden)
    monkeypatch.setattr(opendp.mod.Measurement, "invoke", forbidden)
    with pytest.raises(BudgetExceededError):
        _make(name).fit(_table(), schema=DOMAIN, accountant=acc)
    assert acc.ledger.to_dict() == before


@pytest.mark.parametrize("name", NAMES)
def test_an_external_accountant_is_spent_up_to_its_budget(name):
    acc = PrivacyAccountant(epsilon=2.0, delta=1e-9)
    acc.spend(ZCDPEvent(rho=0.01), label="schema discovery")
    _make(name).fit(_table(), schema=DOMAIN, accountant=acc, rng=0)
    assert 0.995 * 2.0 <= acc.epsilon() <= 2.0
    assert acc.ledger[0].event.label == "schema discovery"
    with pytest.raises(ValidationError, match="must equal the accountant"):
        _make(name).fit(_table(), schema=DOMAIN, accountant=acc, epsilon=1)


@pytest.mark.parametrize("name", NAMES)
def test_a_schema_decodes_values_back(name):
    schema = Schema(
        (
            CategoricalColumn(name="colour", categories=("red", "green", "blue")),
            IntegerColumn(name="age", lower=0, upper=99, bins=10),
        )
    )
    rng = np.random.default_rng(0)
    data = pd.DataFrame(
        {
            "colour": rng.choice(["red", "green", "blue"], N),
            "age": rng.integers(0, 100, N),
        }
    )
    syn = _make(name).fit(data, schema=schema, epsilon=1.0, delta=1e-9)
    out = syn.sample(200, rng=0)
    assert set(out["colour"]) <= {"red", "green", "blue"}
    assert out["age"].between(0, 99).all()
