import copy
import json

import pytest

from dpsynth.errors import ValidationError
from dpsynth.privacy.accountant import PrivacyAccountant
from dpsynth.privacy.events import ApproxDPEvent, ExponentialEvent, GaussianEvent
from dpsynth.privacy.verify import describe_event, verify_ledger


@pytest.fixture
def ledger() -> dict:
    acc = PrivacyAccountant(epsilon=2.0, delta=1e-9)
    acc.spend(GaussianEvent(sigma=15.0, columns=("age",)), label="1-way age", count=3)
    acc.spend(ExponentialEvent(epsilon=0.2), label="select pair", count=2)
    acc.spend(ApproxDPEvent(epsilon=0.1, delta=1e-12), label="categories")
    acc.spend(GaussianEvent(sigma=25.0), label="2-way age x sex")
    return json.loads(acc.to_json())


def test_untouched_ledger_verifies(ledger):
    result = verify_ledger(ledger)
    assert result.ok and result.within_budget and result.final_matches
    assert result.mismatches == ()
    assert result.recomputed_epsilon == ledger["epsilon"]
    assert result.method == ledger["method"]
    assert "verdict: OK" in result.summary()
    assert verify_ledger({"ledger": ledger, "other": 1}).ok  # a manifest


def test_changed_sigma_is_detected(ledger):
    bad = copy.deepcopy(ledger)
    bad["entries"][0]["event"]["sigma"] = 30.0  # claims more noise than was used
    result = verify_ledger(bad)
    assert not result.ok
    assert [m.index for m in result.mismatches] == [0, 1, 2, 3]
    assert not result.final_matches
    assert result.recomputed_epsilon < ledger["epsilon"]
    assert "verdict: FAILED" in result.summary()
    assert "MISMATCH" in result.summary()


def test_changed_running_epsilon_is_detected(ledger):
    bad = copy.deepcopy(ledger)
    bad["entries"][1]["epsilon_after"] *= 0.9
    result = verify_ledger(bad)
    assert not result.ok and result.final_matches
    assert [(m.index, m.recorded) for m in result.mismatches] == [
        (1, bad["entries"][1]["epsilon_after"])
    ]


def test_changed_final_epsilon_or_dropped_entry_is_detected(ledger):
    bad = copy.deepcopy(ledger)
    bad["epsilon"] = 0.5
    assert not verify_ledger(bad).ok
    dropped = copy.deepcopy(ledger)
    del dropped["entries"][2]
    assert not verify_ledger(dropped).ok


def test_ledger_over_its_budget_fails(ledger):
    bad = copy.deepcopy(ledger)
    bad["budget"]["epsilon"] = 0.5
    result = verify_ledger(bad)
    assert not result.ok and not result.within_budget and result.final_matches
    assert "within budget: NO" in result.summary()


def test_unreadable_ledgers_raise():
    with pytest.raises(ValidationError, match="format 'dpsynth-ledger'"):
        verify_ledger({"format": "other"})
    with pytest.raises(ValidationError, match="neighbouring"):
        verify_ledger(
            {
                "format": "dpsynth-ledger",
                "version": 1,
                "neighbouring": "replace_one",
                "budget": {"epsilon": 1.0, "delta": 0.0},
                "entries": [],
            }
        )


def test_summary_lists_every_entry(ledger):
    text = verify_ledger(ledger).summary()
    assert "1-way age" in text and "2-way age x sex" in text
    assert describe_event(GaussianEvent(sigma=2.5)) == (
        "gaussian(sigma=2.5, l2_sensitivity=1)"
    )
