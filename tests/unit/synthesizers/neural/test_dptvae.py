"""DP-TVAE: Poisson sampling, the ledger, refusals, save/load and reproducibility.

Tiny tables and a few DP-SGD steps: these check the privacy plumbing, not utility.
"""

from __future__ import annotations

import re
import warnings

import numpy as np
import opendp.mod
import pandas as pd
import pytest

torch = pytest.importorskip("torch")
opacus = pytest.importorskip("opacus")

from _small import DOMAIN, small_table  # noqa: E402
from opacus.accountants import PRVAccountant  # noqa: E402
from opacus.data_loader import DPDataLoader  # noqa: E402
from opacus.utils.uniform_sampler import UniformWithReplacementSampler  # noqa: E402

from dpsynth.errors import BudgetExceededError, ValidationError  # noqa: E402
from dpsynth.privacy.accountant import PrivacyAccountant  # noqa: E402
from dpsynth.privacy.events import SampledGaussianEvent  # noqa: E402
from dpsynth.synthesizers import Synthesizer  # noqa: E402
from dpsynth.synthesizers.neural import DPTVAESynthesizer, _dpsgd, _vae  # noqa: E402

FAST = {"epochs": 2, "steps_per_epoch": 5, "hidden_dims": (16,), "latent_dim": 4}


def _table(seed: int = 0) -> pd.DataFrame:
    return small_table(seed)


def _fit(seed: int = 1, epsilon: float = 1.0, **params) -> DPTVAESynthesizer:
    syn = DPTVAESynthesizer(**{**FAST, **params})
    return syn.fit(_table(), schema=DOMAIN, epsilon=epsilon, delta=1e-9, rng=seed)


@pytest.fixture(scope="module")
def fitted() -> DPTVAESynthesizer:
    torch.set_num_threads(1)
    return _fit()


def test_the_ledger_holds_the_count_then_one_dp_sgd_run(fitted):
    ledger = fitted.ledger
    assert [e.event.kind for e in ledger] == ["gaussian", "sampled_gaussian"]
    count, sgd = ledger[0].event, ledger[1].event
    assert count.label == "dptvae row count" and count.l2_sensitivity == 1.0
    assert isinstance(sgd, SampledGaussianEvent)
    assert sgd.sample_rate == 1 / 5 and sgd.steps == 2 * 5
    assert sgd.noise_multiplier == fitted.noise_multiplier_
    assert sgd.label == "dptvae DP-SGD (2 epochs)"
    assert sgd.columns == ("a", "b", "c")
    assert 0.995 <= ledger.epsilon <= 1.0
    again = PrivacyAccountant.from_ledger(ledger.to_dict())
    assert again.epsilon() == pytest.approx(ledger.epsilon, rel=1e-12)


def test_opacus_runs_poisson_sampling_at_the_accounted_rate(monkeypatch):
    seen = {}
    make_private = opacus.PrivacyEngine.make_private

    def spy(self, **kwargs):
        seen["kwargs"] = kwargs
        out = make_private(self, **kwargs)
        seen["loader"] = out[-1]
        return out

    monkeypatch.setattr(opacus.PrivacyEngine, "make_private", spy)
    syn = _fit(steps_per_epoch=7)  # int(1 / (1 / 7)) is 7; 99 would be 98
    loader = seen["loader"]
    assert seen["kwargs"]["poisson_sampling"] is True
    assert seen["kwargs"]["loss_reduction"] == "sum"
    assert isinstance(loader, DPDataLoader)
    assert isinstance(loader.batch_sampler, UniformWithReplacementSampler)
    assert loader.batch_sampler.sample_rate == syn.ledger[1].event.sample_rate == 1 / 7
    assert len(loader) == 7


@pytest.mark.parametrize("k", [7, 93, 99, 100])
def test_the_loader_rate_survives_opacus_rederiving_it(k):
    q, q_loader = _dpsgd.sampling_rate_for(k)
    assert q == 1 / k
    assert int(1 / q_loader) == k  # make_private re-derives 1 / len(loader)
    assert 1 / int(1 / q_loader) == q


def test_a_budget_too_small_for_the_epochs_is_refused_before_anything(monkeypatch):
    def forbidden(*args, **kwargs):
        raise AssertionError("noise was drawn or training started")

    monkeypatch.setattr(opendp.mod.Measurement, "__call__", forbidden)
    monkeypatch.setattr(opendp.mod.Measurement, "invoke", forbidden)
    monkeypatch.setattr(_vae, "train_dp_vae", forbidden)
    acc = PrivacyAccountant(epsilon=0.5, delta=1e-9)
    syn = DPTVAESynthesizer(**{**FAST, "epochs": 8, "max_noise_multiplier": 8.0})
    with pytest.raises(BudgetExceededError) as info:
        syn.fit(_table(), schema=DOMAIN, accountant=acc, rng=0)
    message = str(info.value)
    assert "`epochs` (8) needs noise multiplier" in message
    assert "above `max_noise_multiplier` (8)" in message
    assert re.search(r"at most [1-7] epoch\(s\) fit", message)
    assert "Nothing was spent or sampled" in message
    assert info.value.requested > 0.5
    assert len(acc.ledger) == 0


def test_save_load_round_trip(fitted, tmp_path):
    loaded = Synthesizer.load(fitted.save(tmp_path / "model.json"))
    assert isinstance(loaded, DPTVAESynthesizer)
    assert loaded.get_params()["secure_mode"] is False
    assert loaded.ledger.to_dict() == fitted.ledger.to_dict()
    assert loaded.estimated_rows == fitted.estimated_rows
    for (w0, b0), (w1, b1) in zip(fitted.decoder_, loaded.decoder_, strict=True):
        np.testing.assert_array_equal(w0, w1)
        np.testing.assert_array_equal(b0, b1)
    pd.testing.assert_frame_equal(fitted.sample(300, rng=4), loaded.sample(300, rng=4))
    text = (tmp_path / "model.json").read_text()
    assert "pickle" not in text and '"float32"' in text


def test_a_seed_never_reproduces_the_dp_noise(fitted):
    # A release publishes its seed: if the seed fixed Opacus's noise and Poisson
    # batches, an attacker could replay training as a deterministic function of
    # the data. The seed fixes the initial weights only, so two fits with the
    # same seed differ (the chance that fresh Gaussian noise repeats is 0).
    again = _fit()
    assert not np.array_equal(fitted.decoder_[0][0], again.decoder_[0][0])


def test_a_seed_reproduces_sampling_from_a_fitted_model(fitted):
    pd.testing.assert_frame_equal(fitted.sample(200, rng=2), fitted.sample(200, rng=2))


def test_samples_stay_in_the_domain_and_the_default_size_is_noisy(fitted):
    out = fitted.sample(rng=0)
    assert len(out) == round(fitted.estimated_rows)
    for col, size in DOMAIN.items():
        assert out[col].between(0, size - 1).all()


def test_progress_is_reported_per_epoch():
    calls = []
    syn = DPTVAESynthesizer(**{**FAST, "epochs": 3})
    syn.fit(
        _table(),
        schema=DOMAIN,
        epsilon=1.0,
        delta=1e-9,
        rng=0,
        callback=lambda stage, done, total: calls.append((stage, done, total)),
    )
    train = [c for c in calls if c[0] == "train"]
    assert train == [("train", e, 3) for e in range(4)]
    assert ("measure", 1, 1) in calls


def test_our_accountant_agrees_with_opacus_prv_within_one_percent():
    delta = 1e-9
    for nm, q, steps in [(1.0, 0.02, 500), (2.0, 0.02, 500), (5.0, 0.2, 10)]:
        ours = PrivacyAccountant.unlimited(delta=delta)
        ours.spend(
            SampledGaussianEvent(noise_multiplier=nm, sample_rate=q, steps=steps)
        )
        prv = PRVAccountant()
        prv.history = [(nm, q, steps)]
        with warnings.catch_warnings():  # Opacus's RDP bracket for the PRV domain
            warnings.filterwarnings("ignore", message="Optimal order is the largest")
            theirs = prv.get_epsilon(delta, eps_error=0.001)
        assert ours.epsilon() == pytest.approx(theirs, rel=0.01)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"epochs": 0}, "`epochs` (0) must be an integer >= 1."),
        ({"steps_per_epoch": 2.5}, "`steps_per_epoch` (2.5) must be an integer"),
        ({"hidden_dims": "64"}, "`hidden_dims` ('64') must be a list"),
        ({"max_grad_norm": -1.0}, "`max_grad_norm` (-1.0) must be a positive"),
        ({"count_fraction": 1.0}, "`count_fraction` (1.0) must be in (0, 1)."),
        ({"secure_mode": "yes"}, "`secure_mode` ('yes') must be True or False."),
    ],
)
def test_bad_hyperparameters_are_refused_before_anything(params, message):
    acc = PrivacyAccountant(epsilon=1.0, delta=1e-9)
    with pytest.raises(ValidationError, match=re.escape(message)):
        DPTVAESynthesizer(**params).fit(_table(), schema=DOMAIN, accountant=acc)
    assert len(acc.ledger) == 0


def test_secure_mode_without_torchcsprng_is_refused_with_nothing_spent():
    try:
        import torchcsprng  # noqa: F401
    except ImportError:
        pass
    else:
        pytest.skip("torchcsprng is installed")
    acc = PrivacyAccountant(epsilon=1.0, delta=1e-9)
    syn = DPTVAESynthesizer(**{**FAST, "secure_mode": True})
    with pytest.raises(ValidationError, match="needs the `torchcsprng` package"):
        syn.fit(_table(), schema=DOMAIN, accountant=acc, rng=0)
    assert len(acc.ledger) == 0
