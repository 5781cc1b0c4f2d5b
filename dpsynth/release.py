"""Release bundles: synthetic rows, their manifest and the fitted model, atomically.

A release is a folder::

    DIR/synthetic.csv    the synthetic table (or synthetic.parquet)
    DIR/model.json       the fitted synthesizer (Synthesizer.save): post-processing
                         of the noisy measurements, reloadable to sample more rows
    DIR/manifest.json    the claim and how to check it: method and parameters,
                         schema or domain, ledger, (epsilon, delta), versions,
                         seed, hashes of the input and of the files above

The folder is built next to ``DIR`` (same file system) and renamed into place only
when complete, so a failure leaves nothing behind. :func:`make_release` fits,
samples and writes, charging a :class:`~dpsynth.privacy.store.BudgetStore` through
a reservation made before any noise is drawn; :func:`write_release` writes the
bundle of a synthesizer fitted already; :func:`read_manifest` and
:func:`verify_release` (from :mod:`dpsynth.release_check`, re-exported here)
read and check one. See ``docs/releases.md``.
"""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import os
import platform
import shutil
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, get_args

import numpy as np
import pandas as pd

from dpsynth._versions import installed_version
from dpsynth.data.dataset import Dataset
from dpsynth.data.domain import Domain
from dpsynth.data.encoding import Encoder
from dpsynth.data.io import atomic_write, write_table
from dpsynth.data.schema import Schema
from dpsynth.errors import InternalError, ValidationError
from dpsynth.privacy.accountant import PrivacyAccountant
from dpsynth.privacy.budget import PrivacyBudget
from dpsynth.privacy.store import BudgetStore, fingerprint_file
from dpsynth.release_check import (
    FORMAT,
    MANIFEST_FILE,
    MODEL_FILE,
    VERSION,
    FileCheck,
    ReleaseCheck,
    is_release,
    read_manifest,
    verify_release,
)
from dpsynth.synthesizers.base import Progress, Synthesizer

if TYPE_CHECKING:
    from dpsynth.audit.battery import AuditConfig

__all__ = [
    "FORMAT",
    "MANIFEST_FILE",
    "METHOD_PREFERENCE",
    "MODEL_FILE",
    "SEED_FROM_OS",
    "VERSION",
    "FileCheck",
    "Release",
    "ReleaseCheck",
    "check_destination",
    "default_method",
    "make_release",
    "read_manifest",
    "verify_release",
    "write_release",
]

logger = logging.getLogger(__name__)

#: What the manifest's ``seed`` says when no seed was given.
SEED_FROM_OS = "OS entropy"
#: The default method is the first of these that is registered.
METHOD_PREFERENCE = ("aim", "mst", "privbayes", "independent")

OutputFormat = Literal["csv", "parquet"]


def default_method() -> str:
    """The best registered synthesizer, in the order of :data:`METHOD_PREFERENCE`.

    Example:
        >>> default_method() in METHOD_PREFERENCE
        True
    """
    from dpsynth.synthesizers.registry import SYNTHESIZERS

    for name in METHOD_PREFERENCE:
        if name in SYNTHESIZERS:
            return name
    return sorted(SYNTHESIZERS)[0]


@dataclass(frozen=True)
class Release:
    """A written release folder and its manifest.

    Attributes:
        path: the release folder.
        manifest: the manifest as written.
    """

    path: Path
    manifest: dict[str, Any]

    @property
    def synthetic_path(self) -> Path:
        """The synthetic table."""
        return self.path / self.manifest["output"]["file"]

    @property
    def model_path(self) -> Path:
        """The fitted model (:meth:`Synthesizer.load` reads it)."""
        return self.path / MODEL_FILE

    @property
    def manifest_path(self) -> Path:
        """The manifest."""
        return self.path / MANIFEST_FILE


# ------------------------------------------------------------------ destination
def check_destination(out_dir: str | os.PathLike[str], *, overwrite: bool) -> Path:
    """Checks that a release may be written to ``out_dir``; returns its full path.

    ``out_dir`` may be absent or an empty folder. A folder with files is refused,
    unless ``overwrite`` is given and it is a previous release (it holds a
    dpsynth ``manifest.json``): ``overwrite`` never deletes any other folder.

    Raises:
        ValidationError: if the release may not be written there.
    """
    out = Path(os.path.abspath(out_dir))
    shown = str(out_dir)
    if not out.name:
        raise ValidationError(f"`out` ({shown!r}) must name a folder to create.")
    if out.is_symlink():
        raise ValidationError(f"`out` ({shown!r}) must not be a symbolic link.")
    if out.exists() and not out.is_dir():
        raise ValidationError(
            f"`out` ({shown!r}) must be a folder (or not exist yet); it is a file."
        )
    if out.is_dir() and any(out.iterdir()):
        if not overwrite:
            raise ValidationError(
                f"`out` ({shown!r}) must be empty or absent: it holds files. Choose "
                "a new folder, or pass --overwrite to replace a previous release."
            )
        if not is_release(out):
            raise ValidationError(
                f"`out` ({shown!r}) must be a previous release to be overwritten: it "
                f"holds files but no dpsynth {MANIFEST_FILE}. Nothing was deleted."
            )
    if not out.parent.is_dir():
        raise ValidationError(
            f"`out` ({shown!r}) must be in an existing folder. Create "
            f"{str(out.parent)!r} first."
        )
    return out


def _fsync(path: Path) -> None:
    with contextlib.suppress(OSError):  # not every platform/file system allows it
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _move_into_place(tmp: Path, out: Path, *, overwrite: bool) -> None:
    """Renames the finished folder ``tmp`` to ``out`` (both in one folder)."""
    _fsync(tmp)
    if out.is_dir() and any(out.iterdir()):
        check_destination(out, overwrite=overwrite)  # it may have changed meanwhile
        old = Path(
            tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".old", dir=out.parent)
        )
        try:
            os.rename(out, old)  # replaces the empty placeholder ``old``
        except BaseException:
            old.rmdir()
            raise
        try:
            os.rename(tmp, out)
        except BaseException:
            os.rename(old, out)
            raise
        shutil.rmtree(old, ignore_errors=True)
    else:
        try:
            os.rename(tmp, out)  # creates ``out`` or replaces it while empty
        except OSError as exc:
            if exc.errno not in (errno.ENOTEMPTY, errno.EEXIST, errno.ENOTDIR):
                raise
            raise ValidationError(
                f"`out` ({str(out)!r}) must be empty or absent: it changed while the "
                f"release was written ({exc.strerror})."
            ) from exc
    _fsync(out.parent)


#: Why the manifest has no input hash by default.
INPUT_HASH_WITHHELD = (
    "a hash of the sensitive input is not differentially private (it lets anyone "
    "who knows all rows but one test guesses of the last); pass "
    "record_input_hash=True / --record-input-hash to record it anyway"
)


# ----------------------------------------------------------------------- writing
def write_release(
    out_dir: str | os.PathLike[str],
    *,
    synthesizer: Synthesizer,
    synthetic: pd.DataFrame,
    seed: int | None,
    input_path: str | os.PathLike[str] | None = None,
    input_sha256: str | None = None,
    record_input_hash: bool = False,
    fmt: OutputFormat = "csv",
    budget_store: Mapping[str, Any] | None = None,
    command: Sequence[str] | None = None,
    overwrite: bool = False,
    audit: Mapping[str, Any] | None = None,
    audit_block: Mapping[str, Any] | None = None,
) -> Release:
    """Writes the release bundle of a fitted synthesizer, atomically.

    Everything is written to a temporary folder next to ``out_dir`` and renamed
    into place at the end; on any error the temporary folder is removed and
    ``out_dir`` is left as it was.

    Args:
        out_dir: the release folder: absent, empty, or (with ``overwrite``) a
            previous release, which is replaced.
        synthesizer: the fitted synthesizer (its ledger, schema and model).
        synthetic: the rows it sampled.
        seed: the seed of the non-DP randomness, or ``None`` (OS entropy).
        input_path: the sensitive input file; the manifest names it.
        input_sha256: its SHA-256 if computed already (saves reading it again).
        record_input_hash: write the input's SHA-256 into the manifest. OFF by
            default: a hash of the sensitive file is NOT differentially private
            (anyone who knows every row but one can test guesses of the last
            row against it), so it is an explicit opt-in for releases that stay
            with the data holder.
        fmt: ``"csv"`` or ``"parquet"``.
        budget_store: what the budget store recorded, for the manifest.
        command: the command line that made the release, for the manifest.
        overwrite: replace ``out_dir`` if it is a previous release.
        audit: an audit report dict, written to ``audit/report.json`` and
            ``audit/report.html`` (NOT private: for the data controller).
        audit_block: the manifest's ``audit`` entry describing it.

    Returns:
        The written :class:`Release`.

    Raises:
        ValidationError: for a bad destination or argument; nothing is written.
        NotFittedError: if ``synthesizer`` is not fitted.
    """
    _check_format(fmt)
    if not isinstance(synthetic, pd.DataFrame):
        raise ValidationError(
            f"`synthetic` ({type(synthetic).__name__}) must be a pandas DataFrame."
        )
    _ = synthesizer.ledger  # raises NotFittedError before anything is written
    out = check_destination(out_dir, overwrite=overwrite)
    if record_input_hash and input_path is not None and input_sha256 is None:
        input_sha256 = fingerprint_file(input_path)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent))
    try:
        data_file = f"synthetic.{fmt}"
        write_table(synthetic, tmp / data_file)
        synthesizer.save(tmp / MODEL_FILE)
        if audit is not None:
            from dpsynth.audit.report import write_audit_files

            (tmp / "audit").mkdir()
            write_audit_files(tmp / "audit", audit)
        manifest = _manifest(
            synthesizer,
            synthetic,
            seed=seed,
            data_file=data_file,
            data_sha256=_sha256(tmp / data_file),
            model_sha256=_sha256(tmp / MODEL_FILE),
            input_path=input_path,
            input_sha256=input_sha256 if record_input_hash else None,
            budget_store=budget_store,
            command=command,
            audit=audit_block,
        )
        text = _json_text(manifest)
        atomic_write(tmp / MANIFEST_FILE, lambda p: p.write_text(text, "utf-8"))
        _move_into_place(tmp, out, overwrite=overwrite)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    logger.info("wrote release %s (%d rows)", out, len(synthetic))
    return Release(out, manifest)


def _check_format(fmt: Any) -> None:
    if fmt not in get_args(OutputFormat):
        raise ValidationError(
            f"`format` ({fmt!r}) must be one of {list(get_args(OutputFormat))}."
        )


def _manifest(
    synthesizer: Synthesizer,
    synthetic: pd.DataFrame,
    *,
    seed: int | None,
    data_file: str,
    data_sha256: str,
    model_sha256: str,
    input_path: str | os.PathLike[str] | None,
    input_sha256: str | None,
    budget_store: Mapping[str, Any] | None,
    command: Sequence[str] | None,
    audit: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    ledger = synthesizer.ledger
    schema = synthesizer.schema_
    return {
        "format": FORMAT,
        "version": VERSION,
        "created": _now(),
        "method": synthesizer.name,
        "params": synthesizer.get_params(),
        "schema": schema.to_dict() if isinstance(schema, Schema) else None,
        "domain": synthesizer.domain_.to_dict(),
        "nonprivate_schema": isinstance(schema, Schema) and not schema.private,
        "claimed": {
            "epsilon": ledger.budget.epsilon,
            "delta": ledger.budget.delta,
            "epsilon_spent": ledger.epsilon,
            "neighbouring": ledger.neighbouring,
        },
        "ledger": ledger.to_dict(),
        "seed": SEED_FROM_OS if seed is None else int(seed),
        "input": None
        if input_path is None
        else {
            "file": Path(input_path).name,
            "sha256": input_sha256,
            **({} if input_sha256 else {"sha256_withheld": INPUT_HASH_WITHHELD}),
        },
        "output": {
            "file": data_file,
            "format": data_file.rsplit(".", 1)[1],
            "rows": int(len(synthetic)),
            "columns": [str(c) for c in synthetic.columns],
            "sha256": data_sha256,
        },
        "model": {"file": MODEL_FILE, "sha256": model_sha256},
        "budget_store": None if budget_store is None else dict(budget_store),
        "audit": None if audit is None else dict(audit),
        "versions": _versions(),
        "command": None if command is None else [str(a) for a in command],
    }


def _json_text(value: Any) -> str:
    try:
        return json.dumps(value, indent=2, allow_nan=False) + "\n"
    except (TypeError, ValueError) as exc:  # a synthesizer parameter, probably
        raise InternalError(
            f"The release manifest is not JSON-serialisable: {exc}. This is "
            "probably a bug in dpsynth; please report it."
        ) from exc


def _versions() -> dict[str, str | None]:
    from dpsynth import __version__

    return {
        "dpsynth": __version__,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "pandas": pd.__version__,
        "opendp": installed_version("opendp"),
    }


def _sha256(path: Path) -> str:
    return fingerprint_file(path)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


# ------------------------------------------------------------ fit, sample, write
def make_release(
    data: pd.DataFrame | Dataset,
    out_dir: str | os.PathLike[str],
    *,
    schema: Schema | Domain,
    epsilon: float,
    delta: float,
    method: str | None = None,
    params: Mapping[str, Any] | None = None,
    rows: int | None = None,
    seed: int | None = None,
    fmt: OutputFormat = "csv",
    input_path: str | os.PathLike[str] | None = None,
    record_input_hash: bool = False,
    budget_store: BudgetStore | str | os.PathLike[str] | None = None,
    dataset: str | None = None,
    release_name: str | None = None,
    overwrite: bool = False,
    callback: Progress | None = None,
    command: Sequence[str] | None = None,
    holdout: float | pd.DataFrame | Dataset | None = None,
    audit: bool = False,
    audit_config: AuditConfig | None = None,
    shadow: bool = False,
) -> Release:
    """Fits a synthesizer, samples and writes the release bundle.

    Everything that can be checked is checked before the budget store is touched
    and before the fit: the destination, the budget, the method, the rows, the
    seed and the table against the schema (encoding by its rules).

    Privacy: the fit spends at most ``(epsilon, delta)`` under add/remove-one
    neighbours (its accountant refuses anything more before drawing noise). With
    a budget store, that whole budget is reserved before the fit
    (:meth:`BudgetStore.reserve`), then settled with the fit's ledger; a fit that
    fails before any spend cancels the reservation, one that fails later keeps
    it. Sampling and writing are post-processing.

    Args:
        data: the sensitive table (DataFrame, or a Dataset of codes).
        out_dir: the release folder (see :func:`write_release`).
        schema: the public Schema, or a Domain for an integer-coded table.
        epsilon: the release's budget epsilon.
        delta: the release's budget delta, in (0, 1).
        method: a registered synthesizer (default: :func:`default_method`).
        params: its hyperparameters.
        rows: rows to sample (default: the model's noisy estimate of the input's).
        seed: a non-negative int for the non-DP randomness (selection
            tie-breaks, sampling, decoding), or ``None`` for OS entropy. DP noise
            is never seeded.
        fmt: ``"csv"`` or ``"parquet"``.
        input_path: the input file: named in the manifest; its hash
            fingerprints the dataset in the (private) budget store.
        record_input_hash: also write the input's SHA-256 into the manifest
            (not differentially private; see :func:`write_release`).
        budget_store: a BudgetStore (or its file) to charge; needs ``dataset``.
        dataset: the dataset's name in the store.
        release_name: the release's name in the store (default:
            ``"<folder name>@<UTC time>"``).
        overwrite: replace ``out_dir`` if it is a previous release.
        callback: ``callback(stage, done, total)`` for progress.
        command: the command line, recorded in the manifest.
        holdout: with ``audit``: the fraction of the input to hold out from the
            fit at random (default 0.1), or a separate holdout table.
        audit: audit the synthetic table against the fitted rows and the
            holdout (:mod:`dpsynth.release_audit`); the report goes to
            ``audit/`` in the release folder, for the data controller only.
        audit_config: the audit's thresholds and sizes.
        shadow: with ``audit``, also run the shadow-model attack, refitting the
            same synthesizer on samples of the holdout (slow: see
            :class:`~dpsynth.audit.battery.AuditConfig`'s ``shadow_*`` sizes).

    Returns:
        The written :class:`Release`.

    Raises:
        ValidationError: bad arguments, destination or data; nothing was spent.
        DomainError: values the schema's rules refuse; nothing was spent.
        BudgetExceededError: the budget store refused the reservation; nothing
            was fitted or written.
    """
    out = check_destination(out_dir, overwrite=overwrite)
    _check_format(fmt)
    budget = _check_budget(epsilon, delta)
    synthesizer = _make(method, params)
    rows = _check_rows(rows)
    # The first two streams are those of releases made before audits existed,
    # so a seed gives the same fit and sample as it did then (without audit).
    seeds = _seed_sequence(seed).spawn(4)
    codes = _encode(data, schema)
    plan = None
    if audit:
        from dpsynth.release_audit import DEFAULT_HOLDOUT, plan_holdout

        plan = plan_holdout(
            codes,
            DEFAULT_HOLDOUT if holdout is None else holdout,
            schema,
            np.random.default_rng(seeds[2]),
        )
        codes = plan.fit
    elif holdout is not None or shadow:
        raise ValidationError(
            "`holdout` and `shadow` are only used by the audit: pass audit=True."
        )
    progress = callback or _no_progress
    input_sha256 = None if input_path is None else fingerprint_file(input_path)
    store = _store(budget_store, dataset)
    name = release_name or f"{out.name}@{_now()}"
    if store is not None:
        store[0].reserve(
            store[1],
            epsilon=budget.epsilon,
            delta=budget.delta,
            release=name,
            fingerprint=input_sha256,
        )
    accountant = PrivacyAccountant.from_budget(budget)
    with _settle_on_exit(store, name, accountant):
        synthesizer.fit(
            codes,
            schema=schema,
            accountant=accountant,
            rng=np.random.default_rng(seeds[0]),
            callback=progress,
        )
        progress("sample", 0, 1)
        synthetic = synthesizer.sample(rows, rng=np.random.default_rng(seeds[1]))
        progress("sample", 1, 1)
    charged = None if store is None else _charged(*store, name)
    report = None
    audit_block = None if plan is None else plan.manifest()
    if plan is not None:
        from dpsynth.release_audit import audit_release, synthesizer_factory

        factory = None
        if shadow:
            factory = synthesizer_factory(
                synthesizer.name,
                synthesizer.get_params(),
                schema,
                epsilon=budget.epsilon,
                delta=budget.delta,
            )
        try:
            report = audit_release(
                plan,
                synthetic,
                schema=schema,
                ledger=synthesizer.ledger.to_dict(),
                method=synthesizer.name,
                seed=seed,
                rng=np.random.default_rng(seeds[3]),
                config=audit_config,
                command=None if command is None else [str(a) for a in command],
                progress=progress,
                shadow=factory,
            )
        except Exception as exc:  # the budget is spent: keep the release
            # The DP release is complete and its budget spent; losing it to a
            # failure of the (non-private, after-the-fact) audit would waste
            # the budget. The manifest says the audit failed, and why.
            logger.warning("the audit failed; writing the release without it")
            assert audit_block is not None
            audit_block["error"] = f"{type(exc).__name__}: {exc}"
    progress("write", 0, 1)
    release = write_release(
        out,
        synthesizer=synthesizer,
        synthetic=synthetic,
        seed=seed,
        input_path=input_path,
        input_sha256=input_sha256,
        record_input_hash=record_input_hash,
        fmt=fmt,
        budget_store=charged,
        command=command,
        overwrite=overwrite,
        audit=report,
        audit_block=audit_block,
    )
    progress("write", 1, 1)
    return release


@contextlib.contextmanager
def _settle_on_exit(
    charge: tuple[BudgetStore, str] | None,
    name: str,
    accountant: PrivacyAccountant,
) -> Iterator[None]:
    """Settles the reservation after the fit; cancels or keeps it on failure."""
    if charge is None:
        yield
        return
    store, dataset = charge
    try:
        yield
    except BaseException:
        if len(accountant):  # noise may have been drawn: the reservation stays
            store.fail(dataset, name)
            logger.warning(
                "release %r failed after spending; its reservation stays charged",
                name,
            )
        else:
            store.cancel(dataset, name)
        raise
    store.settle(dataset, name, accountant.ledger)


def _charged(store: BudgetStore, dataset: str, name: str) -> dict[str, Any]:
    record = next(r for r in store.releases(dataset) if r.name == name)
    limit = store.limit(dataset)
    return {
        "dataset": dataset,
        "release": name,
        "state": record.state,
        "release_epsilon": record.epsilon,
        "release_delta": record.delta,
        "dataset_epsilon_after": record.epsilon_after,
        "dataset_delta_after": record.delta_after,
        "composition": "basic (releases add up)",
        "dataset_limit": None if limit is None else limit.to_dict(),
    }


def _check_budget(epsilon: Any, delta: Any) -> PrivacyBudget:
    budget = PrivacyBudget(epsilon, delta)
    if not budget.delta > 0:
        raise ValidationError(
            f"`delta` ({delta!r}) must be in (0, 1). Hint: use far less than 1/n, "
            "e.g. 1e-9."
        )
    return budget


def _make(method: str | None, params: Mapping[str, Any] | None) -> Synthesizer:
    from dpsynth.synthesizers.registry import synthesizer_class

    name = default_method() if method is None else method
    klass = synthesizer_class(name)
    try:
        return klass(**dict(params or {}))
    except TypeError as exc:
        raise ValidationError(
            f"`params` ({dict(params or {})!r}) must be hyperparameters of "
            f"{name!r}: {exc}"
        ) from exc


def _check_rows(rows: Any) -> int | None:
    if rows is None:
        return None
    if isinstance(rows, bool) or not isinstance(rows, int | np.integer) or rows < 1:
        raise ValidationError(
            f"`rows` ({rows!r}) must be an integer >= 1 (or left out for the "
            "model's noisy estimate of the input's rows)."
        )
    return int(rows)


def _seed_sequence(seed: Any) -> np.random.SeedSequence:
    if seed is None:
        return np.random.SeedSequence()
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise ValidationError(
            f"`seed` ({seed!r}) must be a non-negative integer, or left out for OS "
            "entropy."
        )
    return np.random.SeedSequence(int(seed))


def _encode(data: Any, schema: Any) -> Dataset:
    """Encodes the table before anything is reserved (so bad data costs nothing)."""
    if isinstance(data, Dataset):
        return data
    if not isinstance(data, pd.DataFrame):
        raise ValidationError(
            f"`data` ({type(data).__name__}) must be a pandas DataFrame."
        )
    if isinstance(schema, Schema):
        return Encoder(schema).encode(data)
    if isinstance(schema, Domain):
        return Dataset.from_frame(data, schema)
    raise ValidationError(
        f"`schema` ({type(schema).__name__}) must be a Schema (load one with "
        "Schema.load) or a Domain (for integer-coded tables)."
    )


def _store(store: Any, dataset: str | None) -> tuple[BudgetStore, str] | None:
    """The store and dataset to charge, or None; checks the dataset's limit."""
    if store is None and dataset is None:
        return None
    if store is None or dataset is None:
        raise ValidationError(
            "`budget_store` and `dataset` must be given together (or neither)."
        )
    if not isinstance(store, BudgetStore):
        if not Path(store).is_file():
            raise ValidationError(
                f"`budget_store` ({str(store)!r}) must be an existing budget store. "
                "Create it and set the dataset's limit with `dpsynth budget limit`."
            )
        store = BudgetStore(store)
    if store.limit(dataset) is None:
        raise ValidationError(
            f"`dataset` ({dataset!r}) must have a limit in the budget store. Set "
            "it once with `dpsynth budget limit STORE --dataset NAME --epsilon E "
            "--delta D`."
        )
    return store, dataset


def _no_progress(stage: str, done: int, total: int) -> None:
    logger.debug("%s %d/%d", stage, done, total)
