"""Every attack: power on a planted leak, no false alarm on independent data.

Independent data: the synthetic table is drawn afresh from the population, so
members and non-members are exchangeable and every p-value is exactly valid;
"no false alarm" asserts p > 1e-6, a test whose false-failure rate is at most
1e-6 by the validity of Fisher's test. The empirical epsilon is computed at
confidence 1 - 1e-6 and must be 0, for the same reason.
"""

import numpy as np
import pytest
from _population import NAMES, ORDERED, SIZES, audit_data, draw, leaky, split

from dpsynth.audit.attribute import attribute_attacks, default_roles
from dpsynth.audit.data import AuditData
from dpsynth.audit.linkability import linkability_attack
from dpsynth.audit.membership import choose_targets, membership_attacks
from dpsynth.audit.singling_out import Predicate, singling_out_attacks
from dpsynth.errors import ValidationError

FALSE_ALARM = 1e-6


@pytest.fixture(scope="module")
def null():
    rng = np.random.default_rng(1)
    train, holdout = split(rng)
    return audit_data(train, holdout, draw(3000, rng))


@pytest.fixture(scope="module")
def copied():
    """The generator returns its training table."""
    rng = np.random.default_rng(2)
    train, holdout = split(rng)
    return audit_data(train, holdout, train.copy())


@pytest.fixture(scope="module")
def leak20():
    rng = np.random.default_rng(3)
    train, holdout = split(rng)
    return audit_data(train, holdout, leaky(train, rng, 0.2))


# ------------------------------------------------------------------ targets
def test_targets_are_unique_records_balanced_and_split_in_halves(null):
    t = choose_targets(null, rng=0)
    pooled = np.concatenate([null.train, null.holdout])
    rows = {tuple(r) for r in pooled}
    assert len(rows) < len(pooled)  # there are twins to exclude
    for row in np.concatenate([null.train[t.members], null.holdout[t.nonmembers]]):
        assert (pooled == row).all(axis=1).sum() == 1
    assert t.members.size == t.nonmembers.size >= 100
    assert abs(int(t.member_calibration.sum()) - t.members.size // 2) <= 1
    assert len(set(t.members.tolist())) == t.members.size
    again = choose_targets(null, rng=0)
    assert np.array_equal(again.members, t.members)


def test_targets_fall_back_to_random_records_when_nobody_is_unique():
    rng = np.random.default_rng(0)
    few = rng.integers(0, 2, size=(500, 2))
    data = AuditData.from_codes(few, few[:200].copy(), few, sizes=[2, 2])
    t = choose_targets(data, rng=1)
    assert t.members.size == 200 and "drawn at random" in t.rule
    assert t.notes and "understated" in t.notes[0]


def test_targets_reject_a_bad_size(null):
    with pytest.raises(ValidationError, match="max_targets"):
        choose_targets(null, max_targets=1)


# --------------------------------------------------------------- membership
def test_membership_no_false_alarm_on_independent_data(null):
    t = choose_targets(null, rng=3)
    for r in membership_attacks(null, t, epsilon_confidence=1 - FALSE_ALARM):
        assert r.p_value > FALSE_ALARM, r.name
        assert r.epsilon.lower_bound == 0.0, r.name
        assert 0.3 < r.roc.auc < 0.7  # 600 targets a side: AUC sd ~ 0.017


def test_membership_catches_a_copied_training_table(copied):
    dcr, density = membership_attacks(copied, choose_targets(copied, rng=4))
    # every member is at distance 0, no unique non-member is
    assert dcr.main.rate == 1.0 and dcr.control.rate == 0.0
    assert dcr.roc.auc == 1.0 and dcr.roc.tpr_at(0.001) == 1.0
    # a perfect attack on n evaluation targets a side proves log(n / 3.7) or so
    n = dcr.main.trials
    assert dcr.epsilon.lower_bound > np.log(n / 3.7) - 0.1 > 3
    assert density.risk > 0.3 and density.ci()[0] > 0
    assert density.p_value < 1e-10
    # per-record exposure: every member outscores every non-member
    assert (dcr.per_record == 1.0).all()


def test_membership_catches_a_partial_copy(leak20):
    dcr, density = membership_attacks(leak20, choose_targets(leak20, rng=5))
    # about 20% x 3000 / 3000 of members are copied
    assert 0.1 < dcr.risk < 0.35 and dcr.ci()[0] > 0
    assert dcr.p_value < 1e-6 and density.p_value < 1e-3
    assert dcr.epsilon.lower_bound > 0


# ---------------------------------------------------------------- attribute
def test_attribute_no_false_alarm_on_independent_data(null):
    secret, qis = default_roles(null)
    assert secret == "c8" and qis == list(NAMES[:8])
    for r in attribute_attacks(
        null, choose_targets(null, rng=6), secret=secret, quasi_identifiers=qis
    ):
        assert r.p_value > FALSE_ALARM, r.name
        assert r.criterion == "attribute"


def test_attribute_catches_a_copied_training_table(copied):
    secret, qis = default_roles(copied)
    nn, model, cap = attribute_attacks(
        copied, choose_targets(copied, rng=7), secret=secret, quasi_identifiers=qis
    )
    # the nearest record on all other columns is the member itself, or a twin
    # on the quasi-identifiers (ties go to the first synthetic row)
    assert nn.main.rate > 0.95 and nn.risk > 0.2 and nn.p_value < 1e-10
    assert cap.main.rate > 0.95 and cap.details["mean_cap_members"] > 0.95
    assert cap.details["matched_members"] == cap.main.trials
    # the naive-Bayes model generalises: it does not memorise
    assert abs(model.risk) < 0.1


def test_attribute_roles_are_checked(null):
    with pytest.raises(ValidationError, match="not among"):
        default_roles(null, secret="nope")
    with pytest.raises(ValidationError, match="must not also be"):
        default_roles(null, secret="c0", quasi_identifiers=["c0", "c1"])
    one = AuditData.from_codes(
        null.train[:, :1], null.holdout[:, :1], null.synthetic[:, :1], sizes=[4]
    )
    with pytest.raises(ValidationError, match="at least one quasi-identifier"):
        default_roles(one)


# -------------------------------------------------------------- singling out
def test_predicates_match_as_stated():
    codes = np.array([[0, 1], [2, 1], [3, 0]])
    assert Predicate(((0, ">=", 2), (1, "==", 1))).matches(codes).tolist() == [
        False,
        True,
        False,
    ]
    assert Predicate(((0, "<=", 0),)).matches(codes).sum() == 1


def test_singling_out_no_false_alarm_on_independent_data(null):
    for r in singling_out_attacks(null, rng=8):
        assert r.p_value > FALSE_ALARM, r.name
        if r.main.trials:
            # predicates are tuned to isolate: the rate is far from 0 on controls
            assert r.control.rate > 0.05, r.name


def test_singling_out_catches_a_copied_training_table(copied):
    uni, multi = singling_out_attacks(copied, rng=9)
    assert multi.main.trials >= 500
    assert multi.risk > 0.1 and multi.p_value < 1e-10
    assert multi.details["mean_conditions"] > 1


def test_univariate_singling_out_catches_copied_rare_values():
    # Train and holdout have the same size, so the training "subsample" is the
    # whole table. 40 training records carry a value of their own that the
    # population never has; the copying generator hands each to the attacker.
    rng = np.random.default_rng(14)
    train, holdout = draw(1500, rng), draw(1500, rng)
    sizes = list(SIZES)
    sizes[3] = SIZES[3] + 40
    train[:40, 3] = SIZES[3] + np.arange(40)
    data = AuditData.from_codes(
        train, holdout, train.copy(), sizes=sizes, names=NAMES, ordered=ORDERED
    )
    uni, _ = singling_out_attacks(data, rng=15)
    # about 20 of the rare-value predicates are counted on training, where each
    # isolates its record, and about 20 on the holdout, where none matches
    assert uni.main.trials >= 20
    assert uni.main.rate > 0.8 and uni.control.rate < 0.2
    assert uni.p_value < 1e-6


# --------------------------------------------------------------- linkability
def test_linkability_no_false_alarm_on_independent_data(null):
    r = linkability_attack(null, choose_targets(null, rng=10), rng=11)
    assert r.p_value > FALSE_ALARM
    assert r.baseline == 0.2 and r.main.trials % 5 == 0


def test_linkability_catches_a_copied_training_table(copied):
    r = linkability_attack(copied, choose_targets(copied, rng=12), rng=13)
    # a copied record bridges its two halves at distance 0
    assert r.main.rate > 0.9 and r.risk > 0.3 and r.p_value < 1e-10


def test_linkability_checks_its_arguments(null):
    t = choose_targets(null, rng=0)
    with pytest.raises(ValidationError, match="group"):
        linkability_attack(null, t, group=1)
    with pytest.raises(ValidationError, match="both sides"):
        linkability_attack(null, t, left=list(NAMES))
