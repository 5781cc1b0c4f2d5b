import math
import re

import pytest

from dpsynth.errors import ValidationError
from dpsynth.privacy.budget import PrivacyBudget


def test_budget_is_frozen_and_validated():
    b = PrivacyBudget(1.0, 1e-9)
    assert (b.epsilon, b.delta) == (1.0, 1e-9)
    assert PrivacyBudget(epsilon=2, delta=0).delta == 0.0
    with pytest.raises(AttributeError):
        b.epsilon = 2.0  # type: ignore[misc]


@pytest.mark.parametrize(
    ("epsilon", "delta", "message"),
    [
        (0.0, 1e-9, "`epsilon` (0.0) must be > 0."),
        (-1.0, 1e-9, "`epsilon` (-1.0) must be > 0."),
        (math.nan, 1e-9, "`epsilon` (nan) must be a number, not NaN."),
        (math.inf, 1e-9, "`epsilon` (inf) must be finite."),
        ("1", 1e-9, "`epsilon` ('1') must be a real number."),
        (1.0, 1.0, "`delta` (1.0) must be in [0, 1)."),
        (1.0, -1e-9, "`delta` (-1e-09) must be in [0, 1)."),
        (1.0, math.nan, "`delta` (nan) must be a number, not NaN."),
    ],
)
def test_budget_messages(epsilon, delta, message):
    with pytest.raises(ValidationError, match=re.escape(message)):
        PrivacyBudget(epsilon, delta)


def test_unlimited_only_through_its_constructor():
    u = PrivacyBudget.unlimited(delta=1e-6)
    assert u.is_unlimited and u.delta == 1e-6
    assert not PrivacyBudget(1.0, 0.0).is_unlimited
    with pytest.raises(ValidationError, match=re.escape("`delta` (1.5) must be in")):
        PrivacyBudget.unlimited(delta=1.5)


def test_budget_dict_round_trip():
    for b in (PrivacyBudget(0.5, 1e-9), PrivacyBudget.unlimited(delta=1e-7)):
        assert PrivacyBudget.from_dict(b.to_dict()) == b
    assert PrivacyBudget.unlimited().to_dict()["epsilon"] is None
    with pytest.raises(ValidationError, match="must be a dict"):
        PrivacyBudget.from_dict({"epsilon": 1.0})
