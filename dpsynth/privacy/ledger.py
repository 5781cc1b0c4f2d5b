"""The ledger (what was spent, in order) and the composition engine behind it.

Composition groups identical mechanisms (same event kind and parameters; labels
and columns do not matter) in order of first appearance and evaluates every
sound route on the grouped multiset, so ``spend(e, count=k)`` and ``k`` separate
``spend(e)`` calls run exactly the same computation:

* ``zcdp``: total rho (exactly rounded sum) converted with the CKS bound; when
  every event has a zCDP bound;
* ``rdp``: total RDP curve converted with the improved conversion; always;
* ``pure``: basic composition (sum of epsilons); when every event is pure DP;
* ``pld``: composed privacy loss distributions (pessimistic); when every event
  has one and the PLD policy allows it (see :data:`PldPolicy`).

The reported epsilon is the minimum over the routes that apply. Approximate-DP
events are dominated by randomized response that reveals the input with
probability ``delta_i``; the zcdp/rdp/pure routes take their pure part and convert
at ``delta - sum(delta_i)``, the PLD route holds the ``delta_i`` as infinite loss.

**Fully adaptive ledgers.** The routes above compose mechanisms whose privacy
parameters are fixed in advance (the mechanisms themselves may be chosen
adaptively). When later parameters depend on earlier noisy outputs (AIM's
annealing), the accountant is a *privacy filter* in the sense of Rogers, Roth,
Ullman and Vadhan (2016), and only some routes remain valid: the zCDP route (rho
adds up under fully adaptive composition: the Renyi filter of Feldman and Zrnic
(2021) at every order; with deltas, the approximate-zCDP filter of Whitehouse,
Ramdas, Rogers and Wu (2023)) and, for pure budgets, basic composition. Composing
path-wise privacy loss distributions and stopping at the budget is not a valid
filter in general ("f-Differential Privacy Filters: Validity and Approximate
Solutions", arXiv:2602.06756, 2026), nor is choosing the best Renyi
order after the fact. From the entry where a ledger is declared fully adaptive
(:attr:`Ledger.adaptive_from`) the *whole* ledger composes by the zCDP route
(``delta > 0``) or basic composition (``delta = 0``) alone.
"""

from __future__ import annotations

import json
import math
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, overload

import numpy as np

from dpsynth.errors import UnsupportedEventError, ValidationError
from dpsynth.privacy import conversions as conv
from dpsynth.privacy.budget import PrivacyBudget
from dpsynth.privacy.events import DpEvent, event_from_dict

__all__ = [
    "LEDGER_FORMAT",
    "LEDGER_VERSION",
    "NEIGHBOURING",
    "Composition",
    "Ledger",
    "LedgerEntry",
    "ParsedLedger",
    "PldPolicy",
    "parse_ledger",
]

LEDGER_FORMAT = "dpsynth-ledger"
LEDGER_VERSION = 1
NEIGHBOURING = "add_remove"

#: When the PLD route applies (it also needs every event to have a PLD):
#: ``"always"`` (the default) whenever every event has a PLD (tightest; a PLD
#: composition per spend, milliseconds for the ledgers of the synthesizers);
#: ``"auto"`` only for ledgers holding an event without a zCDP bound (DP-SGD),
#: floored at the fast routes' bound of the other events so that spending never
#: lowers epsilon (cheaper for ledgers of thousands of spends); ``"never"``.
PldPolicy = Literal["auto", "always", "never"]
PLD_POLICIES: tuple[str, ...] = ("auto", "always", "never")
ROUTES: tuple[str, ...] = ("zcdp", "rdp", "pure", "pld")


def _json_float(x: float) -> float | None:
    return x if math.isfinite(x) else None


def _from_json_float(x: Any, name: str) -> float:
    if x is None:
        return math.inf
    if isinstance(x, bool) or not isinstance(x, int | float):
        raise ValidationError(f"`{name}` ({x!r}) must be a number or null.")
    return float(x)


@dataclass(frozen=True, kw_only=True)
class LedgerEntry:
    """One spend: ``count`` compositions of ``event``.

    Attributes:
        index: position in the ledger, from 0.
        event: what ran (with its label and columns).
        count: how many times it ran.
        epsilon_after: the ledger's epsilon at the budget delta after this entry.
    """

    index: int
    event: DpEvent
    count: int
    epsilon_after: float

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (an infinite epsilon is written as ``None``)."""
        return {
            "index": self.index,
            "event": self.event.to_dict(),
            "count": self.count,
            "epsilon_after": _json_float(self.epsilon_after),
        }


@dataclass(frozen=True, kw_only=True)
class Composition:
    """The result of composing a ledger at one delta.

    Attributes:
        epsilon: the minimum over the routes that apply.
        delta: the delta it is stated at.
        method: the route that gave it (``"none"`` for an empty ledger).
        routes: every route evaluated (routes that do not apply are absent).
    """

    epsilon: float
    delta: float
    method: str
    routes: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class Ledger(Sequence[LedgerEntry]):
    """An immutable snapshot of an accountant's ledger; a sequence of entries.

    Attributes:
        entries: the spends in order.
        budget: the accountant's budget.
        epsilon: the final epsilon at ``budget.delta`` (0 when empty).
        method: the route that gave it.
        pld: the accountant's PLD policy.
        adaptive_from: the number of entries spent before the ledger was declared
            fully adaptive (later parameters may depend on earlier noisy
            outputs), or ``None``; a fully adaptive ledger composes by the zCDP
            route alone (see the module docstring).
        neighbouring: always ``"add_remove"``.
    """

    entries: tuple[LedgerEntry, ...]
    budget: PrivacyBudget
    epsilon: float
    method: str
    pld: str = "always"
    adaptive_from: int | None = None
    neighbouring: str = NEIGHBOURING

    def __len__(self) -> int:
        return len(self.entries)

    @overload
    def __getitem__(self, i: int) -> LedgerEntry: ...

    @overload
    def __getitem__(self, i: slice) -> Sequence[LedgerEntry]: ...

    def __getitem__(self, i: int | slice) -> LedgerEntry | Sequence[LedgerEntry]:
        return self.entries[i]

    def __iter__(self) -> Iterator[LedgerEntry]:
        return iter(self.entries)

    def to_dict(self) -> dict[str, Any]:
        """The ledger format (``"dpsynth-ledger"``, version 1) as a dict."""
        return {
            "format": LEDGER_FORMAT,
            "version": LEDGER_VERSION,
            "neighbouring": self.neighbouring,
            "budget": self.budget.to_dict(),
            "pld": self.pld,
            "fully_adaptive_from": self.adaptive_from,
            "entries": [entry.to_dict() for entry in self.entries],
            "epsilon": _json_float(self.epsilon),
            "method": self.method,
        }

    def to_json(self, *, indent: int | None = 2) -> str:
        """:meth:`to_dict` as strict JSON (no NaN or Infinity)."""
        return json.dumps(self.to_dict(), indent=indent, allow_nan=False)


@dataclass(frozen=True, kw_only=True)
class ParsedLedger:
    """A ledger record read back, with its recorded values (not recomputed)."""

    budget: PrivacyBudget
    pld: str
    events: tuple[tuple[DpEvent, int], ...]
    adaptive_from: int | None
    recorded_after: tuple[float, ...]
    recorded_epsilon: float
    recorded_method: str | None


def parse_ledger(obj: Any) -> ParsedLedger:
    """Reads a ledger: its dict, a manifest's ``"ledger"``, or a discovered schema's.

    Raises:
        ValidationError: for anything that is not a dpsynth ledger, version 1,
            under add/remove neighbours.
    """
    if isinstance(obj, Ledger):
        obj = obj.to_dict()
    if (
        isinstance(obj, dict)
        and "ledger" in obj
        and obj.get("format")
        in (
            None,
            "dpsynth-release",
            "dpsynth-model",
        )
    ):
        obj = obj["ledger"]
    elif isinstance(obj, dict) and obj.get("format") == "dpsynth-schema":
        provenance = obj.get("provenance")
        ledger = provenance.get("ledger") if isinstance(provenance, dict) else None
        if not isinstance(ledger, dict):
            raise ValidationError(
                "`ledger`: this schema holds no ledger (only a schema made by "
                "`discover` records one; a hand-written or inferred schema spent "
                "no budget)."
            )
        obj = ledger
    if not isinstance(obj, dict) or obj.get("format") != LEDGER_FORMAT:
        raise ValidationError(
            f"`ledger` must be a dict with format {LEDGER_FORMAT!r} (or a manifest "
            "with a 'ledger' key); got "
            f"{type(obj).__name__} with format {_get(obj, 'format')!r}."
        )
    if obj.get("version") != LEDGER_VERSION:
        raise ValidationError(
            f"`version` ({obj.get('version')!r}) must be {LEDGER_VERSION}."
        )
    if obj.get("neighbouring") != NEIGHBOURING:
        raise ValidationError(
            f"`neighbouring` ({obj.get('neighbouring')!r}) must be {NEIGHBOURING!r}."
        )
    pld = obj.get("pld", "always")
    if pld not in PLD_POLICIES:
        raise ValidationError(f"`pld` ({pld!r}) must be one of {PLD_POLICIES}.")
    budget = PrivacyBudget.from_dict(obj.get("budget"))
    entries = obj.get("entries")
    if not isinstance(entries, list):
        raise ValidationError(f"`entries` ({entries!r}) must be a list.")
    events: list[tuple[DpEvent, int]] = []
    after: list[float] = []
    for i, entry in enumerate(entries):
        if not isinstance(entry, dict) or not {"event", "count"} <= set(entry):
            raise ValidationError(
                f"`entries[{i}]` ({entry!r}) must be a dict with 'event' and 'count'."
            )
        count = entry["count"]
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            raise ValidationError(
                f"`entries[{i}].count` ({count!r}) must be an integer >= 1."
            )
        events.append((event_from_dict(entry["event"]), count))
        after.append(
            _from_json_float(entry.get("epsilon_after"), f"entries[{i}].epsilon_after")
        )
    adaptive_from = obj.get("fully_adaptive_from")
    ok = adaptive_from is None or (
        isinstance(adaptive_from, int)
        and not isinstance(adaptive_from, bool)
        and 0 <= adaptive_from <= len(events)
    )
    if not ok:
        raise ValidationError(
            f"`fully_adaptive_from` ({adaptive_from!r}) must be null or an entry "
            f"count in [0, {len(events)}]."
        )
    return ParsedLedger(
        budget=budget,
        pld=pld,
        events=tuple(events),
        adaptive_from=adaptive_from,
        recorded_after=tuple(after),
        recorded_epsilon=_from_json_float(obj.get("epsilon"), "epsilon"),
        recorded_method=obj.get("method"),
    )


def _get(obj: Any, key: str) -> Any:
    return obj.get(key) if isinstance(obj, dict) else None


# ------------------------------------------------------------- composition
class _PldCache:
    """Composed PLDs by prefix of (spec, multiplicity) groups; small LRU."""

    def __init__(self, maxsize: int = 32) -> None:
        self._store: OrderedDict[tuple[Any, ...], Any] = OrderedDict()
        self._maxsize = maxsize

    def composed(self, items: tuple[tuple[Any, int], ...]) -> Any:
        n = len(items)
        start, pld = 0, None
        for k in range(n, 0, -1):
            hit = self._store.get(items[:k])
            if hit is not None:
                self._store.move_to_end(items[:k])
                start, pld = k, hit
                break
        for k in range(start, n):
            part = conv.group_pld(*items[k])
            pld = part if pld is None else pld.compose(part)
            self._put(items[: k + 1], pld)
        return pld

    def _put(self, key: tuple[Any, ...], value: Any) -> None:
        self._store[key] = value
        self._store.move_to_end(key)
        while len(self._store) > self._maxsize:
            self._store.popitem(last=False)


_PLD_CACHE = _PldCache()


class GroupTable:
    """Events grouped by mechanism, in order of first appearance (internal).

    Per group: its :class:`~dpsynth.privacy.conversions.EventCost`, the total
    number of compositions, and (in row buffers, for vectorised routes) its rho,
    pure epsilon, delta and RDP curve. ``NaN`` marks a missing bound.
    """

    def __init__(self) -> None:
        self.costs: list[conv.EventCost] = []
        self.mults: list[int] = []
        self.index: dict[tuple[Any, ...], int] = {}
        self._scalars = np.empty((8, 3))  # rho, pure epsilon, delta
        self._rdp = np.empty((8, conv.RDP_ORDERS.size))

    def __len__(self) -> int:
        return len(self.costs)

    def _write(self, row: int, cost: conv.EventCost) -> None:
        if row >= self._rdp.shape[0]:
            size = max(row + 1, 2 * self._rdp.shape[0])
            for name in ("_scalars", "_rdp"):
                old = getattr(self, name)
                grown = np.empty((size, old.shape[1]))
                grown[: old.shape[0]] = old
                setattr(self, name, grown)
        nan = math.nan
        self._scalars[row] = (
            nan if cost.rho is None else cost.rho,
            nan if cost.pure_epsilon is None else cost.pure_epsilon,
            cost.delta,
        )
        self._rdp[row] = cost.rdp

    def add(self, cost: conv.EventCost, count: int) -> None:
        """Adds ``count`` units of the event with ``cost``."""
        mult = count * cost.multiplicity
        i = self.index.get(cost.key)
        if i is None:
            self._write(len(self.costs), cost)
            self.index[cost.key] = len(self.costs)
            self.costs.append(cost)
            self.mults.append(mult)
        else:
            self.mults[i] += mult

    def compose(
        self,
        delta: float,
        *,
        pld: str,
        extra: Sequence[tuple[conv.EventCost, int]] = (),
        adaptive: bool = False,
    ) -> Composition:
        """Composes the groups (plus ``extra`` (cost, count) units) at ``delta``.

        ``adaptive``: compose as a fully adaptive ledger (zCDP route alone).
        """
        costs, mults = self.costs, self.mults
        if extra:
            costs, mults = list(costs), list(mults)
            new: dict[tuple[Any, ...], int] = {}
            for cost, count in extra:
                mult = count * cost.multiplicity
                i = self.index.get(cost.key, new.get(cost.key))
                if i is None:
                    new[cost.key] = len(costs)
                    self._write(len(costs), cost)
                    costs.append(cost)
                    mults.append(mult)
                else:
                    mults[i] += mult
        n = len(costs)
        if adaptive:
            return _adaptive_compose(costs, mults, self._scalars[:n], delta=delta)
        return _compose(
            costs, mults, self._scalars[:n], self._rdp[:n], delta=delta, pld=pld
        )


def _compose(
    costs: Sequence[conv.EventCost],
    mults: Sequence[int],
    scalars: np.ndarray,
    rdp_rows: np.ndarray,
    *,
    delta: float,
    pld: str,
) -> Composition:
    if not costs:
        return Composition(epsilon=0.0, delta=delta, method="none", routes={})
    weights = np.asarray(mults, dtype=float)
    routes = _fast_routes(weights, scalars, rdp_rows, delta)
    lacks_zcdp = np.isnan(scalars[:, 0])
    applies = pld == "always" or (pld == "auto" and bool(lacks_zcdp.any()))
    if applies and all(c.pld_spec is not None for c in costs):
        value = _pld_route(costs, mults, delta)
        keep = np.flatnonzero(~lacks_zcdp)
        if pld == "auto" and keep.size:
            # Floor at the fast bound of the events that have a zCDP bound: the
            # route switches on when DP-SGD joins, and must not lower epsilon.
            sub = _fast_routes(weights[keep], scalars[keep], rdp_rows[keep], delta)
            value = max(value, min(sub.values()))
        routes["pld"] = value
    method = min(routes, key=lambda r: (routes[r], ROUTES.index(r)))
    return Composition(
        epsilon=routes[method], delta=delta, method=method, routes=routes
    )


def _adaptive_compose(
    costs: Sequence[conv.EventCost],
    mults: Sequence[int],
    scalars: np.ndarray,
    *,
    delta: float,
) -> Composition:
    """The one route valid for a fully adaptive ledger (module docstring)."""
    if not costs:
        return Composition(epsilon=0.0, delta=delta, method="none", routes={})
    weights = np.asarray(mults, dtype=float)
    rho, pure, deltas = scalars[:, 0], scalars[:, 1], scalars[:, 2]
    if delta == 0:
        if np.isnan(pure).any():
            raise _not_adaptive(
                costs, pure, "a pure-DP bound (the budget's delta is 0)"
            )
        total = math.inf if deltas.any() else conv.exact_sum_up(weights, pure)
        return Composition(
            epsilon=total, delta=delta, method="pure", routes={"pure": total}
        )
    if np.isnan(rho).any():
        raise _not_adaptive(costs, rho, "a zCDP bound")
    rest = conv.delta_left(delta, weights, deltas) if deltas.any() else delta
    value = (
        conv.approx_epsilon(math.fsum(weights * rho), rest) if rest > 0 else math.inf
    )
    return Composition(
        epsilon=value, delta=delta, method="zcdp", routes={"zcdp": value}
    )


def _not_adaptive(
    costs: Sequence[conv.EventCost], column: np.ndarray, needs: str
) -> UnsupportedEventError:
    kinds = sorted({costs[int(i)].key[0] for i in np.flatnonzero(np.isnan(column))})
    return UnsupportedEventError(
        f"A fully adaptive ledger composes in zCDP only and needs {needs} for every "
        f"event; {kinds} have none. Hint: spend these events before declaring the "
        "ledger fully adaptive, or in a separate release."
    )


def _fast_routes(
    weights: np.ndarray, scalars: np.ndarray, rdp_rows: np.ndarray, delta: float
) -> dict[str, float]:
    """The zcdp, rdp and pure routes (sums exactly rounded, deltas exact)."""
    routes: dict[str, float] = {}
    deltas = scalars[:, 2]
    rest = conv.delta_left(delta, weights, deltas) if deltas.any() else delta
    rho = scalars[:, 0]
    if not np.isnan(rho).any():
        total_rho = math.fsum(weights * rho)
        routes["zcdp"] = conv.approx_epsilon(total_rho, rest) if rest > 0 else math.inf
    with np.errstate(invalid="ignore"):
        total = (weights[:, None] * rdp_rows).sum(axis=0)
    routes["rdp"] = conv.rdp_epsilon(total, rest) if rest > 0 else math.inf
    pure = scalars[:, 1]
    if not np.isnan(pure).any():
        total_eps = conv.exact_sum_up(weights, pure)
        routes["pure"] = total_eps if rest >= 0 else math.inf
    return routes


def _pld_route(
    costs: Sequence[conv.EventCost], mults: Sequence[int], delta: float
) -> float:
    items = tuple(
        (c.pld_spec, m) for c, m in zip(costs, mults, strict=True) if c.pld_spec
    )
    n_dg = sum(m for spec, m in items if spec[0] == "discrete_gaussian")
    composed = _PLD_CACHE.composed(items)
    return conv.pld_epsilon(composed, delta, discrete_gaussians=n_dg)
