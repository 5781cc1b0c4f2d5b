"""A persistent budget per dataset, across releases (SQLite, standard library).

A team gives each sensitive table a name and a total limit ``(epsilon, delta)``
once. Every release is charged its own ``(epsilon_i, delta_i)``: the epsilon its
ledger composes to on its own (at the release's delta, by the accountant's
routes, in zCDP alone for a fully adaptive ledger), and the store refuses a
release unless ``sum(epsilon_i) <= epsilon`` and ``sum(delta_i) <= delta``.

Why a sum and not a tight composition of all the releases' events: whoever asks
for the next release has seen the earlier ones, so its parameters may depend on
them. The store is then a *privacy filter* under fully adaptive composition, and
basic composition is valid for filters (Rogers, Roth, Ullman, Vadhan 2016),
while composing the releases' events by privacy loss distributions or a Renyi
order chosen after the fact is not (see :mod:`dpsynth.privacy.ledger`). Inside
one release the parameters are planned from its budget, so its own ledger keeps
its tight composition.

Each charge runs inside one ``BEGIN IMMEDIATE`` transaction; SQLite's write lock
serialises concurrent charges, so processes racing to charge can never overshoot
together. The events of every release are kept for audit (:meth:`BudgetStore.events`).

A release whose noise is drawn later (``dpsynth generate``) uses a *reservation*:
:meth:`BudgetStore.reserve` charges the release's whole budget ``(epsilon,
delta)`` before anything is fitted; afterwards :meth:`BudgetStore.settle` lowers
it to what the fit's ledger composes to, :meth:`BudgetStore.cancel` drops it
when no noise was drawn, and :meth:`BudgetStore.fail` keeps it when a fit failed
after drawing noise.

Example:
    >>> import tempfile, os
    >>> from dpsynth.privacy.events import PureDPEvent
    >>> path = os.path.join(tempfile.mkdtemp(), "budget.sqlite")
    >>> store = BudgetStore(path)
    >>> _ = store.set_limit("adult", epsilon=1.0, delta=1e-9)
    >>> store.charge("adult", [PureDPEvent(epsilon=0.4)], release="r1", delta=0.0)
    (0.4, 0.0)
    >>> store.charge("adult", [PureDPEvent(epsilon=0.7)], release="r2", delta=0.0)
    Traceback (most recent call last):
    ...
    dpsynth.errors.BudgetExceededError: Release 'r2' (epsilon 0.7, delta 0) would ...
    >>> store.reserve("adult", epsilon=0.5, delta=0.0, release="r3").state
    'reserved'
    >>> store.cancel("adult", "r3")
    >>> store.spent("adult")
    (0.4, 0.0)
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from dpsynth.errors import BudgetExceededError, ValidationError
from dpsynth.privacy import conversions as conv
from dpsynth.privacy.budget import PrivacyBudget
from dpsynth.privacy.events import ApproxDPEvent, DpEvent, event_from_dict
from dpsynth.privacy.ledger import (
    GroupTable,
    Ledger,
    LedgerEntry,
    parse_ledger,
)

__all__ = ["RELEASE_STATES", "BudgetStore", "ReleaseRecord", "fingerprint_file"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS datasets (
    name TEXT PRIMARY KEY,
    epsilon REAL NOT NULL,
    delta REAL NOT NULL,
    fingerprint TEXT,
    created TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS releases (
    dataset TEXT NOT NULL REFERENCES datasets(name),
    name TEXT NOT NULL,
    created TEXT NOT NULL,
    events INTEGER NOT NULL,
    epsilon REAL NOT NULL,
    delta REAL NOT NULL,
    epsilon_after REAL NOT NULL,
    delta_after REAL NOT NULL,
    state TEXT NOT NULL,
    PRIMARY KEY (dataset, name)
);
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    dataset TEXT NOT NULL REFERENCES datasets(name),
    release TEXT NOT NULL,
    event TEXT NOT NULL,
    count INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS events_by_dataset ON events (dataset, id);
"""
_FORMAT = "dpsynth-budget-store/2"
#: Format 1 composed all releases' events tightly, which is not valid when a
#: release's parameters may depend on the releases before it.
_OLD_FORMATS = ("dpsynth-budget-store/1",)

#: States of a release in the store: ``charged`` (by :meth:`BudgetStore.charge`),
#: ``reserved`` (a reservation: fit pending, or its process died), ``settled`` (the
#: reservation was lowered to the fit's ledger), ``failed`` (the fit failed after
#: noise may have been drawn; the reservation stays charged).
RELEASE_STATES = ("charged", "reserved", "settled", "failed")


def fingerprint_file(path: str | os.PathLike[str], *, chunk_size: int = 1 << 20) -> str:
    """The SHA-256 hex digest of a file's bytes (identifies a dataset's content).

    Raises:
        ValidationError: if the file cannot be read.
    """
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as fh:
            while block := fh.read(chunk_size):
                digest.update(block)
    except OSError as exc:
        raise ValidationError(
            f"`path` ({str(path)!r}) must be a readable file: {exc}"
        ) from exc
    return digest.hexdigest()


@dataclass(frozen=True, kw_only=True)
class ReleaseRecord:
    """One charged release.

    Attributes:
        name: the release name given to :meth:`BudgetStore.charge`.
        created: UTC time of the charge (ISO 8601).
        events: number of ledger entries charged.
        epsilon: the release's own epsilon (its reservation's, until settled).
        delta: the release's own delta.
        epsilon_after: the dataset's total epsilon (the sum over its releases)
            when this release was charged (settled, for a reservation).
        delta_after: the dataset's total delta then.
        state: one of :data:`RELEASE_STATES`.
    """

    name: str
    created: str
    events: int
    epsilon: float
    delta: float
    epsilon_after: float
    delta_after: float
    state: str = "charged"


def _name(value: Any, what: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValidationError(f"`{what}` ({value!r}) must be a non-empty string.")
    return value


@dataclass(frozen=True)
class _Claim:
    """A release's events and the (epsilon, delta) they compose to on their own."""

    events: list[tuple[DpEvent, int]]
    epsilon: float
    delta: float


def _claim(obj: Any, delta: float | None) -> _Claim:
    """Composes a release on its own, at ``delta`` (default: its ledger's).

    A ledger declared fully adaptive composes as its accountant did (zCDP
    alone); bare events are taken as planned in advance (every route).
    """
    from dpsynth.privacy.accountant import PrivacyAccountant

    adaptive = False
    if isinstance(obj, PrivacyAccountant):
        obj = obj.ledger
    if isinstance(obj, dict | Ledger):
        parsed = parse_ledger(obj)
        events = list(parsed.events)
        adaptive = parsed.adaptive_from is not None
        if delta is None:
            delta = parsed.budget.delta
    else:
        events = _items(obj)
        if delta is None:
            raise ValidationError(
                "`delta` (None) must be given with bare events: the release's own "
                "delta, at which its events are composed (a ledger carries its own)."
            )
    delta = PrivacyBudget(1.0, delta).delta  # validates
    table = GroupTable()
    for event, count in events:
        table.add(conv.event_cost(event), count)
    epsilon = (
        table.compose(delta, pld="always", adaptive=adaptive).epsilon
        if len(table)
        else 0.0
    )
    return _Claim(events, epsilon, delta)


def _items(obj: Any) -> list[tuple[DpEvent, int]]:
    """Normalises events, (event, count) pairs and ledger entries."""
    if isinstance(obj, DpEvent):
        return [(obj, 1)]
    out: list[tuple[DpEvent, int]] = []
    try:
        items = list(obj)
    except TypeError:
        items = None
    if items is None:
        raise ValidationError(
            f"`events_or_ledger` ({obj!r}) must be events, (event, count) pairs, a "
            "ledger (dict or Ledger) or a PrivacyAccountant."
        )

    for item in items:
        if isinstance(item, LedgerEntry):
            out.append((item.event, item.count))
        elif isinstance(item, DpEvent):
            out.append((item, 1))
        elif (
            isinstance(item, tuple)
            and len(item) == 2
            and isinstance(item[0], DpEvent)
            and isinstance(item[1], int)
            and not isinstance(item[1], bool)
            and item[1] >= 1
        ):
            out.append((item[0], item[1]))
        else:
            raise ValidationError(
                f"`events_or_ledger` item ({item!r}) must be a DpEvent, an "
                "(event, count) pair with count >= 1, or a LedgerEntry."
            )
    return out


class BudgetStore:
    """Total privacy spent per dataset, persisted in a SQLite file.

    Releases add up: a dataset's total is the sum of its releases' own epsilons
    and deltas (basic composition, valid however each release was chosen; see
    the module docstring).

    Args:
        path: the SQLite file (created if missing).
        timeout: seconds to wait for another process's write lock.
    """

    def __init__(self, path: str | os.PathLike[str], *, timeout: float = 60.0) -> None:
        self.path = os.fspath(path)
        self._timeout = float(timeout)
        with self._transaction() as con:
            con.executescript("BEGIN IMMEDIATE;" + _SCHEMA + "COMMIT;")
            con.execute("BEGIN IMMEDIATE")
            row = con.execute("SELECT value FROM meta WHERE key='format'").fetchone()
            if row is None:
                con.execute("INSERT INTO meta VALUES ('format', ?)", (_FORMAT,))
            elif row[0] in _OLD_FORMATS:
                raise ValidationError(
                    f"`path` ({self.path!r}) must be a {_FORMAT} file: it is a "
                    f"{row[0]} file, whose totals composed all releases' events "
                    "tightly, which is not valid when later releases were chosen "
                    "after seeing earlier ones. Hint: start a new store and charge "
                    "each release's ledger again (its manifest holds it)."
                )
            elif row[0] != _FORMAT:
                raise ValidationError(
                    f"`path` ({self.path!r}) must be a {_FORMAT} file, not {row[0]!r}."
                )

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """A connection in autocommit mode.

        A transaction left open is committed on success, rolled back on error.
        """
        try:
            con = sqlite3.connect(
                self.path, timeout=self._timeout, isolation_level=None
            )
        except sqlite3.Error as exc:
            raise ValidationError(
                f"`path` ({self.path!r}) must be a writable SQLite file: {exc}"
            ) from exc
        try:
            yield con
            if con.in_transaction:
                con.execute("COMMIT")
        except BaseException:
            if con.in_transaction:
                con.execute("ROLLBACK")
            raise
        finally:
            con.close()

    # ------------------------------------------------------------------ limits
    def set_limit(
        self,
        dataset: str,
        *,
        epsilon: float,
        delta: float,
        fingerprint: str | None = None,
    ) -> PrivacyBudget:
        """Sets a dataset's total limit, once (repeating the same limit is a no-op).

        Args:
            dataset: the name the team uses for the sensitive table.
            epsilon: total epsilon over all releases.
            delta: total delta over all releases (their deltas add up).
            fingerprint: optional content hash (:func:`fingerprint_file`),
                recorded if none is; :meth:`charge` and :meth:`reserve` then
                refuse a different fingerprint.

        Raises:
            ValidationError: if a different limit is already set.
        """
        dataset = _name(dataset, "dataset")
        budget = PrivacyBudget(epsilon, delta)
        with self._transaction() as con:
            con.execute("BEGIN IMMEDIATE")
            row = con.execute(
                "SELECT epsilon, delta, fingerprint FROM datasets WHERE name=?",
                (dataset,),
            ).fetchone()
            if row is None:
                con.execute(
                    "INSERT INTO datasets VALUES (?, ?, ?, ?, ?)",
                    (dataset, budget.epsilon, budget.delta, fingerprint, _now()),
                )
                return budget
            if (row[0], row[1]) != (budget.epsilon, budget.delta) or (
                fingerprint is not None and row[2] not in (None, fingerprint)
            ):
                raise ValidationError(
                    f"`dataset` ({dataset!r}) must not have a limit yet: it has "
                    f"epsilon={row[0]!r}, delta={row[1]!r}. A limit is set once; "
                    "use a new dataset name for a new table."
                )
            if fingerprint is not None and row[2] is None:
                con.execute(
                    "UPDATE datasets SET fingerprint=? WHERE name=?",
                    (fingerprint, dataset),
                )
            return budget

    def limit(self, dataset: str) -> PrivacyBudget | None:
        """The dataset's limit, or ``None`` if none was set."""
        with self._transaction() as con:
            row = con.execute(
                "SELECT epsilon, delta FROM datasets WHERE name=?", (dataset,)
            ).fetchone()
        return None if row is None else PrivacyBudget(row[0], row[1])

    def datasets(self) -> list[str]:
        """Names of the datasets with a limit."""
        with self._transaction() as con:
            rows = con.execute("SELECT name FROM datasets ORDER BY name").fetchall()
        return [r[0] for r in rows]

    # ---------------------------------------------------------------- charging
    def charge(
        self,
        dataset: str,
        events_or_ledger: Any,
        *,
        release: str,
        fingerprint: str | None = None,
        delta: float | None = None,
    ) -> tuple[float, float]:
        """Charges a release to a dataset, or refuses it; atomic across processes.

        Args:
            dataset: a dataset with a limit (:meth:`set_limit`).
            events_or_ledger: the release's events: DpEvents, ``(event, count)``
                pairs, a ledger (dict, manifest dict or Ledger) or an accountant.
            release: a name unique within the dataset.
            fingerprint: if given, must equal the dataset's recorded fingerprint;
                the first one given is recorded when none is.
            delta: the release's delta, at which its events are composed;
                default the ledger's budget delta (required for bare events).
                Releases' deltas add up within the dataset's limit.

        Returns:
            The dataset's total ``(epsilon, delta)`` after this release.

        Raises:
            BudgetExceededError: if the releases' epsilons or deltas together
                would exceed the limit; nothing is recorded.
            ValidationError: unknown dataset, duplicate release name, bad events.
        """
        dataset = _name(dataset, "dataset")
        release = _name(release, "release")
        claim = _claim(events_or_ledger, delta)
        record = self._record(
            dataset,
            release,
            claim,
            fingerprint=fingerprint,
            state="charged",
            what=f"Release {release!r} (epsilon {claim.epsilon:.6g}, delta "
            f"{claim.delta:g})",
        )
        return record.epsilon_after, record.delta_after

    def reserve(
        self,
        dataset: str,
        *,
        epsilon: float,
        delta: float,
        release: str,
        fingerprint: str | None = None,
    ) -> ReleaseRecord:
        """Reserves a release's whole budget before it is fitted (atomic).

        In one transaction, charges ``(epsilon, delta)`` under ``release`` (state
        ``reserved``; recorded as one ``ApproxDPEvent``) or refuses. Call it
        before any noise of the release is drawn; then :meth:`settle`,
        :meth:`cancel` or :meth:`fail`. A reservation whose process dies stays
        charged (sound, if pessimistic).

        Args:
            dataset: a dataset with a limit.
            epsilon: the release's budget epsilon.
            delta: the release's budget delta; releases' deltas add up within the
                dataset's limit delta, so use a fraction of it.
            release: a name unique within the dataset.
            fingerprint: as for :meth:`charge`.

        Returns:
            The reservation's record (``epsilon_after`` is the dataset's total
            with it).

        Raises:
            BudgetExceededError: if the dataset's total would exceed its limit;
                nothing is recorded.
            ValidationError: bad budget, unknown dataset, duplicate release name
                or a fingerprint that does not match.
        """
        dataset = _name(dataset, "dataset")
        release = _name(release, "release")
        budget = PrivacyBudget(epsilon, delta)
        event = ApproxDPEvent(
            epsilon=budget.epsilon,
            delta=budget.delta,
            label=f"reservation for release {release}",
        )
        return self._record(
            dataset,
            release,
            _Claim([(event, 1)], budget.epsilon, budget.delta),
            fingerprint=fingerprint,
            state="reserved",
            what=(
                f"Reserving epsilon = {budget.epsilon:g}, delta = {budget.delta:g} "
                f"for release {release!r}"
            ),
        )

    def settle(
        self,
        dataset: str,
        release: str,
        events_or_ledger: Any,
    ) -> ReleaseRecord:
        """Lowers a reservation to what the release actually spent (atomic).

        The release's events or ledger are composed on their own at the
        reservation's delta (a fully adaptive ledger in zCDP, as its accountant
        did); that epsilon replaces the reservation's, and the events replace
        its event in the audit trail (state ``settled``).

        Args:
            dataset: the dataset.
            release: a reservation made by :meth:`reserve`.
            events_or_ledger: the fit's events or ledger (as for :meth:`charge`);
                they must fit inside the reservation (their epsilon at its delta
                at most its epsilon).

        Returns:
            The release's record after settling.

        Raises:
            ValidationError: if ``release`` is not a pending reservation, or the
                events do not fit inside it; nothing changes then.
        """
        dataset = _name(dataset, "dataset")
        release = _name(release, "release")
        with self._transaction() as con:
            con.execute("BEGIN IMMEDIATE")
            self._limit_or_raise(con, dataset, None)
            reserved = self._reservation(con, dataset, release)
            claim = _claim(events_or_ledger, reserved.delta)
            if not claim.epsilon <= reserved.epsilon * (1 + _RTOL):
                raise ValidationError(
                    f"`events_or_ledger` (epsilon {claim.epsilon:.6g} at delta = "
                    f"{reserved.delta:g}) must fit inside release {release!r}'s "
                    f"reservation (epsilon {reserved.epsilon:.6g}); the reservation "
                    "stays charged."
                )
            epsilon = min(claim.epsilon, reserved.epsilon)
            con.execute(
                "DELETE FROM events WHERE dataset=? AND release=?", (dataset, release)
            )
            self._insert_events(con, dataset, release, claim.events)
            con.execute(
                "UPDATE releases SET state='settled', events=?, epsilon=? "
                "WHERE dataset=? AND name=?",
                (len(claim.events), epsilon, dataset, release),
            )
            total_epsilon, total_delta = self._totals(con, dataset)
            con.execute(
                "UPDATE releases SET epsilon_after=?, delta_after=? "
                "WHERE dataset=? AND name=?",
                (total_epsilon, total_delta, dataset, release),
            )
            return self._release(con, dataset, release)

    def cancel(self, dataset: str, release: str) -> None:
        """Drops a reservation whose release drew no noise (atomic).

        Raises:
            ValidationError: if ``release`` is not a pending reservation.
        """
        dataset = _name(dataset, "dataset")
        release = _name(release, "release")
        with self._transaction() as con:
            con.execute("BEGIN IMMEDIATE")
            self._reservation(con, dataset, release)
            con.execute(
                "DELETE FROM events WHERE dataset=? AND release=?", (dataset, release)
            )
            con.execute(
                "DELETE FROM releases WHERE dataset=? AND name=?", (dataset, release)
            )

    def fail(self, dataset: str, release: str) -> ReleaseRecord:
        """Keeps a reservation whose fit failed after noise may have been drawn.

        Returns:
            The release's record (state ``failed``; the reservation stays charged).

        Raises:
            ValidationError: if ``release`` is not a pending reservation.
        """
        dataset = _name(dataset, "dataset")
        release = _name(release, "release")
        with self._transaction() as con:
            con.execute("BEGIN IMMEDIATE")
            self._reservation(con, dataset, release)
            con.execute(
                "UPDATE releases SET state='failed' WHERE dataset=? AND name=?",
                (dataset, release),
            )
            return self._release(con, dataset, release)

    def _record(
        self,
        dataset: str,
        release: str,
        claim: _Claim,
        *,
        fingerprint: str | None,
        state: str,
        what: str,
    ) -> ReleaseRecord:
        """Charges ``claim`` under a new release, or refuses (one transaction)."""
        with self._transaction() as con:
            con.execute("BEGIN IMMEDIATE")
            budget = self._limit_or_raise(con, dataset, fingerprint)
            if con.execute(
                "SELECT 1 FROM releases WHERE dataset=? AND name=?", (dataset, release)
            ).fetchone():
                raise ValidationError(
                    f"`release` ({release!r}) must be new for dataset {dataset!r}: "
                    "it was charged already."
                )
            before = self._totals(con, dataset)
            epsilon, delta = self._totals(con, dataset, extra=claim)
            if not (epsilon <= budget.epsilon and delta <= budget.delta):
                raise BudgetExceededError(
                    f"{what} would raise dataset {dataset!r} to epsilon "
                    f"{epsilon:.6g} and delta {delta:g}, over its limit of epsilon "
                    f"{budget.epsilon:.6g} and delta {budget.delta:g} (spent "
                    f"before: epsilon {before[0]:.6g}, delta {before[1]:g}; "
                    "releases add up); nothing was recorded."
                    + (_DELTA_HINT if delta > budget.delta else ""),
                    requested=epsilon,
                    budget=budget.epsilon,
                    delta=budget.delta,
                )
            if fingerprint is not None:
                con.execute(
                    "UPDATE datasets SET fingerprint=? "
                    "WHERE name=? AND fingerprint IS NULL",
                    (fingerprint, dataset),
                )
            self._insert_events(con, dataset, release, claim.events)
            con.execute(
                "INSERT INTO releases (dataset, name, created, events, epsilon, "
                "delta, epsilon_after, delta_after, state) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    dataset,
                    release,
                    _now(),
                    len(claim.events),
                    claim.epsilon,
                    claim.delta,
                    epsilon,
                    delta,
                    state,
                ),
            )
            return self._release(con, dataset, release)

    def spent(self, dataset: str) -> tuple[float, float]:
        """Total ``(epsilon, delta)`` charged to ``dataset``: sums over its releases.

        ``(0, 0)`` if nothing was charged.
        """
        with self._transaction() as con:
            self._limit_or_raise(con, dataset, None)
            return self._totals(con, dataset)

    def releases(self, dataset: str) -> list[ReleaseRecord]:
        """The dataset's releases in charging order."""
        with self._transaction() as con:
            rows = con.execute(
                f"SELECT {_RELEASE_COLUMNS} FROM releases "
                "WHERE dataset=? ORDER BY rowid",
                (dataset,),
            ).fetchall()
        return [_release_record(r) for r in rows]

    def fingerprint(self, dataset: str) -> str | None:
        """The dataset's recorded fingerprint, or ``None``."""
        with self._transaction() as con:
            row = con.execute(
                "SELECT fingerprint FROM datasets WHERE name=?", (dataset,)
            ).fetchone()
        return None if row is None else row[0]

    def events(self, dataset: str) -> list[tuple[str, DpEvent, int]]:
        """Every charged ``(release, event, count)`` of the dataset, in order."""
        with self._transaction() as con:
            rows = con.execute(
                "SELECT release, event, count FROM events WHERE dataset=? ORDER BY id",
                (dataset,),
            ).fetchall()
        return [(r[0], event_from_dict(json.loads(r[1])), r[2]) for r in rows]

    # ----------------------------------------------------------------- helpers
    def _limit_or_raise(
        self, con: sqlite3.Connection, dataset: str, fingerprint: str | None
    ) -> PrivacyBudget:
        row = con.execute(
            "SELECT epsilon, delta, fingerprint FROM datasets WHERE name=?", (dataset,)
        ).fetchone()
        if row is None:
            raise ValidationError(
                f"`dataset` ({dataset!r}) must have a limit. Hint: call "
                "set_limit(dataset, epsilon=..., delta=...) once first."
            )
        if fingerprint is not None and row[2] is not None and row[2] != fingerprint:
            raise ValidationError(
                f"`fingerprint` ({fingerprint!r}) must match dataset {dataset!r}'s "
                f"recorded fingerprint ({row[2]!r}): is this the same table?"
            )
        return PrivacyBudget(row[0], row[1])

    @staticmethod
    def _reservation(
        con: sqlite3.Connection, dataset: str, release: str
    ) -> ApproxDPEvent:
        """The event of a pending reservation; raises if it is not one."""
        row = con.execute(
            "SELECT state FROM releases WHERE dataset=? AND name=?", (dataset, release)
        ).fetchone()
        state = None if row is None else row[0]
        rows = con.execute(
            "SELECT event FROM events WHERE dataset=? AND release=?",
            (dataset, release),
        ).fetchall()
        events = [event_from_dict(json.loads(r[0])) for r in rows]
        if state != "reserved" or len(events) != 1:
            found = "no such release" if state is None else f"its state is {state!r}"
            raise ValidationError(
                f"`release` ({release!r}) must be a pending reservation of dataset "
                f"{dataset!r}; {found}."
            )
        event = events[0]
        if not isinstance(event, ApproxDPEvent):  # pragma: no cover - defensive
            raise ValidationError(
                f"`release` ({release!r}) must hold one approx_dp reservation event."
            )
        return event

    @staticmethod
    def _release(con: sqlite3.Connection, dataset: str, release: str) -> ReleaseRecord:
        row = con.execute(
            f"SELECT {_RELEASE_COLUMNS} FROM releases WHERE dataset=? AND name=?",
            (dataset, release),
        ).fetchone()
        return _release_record(row)

    @staticmethod
    def _insert_events(
        con: sqlite3.Connection,
        dataset: str,
        release: str,
        new: list[tuple[DpEvent, int]],
    ) -> None:
        con.executemany(
            "INSERT INTO events (dataset, release, event, count) VALUES (?,?,?,?)",
            [(dataset, release, json.dumps(e.to_dict()), c) for e, c in new],
        )

    @staticmethod
    def _totals(
        con: sqlite3.Connection, dataset: str, *, extra: _Claim | None = None
    ) -> tuple[float, float]:
        """Sums of the releases' epsilons and deltas (exact, rounded up)."""
        rows = con.execute(
            "SELECT epsilon, delta FROM releases WHERE dataset=?", (dataset,)
        ).fetchall()
        if extra is not None:
            rows.append((extra.epsilon, extra.delta))
        if not rows:
            return 0.0, 0.0
        ones = [1] * len(rows)
        return (
            conv.exact_sum_up(ones, [r[0] for r in rows]),
            conv.exact_sum_up(ones, [r[1] for r in rows]),
        )


_DELTA_HINT = (
    " Hint: the releases' deltas add up; the dataset's limit delta must cover "
    "their sum (e.g. a limit delta 10 times each release's)."
)
_RELEASE_COLUMNS = (
    "name, created, events, epsilon, delta, epsilon_after, delta_after, state"
)
#: Relative slack when checking that a ledger fits inside its reservation (the
#: ledger's epsilon was computed by the same composition; this absorbs rounding).
_RTOL = 1e-9


def _release_record(row: Any) -> ReleaseRecord:
    return ReleaseRecord(
        name=row[0],
        created=row[1],
        events=row[2],
        epsilon=row[3],
        delta=row[4],
        epsilon_after=row[5],
        delta_after=row[6],
        state=row[7],
    )


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
