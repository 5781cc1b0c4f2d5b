"""Writing an audit: ``report.json`` and a self-contained ``report.html``.

:func:`audit_tables` is the one entry point for a caller with three tables: it
encodes them, runs the battery and returns the report dict (with its
reproducibility block). :func:`write_audit` writes the two files atomically
into a new folder; :func:`write_audit_files` into a folder being built (a
release's temporary folder).
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from dpsynth._random import RngLike
from dpsynth._versions import installed_version
from dpsynth.audit.battery import AuditConfig, Claim, Progress, run_audit
from dpsynth.audit.data import AuditData
from dpsynth.audit.shadow import Factory
from dpsynth.data.domain import Domain
from dpsynth.data.schema import Schema
from dpsynth.errors import ValidationError
from dpsynth.privacy.store import fingerprint_file

__all__ = [
    "HTML_FILE",
    "JSON_FILE",
    "audit_tables",
    "reproducibility",
    "write_audit",
    "write_audit_files",
]

JSON_FILE = "report.json"
HTML_FILE = "report.html"
_PACKAGES = ("dpsynth", "numpy", "pandas", "scipy", "scikit-learn", "opendp")


def reproducibility(
    *,
    seed: int | None,
    inputs: Mapping[str, tuple[str | None, int]],
    command: Sequence[str] | None,
) -> dict[str, Any]:
    """The reproducibility block: versions, seed, input hashes, the command.

    Args:
        seed: the audit's seed, or None (OS entropy: the run cannot be repeated
            exactly).
        inputs: per table (``train``...), its file path (or None for a table
            passed in memory) and its number of rows.
        command: the command line, if the audit came from the CLI.
    """
    return {
        "versions": {
            "python": platform.python_version(),
            **{p: installed_version(p) for p in _PACKAGES},
        },
        "seed": seed,
        "seed_note": None
        if seed is not None
        else "No seed: targets and splits came from OS entropy; rerun with --seed "
        "to make the audit repeatable.",
        "inputs": {
            name: {
                "path": path,
                "sha256": None if path is None else fingerprint_file(path),
                "rows": rows,
            }
            for name, (path, rows) in inputs.items()
        },
        "command": None if command is None else " ".join(map(_quote, command)),
    }


def _quote(arg: str) -> str:
    import shlex

    return shlex.quote(str(arg))


def audit_tables(
    train: pd.DataFrame,
    holdout: pd.DataFrame,
    synthetic: pd.DataFrame,
    *,
    schema: Schema | Domain | None = None,
    manifest: Mapping[str, Any] | None = None,
    manifest_path: str | None = None,
    config: AuditConfig | None = None,
    seed: int | None = None,
    paths: Mapping[str, str | None] | None = None,
    command: Sequence[str] | None = None,
    progress: Progress | None = None,
    factory: Factory | None = None,
    generator: str = "the generator",
) -> dict[str, Any]:
    """Audits a synthetic table against its training table and a holdout.

    Args:
        train: the table the generator was fitted on.
        holdout: records of the same population the generator never saw.
        synthetic: the table under audit.
        schema: the public Schema or Domain; None reads one off the tables
            (non-private, stated in the report).
        manifest: the release manifest dict, for the claim and its ledger.
        manifest_path: where the manifest was read from.
        config: thresholds and sizes.
        seed: the audit's seed (None: OS entropy).
        paths: per table, the file it came from (for the input hashes).
        command: the command line, for the reproducibility block.
        progress: ``progress(stage, done, total)``.
        factory: refits the generator (``factory(codes, rng) -> codes``) for the
            shadow-model attack; None skips it.
        generator: the generator's name, for that attack's threat model.

    Returns:
        The report dict (what ``report.json`` holds).
    """
    data = AuditData.from_frames(train, holdout, synthetic, schema=schema)
    claim = (
        Claim.from_manifest(manifest, manifest_path)
        if manifest is not None
        else Claim()
    )
    rng: RngLike = seed
    report = run_audit(
        data,
        claim=claim,
        config=config,
        rng=rng,
        progress=progress,
        factory=factory,
        generator=generator,
    )
    out = report.to_dict()
    paths = dict(paths or {})
    out["reproducibility"] = reproducibility(
        seed=seed,
        inputs={
            "train": (paths.get("train"), len(train)),
            "holdout": (paths.get("holdout"), len(holdout)),
            "synthetic": (paths.get("synthetic"), len(synthetic)),
            **({"manifest": (manifest_path, 0)} if manifest_path is not None else {}),
        },
        command=command,
    )
    return out


def write_audit_files(
    folder: str | os.PathLike[str], report: Mapping[str, Any]
) -> None:
    """Writes ``report.json`` and ``report.html`` into an existing folder."""
    from dpsynth.audit.html import render_html

    folder = Path(folder)
    text = json.dumps(report, indent=2, allow_nan=False) + "\n"
    html = render_html(dict(report))
    (folder / JSON_FILE).write_text(text, encoding="utf-8")
    (folder / HTML_FILE).write_text(html, encoding="utf-8")


def is_audit(folder: Path) -> bool:
    """Whether ``folder`` holds a dpsynth audit (its ``report.json``)."""
    try:
        data = json.loads((folder / JSON_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(data, dict) and data.get("format") == "dpsynth-audit-report"


def write_audit(
    out_dir: str | os.PathLike[str],
    report: Mapping[str, Any],
    *,
    overwrite: bool = False,
) -> Path:
    """Writes the report files into a new folder, atomically.

    The folder may be absent or empty; a folder with files is refused unless
    ``overwrite`` is given and it holds a previous audit. The files are written
    to a temporary folder beside it, then renamed, so nothing half-written is
    ever left.

    Raises:
        ValidationError: the folder may not be written.
    """
    out = Path(os.path.abspath(out_dir))
    shown = str(out_dir)
    if out.exists() and not out.is_dir():
        raise ValidationError(f"`out` ({shown!r}) must be a folder; it is a file.")
    if out.is_dir() and any(out.iterdir()):
        if not overwrite:
            raise ValidationError(
                f"`out` ({shown!r}) must be empty or absent: it holds files. Choose "
                "a new folder, or pass --overwrite to replace a previous audit."
            )
        if not is_audit(out):
            raise ValidationError(
                f"`out` ({shown!r}) holds files but no dpsynth {JSON_FILE}: it is "
                "not a previous audit, so it is not overwritten. Nothing was deleted."
            )
    if not out.parent.is_dir():
        raise ValidationError(
            f"`out` ({shown!r}) must be in an existing folder. Create "
            f"{str(out.parent)!r} first."
        )
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent))
    try:
        write_audit_files(tmp, report)
        if out.is_dir() and any(out.iterdir()):
            old = Path(
                tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".old", dir=out.parent)
            )
            os.rename(out, old)
            os.rename(tmp, out)
            shutil.rmtree(old, ignore_errors=True)
        else:
            if out.is_dir():
                out.rmdir()
            os.rename(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out
