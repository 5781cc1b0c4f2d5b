"""A persistent budget per dataset, across releases (SQLite, standard library).

A team gives each sensitive table a name and a total limit ``(epsilon, delta)``
once. Every release charges its ledger: inside one ``BEGIN IMMEDIATE`` transaction
the store loads all events already charged to that dataset, composes them with the
new ones (tight composition across releases, with the accountant's routes), and
either records the release or refuses it with
:class:`~dpsynth.errors.BudgetExceededError`. SQLite's write lock serialises
concurrent charges, so processes racing to charge can never overshoot together.

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
from dpsynth.privacy.events import DpEvent, event_from_dict
from dpsynth.privacy.ledger import (
    PLD_POLICIES,
    GroupTable,
    Ledger,
    LedgerEntry,
    PldPolicy,
    parse_ledger,
)

__all__ = ["BudgetStore", "ReleaseRecord", "fingerprint_file"]

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
        epsilon_after: the dataset's total epsilon (at its limit's delta) after it.
    """

    name: str
    created: str
    events: int
    epsilon_after: float


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
            fingerprint: optional content hash (:func:`fingerprint_file`);
                :meth:`charge` then refuses a different fingerprint.

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
            fingerprint: if given, must equal the dataset's recorded fingerprint.

        Returns:
            The dataset's total ``(epsilon, delta)`` after this release.

        Raises:
            BudgetExceededError: if all releases together would exceed the limit;
                nothing is recorded.
            ValidationError: unknown dataset, duplicate release name, bad events.
        """
        dataset = _name(dataset, "dataset")
        release = _name(release, "release")
        new = _items(events_or_ledger)
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
                    f"Release {release!r} would raise dataset {dataset!r} to epsilon "
                    f"{total:.6g} at delta = {budget.delta:g}, over its limit "
                    f"{budget.epsilon:.6g} (spent before: {before.epsilon:.6g}); "
                    "nothing was recorded.",
                    requested=total,
                    budget=budget.epsilon,
                    delta=budget.delta,
                )
            con.executemany(
                "INSERT INTO events (dataset, release, event, count) VALUES (?,?,?,?)",
                [(dataset, release, json.dumps(e.to_dict()), c) for e, c in new],
            )
            con.execute(
                "INSERT INTO releases VALUES (?, ?, ?, ?, ?)",
                (dataset, release, _now(), len(new), total),
            )
        return total, budget.delta

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
                "SELECT name, created, events, epsilon_after FROM releases "
                "WHERE dataset=? ORDER BY rowid",
                (dataset,),
            ).fetchall()
        return [
            ReleaseRecord(name=r[0], created=r[1], events=r[2], epsilon_after=r[3])
            for r in rows
        ]

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
    def _table(con: sqlite3.Connection, dataset: str) -> GroupTable:
        table = GroupTable()
        rows = con.execute(
            "SELECT event, count FROM events WHERE dataset=? ORDER BY id", (dataset,)
        )
        for text, count in rows:
            table.add(conv.event_cost(event_from_dict(json.loads(text))), count)
        return table


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
