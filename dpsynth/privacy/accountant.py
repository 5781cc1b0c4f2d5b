"""The privacy accountant: a ledger of spends and a filter that refuses overshoots.

Every measurement of the sensitive data is charged here *before* any noise is
drawn: :meth:`PrivacyAccountant.spend` composes the new event with everything
already spent and raises :class:`~dpsynth.errors.BudgetExceededError` if the
result would exceed the budget, leaving the ledger exactly as it was.
See :mod:`dpsynth.privacy.ledger` for how epsilon is composed and
``docs/privacy.md`` for the reasoning.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any, ClassVar

from dpsynth.errors import (
    BudgetExceededError,
    UnsupportedEventError,
    ValidationError,
)
from dpsynth.privacy import conversions as conv
from dpsynth.privacy.budget import PrivacyBudget
from dpsynth.privacy.events import (
    DpEvent,
    ExponentialEvent,
    GaussianEvent,
    SampledGaussianEvent,
)
from dpsynth.privacy.ledger import (
    NEIGHBOURING,
    PLD_POLICIES,
    Composition,
    GroupTable,
    Ledger,
    LedgerEntry,
    PldPolicy,
    parse_ledger,
)

__all__ = ["PLD_DEFAULT_MAX_EPSILON", "PrivacyAccountant"]

SpendItem = DpEvent | tuple[DpEvent, int]

#: Largest budget epsilon for which the default PLD policy is ``"always"``. At
#: epsilon = 10 on hd/adult the discrete Gaussians have sigma ~2.5 and a PLD
#: composition took ~0.3 s (10 s to plan one MST step) for an 8% gain.
PLD_DEFAULT_MAX_EPSILON = 4.0

# Relative precision of planning searches: each step is a composition (a PLD
# convolution under the PLD route); 1e-7 lands a ledger far inside the 0.5%
# that matters and needs about ten bisection steps after the bracket.
_PLAN_RTOL = 1e-7


def _count(value: Any, name: str = "count") -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValidationError(f"`{name}` ({value!r}) must be an integer >= 1.")
    return value


def _fraction(value: Any) -> float:
    ok = isinstance(value, int | float) and not isinstance(value, bool)
    if not ok or not 0 < value <= 1:
        raise ValidationError(
            f"`fraction` ({value!r}) must be in (0, 1]: the share of the remaining "
            "budget to use."
        )
    return float(value)


class PrivacyAccountant:
    """Composes privacy events and refuses any that would exceed the budget.

    Neighbouring relation: add/remove one row (``neighbouring = "add_remove"``).

    Args:
        epsilon: the budget's epsilon (> 0, finite).
        delta: the budget's delta, in ``[0, 1)``.
        pld: when the privacy-loss-distribution route is used (see
            :data:`dpsynth.privacy.ledger.PldPolicy`). Default: ``"always"``
            (whenever every event has one) for unlimited budgets and budgets
            up to :data:`PLD_DEFAULT_MAX_EPSILON`, ``"auto"`` (DP-SGD only) above,
            where the Gaussians' loss distributions get wide and composing
            them costs seconds per spend for a few percent. The ledger
            records the policy used.

    Example:
        >>> from dpsynth.privacy.events import GaussianEvent
        >>> acc = PrivacyAccountant(epsilon=1.0, delta=1e-9)
        >>> sigma = acc.plan_gaussian_sigma(10)
        >>> _ = acc.spend(GaussianEvent(sigma=sigma), label="1-way", count=10)
        >>> abs(acc.epsilon() - 1.0) < 1e-6
        True
    """

    neighbouring: ClassVar[str] = NEIGHBOURING

    def __init__(
        self, *, epsilon: float, delta: float, pld: PldPolicy | None = None
    ) -> None:
        self._init(PrivacyBudget(epsilon, delta), pld)

    def _init(self, budget: PrivacyBudget, pld: str | None) -> None:
        if pld is None:
            tight = budget.is_unlimited or budget.epsilon <= PLD_DEFAULT_MAX_EPSILON
            pld = "always" if tight else "auto"
        if pld not in PLD_POLICIES:
            raise ValidationError(f"`pld` ({pld!r}) must be one of {PLD_POLICIES}.")
        self._budget = budget
        self._pld = pld
        self._table = GroupTable()
        self._entries: list[LedgerEntry] = []
        self._method = "none"
        self._spent = 0.0
        self._adaptive_from: int | None = None

    @classmethod
    def from_budget(
        cls, budget: PrivacyBudget, *, pld: PldPolicy | None = None
    ) -> PrivacyAccountant:
        """An accountant for a :class:`PrivacyBudget`."""
        if not isinstance(budget, PrivacyBudget):
            raise ValidationError(f"`budget` ({budget!r}) must be a PrivacyBudget.")
        acc = cls.__new__(cls)
        acc._init(budget, pld)
        return acc

    @classmethod
    def unlimited(
        cls, delta: float = 1e-9, *, pld: PldPolicy | None = None
    ) -> PrivacyAccountant:
        """An accountant that never refuses (epsilon = inf): tests and analysis."""
        return cls.from_budget(PrivacyBudget.unlimited(delta=delta), pld=pld)

    @classmethod
    def from_ledger(cls, data: Any) -> PrivacyAccountant:
        """Rebuilds an accountant from a ledger dict (or manifest with a ledger).

        The events are composed again (recorded running values are ignored).

        Raises:
            ValidationError: for a malformed ledger.
            BudgetExceededError: if the events exceed the recorded budget.
        """
        parsed = parse_ledger(data)
        acc = cls.from_budget(parsed.budget, pld=parsed.pld)  # type: ignore[arg-type]
        acc.replay(parsed.events, adaptive_from=parsed.adaptive_from)
        return acc

    def replay(
        self,
        events: Iterable[tuple[DpEvent, int]],
        *,
        adaptive_from: int | None = None,
    ) -> None:
        """Spends recorded ``(event, count)`` pairs, as a ledger records them.

        The ledger is declared fully adaptive after the first ``adaptive_from``
        pairs (its ``fully_adaptive_from``), so it composes as it did.
        """
        events = list(events)
        cut = len(events) if adaptive_from is None else adaptive_from
        if events[:cut]:
            self.spend_many(events[:cut])
        if adaptive_from is not None:
            self.declare_fully_adaptive()
        if events[cut:]:
            self.spend_many(events[cut:])

    # ----------------------------------------------------------------- state
    @property
    def budget(self) -> PrivacyBudget:
        """The budget this accountant enforces."""
        return self._budget

    @property
    def pld(self) -> str:
        """The PLD policy."""
        return self._pld

    @property
    def adaptive_from(self) -> int | None:
        """Entries spent before :meth:`declare_fully_adaptive`, or ``None``."""
        return self._adaptive_from

    @property
    def ledger(self) -> Ledger:
        """An immutable snapshot of the ledger."""
        return Ledger(
            entries=tuple(self._entries),
            budget=self._budget,
            epsilon=self.epsilon(),
            method=self._method,
            pld=self._pld,
            adaptive_from=self._adaptive_from,
        )

    def __len__(self) -> int:
        return len(self._entries)

    def __repr__(self) -> str:
        return (
            f"PrivacyAccountant(epsilon={self._budget.epsilon!r}, "
            f"delta={self._budget.delta!r}, spent={self.epsilon():.6g}, "
            f"entries={len(self._entries)})"
        )

    def to_dict(self) -> dict[str, Any]:
        """The ledger as a JSON-ready dict (see :meth:`Ledger.to_dict`)."""
        return self.ledger.to_dict()

    def to_json(self, *, indent: int | None = 2) -> str:
        """The ledger as strict JSON."""
        return self.ledger.to_json(indent=indent)

    # --------------------------------------------------------------- spending
    def supports(self, event: Any) -> bool:
        """Whether ``event`` is a privacy event this accountant can compose."""
        try:
            conv.event_cost(event)
        except (UnsupportedEventError, ValidationError):
            return False
        return True

    def _prepare(self, item: Any) -> tuple[DpEvent, int]:
        if isinstance(item, tuple) and len(item) == 2:
            event, count = item
        else:
            event, count = item, 1
        if not isinstance(event, DpEvent):
            raise ValidationError(
                f"`event` ({event!r}) must be a DpEvent from dpsynth.privacy.events."
            )
        conv.event_cost(event)  # raises UnsupportedEventError
        return event, _count(count)

    def _refuse(self, requested: float, what: str) -> BudgetExceededError:
        b = self._budget
        return BudgetExceededError(
            f"Spending {what} would raise epsilon to {requested:.6g} at delta = "
            f"{b.delta:g}, over the budget epsilon = {b.epsilon:.6g} (now spent: "
            f"{self.epsilon():.6g}); nothing was spent or sampled. Hint: plan the "
            "noise with remaining_rho(), plan_gaussian_sigma() or "
            "plan_exponential_epsilon().",
            requested=requested,
            budget=b.epsilon,
            delta=b.delta,
        )

    def _compose(
        self, extra: list[tuple[DpEvent, int]], delta: float | None = None
    ) -> Composition:
        pairs = [(conv.event_cost(e), c) for e, c in extra]
        d = self._budget.delta if delta is None else delta
        adaptive = self._adaptive_from is not None
        return self._table.compose(d, pld=self._pld, extra=pairs, adaptive=adaptive)

    def declare_fully_adaptive(self) -> None:
        """Declares that later spends may size their noise from earlier noisy outputs.

        Privacy filters under *fully adaptive* composition (privacy parameters
        chosen from what earlier measurements returned, as in AIM's annealing)
        are valid in zCDP but not for composed privacy loss distributions or a
        Renyi order picked after the fact (see :mod:`dpsynth.privacy.ledger`).
        From now on the whole ledger, including what was spent before, composes
        by the zCDP route alone (basic composition for a pure budget); the
        ledger records where the declaration came (``fully_adaptive_from``) so
        that :func:`~dpsynth.privacy.verify.verify_ledger` composes it the same
        way. Declaring twice does nothing.

        Raises:
            BudgetExceededError: if the ledger so far, composed in zCDP, already
                exceeds the budget; nothing changes.
            UnsupportedEventError: if an event spent so far has no zCDP bound
                (DP-SGD); nothing changes.
        """
        if self._adaptive_from is not None:
            return
        comp = self._table.compose(self._budget.delta, pld=self._pld, adaptive=True)
        if not comp.epsilon <= self._budget.epsilon:
            raise self._refuse(
                comp.epsilon, "nothing more (the ledger so far, composed in zCDP)"
            )
        self._adaptive_from = len(self._entries)
        self._method = comp.method
        self._spent = comp.epsilon

    def spend(
        self, event: DpEvent, *, label: str | None = None, count: int = 1
    ) -> LedgerEntry:
        """Charges ``count`` compositions of ``event``, or refuses before anything.

        Args:
            event: what is about to run.
            label: replaces the event's label in the ledger when given.
            count: how many times it runs (exactly the same as ``count`` calls).

        Returns:
            The new ledger entry, with the running epsilon.

        Raises:
            BudgetExceededError: if the budget would be exceeded; the ledger is
                unchanged.
            UnsupportedEventError: for an event kind without accounting.
            ValidationError: for a bad event, label or count.
        """
        if label is not None:
            if not isinstance(label, str):
                raise ValidationError(f"`label` ({label!r}) must be a string.")
            event = event.relabel(label) if isinstance(event, DpEvent) else event
        event, count = self._prepare((event, count))
        comp = self._compose([(event, count)])
        if not comp.epsilon <= self._budget.epsilon:
            name = f"{event.kind} event {event.label!r} (x{count})"
            raise self._refuse(comp.epsilon, name)
        return self._commit([(event, count)], [comp])[0]

    def spend_many(self, items: Iterable[SpendItem]) -> tuple[LedgerEntry, ...]:
        """Charges several events at once, all or nothing.

        Args:
            items: events, or ``(event, count)`` pairs, in ledger order.

        Returns:
            The new entries.

        Raises:
            BudgetExceededError: if the budget would be exceeded by the whole
                batch; nothing is spent.
        """
        batch = [self._prepare(item) for item in items]
        if not batch:
            return ()
        comps: list[Composition] = []
        for k in range(1, len(batch) + 1):
            comps.append(self._compose(batch[:k]))
        worst = max(c.epsilon for c in comps)
        if not worst <= self._budget.epsilon:
            raise self._refuse(worst, f"a batch of {len(batch)} events")
        return self._commit(batch, comps)

    def _commit(
        self, batch: list[tuple[DpEvent, int]], comps: list[Composition]
    ) -> tuple[LedgerEntry, ...]:
        out = []
        for (event, count), comp in zip(batch, comps, strict=True):
            self._table.add(conv.event_cost(event), count)
            entry = LedgerEntry(
                index=len(self._entries),
                event=event,
                count=count,
                epsilon_after=comp.epsilon,
            )
            self._entries.append(entry)
            self._method = comp.method
            self._spent = comp.epsilon
            out.append(entry)
        return tuple(out)

    def can_spend(self, event: DpEvent, count: int = 1) -> bool:
        """Whether :meth:`spend` would accept ``event`` (``count`` times) now."""
        event, count = self._prepare((event, count))
        return self._compose([(event, count)]).epsilon <= self._budget.epsilon

    def can_spend_many(self, items: Iterable[SpendItem]) -> bool:
        """Whether :meth:`spend_many` would accept all of ``items`` now."""
        batch = [self._prepare(item) for item in items]
        return self._compose(batch).epsilon <= self._budget.epsilon

    # ------------------------------------------------------------- reporting
    def epsilon(self, delta: float | None = None) -> float:
        """The epsilon spent so far, stated at ``delta`` (default: the budget's).

        The minimum over the sound composition routes that apply to the whole
        ledger (the zCDP route alone once it is fully adaptive); 0 for an empty
        ledger.
        """
        if delta is None:
            return self._spent
        return self.composition(delta).epsilon

    def composition(self, delta: float | None = None) -> Composition:
        """Every route's epsilon at ``delta``, the minimum, and which route gave it."""
        if delta is not None:
            ok = isinstance(delta, int | float) and not isinstance(delta, bool)
            if not ok or not 0 <= delta < 1:
                raise ValidationError(f"`delta` ({delta!r}) must be in [0, 1).")
        return self._compose([], None if delta is None else float(delta))

    # --------------------------------------------------------------- planning
    def remaining_rho(self, *, rtol: float = 1e-7) -> float:
        """The largest rho such that one Gaussian measurement of it would be accepted.

        The probe is ``GaussianEvent(sigma=gaussian_sigma(rho))`` (unit L2
        sensitivity), composed with the ledger by the accountant's own routes:
        under the zCDP route this is the budget's rho minus the rho spent; under
        the PLD route it is larger (the Gaussian mechanism's exact privacy
        profile is tighter than the zCDP conversion). Found by bracketing around
        :meth:`remaining_rho_estimate` and bisection to relative precision
        ``rtol``, rounded down; ``inf`` for an unlimited budget, 0 when nothing
        fits.
        """
        if not (isinstance(rtol, float) and 0 < rtol < 1):
            raise ValidationError(f"`rtol` ({rtol!r}) must be a float in (0, 1).")
        b = self._budget
        if b.is_unlimited:
            return math.inf
        if b.delta == 0:
            return 0.0

        def fits(rho: float) -> bool:
            probe = GaussianEvent(sigma=conv.gaussian_sigma(rho))
            return self._compose([(probe, 1)]).epsilon <= b.epsilon

        guess = self.remaining_rho_estimate()
        if not 0 < guess < math.inf:
            guess = 1e-6 * conv.rho_for_epsilon(b.epsilon, b.delta)
        found = _largest(fits, guess, rtol)
        if found == 0:
            # Gaussians too wide for a PLD (sigma > 1e4) fall back to the fast
            # routes, so a tiny probe can fail where a wider-PLD one fits.
            smallest = conv.gaussian_rho(conv.DG_MAX_SIGMA)
            if smallest > guess and fits(smallest):
                found = _largest(fits, smallest, rtol)
        return found

    def remaining_rho_estimate(self) -> float:
        """A fast estimate of :meth:`remaining_rho`, for scheduling, never for sizing.

        Maps the budget's epsilon and the epsilon spent to the rho of the one
        Gaussian mechanism with that epsilon at the budget's delta, and
        subtracts. The map follows the route that gave the ledger's epsilon:
        the zCDP conversion (exact when that route is the zCDP one), or the
        Gaussian mechanism's exact profile for the PLD route (close for mostly
        Gaussian ledgers). No composition is computed.
        """
        b = self._budget
        if b.is_unlimited:
            return math.inf
        if b.delta == 0:
            return 0.0
        pld_like = self._method == "pld" or (
            self._method == "none"
            and self._pld != "never"
            and self._adaptive_from is None
        )
        to_rho = conv.gaussian_rho_for_epsilon if pld_like else conv.rho_for_epsilon
        spent = self.epsilon()
        used = to_rho(spent, b.delta) if spent > 0 else 0.0
        return max(0.0, to_rho(b.epsilon, b.delta) - used)

    def _plan_rho(self, count: int, fraction: float, *, exact: bool) -> float:
        count = _count(count)
        fraction = _fraction(fraction)
        if self._budget.is_unlimited:
            raise ValidationError(
                "`budget` (unlimited) must be finite to plan noise. Hint: pass the "
                "noise scale yourself when accounting without a limit."
            )
        if self._budget.delta == 0:
            raise ValidationError(
                "`delta` (0.0) must be > 0 to plan in zCDP. Hint: a pure-DP budget "
                "holds only pure events (Laplace, exponential); size them directly."
            )
        remaining = self.remaining_rho() if exact else self.remaining_rho_estimate()
        if remaining <= 0:
            raise self._refuse(self.epsilon(), "anything more (no budget remains)")
        share = fraction * remaining / count
        return math.nextafter(share, 0.0)  # rounded down

    def _plan(
        self,
        count: int,
        fraction: float,
        to_cost: Any,
        from_cost: Any,
        make: Any,
    ) -> float:
        """A parameter for ``count`` events that use ``fraction`` of what remains.

        Works on a "cost" ``c`` (larger costs more privacy): ``to_cost(rho)``
        maps a per-event zCDP rho to it, ``from_cost(c)`` to the parameter and
        ``make(parameter)`` builds the event. ``fraction == 1``: the largest
        cost that fits (bisection on the accountant's own epsilon from a guess
        by :meth:`remaining_rho_estimate`, relative precision
        :data:`_PLAN_RTOL`). Otherwise
        ``fraction`` of :meth:`remaining_rho` shared by the ``count`` events,
        lowered to the largest cost that fits if need be.
        """

        def fits(c: float) -> bool:
            return self.can_spend(make(from_cost(c)), count)

        if fraction == 1:
            cost = to_cost(self._plan_rho(count, 1.0, exact=False))
            best = _largest(fits, cost, _PLAN_RTOL)
        else:
            cost = to_cost(self._plan_rho(count, fraction, exact=True))
            if fits(cost):
                return from_cost(cost)
            best = _largest(fits, cost, _PLAN_RTOL)
        if best <= 0:
            raise self._refuse(self.epsilon(), "anything more (no budget remains)")
        return from_cost(best)

    def plan_gaussian_sigma(
        self, count: int, *, l2_sensitivity: float = 1.0, fraction: float = 1.0
    ) -> float:
        """Sigma such that ``count`` GaussianEvents use ``fraction`` of what remains.

        zCDP rho is the planning currency. With ``fraction=1`` the smallest
        sigma whose events fit (spending them lands on the budget within about
        1e-7 relative and never above it); otherwise each event gets ``fraction *
        remaining_rho() / count`` in rho.

        Raises:
            BudgetExceededError: if no budget remains.
        """

        def make(s: float) -> GaussianEvent:
            return GaussianEvent(sigma=s, l2_sensitivity=l2_sensitivity)

        return float(
            self._plan(
                count,
                fraction,
                lambda rho: 1.0 / conv.gaussian_sigma(rho, l2_sensitivity),
                lambda c: 1.0 / c,
                make,
            )
        )

    def plan_exponential_epsilon(self, count: int, *, fraction: float = 1.0) -> float:
        """Epsilon such that ``count`` selections use ``fraction`` of what remains.

        Each selection gets ``rho = fraction * remaining_rho() / count`` and ``epsilon
        = sqrt(8 rho)`` (bounded range), as for :meth:`plan_gaussian_sigma`;
        with ``fraction=1`` the largest epsilon that fits. Under the PLD route a
        selection costs somewhat more than its zCDP rho, so a share planned
        with ``fraction < 1`` uses a little more than that fraction of the
        budget, and what follows gets a little less.

        Raises:
            BudgetExceededError: if no budget remains.
        """

        def make(e: float) -> ExponentialEvent:
            return ExponentialEvent(epsilon=e)

        return float(
            self._plan(count, fraction, conv.exponential_epsilon, lambda c: c, make)
        )

    def plan_noise_multiplier(
        self, *, sample_rate: float, steps: int, rtol: float = 1e-3
    ) -> float:
        """The smallest noise multiplier (within ``rtol``) for DP-SGD that fits.

        Bisection on the accountant's own epsilon with a
        ``SampledGaussianEvent(noise_multiplier, sample_rate, steps)`` added (PLD
        route under the default policy); each step costs one PLD composition.

        Raises:
            BudgetExceededError: if no noise multiplier up to 1e6 fits.
        """
        steps = _count(steps, "steps")
        if self._budget.is_unlimited:
            raise ValidationError(
                "`budget` (unlimited) must be finite to plan noise. Hint: pass the "
                "noise multiplier yourself when accounting without a limit."
            )
        if not 0 < rtol < 1:
            raise ValidationError(f"`rtol` ({rtol!r}) must be in (0, 1).")

        def fits(nm: float) -> bool:
            event = SampledGaussianEvent(
                noise_multiplier=nm, sample_rate=sample_rate, steps=steps
            )
            return self.can_spend(event)

        remaining = self.remaining_rho_estimate()
        if remaining <= 0:
            raise self._refuse(self.epsilon(), "anything more (no budget remains)")
        # Start from the unamplified zCDP noise scaled by the sampling rate (a
        # rough guess), bracket by doubling/halving, then bisect in log-space.
        guess = math.sqrt(steps / (2.0 * remaining)) * min(1.0, 4.0 * sample_rate)
        hi = min(max(guess, 1e-2), 1e6)
        while not fits(hi):
            hi *= 2
            if hi > 1e6:
                raise self._refuse(math.inf, "DP-SGD at any noise multiplier <= 1e6")
        lo = hi / 2
        while lo > 1e-3 and fits(lo):
            hi, lo = lo, lo / 2
        while hi - lo > rtol * hi:
            mid = math.sqrt(lo * hi)
            if fits(mid):
                hi = mid
            else:
                lo = mid
        return hi


def _largest(fits: Any, guess: float, rtol: float) -> float:
    """The largest ``c > 0`` with ``fits(c)`` (monotone), within ``rtol``; 0 if none.

    Brackets from ``guess`` with relative steps that quadruple from 1e-4 (the
    guesses come from close estimates), then bisects; the result always fits.
    """
    step = 1e-4
    if fits(guess):
        lo = guess
        while True:
            hi = lo * (1 + step)
            if math.isinf(hi):  # pragma: no cover - nothing that large is planned
                return lo
            if not fits(hi):
                break
            lo, step = hi, step * 4
    else:
        hi = guess
        while True:
            lo = hi / (1 + step)
            if lo < 1e-300:
                return 0.0
            if fits(lo):
                break
            hi, step = lo, step * 4
    while hi - lo > rtol * hi:
        mid = lo + (hi - lo) / 2
        if mid in (lo, hi):
            break
        if fits(mid):
            lo = mid
        else:
            hi = mid
    return lo
