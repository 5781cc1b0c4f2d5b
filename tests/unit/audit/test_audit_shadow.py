"""Shadow modelling: power against a copying generator, validity under the null.

Null: the factory ignores its input and draws from the population, so the
synthetic output is independent of each game's coin. The coins are iid fair
across all games, so given the total number of "in" games they fall on a
uniformly random subset, independent of which games the classifier (trained on
other games) flags: Fisher's test is exact. "No false alarm" asserts p > 1e-6
(false-failure rate <= 1e-6), and the epsilon bound at confidence 1 - 1e-6 is 0.
"""

import numpy as np
import pytest
from _population import NAMES, SIZES, audit_data, draw, split

from dpsynth.audit.battery import AuditConfig, run_audit
from dpsynth.audit.shadow import choose_shadow_targets, rarity, shadow_attack
from dpsynth.data.domain import Domain
from dpsynth.errors import ValidationError
from dpsynth.release_audit import synthesizer_factory

FALSE_ALARM = 1e-6


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(30)
    train, holdout = split(rng)
    return audit_data(train, holdout, draw(3000, rng))


def copying(codes, rng):
    return codes.copy()


def independent(codes, rng):
    return draw(codes.shape[0], rng)


def test_a_copying_generator_is_caught(data):
    r = shadow_attack(data, copying, games=30, shadow_size=500, rng=1)
    assert r.main.trials + r.control.trials == 4 * 30
    assert r.risk > 0.7 and r.p_value < 1e-10
    assert r.epsilon.lower_bound > 2
    assert [t["kind"] for t in r.details["targets"]] == [
        "outlier",
        "outlier",
        "random",
        "random",
    ]


def test_no_false_alarm_when_the_output_ignores_the_target(data):
    r = shadow_attack(
        data,
        independent,
        games=30,
        shadow_size=500,
        rng=2,
        epsilon_confidence=1 - FALSE_ALARM,
    )
    assert r.p_value > FALSE_ALARM
    assert r.epsilon.lower_bound == 0.0


def test_outliers_are_the_rarest_training_records(data):
    rows, kinds = choose_shadow_targets(
        data, outliers=3, random=2, rng=np.random.default_rng(0)
    )
    score = rarity(data.train, data.holdout, list(SIZES))
    assert score[rows[:3]].min() >= np.sort(score)[-3]
    assert kinds == ["outlier"] * 3 + ["random"] * 2
    assert len(set(rows.tolist())) == 5


def test_bad_arguments(data):
    with pytest.raises(ValidationError, match="at least one target"):
        shadow_attack(data, copying, outliers=0, random=0)
    with pytest.raises(ValidationError, match="games"):
        shadow_attack(data, copying, games=2)
    with pytest.raises(ValidationError, match="shadow_size"):
        shadow_attack(data, copying, shadow_size=10**6)


def test_a_dpsynth_synthesizer_as_the_factory_inside_the_battery(data):
    domain = Domain(dict(zip(NAMES, SIZES, strict=True)))
    factory = synthesizer_factory("independent", {}, domain, epsilon=1.0, delta=1e-9)
    out = factory(data.holdout[:200], np.random.default_rng(0))
    assert out.shape == (200, len(SIZES)) and (out < np.array(SIZES)).all()
    config = AuditConfig(
        utility=False, shadow_outliers=1, shadow_random=0, shadow_games=4,
        shadow_size=200,
    )  # fmt: skip
    rep = run_audit(data, config=config, rng=3, factory=factory, generator="indep")
    shadow = rep.attack("shadow_membership")
    assert shadow.main.trials + shadow.control.trials == 4
    assert "indep" in shadow.threat_model.knowledge
    # three membership attacks share the 95%: each bound at 1 - 0.05 / 3
    assert shadow.epsilon.confidence == pytest.approx(1 - 0.05 / 3)
    d = rep.to_dict()
    assert any("shadow-model attack refits" in x for x in d["limitations"])
