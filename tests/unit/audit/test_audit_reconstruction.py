"""The linear-reconstruction attribute attack: exact recovery, power, validity.

Independent data: the synthetic table is drawn afresh from the population, so
it is independent of the training table and the training and holdout records
are i.i.d. The attack reconstructs the training table pooled with the holdout,
in a random order, and everything it computes is a symmetric function of the
pooled records; the vector of per-record successes is therefore exchangeable,
and the targets' member/non-member labels are, given it, a uniform draw (the
targets are chosen without looking at membership). That is exactly the
hypergeometric law of Fisher's test, so P(p <= 1e-6) <= 1e-6: "no false alarm"
asserts p > 1e-6, a test whose false-failure rate is at most 1e-6.
"""

import itertools
import re

import numpy as np
import pytest
from _population import NAMES, SIZES, audit_data, draw, split

from dpsynth.audit.data import AuditData
from dpsynth.audit.membership import MembershipTargets, choose_targets
from dpsynth.audit.reconstruction import reconstruction_attack
from dpsynth.errors import ValidationError

FALSE_ALARM = 1e-6
QIS = list(NAMES[:8])  # the secret is c8 (binary)


@pytest.fixture(scope="module")
def null():
    rng = np.random.default_rng(21)
    train, holdout = split(rng)
    return audit_data(train, holdout, draw(3000, rng))


@pytest.fixture(scope="module")
def copied():
    """The generator returns its training table (1,500 records a side: the
    risk is 0.10 to 0.13 and p below 1e-10 for seeds 0 to 7)."""
    rng = np.random.default_rng(22)
    train, holdout = split(rng, n_train=1500, n_holdout=1500)
    return audit_data(train, holdout, train.copy())


def _all_records(n_train, n_holdout):
    return MembershipTargets(
        members=np.arange(n_train),
        nonmembers=np.arange(n_holdout),
        member_calibration=np.zeros(n_train, dtype=bool),
        nonmember_calibration=np.zeros(n_holdout, dtype=bool),
        rule="every record",
    )


# Twenty records on three quasi-identifiers (4 codes each) and a binary secret.
# Fifteen of them share every one of their pair cells with another record, so
# no single query reveals their secret, yet the 31 occupied cells determine all
# twenty secrets (the query matrix has full column rank, checked below).
QUASI = [
    [1, 1, 1], [2, 2, 1], [3, 2, 3], [1, 2, 2], [2, 1, 3],
    [2, 1, 1], [0, 3, 2], [0, 1, 3], [3, 2, 2], [3, 0, 3],
    [1, 1, 3], [2, 3, 1], [1, 1, 2], [2, 0, 3], [3, 0, 2],
    [0, 1, 2], [1, 3, 1], [2, 0, 2], [1, 3, 2], [1, 2, 3],
]  # fmt: skip
SECRET = [1, 0, 0, 1, 1, 0, 1, 0, 0, 1, 0, 1, 1, 0, 0, 1, 0, 1, 0, 0]


def test_reconstruction_recovers_secrets_that_the_answers_determine():
    records = np.column_stack([QUASI, SECRET])
    cells = [
        [int(r[a] == u and r[b] == v) for r in records]
        for a, b in itertools.combinations(range(3), 2)
        for u, v in sorted({(r[a], r[b]) for r in records})
    ]
    assert np.linalg.matrix_rank(np.array(cells)) == 20
    singletons = {tuple(np.flatnonzero(c)) for c in cells if sum(c) == 1}
    assert len(singletons) == 5
    # the synthetic table is the pooled table: every answer is the exact count
    data = AuditData.from_codes(
        records[:10], records[10:], records.copy(), sizes=[4, 4, 4, 2]
    )
    r = reconstruction_attack(
        data,
        _all_records(10, 10),
        secret="c3",
        quasi_identifiers=["c0", "c1", "c2"],
        rng=0,
    )
    assert r.main.rate == 1.0 and r.control.rate == 1.0
    assert r.details["queries"] == r.details["candidate_queries"] == len(cells)
    assert r.details["reconstructed_code"] == 1  # the rarer value (9 of 20)
    assert np.all(r.per_record > 0.99)  # the estimates themselves are exact


def test_reconstruction_catches_a_copied_training_table(copied):
    r = reconstruction_attack(
        copied,
        choose_targets(copied, rng=1),
        secret="c8",
        quasi_identifiers=QIS,
        rng=2,
    )
    assert r.name == "reconstruction_attribute" and r.criterion == "attribute"
    assert r.main.rate > 0.75 and r.risk > 0.05
    assert r.p_value < 1e-8
    # per-record exposure is 1 - |estimate - secret bit|: above 1/2 on a hit
    assert r.per_record.shape == r.target_rows.shape == (r.main.trials,)
    assert int((r.per_record > 0.5).sum()) == r.main.successes


def test_reconstruction_no_false_alarm_on_independent_data(null):
    for seed, secret in enumerate(["c8", "c1"]):
        qis = [n for n in NAMES if n != secret]
        r = reconstruction_attack(
            null,
            choose_targets(null, rng=seed),
            secret=secret,
            quasi_identifiers=qis,
            rng=seed + 10,
        )
        assert r.p_value > FALSE_ALARM, secret
        assert r.main.trials == r.control.trials > 500


def test_reconstruction_binarises_the_secret_as_documented(null):
    targets = choose_targets(null, rng=3)
    for secret in ("c8", "c1"):  # binary, and six values
        j = NAMES.index(secret)
        count = np.bincount(null.synthetic[:, j], minlength=SIZES[j])
        # the share closest to 1/2 (in integers: a binary secret ties exactly),
        # then the rarer value
        expected = min(
            range(SIZES[j]), key=lambda c: (abs(2 * count[c] - 3000), count[c])
        )
        r = reconstruction_attack(
            null,
            targets,
            secret=secret,
            quasi_identifiers=[n for n in NAMES if n != secret],
            rng=4,
        )
        assert r.details["reconstructed_code"] == expected
        if SIZES[j] == 2:
            assert count[expected] < 1500
            assert not r.notes
        else:
            assert "has 6 values" in r.notes[0]


def test_reconstruction_caps_queries_and_is_reproducible(null):
    targets = choose_targets(null, rng=5)
    kw = {"secret": "c8", "quasi_identifiers": QIS, "max_queries": 50}
    r = reconstruction_attack(null, targets, rng=6, **kw)
    again = reconstruction_attack(null, targets, rng=6, **kw)
    assert r.details["queries"] == 50 < r.details["candidate_queries"]
    assert "50 of" in r.notes[-1]
    assert (r.main, r.control) == (again.main, again.control)
    # one quasi-identifier: its own cells are the queries
    one = reconstruction_attack(
        null, targets, secret="c8", quasi_identifiers=["c3"], rng=7
    )
    assert one.details["queries"] == SIZES[3]


def test_reconstruction_checks_its_arguments(null):
    targets = choose_targets(null, rng=0)

    def attack(**kw):
        args = {"secret": "c8", "quasi_identifiers": QIS} | kw
        return reconstruction_attack(null, targets, **args)

    with pytest.raises(ValidationError, match="not among the audited columns"):
        attack(secret="nope")
    with pytest.raises(
        ValidationError,
        match=re.escape("The secret 'c0' must not also be a quasi-identifier."),
    ):
        attack(secret="c0", quasi_identifiers=["c0", "c1"])
    with pytest.raises(ValidationError, match=re.escape("`max_queries` (0) must")):
        attack(max_queries=0)
    with pytest.raises(ValidationError, match="must be an integer"):
        attack(max_queries=2.5)
    constant = null.synthetic.copy()
    constant[:, 8] = 1
    flat = audit_data(null.train, null.holdout, constant)
    with pytest.raises(
        ValidationError,
        match=re.escape(
            "The secret 'c8' takes a single value in the synthetic table: there "
            "is nothing to reconstruct."
        ),
    ):
        reconstruction_attack(flat, targets, secret="c8", quasi_identifiers=QIS, rng=0)
