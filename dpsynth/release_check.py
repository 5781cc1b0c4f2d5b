"""Reading and checking a release folder: its manifest, file hashes and ledger.

:func:`verify_release` is what ``dpsynth budget verify DIR`` runs: every file's
SHA-256 against the manifest, the manifest's ledger recomposed from scratch
(:func:`dpsynth.privacy.verify.verify_ledger`), the claimed epsilon against it,
and the saved model's ledger against the manifest's. Writing lives in
:mod:`dpsynth.release`.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dpsynth.errors import ValidationError
from dpsynth.privacy.store import fingerprint_file
from dpsynth.privacy.verify import VerificationResult, verify_ledger

__all__ = [
    "FORMAT",
    "MANIFEST_FILE",
    "MODEL_FILE",
    "VERSION",
    "FileCheck",
    "ReleaseCheck",
    "is_release",
    "read_manifest",
    "verify_release",
]

FORMAT = "dpsynth-release"
VERSION = 1
MANIFEST_FILE = "manifest.json"
MODEL_FILE = "model.json"


# ---------------------------------------------------------------------- reading
def _load_manifest(path: Path) -> dict[str, Any]:
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise ValidationError(
            f"`path` ({str(path)!r}) must be a release manifest (JSON): {exc}"
        ) from exc
    if not isinstance(value, dict):
        raise ValidationError(f"`path` ({str(path)!r}) must hold a JSON object.")
    return value


def is_release(folder: Path) -> bool:
    """Whether ``folder`` holds a dpsynth release manifest (any version)."""
    try:
        return _load_manifest(folder / MANIFEST_FILE).get("format") == FORMAT
    except ValidationError:
        return False


def read_manifest(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Reads a release's manifest.

    Args:
        path: the release folder, or its ``manifest.json``.

    Returns:
        The manifest dict.

    Raises:
        ValidationError: if it is not a dpsynth release manifest of this version.
    """
    p = Path(path)
    manifest = _load_manifest(p / MANIFEST_FILE if p.is_dir() else p)
    if manifest.get("format") != FORMAT:
        raise ValidationError(
            f"`path` ({str(path)!r}) must be a {FORMAT!r} manifest; its format is "
            f"{manifest.get('format')!r}."
        )
    if manifest.get("version") != VERSION:
        raise ValidationError(
            f"`version` ({manifest.get('version')!r}) must be {VERSION}."
        )
    return manifest


@dataclass(frozen=True, kw_only=True)
class FileCheck:
    """The hash check of one file of a release.

    Attributes:
        name: the file name inside the release folder.
        expected: the SHA-256 the manifest records.
        actual: the file's SHA-256, or ``None`` if the file is absent.
        required: whether an absent file fails the check.
    """

    name: str
    expected: str | None
    actual: str | None
    required: bool

    @property
    def ok(self) -> bool:
        """Whether the file matches (or is absent and not required)."""
        if self.actual is None:
            return not self.required
        return self.actual == self.expected

    def describe(self) -> str:
        """One line: the file and its verdict."""
        if self.actual is None:
            verdict = "MISSING" if self.required else "absent, not checked"
        elif self.ok:
            verdict = "sha256 OK"
        else:
            verdict = "sha256 MISMATCH (the file changed after the release)"
        return f"{self.name:<20} {verdict}"


@dataclass(frozen=True, kw_only=True)
class ReleaseCheck:
    """The outcome of :func:`verify_release`.

    Attributes:
        ok: every check passed.
        path: the release folder.
        manifest: the manifest read.
        ledger: the independent recomputation of the ledger.
        files: the hash checks of the synthetic table and the model.
        claim_matches: whether the manifest's ``claimed`` block agrees with the
            recomputed ledger (budget, and epsilon spent).
        model_ledger_matches: whether ``model.json`` holds the manifest's ledger
            (``None`` when the model is absent and not required).
    """

    ok: bool
    path: Path
    manifest: dict[str, Any]
    ledger: VerificationResult
    files: tuple[FileCheck, ...]
    claim_matches: bool
    model_ledger_matches: bool | None

    def summary(self) -> str:
        """A printable report: the ledger's, then the release's checks."""
        claimed = self.manifest.get("claimed") or {}
        model = {
            True: "matches the manifest",
            False: "DIFFERS from the manifest",
            None: "not checked (model absent)",
        }[self.model_ledger_matches]
        lines = [
            self.ledger.summary(),
            "",
            f"release: {self.path} ({self.manifest.get('method')}, created "
            f"{self.manifest.get('created')})",
            *(f"  {f.describe()}" for f in self.files),
            f"  claimed epsilon = {claimed.get('epsilon')!r} at delta = "
            f"{claimed.get('delta')!r}, spent {claimed.get('epsilon_spent')!r}: "
            + ("matches the ledger" if self.claim_matches else "DOES NOT MATCH"),
            f"  model ledger: {model}",
            f"release verdict: {'OK' if self.ok else 'FAILED'}",
        ]
        return "\n".join(lines)


def verify_release(path: str | os.PathLike[str]) -> ReleaseCheck:
    """Checks a release: its ledger, its claim and the hashes of its files.

    The ledger's epsilon is recomputed from its events alone
    (:func:`~dpsynth.privacy.verify.verify_ledger`); the manifest's ``claimed``
    block must agree with it; the synthetic table and the model must have the
    recorded SHA-256; the model must hold the same ledger.

    Args:
        path: the release folder (its files must be present), or its
            ``manifest.json`` (files absent next to it are reported, not failed:
            a reviewer may hold the manifest alone).

    Returns:
        The checks; ``check.ok`` is the verdict, ``check.summary()`` a report.

    Raises:
        ValidationError: if ``path`` holds no readable release manifest.
    """
    p = Path(path)
    folder, required = (p, True) if p.is_dir() else (p.parent, False)
    manifest = read_manifest(p)
    ledger = verify_ledger(manifest.get("ledger"))
    output = manifest.get("output") or {}
    model = manifest.get("model") or {}
    files = tuple(
        _check_file(folder, str(entry.get("file", "")), entry.get("sha256"), required)
        for entry in (output, model)
    )
    claim = manifest.get("claimed") or {}
    claim_matches = (
        claim.get("epsilon") == ledger.budget.epsilon
        and claim.get("delta") == ledger.budget.delta
        and isinstance(claim.get("epsilon_spent"), int | float)
        and math.isclose(
            claim["epsilon_spent"], ledger.recomputed_epsilon, rel_tol=1e-9
        )
    )
    model_ledger = _model_ledger_matches(folder, files[1], manifest.get("ledger"))
    ok = ledger.ok and claim_matches and all(f.ok for f in files)
    ok = ok and model_ledger is not False
    return ReleaseCheck(
        ok=ok,
        path=folder,
        manifest=manifest,
        ledger=ledger,
        files=files,
        claim_matches=claim_matches,
        model_ledger_matches=model_ledger,
    )


def _check_file(folder: Path, name: str, expected: Any, required: bool) -> FileCheck:
    target = folder / name
    if not name or Path(name).name != name:  # a manifest may not point elsewhere
        return FileCheck(name=name or "?", expected=None, actual="", required=True)
    actual = fingerprint_file(target) if target.is_file() else None
    return FileCheck(
        name=name,
        expected=expected if isinstance(expected, str) else None,
        actual=actual,
        required=required,
    )


def _model_ledger_matches(folder: Path, check: FileCheck, ledger: Any) -> bool | None:
    if check.actual is None:
        return None if not check.required else False
    try:
        model = json.loads((folder / check.name).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return False
    return isinstance(model, dict) and model.get("ledger") == ledger
