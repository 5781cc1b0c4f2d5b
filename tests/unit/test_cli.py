"""The ``dpsynth`` command line: commands, outputs, and errors that write nothing."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from dpsynth.cli import main


def run(argv: list[str]) -> int:
    """Runs the CLI; returns its exit status."""
    with pytest.raises(SystemExit) as info:
        main(argv)
    return int(info.value.code or 0)


@pytest.fixture
def table(tmp_path: Path) -> Path:
    rng = np.random.default_rng(7)
    n = 4000
    frame = pd.DataFrame(
        {
            "colour": rng.choice(["red", "green", "blue"], size=n, p=[0.5, 0.3, 0.2]),
            "age": rng.integers(18, 80, size=n),
        }
    )
    path = tmp_path / "people.csv"
    frame.to_csv(path, index=False)
    return path


@pytest.fixture
def kinds(tmp_path: Path) -> Path:
    path = tmp_path / "kinds.json"
    path.write_text(json.dumps({"colour": "categorical", "age": "integer"}))
    return path


def test_help_lists_every_command(capsys):
    assert run(["--help"]) == 0
    out = capsys.readouterr().out
    assert "schema" in out and "budget" in out
    assert run(["schema", "--help"]) == 0
    out = capsys.readouterr().out
    assert "discover" in out and "infer" in out
    assert run(["budget", "--help"]) == 0
    out = capsys.readouterr().out
    assert "show" in out and "verify" in out


def test_discover_writes_a_private_schema_whose_ledger_verifies(
    table, kinds, tmp_path, capsys
):
    out = tmp_path / "schema.json"
    argv = ["schema", "discover", str(table), "--epsilon", "2", "--delta", "1e-8"]
    assert run([*argv, "--kinds", str(kinds), "--out", str(out)]) == 0
    schema = json.loads(out.read_text())
    assert schema["provenance"]["private"] is True
    assert 0 < schema["provenance"]["epsilon"] <= 2
    by_name = {c["name"]: c for c in schema["columns"]}
    # 800+ rows per colour: far above any threshold at epsilon = 2.
    assert sorted(by_name["colour"]["categories"]) == ["blue", "green", "red"]
    assert by_name["age"]["kind"] == "integer"
    capsys.readouterr()

    assert run(["budget", "verify", str(out)]) == 0
    assert "verdict: OK" in capsys.readouterr().out
    assert run(["budget", "show", str(out)]) == 0
    assert "categories of colour" in capsys.readouterr().out


def test_verify_fails_on_a_tampered_ledger(table, kinds, tmp_path, capsys):
    out = tmp_path / "schema.json"
    argv = ["schema", "discover", str(table), "--epsilon", "1"]
    assert run([*argv, "--kinds", str(kinds), "--out", str(out)]) == 0
    schema = json.loads(out.read_text())
    ledger = schema["provenance"]["ledger"]
    ledger["entries"].pop(0)  # hide a measurement: the recorded values now lie
    tampered = tmp_path / "ledger.json"
    tampered.write_text(json.dumps(ledger))
    capsys.readouterr()
    assert run(["budget", "verify", str(tampered)]) == 1
    assert "verdict: OK" not in capsys.readouterr().out


def test_infer_warns_and_records_that_it_is_not_private(table, tmp_path, capsys):
    out = tmp_path / "schema.json"
    assert run(["schema", "infer", str(table), "--out", str(out)]) == 0
    assert "PRIVACY WARNING" in capsys.readouterr().err
    assert json.loads(out.read_text())["provenance"]["private"] is False


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--epsilon", "0"], "epsilon"),
        (["--epsilon", "-1"], "epsilon"),
        (["--delta", "1"], "delta"),
        (["--delta", "1.5"], "delta"),
        (["--bins", "0"], "bins"),
    ],
)
def test_bad_budget_arguments_exit_2_and_write_nothing(
    table, kinds, tmp_path, capsys, extra, message
):
    out = tmp_path / "schema.json"
    argv = ["schema", "discover", str(table), "--kinds", str(kinds), "--out", str(out)]
    assert run([*argv, *extra]) == 2
    assert message in capsys.readouterr().err
    assert not out.exists()


def test_wrong_column_names_in_kinds_exit_2_and_write_nothing(table, tmp_path, capsys):
    kinds = tmp_path / "kinds.json"
    kinds.write_text(json.dumps({"colour": "categorical", "height": "numeric"}))
    out = tmp_path / "schema.json"
    argv = ["schema", "discover", str(table), "--kinds", str(kinds), "--out", str(out)]
    assert run(argv) == 2
    assert "height" in capsys.readouterr().err
    assert not out.exists()


@pytest.mark.parametrize(
    "content", [b"", b"\x00\x01\x02\xff\xfe binary", b'{"not": "a table"}']
)
def test_a_file_that_is_not_a_table_exits_2_and_writes_nothing(
    tmp_path, capsys, content
):
    bad = tmp_path / "data.csv"
    bad.write_bytes(content)
    out = tmp_path / "schema.json"
    assert run(["schema", "infer", str(bad), "--out", str(out)]) == 2
    assert "error:" in capsys.readouterr().err
    assert not out.exists()


def test_missing_input_and_two_inputs_are_errors(table, tmp_path, capsys):
    out = tmp_path / "schema.json"
    assert run(["schema", "infer", str(tmp_path / "nope.csv"), "--out", str(out)]) == 2
    assert run(["schema", "infer", str(table), "--example", "adult"]) == 2
    assert run(["schema", "infer", "--example", "census"]) == 2
    assert "error:" in capsys.readouterr().err
    assert not out.exists()


def test_budget_commands_reject_files_without_a_ledger(tmp_path, capsys):
    for content in ("[1, 2]", '{"format": "something-else"}', "not json"):
        path = tmp_path / "x.json"
        path.write_text(content)
        assert run(["budget", "verify", str(path)]) == 2
    assert "error:" in capsys.readouterr().err
