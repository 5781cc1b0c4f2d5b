"""A persistent budget per dataset, across releases (SQLite, standard library).

A team gives each sensitive table a name and a total limit ``(epsilon, delta)``
once. Every release charges its ledger: inside one ``BEGIN IMMEDIATE`` transaction
the store loads all events already charged to that dataset, composes them with the
new ones (tight composition across releases, with the accountant's routes), and
either records the release or refuses it with
:class:`~dpsynth.errors.BudgetExceededError`. SQLite's write lock serialises
concurrent charges, so processes racing to charge can never overshoot together.

A release whose noise is drawn later (``dpsynth generate``) uses a *reservation*:
:meth:`BudgetStore.reserve` charges an ``ApproxDPEvent(epsilon, delta)`` for the
release's whole budget before anything is fitted; afterwards
:meth:`BudgetStore.settle` swaps it for the fit's actual ledger when that composes
tighter, :meth:`BudgetStore.cancel` drops it when no noise was drawn, and
:meth:`BudgetStore.fail` keeps it when a fit failed after drawing noise. A
reservation is sound because any ``(epsilon, delta)``-DP mechanism is a
post-processing of randomized response with that ``(epsilon, delta)`` (Kairouz,
Oh and Viswanath 2015), which is what the reservation's event stands for.

Example:
    >>> import tempfile, os
    >>> from dpsynth.privacy.events import PureDPEvent
    >>> path = os.path.join(tempfile.mkdtemp(), "budget.sqlite")
    >>> store = BudgetStore(path)
    >>> _ = store.set_limit("adult", epsilon=1.0, delta=1e-9)
    >>> store.charge("adult", [PureDPEvent(epsilon=0.4)], release="r1")
    (0.4, 1e-09)
    >>> store.charge("adult", [PureDPEvent(epsilon=0.7)], release="r2")
    Traceback (most recent call last):
    ...
    dpsynth.errors.BudgetExceededError: Release 'r2' would raise dataset 'adult' ...
    >>> store.reserve("adult", epsilon=0.5, delta=0.0, release="r3").state
    'reserved'
    >>> store.cancel("adult", "r3")
    >>> store.spent("adult")
    (0.4, 1e-09)
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
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
    PLD_POLICIES,
    GroupTable,
    Ledger,
    LedgerEntry,
    PldPolicy,
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
    epsilon_after REAL NOT NULL,
    state TEXT NOT NULL DEFAULT 'charged',
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
_FORMAT = "dpsynth-budget-store/1"

#: States of a release in the store: ``charged`` (by :meth:`BudgetStore.charge`),
#: ``reserved`` (a reservation: fit pending, or its process died), ``settled`` (the
#: reservation was replaced by the fit's ledger), ``kept`` (settled, but the
#: reservation composed tighter than the ledger and was kept), ``failed`` (the fit
#: failed after noise may have been drawn; the reservation stays charged).
RELEASE_STATES = ("charged", "reserved", "settled", "kept", "failed")


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
        epsilon_after: the dataset's total epsilon (at its limit's delta) after it
            (after its settlement, for a settled reservation).
        state: one of :data:`RELEASE_STATES`.
    """

    name: str
    created: str
    events: int
    epsilon_after: float
    state: str = "charged"


def _name(value: Any, what: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValidationError(f"`{what}` ({value!r}) must be a non-empty string.")
    return value


def _items(obj: Any) -> list[tuple[DpEvent, int]]:
    """Normalises events, (event, count) pairs, ledgers, accountants, dicts."""
    from dpsynth.privacy.accountant import PrivacyAccountant

    if isinstance(obj, PrivacyAccountant):
        obj = obj.ledger
    if isinstance(obj, dict | Ledger):
        return list(parse_ledger(obj).events)
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

    Args:
        path: the SQLite file (created if missing).
        timeout: seconds to wait for another process's write lock.
        pld: the composition's PLD policy (as for the accountant).
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        timeout: float = 60.0,
        pld: PldPolicy = "auto",
    ) -> None:
        if pld not in PLD_POLICIES:
            raise ValidationError(f"`pld` ({pld!r}) must be one of {PLD_POLICIES}.")
        self.path = os.fspath(path)
        self._timeout = float(timeout)
        self._pld = pld
        with self._transaction() as con:
            con.executescript("BEGIN IMMEDIATE;" + _SCHEMA + "COMMIT;")
            con.execute("BEGIN IMMEDIATE")
            row = con.execute("SELECT value FROM meta WHERE key='format'").fetchone()
            if row is None:
                con.execute("INSERT INTO meta VALUES ('format', ?)", (_FORMAT,))
            elif row[0] != _FORMAT:
                raise ValidationError(
                    f"`path` ({self.path!r}) must be a {_FORMAT} file, not {row[0]!r}."
                )
            columns = [r[1] for r in con.execute("PRAGMA table_info(releases)")]
            if "state" not in columns:  # a store written before reservations
                con.execute(
                    "ALTER TABLE releases ADD COLUMN state TEXT NOT NULL "
                    "DEFAULT 'charged'"
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
            delta: total delta; every total is stated at this delta.
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
    ) -> tuple[float, float]:
        """Charges a release to a dataset, or refuses it; atomic across processes.

        Args:
            dataset: a dataset with a limit (:meth:`set_limit`).
            events_or_ledger: the release's events: DpEvents, ``(event, count)``
                pairs, a ledger (dict, manifest dict or Ledger) or an accountant.
            release: a name unique within the dataset.
            fingerprint: if given, must equal the dataset's recorded fingerprint;
                the first one given is recorded when none is.

        Returns:
            The dataset's total ``(epsilon, delta)`` after this release.

        Raises:
            BudgetExceededError: if all releases together would exceed the limit;
                nothing is recorded.
            ValidationError: unknown dataset, duplicate release name, bad events.
        """
        dataset = _name(dataset, "dataset")
        release = _name(release, "release")
        record, budget = self._record(
            dataset,
            release,
            _items(events_or_ledger),
            fingerprint=fingerprint,
            state="charged",
            what=f"Release {release!r}",
        )
        return record.epsilon_after, budget.delta

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

        In one transaction, charges ``ApproxDPEvent(epsilon, delta)`` under
        ``release`` (state ``reserved``) or refuses. Call it before any noise of
        the release is drawn; then :meth:`settle`, :meth:`cancel` or :meth:`fail`.
        A reservation whose process dies stays charged (sound, if pessimistic).

        Privacy: sound for any fit that is ``(epsilon, delta)``-DP (its
        accountant's budget): such a mechanism is a post-processing of randomized
        response with that ``(epsilon, delta)``, the mechanism the event states.

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
        record, _ = self._record(
            dataset,
            release,
            [(event, 1)],
            fingerprint=fingerprint,
            state="reserved",
            what=(
                f"Reserving epsilon = {budget.epsilon:g}, delta = {budget.delta:g} "
                f"for release {release!r}"
            ),
        )
        return record

    def settle(
        self, dataset: str, release: str, events_or_ledger: Any
    ) -> ReleaseRecord:
        """Settles a reservation with the release's actual events (atomic).

        The reservation is replaced by the events when the dataset's total with
        them is at most its total with the reservation (state ``settled``);
        otherwise the reservation is kept (state ``kept``). Both are sound, so
        the total never rises and never passes the limit.

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
        new = _items(events_or_ledger)
        costs = [(conv.event_cost(e), c) for e, c in new]
        with self._transaction() as con:
            con.execute("BEGIN IMMEDIATE")
            budget = self._limit_or_raise(con, dataset, None)
            reserved = self._reservation(con, dataset, release)
            alone = GroupTable()
            for cost, count in costs:
                alone.add(cost, count)
            # the tightest sound composition, whatever the store's policy: the
            # accountant that planned the fit may have used the PLD route
            own = alone.compose(reserved.delta, pld="always").epsilon
            if not own <= reserved.epsilon * (1 + _RTOL):
                raise ValidationError(
                    f"`events_or_ledger` (epsilon {own:.6g} at delta = "
                    f"{reserved.delta:g}) must fit inside release {release!r}'s "
                    f"reservation (epsilon {reserved.epsilon:.6g}); the reservation "
                    "stays charged."
                )
            with_reservation = self._table(con, dataset).compose(
                budget.delta, pld=self._pld
            )
            others = self._table(con, dataset, exclude=release)
            for cost, count in costs:
                others.add(cost, count)
            with_events = others.compose(budget.delta, pld=self._pld)
            if with_events.epsilon <= with_reservation.epsilon:
                con.execute(
                    "DELETE FROM events WHERE dataset=? AND release=?",
                    (dataset, release),
                )
                self._insert_events(con, dataset, release, new)
                state, events, total = "settled", len(new), with_events.epsilon
            else:
                state, events, total = "kept", 1, with_reservation.epsilon
            con.execute(
                "UPDATE releases SET state=?, events=?, epsilon_after=? "
                "WHERE dataset=? AND name=?",
                (state, events, total, dataset, release),
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
        new: list[tuple[DpEvent, int]],
        *,
        fingerprint: str | None,
        state: str,
        what: str,
    ) -> tuple[ReleaseRecord, PrivacyBudget]:
        """Charges ``new`` under a new release, or refuses (one transaction)."""
        costs = [(conv.event_cost(e), c) for e, c in new]
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
            table = self._table(con, dataset)
            for cost, count in costs:
                table.add(cost, count)
            total = table.compose(budget.delta, pld=self._pld).epsilon
            if not total <= budget.epsilon:
                before = self._table(con, dataset).compose(budget.delta, pld=self._pld)
                raise BudgetExceededError(
                    f"{what} would raise dataset {dataset!r} to epsilon "
                    f"{total:.6g} at delta = {budget.delta:g}, over its limit "
                    f"{budget.epsilon:.6g} (spent before: {before.epsilon:.6g}); "
                    "nothing was recorded."
                    + (_DELTA_HINT if math.isinf(total) else ""),
                    requested=total,
                    budget=budget.epsilon,
                    delta=budget.delta,
                )
            if fingerprint is not None:
                con.execute(
                    "UPDATE datasets SET fingerprint=? "
                    "WHERE name=? AND fingerprint IS NULL",
                    (fingerprint, dataset),
                )
            self._insert_events(con, dataset, release, new)
            con.execute(
                "INSERT INTO releases (dataset, name, created, events, epsilon_after, "
                "state) VALUES (?, ?, ?, ?, ?, ?)",
                (dataset, release, _now(), len(new), total, state),
            )
            return self._release(con, dataset, release), budget

    def spent(self, dataset: str) -> tuple[float, float]:
        """Total ``(epsilon, delta)`` charged to ``dataset``; ``(0, 0)`` if nothing."""
        with self._transaction() as con:
            budget = self._limit_or_raise(con, dataset, None)
            table = self._table(con, dataset)
        if not len(table):
            return 0.0, 0.0
        return table.compose(budget.delta, pld=self._pld).epsilon, budget.delta

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
    def _table(
        con: sqlite3.Connection, dataset: str, *, exclude: str | None = None
    ) -> GroupTable:
        """The dataset's charged events (less release ``exclude``) by group."""
        table = GroupTable()
        rows = con.execute(
            "SELECT event, count FROM events WHERE dataset=? AND release IS NOT ? "
            "ORDER BY id",
            (dataset, exclude),
        )
        for text, count in rows:
            table.add(conv.event_cost(event_from_dict(json.loads(text))), count)
        return table


_DELTA_HINT = (
    " Hint: the releases' deltas add up and leave no delta for the rest; the "
    "dataset's limit delta must exceed their sum (e.g. a limit delta 10 times "
    "each release's)."
)
_RELEASE_COLUMNS = "name, created, events, epsilon_after, state"
#: Relative slack when checking that a ledger fits inside its reservation (the
#: ledger's epsilon was computed by the same composition; this absorbs rounding).
_RTOL = 1e-9


def _release_record(row: Any) -> ReleaseRecord:
    return ReleaseRecord(
        name=row[0], created=row[1], events=row[2], epsilon_after=row[3], state=row[4]
    )


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
