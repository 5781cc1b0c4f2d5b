"""``dpsynth audit``: a report from three CSV files, and clear errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from dpsynth.cli import main


def run(argv: list[object]) -> int:
    with pytest.raises(SystemExit) as info:
        main([str(a) for a in argv])
    return int(info.value.code or 0)


@pytest.fixture
def tables(tmp_path: Path) -> dict[str, Path]:
    rng = np.random.default_rng(0)

    def frame(n: int) -> pd.DataFrame:
        a = rng.integers(0, 4, size=n)
        return pd.DataFrame(
            {
                "colour": np.array(["red", "blue", "green", "grey"])[a],
                "age": 18 + (a * 10 + rng.integers(0, 30, size=n)),
                "score": rng.integers(0, 5, size=n),
                "member": np.where(rng.random(n) < 0.3 + 0.1 * a, "yes", "no"),
            }
        )

    paths = {}
    for name, n in (("train", 1500), ("holdout", 600), ("synthetic", 1500)):
        paths[name] = tmp_path / f"{name}.csv"
        frame(n).to_csv(paths[name], index=False)
    return paths


def test_audit_writes_both_reports(tables, tmp_path, capsys):
    out = tmp_path / "audit"
    code = run(
        [
            "audit",
            "--train", tables["train"],
            "--holdout", tables["holdout"],
            "--synthetic", tables["synthetic"],
            "--secret", "member",
            "--quasi-identifiers", "colour,age",
            "--out", out,
            "--seed", 3,
            "--alpha", 1e-6,  # independent tables fail w.p. <= 1e-6 (0.05 by default)
        ]
    )  # fmt: skip
    assert code == 0
    report = json.loads((out / "report.json").read_text())
    assert report["verdict"] in ("pass", "inconclusive")  # independent tables
    assert report["data"]["secret"] == "member"
    assert report["data"]["quasi_identifiers"] == ["colour", "age"]
    assert "non-private" in report["data"]["schema_source"]
    repro = report["reproducibility"]
    assert repro["seed"] == 3 and len(repro["inputs"]["train"]["sha256"]) == 64
    assert repro["command"].startswith("dpsynth audit --train")
    assert "<svg" in (out / "report.html").read_text()
    printed = capsys.readouterr().out
    assert "Empirical epsilon" in printed and "report.html" in printed


def test_audit_reads_the_claim_of_a_release(tables, tmp_path):
    release = tmp_path / "rel"
    schema = tmp_path / "schema.json"
    schema.write_text(
        json.dumps(
            {
                "format": "dpsynth-schema",
                "version": 1,
                "columns": [
                    {
                        "name": "colour",
                        "kind": "categorical",
                        "categories": ["blue", "green", "grey", "red"],
                    },
                    {
                        "name": "age",
                        "kind": "integer",
                        "lower": 18,
                        "upper": 80,
                        "bins": 8,
                    },
                    {"name": "score", "kind": "integer", "lower": 0, "upper": 4},
                    {
                        "name": "member",
                        "kind": "categorical",
                        "categories": ["no", "yes"],
                    },
                ],
            }
        )
    )
    assert run(
        ["generate", tables["train"], "--schema", schema, "--epsilon", 1,
         "--method", "independent", "--out", release, "--seed", 1]
    ) == 0  # fmt: skip
    out = tmp_path / "audit"
    code = run(
        ["audit", "--train", tables["train"], "--holdout", tables["holdout"],
         "--synthetic", release / "synthetic.csv", "--schema", schema,
         "--manifest", release, "--out", out, "--seed", 1, "--no-utility"]
    )  # fmt: skip
    assert code == 0
    report = json.loads((out / "report.json").read_text())
    assert (
        report["claim"]["epsilon"] == 1.0 and report["claim"]["method"] == "independent"
    )
    assert report["ledger"]["events"]
    assert report["empirical_epsilon"]["claimed"] == 1.0
    assert report["utility"] is None


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ("missing", "--holdout"),
        ("columns", "synthetic table lacks"),
        ("tiny", "holdout has 5 rows"),
        ("both", "at most one of"),
        ("shadow", "give the release's `--manifest`"),
    ],
)
def test_audit_refuses_bad_input(tables, tmp_path, capsys, change, message):
    argv = ["audit", "--train", tables["train"], "--holdout", tables["holdout"],
            "--synthetic", tables["synthetic"], "--out", tmp_path / "a"]  # fmt: skip
    if change == "missing":
        argv[3:5] = []
    elif change == "columns":
        frame = pd.read_csv(tables["synthetic"]).drop(columns="score")
        frame.to_csv(tables["synthetic"], index=False)
    elif change == "tiny":
        pd.read_csv(tables["holdout"]).head(5).to_csv(tables["holdout"], index=False)
    elif change == "shadow":
        argv.append("--shadow")
    else:
        argv += ["--schema", "s.json", "--domain", "d.json"]
    assert run(argv) == 2
    assert message in capsys.readouterr().err.replace("\n", " ")
    assert not (tmp_path / "a").exists()
