"""Privacy events: frozen records of *what ran* on the sensitive data.

An event states a mechanism and its parameters, never a privacy cost: the cost is
derived in one place (:mod:`dpsynth.privacy.conversions`) and composed by the
:class:`~dpsynth.privacy.accountant.PrivacyAccountant`. Once released, the meaning
of an event kind never changes, because ledgers written today must be verifiable
later (``kind`` names are part of the ledger format).

All events are stated under the add/remove-one-row neighbouring relation (unbounded
DP, see ``docs/privacy.md``); sensitivities are worst-case changes of the measured
query when one row is added or removed.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any, ClassVar

from dpsynth.errors import ValidationError

__all__ = [
    "ApproxDPEvent",
    "DpEvent",
    "ExponentialEvent",
    "GaussianEvent",
    "LaplaceEvent",
    "PureDPEvent",
    "SampledGaussianEvent",
    "ZCDPEvent",
    "event_from_dict",
]

_REGISTRY: dict[str, type[DpEvent]] = {}


def _positive(name: str, value: float, *, allow_inf: bool = False) -> None:
    ok = isinstance(value, int | float) and not isinstance(value, bool)
    ok = ok and value > 0 and (allow_inf or math.isfinite(value))
    if not ok:
        raise ValidationError(
            f"`{name}` ({value!r}) must be a positive, finite number."
        )


@dataclass(frozen=True, kw_only=True)
class DpEvent:
    """Base of every privacy event.

    Attributes:
        label: what was measured, in words (``"2-way marginal age x sex"``).
        columns: the table columns the measured query reads.
    """

    kind: ClassVar[str] = ""
    label: str = ""
    columns: tuple[str, ...] = field(default=())

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.kind:
            _REGISTRY[cls.kind] = cls

    def __post_init__(self) -> None:
        if not isinstance(self.label, str):
            raise ValidationError(f"`label` ({self.label!r}) must be a string.")
        cols = self.columns
        if isinstance(cols, str) or not all(isinstance(c, str) for c in cols):
            raise ValidationError(
                f"`columns` ({cols!r}) must be a sequence of column names."
            )
        object.__setattr__(self, "columns", tuple(cols))

    @property
    def parameters(self) -> dict[str, float]:
        """The mechanism parameters (everything but label and columns)."""
        skip = {"label", "columns"}
        return {
            f.name: getattr(self, f.name)
            for f in dataclasses.fields(self)
            if f.name not in skip
        }

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict; :func:`event_from_dict` inverts it."""
        return {
            "kind": self.kind,
            **self.parameters,
            "label": self.label,
            "columns": list(self.columns),
        }

    def relabel(self, label: str) -> DpEvent:
        """The same event with another label."""
        return dataclasses.replace(self, label=label)


@dataclass(frozen=True, kw_only=True)
class GaussianEvent(DpEvent):
    """Discrete Gaussian noise of scale ``sigma`` added to an integer query.

    The query's outputs are integers and changing one row moves them by an integer
    vector of L2 norm at most ``l2_sensitivity`` (a histogram or marginal under
    add/remove-one has ``l2_sensitivity = 1``). The discrete Gaussian
    (Canonne, Kamath, Steinke 2020) satisfies rho-zCDP with
    ``rho = l2_sensitivity**2 / (2 * sigma**2)``, as OpenDP's privacy map states.
    """

    kind: ClassVar[str] = "gaussian"
    sigma: float
    l2_sensitivity: float = 1.0

    def __post_init__(self) -> None:
        super().__post_init__()
        _positive("sigma", self.sigma)
        _positive("l2_sensitivity", self.l2_sensitivity)


@dataclass(frozen=True, kw_only=True)
class LaplaceEvent(DpEvent):
    """Discrete Laplace (geometric) noise of ``scale`` on an integer query.

    Changing one row moves the query by at most ``l1_sensitivity`` in L1 norm; the
    mechanism is pure ``epsilon = l1_sensitivity / scale`` DP.
    """

    kind: ClassVar[str] = "laplace"
    scale: float
    l1_sensitivity: float = 1.0

    def __post_init__(self) -> None:
        super().__post_init__()
        _positive("scale", self.scale)
        _positive("l1_sensitivity", self.l1_sensitivity)


@dataclass(frozen=True, kw_only=True)
class ExponentialEvent(DpEvent):
    """One selection by the exponential mechanism (report noisy max with Gumbel noise).

    ``epsilon`` is the pure-DP loss of the selection. The mechanism is
    ``epsilon``-bounded-range, hence ``epsilon**2 / 8``-zCDP (Cesar and Rogers
    2021), which is the loss OpenDP's zCDP privacy map states for noisy max.
    """

    kind: ClassVar[str] = "exponential"
    epsilon: float

    def __post_init__(self) -> None:
        super().__post_init__()
        _positive("epsilon", self.epsilon)


@dataclass(frozen=True, kw_only=True)
class ZCDPEvent(DpEvent):
    """Any mechanism known only to satisfy ``rho``-zero-concentrated DP."""

    kind: ClassVar[str] = "zcdp"
    rho: float

    def __post_init__(self) -> None:
        super().__post_init__()
        _positive("rho", self.rho)


@dataclass(frozen=True, kw_only=True)
class PureDPEvent(DpEvent):
    """Any mechanism known only to satisfy pure ``epsilon``-DP."""

    kind: ClassVar[str] = "pure_dp"
    epsilon: float

    def __post_init__(self) -> None:
        super().__post_init__()
        _positive("epsilon", self.epsilon)


@dataclass(frozen=True, kw_only=True)
class ApproxDPEvent(DpEvent):
    """Any mechanism known only to satisfy ``(epsilon, delta)``-DP.

    Example: a Laplace-thresholded histogram over an unknown key set, whose
    ``delta`` is the chance that a key held by one row survives the threshold.
    """

    kind: ClassVar[str] = "approx_dp"
    epsilon: float
    delta: float

    def __post_init__(self) -> None:
        super().__post_init__()
        _positive("epsilon", self.epsilon)
        d = self.delta
        if not (isinstance(d, int | float) and 0 <= d < 1):
            raise ValidationError(f"`delta` ({d!r}) must be in [0, 1).")


@dataclass(frozen=True, kw_only=True)
class SampledGaussianEvent(DpEvent):
    """``steps`` rounds of the Poisson-subsampled Gaussian mechanism (DP-SGD).

    Each round includes every row independently with probability ``sample_rate``,
    clips per-row contributions to L2 norm ``C`` and adds continuous Gaussian noise
    of standard deviation ``noise_multiplier * C`` (Opacus).
    """

    kind: ClassVar[str] = "sampled_gaussian"
    noise_multiplier: float
    sample_rate: float
    steps: int

    def __post_init__(self) -> None:
        super().__post_init__()
        _positive("noise_multiplier", self.noise_multiplier)
        q = self.sample_rate
        if not (isinstance(q, int | float) and 0 < q <= 1):
            raise ValidationError(f"`sample_rate` ({q!r}) must be in (0, 1].")
        s = self.steps
        if not (isinstance(s, int) and not isinstance(s, bool) and s >= 1):
            raise ValidationError(f"`steps` ({s!r}) must be an integer >= 1.")


def event_from_dict(data: dict[str, Any]) -> DpEvent:
    """Rebuilds an event from :meth:`DpEvent.to_dict` output.

    Raises:
        ValidationError: for an unknown ``kind`` or bad parameters.
    """
    if not isinstance(data, dict) or "kind" not in data:
        raise ValidationError(f"An event record ({data!r}) must be a dict with a kind.")
    kind = data["kind"]
    cls = _REGISTRY.get(kind)
    if cls is None:
        raise ValidationError(f"`kind` ({kind!r}) must be one of {sorted(_REGISTRY)}.")
    args = {k: v for k, v in data.items() if k != "kind"}
    args["columns"] = tuple(args.get("columns", ()))
    try:
        return cls(**args)
    except TypeError as exc:
        raise ValidationError(f"Bad {kind!r} event record {data!r}: {exc}") from exc
