import json
import re

import numpy as np
import pytest

from dpsynth._random import as_generator
from dpsynth.errors import ValidationError
from dpsynth.privacy.events import (
    ApproxDPEvent,
    ExponentialEvent,
    GaussianEvent,
    LaplaceEvent,
    PureDPEvent,
    SampledGaussianEvent,
    ZCDPEvent,
    event_from_dict,
)

SGE = SampledGaussianEvent

ALL_EVENTS = [
    GaussianEvent(sigma=3.0, l2_sensitivity=1.0, label="m", columns=("a", "b")),
    LaplaceEvent(scale=2.0, l1_sensitivity=1.0, label="l"),
    ExponentialEvent(epsilon=0.5, label="select", columns=("a",)),
    ZCDPEvent(rho=0.1),
    PureDPEvent(epsilon=1.0),
    ApproxDPEvent(epsilon=1.0, delta=1e-9, label="categories"),
    SampledGaussianEvent(noise_multiplier=1.1, sample_rate=0.01, steps=100),
]


def test_seeded_generators_agree_and_none_is_fresh():
    assert as_generator(3).integers(1 << 30) == as_generator(3).integers(1 << 30)
    g = np.random.default_rng(1)
    assert as_generator(g) is g
    seq = np.random.SeedSequence(5)
    assert (
        as_generator(seq).random() == as_generator(np.random.SeedSequence(5)).random()
    )
    draws = {as_generator(None).integers(1 << 62) for _ in range(3)}
    assert len(draws) == 3


@pytest.mark.parametrize("bad", [-1, 1.5, "7", True])
def test_bad_rng_is_refused(bad):
    with pytest.raises(ValidationError, match="rng"):
        as_generator(bad)


@pytest.mark.parametrize("event", ALL_EVENTS, ids=lambda e: e.kind)
def test_event_json_round_trip(event):
    text = json.dumps(event.to_dict())
    assert event_from_dict(json.loads(text)) == event


def test_events_are_frozen_and_relabel_copies():
    e = GaussianEvent(sigma=1.0, label="x")
    with pytest.raises(AttributeError):
        e.sigma = 2.0  # type: ignore[misc]
    assert e.relabel("y").label == "y" and e.label == "x"


@pytest.mark.parametrize(
    ("factory", "message"),
    [
        (lambda: GaussianEvent(sigma=0.0), "`sigma` (0.0) must be a positive, finite"),
        (lambda: GaussianEvent(sigma=float("nan")), "`sigma` (nan)"),
        (lambda: LaplaceEvent(scale=-1.0), "`scale` (-1.0)"),
        (lambda: ExponentialEvent(epsilon=float("inf")), "`epsilon` (inf)"),
        (
            lambda: ApproxDPEvent(epsilon=1.0, delta=1.0),
            "`delta` (1.0) must be in [0, 1)",
        ),
        (
            lambda: SampledGaussianEvent(
                noise_multiplier=1.0, sample_rate=0.0, steps=1
            ),
            "`sample_rate` (0.0)",
        ),
        (
            lambda: SampledGaussianEvent(
                noise_multiplier=1.0, sample_rate=0.1, steps=0
            ),
            "`steps` (0)",
        ),
        (lambda: ZCDPEvent(rho=1.0, columns="ab"), "`columns` ('ab')"),
    ],
)
def test_bad_event_parameters(factory, message):
    with pytest.raises(ValidationError, match=re.escape(message)):
        factory()


def test_unknown_event_kind():
    with pytest.raises(ValidationError, match="must be one of"):
        event_from_dict({"kind": "magic", "epsilon": 1.0})
    with pytest.raises(ValidationError, match="Bad 'gaussian' event"):
        event_from_dict({"kind": "gaussian", "sigma": 1.0, "tau": 2})
