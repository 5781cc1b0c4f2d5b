"""Independent verification of a recorded ledger (``dpsynth budget verify``).

:func:`verify_ledger` re-composes the recorded events from scratch, ignoring the
recorded running values, then compares: every entry's ``epsilon_after``, the final
epsilon, and the budget. A ledger whose events were edited (a larger sigma, a
dropped entry) or whose numbers were edited no longer matches.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from dpsynth.privacy.accountant import PrivacyAccountant
from dpsynth.privacy.budget import PrivacyBudget
from dpsynth.privacy.events import DpEvent
from dpsynth.privacy.ledger import Ledger, parse_ledger

__all__ = ["EntryMismatch", "VerificationResult", "describe_event", "verify_ledger"]

#: Relative tolerance between recorded and recomputed epsilons (the computation
#: is deterministic; this absorbs float differences across platforms/versions).
RTOL = 1e-9


def _close(a: float, b: float, rtol: float) -> bool:
    if math.isinf(a) or math.isinf(b):
        return a == b
    return abs(a - b) <= rtol * max(abs(a), abs(b), 1e-12)


@dataclass(frozen=True, kw_only=True)
class EntryMismatch:
    """An entry whose recorded running epsilon differs from the recomputed one."""

    index: int
    recorded: float
    recomputed: float


@dataclass(frozen=True, kw_only=True)
class VerificationResult:
    """The outcome of :func:`verify_ledger`.

    Attributes:
        ok: True when every entry and the final epsilon match and the recomputed
            epsilon is within the budget.
        budget: the recorded budget.
        recorded_epsilon: the ledger's recorded final epsilon.
        recomputed_epsilon: epsilon recomputed from the events at the budget delta.
        method: the route that gave the recomputed epsilon.
        within_budget: whether the recomputed epsilon is <= the budget epsilon.
        final_matches: whether recorded and recomputed final epsilons agree.
        mismatches: entries whose running epsilon does not match.
        ledger: the recomputed ledger.
    """

    ok: bool
    budget: PrivacyBudget
    recorded_epsilon: float
    recomputed_epsilon: float
    method: str
    within_budget: bool
    final_matches: bool
    mismatches: tuple[EntryMismatch, ...]
    ledger: Ledger

    def summary(self) -> str:
        """A printable report: the entries, the totals and the verdict."""
        b = self.budget
        eps_b = "unlimited" if b.is_unlimited else f"{b.epsilon:.6g}"
        lines = [
            f"dpsynth ledger: {len(self.ledger)} entries, neighbours differ by "
            "adding or removing one row",
            f"budget: epsilon = {eps_b}, delta = {b.delta:g}",
            "",
            f"{'#':>4}  {'event':<44} {'count':>6}  {'epsilon after':>13}  label",
        ]
        bad = {m.index: m for m in self.mismatches}
        cut = self.ledger.adaptive_from
        for entry in self.ledger:
            if entry.index == cut:
                lines.append(_ADAPTIVE_LINE)
            flag = ""
            if entry.index in bad:
                flag = f"  MISMATCH (recorded {bad[entry.index].recorded:.6g})"
            lines.append(
                f"{entry.index:>4}  {describe_event(entry.event):<44} "
                f"{entry.count:>6}  {entry.epsilon_after:>13.6g}  "
                f"{entry.event.label}{flag}"
            )
        if cut is not None and cut == len(self.ledger):
            lines.append(_ADAPTIVE_LINE)
        lines += [
            "",
            f"recomputed epsilon = {self.recomputed_epsilon:.9g} at delta = "
            f"{b.delta:g} (route: {self.method})",
            f"recorded epsilon   = {self.recorded_epsilon:.9g}"
            + ("" if self.final_matches else "  MISMATCH"),
            f"within budget: {'yes' if self.within_budget else 'NO'}",
            f"entries that do not match: {len(self.mismatches)}",
            f"verdict: {'OK' if self.ok else 'FAILED'}",
        ]
        return "\n".join(lines)


_ADAPTIVE_LINE = (
    "      -- declared fully adaptive here: from now on noise may be sized from "
    "earlier\n         outputs, and the whole ledger composes in zCDP (a privacy "
    "filter) --"
)


def describe_event(event: DpEvent) -> str:
    """``kind(param=value, ...)`` in one short line."""
    params = ", ".join(f"{k}={v:.6g}" for k, v in event.parameters.items())
    return f"{event.kind}({params})"


def verify_ledger(obj: Any, *, rtol: float = RTOL) -> VerificationResult:
    """Recomputes a ledger's epsilon from its events and compares it to the record.

    Args:
        obj: a ledger dict (``"format": "dpsynth-ledger"``), a manifest dict with
            a ``"ledger"`` key, or a :class:`~dpsynth.privacy.ledger.Ledger`.
        rtol: relative tolerance for recorded vs recomputed values.

    Returns:
        The comparison; ``result.ok`` is the verdict, ``result.summary()`` a
        printable report.

    Raises:
        ValidationError: if ``obj`` is not a readable ledger.
    """
    parsed = parse_ledger(obj)
    replay = PrivacyAccountant.unlimited(
        delta=parsed.budget.delta,
        pld=parsed.pld,  # type: ignore[arg-type]
    )
    replay.replay(parsed.events, adaptive_from=parsed.adaptive_from)
    ledger = replay.ledger
    mismatches = tuple(
        EntryMismatch(index=e.index, recorded=rec, recomputed=e.epsilon_after)
        for e, rec in zip(ledger, parsed.recorded_after, strict=True)
        if not _close(rec, e.epsilon_after, rtol)
    )
    recomputed = ledger.epsilon
    final_matches = _close(parsed.recorded_epsilon, recomputed, rtol)
    within = recomputed <= parsed.budget.epsilon
    ledger = Ledger(
        entries=ledger.entries,
        budget=parsed.budget,
        epsilon=recomputed,
        method=ledger.method,
        pld=parsed.pld,
        adaptive_from=parsed.adaptive_from,
    )
    return VerificationResult(
        ok=not mismatches and final_matches and within,
        budget=parsed.budget,
        recorded_epsilon=parsed.recorded_epsilon,
        recomputed_epsilon=recomputed,
        method=ledger.method,
        within_budget=within,
        final_matches=final_matches,
        mismatches=mismatches,
        ledger=ledger,
    )
