"""Fixtures for the mechanism unit tests."""

from __future__ import annotations

import opendp.mod
import pytest

from dpsynth.privacy.accountant import PrivacyAccountant


class SamplingReached(Exception):
    """Raised by the spy when an OpenDP measurement is invoked (noise drawn)."""


class SamplerSpy:
    """Replaces every OpenDP measurement invocation; records it and raises."""

    exception = SamplingReached

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, *args: object, **kwargs: object) -> None:
        self.calls += 1
        raise SamplingReached


@pytest.fixture
def sampler_spy(monkeypatch: pytest.MonkeyPatch) -> SamplerSpy:
    """Any OpenDP measurement invocation (the only way noise is drawn) is caught."""
    spy = SamplerSpy()
    monkeypatch.setattr(opendp.mod.Measurement, "__call__", spy)
    monkeypatch.setattr(opendp.mod.Measurement, "invoke", spy)
    return spy


@pytest.fixture
def unlimited() -> PrivacyAccountant:
    return PrivacyAccountant.unlimited(delta=1e-9)


@pytest.fixture
def tight() -> PrivacyAccountant:
    """A small budget that every 'expensive' call in these tests overshoots."""
    return PrivacyAccountant(epsilon=0.5, delta=1e-9)


def _spent(accountant: PrivacyAccountant) -> list[tuple[object, int]]:
    return [(entry.event, entry.count) for entry in accountant.ledger]


@pytest.fixture
def spent():
    """``spent(accountant)``: the ledger as a list of (event, count)."""
    return _spent
