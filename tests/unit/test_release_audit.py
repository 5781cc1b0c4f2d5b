"""Releases with an audit: the holdout, DIR/audit/, and what the manifest says."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from dpsynth.audit.battery import AuditConfig
from dpsynth.cli import main
from dpsynth.data.schema import CategoricalColumn, IntegerColumn, Schema
from dpsynth.errors import ValidationError
from dpsynth.privacy.store import BudgetStore
from dpsynth.release import make_release, verify_release
from dpsynth.release_audit import AUDIT_WARNING

SCHEMA = Schema(
    [
        CategoricalColumn(name="colour", categories=("red", "green", "blue")),
        IntegerColumn(name="age", lower=18, upper=80, bins=8),
        IntegerColumn(name="score", lower=0, upper=9),
    ]
)


def people(n: int, seed: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "colour": rng.choice(["red", "green", "blue"], size=n),
            "age": rng.integers(18, 81, size=n),
            "score": rng.integers(0, 10, size=n),
        }
    )


def release(frame, out, **kwargs):
    kwargs.setdefault("schema", SCHEMA)
    kwargs.setdefault("epsilon", 1.0)
    kwargs.setdefault("delta", 1e-9)
    kwargs.setdefault("method", "independent")
    return make_release(frame, out, **kwargs)


def test_an_audited_release_holds_out_rows_and_writes_the_report(tmp_path):
    out = tmp_path / "rel"
    # alpha = 1e-6: a release that leaks nothing fails with probability <= 1e-6
    # (at the default 0.05 it would, by design, 5% of the time)
    config = AuditConfig(alpha=1e-6)
    result = release(
        people(2000), out, seed=4, audit=True, holdout=0.2, audit_config=config
    )
    assert sorted(p.name for p in out.iterdir()) == [
        "audit",
        "manifest.json",
        "model.json",
        "synthetic.csv",
    ]
    block = result.manifest["audit"]
    assert block["holdout"] == {"kind": "fraction", "fraction": 0.2}
    assert block["private"] is False and block["warning"] == AUDIT_WARNING
    # the manifest never states the number of rows held out or fitted
    text = json.dumps(result.manifest)
    assert "400" not in text and "1600" not in text
    report = json.loads((out / "audit" / "report.json").read_text())
    assert report["data"]["train_rows"] == 1600
    assert report["data"]["holdout_rows"] == 400
    assert (
        report["claim"]["epsilon"] == 1.0 and report["claim"]["method"] == "independent"
    )
    assert report["ledger"]["events"] and report["verdict"] != "fail"
    assert report["reproducibility"]["seed"] == 4
    assert "<svg" in (out / "audit" / "report.html").read_text()
    assert verify_release(out).ok  # the audit does not disturb verification


def test_a_separate_holdout_table_is_audited_against_and_every_row_is_fitted(tmp_path):
    out = tmp_path / "rel"
    result = release(people(1000), out, audit=True, holdout=people(300, seed=9))
    assert result.manifest["audit"]["holdout"] == {"kind": "table"}
    report = json.loads((out / "audit" / "report.json").read_text())
    assert report["data"]["train_rows"] == 1000
    assert report["data"]["holdout_rows"] == 300


def test_a_holdout_too_small_is_refused_before_anything_is_spent(tmp_path):
    store = BudgetStore(tmp_path / "budget.sqlite")
    store.set_limit("people", epsilon=5.0, delta=1e-6)
    with pytest.raises(ValidationError, match="needs at least 10"):
        release(
            people(60),
            tmp_path / "rel",
            audit=True,
            holdout=0.1,
            budget_store=store,
            dataset="people",
        )
    assert not (tmp_path / "rel").exists()
    assert store.spent("people")[0] == 0
    with pytest.raises(ValidationError, match="fraction in"):
        release(people(600), tmp_path / "rel", audit=True, holdout=0.7)
    with pytest.raises(ValidationError, match="only used by the audit"):
        release(people(600), tmp_path / "rel", holdout=0.1)


def test_a_failing_audit_keeps_the_release_and_says_why(tmp_path, monkeypatch):
    import dpsynth.release_audit as release_audit

    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(release_audit, "audit_release", broken)
    out = tmp_path / "rel"
    result = release(people(600), out, audit=True)
    assert result.manifest["audit"]["error"] == "RuntimeError: boom"
    assert not (out / "audit").exists() and (out / "synthetic.csv").exists()
    assert verify_release(out).ok


def run(argv: list[object]) -> int:
    with pytest.raises(SystemExit) as info:
        main([str(a) for a in argv])
    return int(info.value.code or 0)


def test_generate_audits_by_default_and_no_audit_skips(tmp_path, capsys):
    data = tmp_path / "people.csv"
    people(1500).to_csv(data, index=False)
    schema = tmp_path / "schema.json"
    SCHEMA.save(schema)
    base = ["generate", data, "--schema", schema, "--epsilon", 1, "--method",
            "independent", "--seed", 2]  # fmt: skip
    assert run([*base, "--out", tmp_path / "a"]) == 0
    printed = capsys.readouterr().out
    assert "Audit:" in printed and "NOT private" in printed
    manifest = json.loads((tmp_path / "a" / "manifest.json").read_text())
    assert manifest["audit"]["holdout"]["fraction"] == 0.1
    assert "--holdout-fraction" in manifest["command"]
    assert run([*base, "--out", tmp_path / "b", "--no-audit"]) == 0
    assert not (tmp_path / "b" / "audit").exists()
    assert json.loads((tmp_path / "b" / "manifest.json").read_text())["audit"] is None
    hold = tmp_path / "hold.csv"
    people(200, seed=8).to_csv(hold, index=False)
    assert run([*base, "--out", tmp_path / "c", "--holdout", hold]) == 0
    assert run([*base, "--out", tmp_path / "d", "--holdout", hold, "--no-audit"]) == 2
    assert "--holdout" in capsys.readouterr().err
    assert not (tmp_path / "d").exists()
