"""``dpsynth generate`` and the budget-store commands: releases, bad inputs, budgets."""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from rich.console import Console

from dpsynth import cli
from dpsynth.cli import example_path, main
from dpsynth.data import read_table
from dpsynth.synthesizers import registry

FAST = ["--method", "independent"]


def run(argv: list[str]) -> int:
    """Runs the CLI; returns its exit status."""
    with pytest.raises(SystemExit) as info:
        main([str(a) for a in argv])
    return int(info.value.code or 0)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


SCHEMA = {
    "format": "dpsynth-schema",
    "version": 1,
    "columns": [
        {"name": "colour", "kind": "categorical", "categories": ["red", "blue"]},
        {"name": "age", "kind": "integer", "lower": 18, "upper": 80, "bins": 8},
    ],
}


def write_schema(folder: Path, **rules: dict) -> Path:
    schema = json.loads(json.dumps(SCHEMA))
    for column in schema["columns"]:
        column.update(rules.get(column["name"], {}))
    path = folder / "schema.json"
    path.write_text(json.dumps(schema))
    return path


GOOD_ROWS = "".join(f"red,{18 + i % 60}\nblue,40\n" for i in range(300))


@pytest.fixture
def table(tmp_path: Path) -> Path:
    path = tmp_path / "people.csv"
    path.write_text("colour,age\n" + GOOD_ROWS)
    return path


def generate(data, out, *extra) -> list:
    return [
        "generate",
        data,
        "--epsilon",
        "1",
        *FAST,
        "--rows",
        "20",
        "--out",
        out,
        *extra,
    ]


# -- releases ----------------------------------------------------------------------


def test_example_adult_release_verifies(tmp_path, capsys):
    out = tmp_path / "rel"
    argv = ["generate", "--example", "adult", "--epsilon", "1", *FAST]
    assert run([*argv, "--rows", "30", "--seed", "7", "--out", out]) == 0
    said = capsys.readouterr().out
    assert "30 synthetic rows" in said and "dpsynth budget verify" in said
    m = json.loads((out / "manifest.json").read_text())
    assert m["seed"] == 7 and m["method"] == "independent"
    assert m["input"]["file"] == "adult.csv" and m["input"]["sha256"] is None
    assert sha256(example_path("adult")) not in json.dumps(m)
    assert m["schema"]["provenance"]["private"] is True and not m["nonprivate_schema"]
    assert m["command"][:4] == ["dpsynth", "generate", "--example", "adult"]
    assert len(read_table(out / "synthetic.csv")) == 30

    assert run(["budget", "verify", out]) == 0
    assert "release verdict: OK" in capsys.readouterr().out
    assert run(["budget", "verify", out / "manifest.json"]) == 0
    assert "release verdict: OK" in capsys.readouterr().out
    assert run(["budget", "show", out]) == 0
    assert "1-way age" in capsys.readouterr().out

    with (out / "synthetic.csv").open("a") as fh:
        fh.write(read_table(out / "synthetic.csv").head(1).to_csv(header=False))
    assert run(["budget", "verify", out]) == 1
    assert "sha256 MISMATCH" in capsys.readouterr().out


def test_without_a_seed_the_manifest_says_os_entropy(table, tmp_path):
    out = tmp_path / "rel"
    assert run(generate(table, out, "--schema", write_schema(tmp_path))) == 0
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["seed"] == "OS entropy"
    assert "--seed" not in manifest["command"]


def test_domain_table_of_integer_codes(tmp_path):
    rng = np.random.default_rng(1)
    data = tmp_path / "t.csv"
    pd.DataFrame({"b": rng.integers(0, 2, 400), "a": rng.integers(0, 3, 400)}).to_csv(
        data, index=False
    )
    domain = tmp_path / "t-domain.json"
    domain.write_text('{"a": 3, "b": 2}')
    out = tmp_path / "rel"
    argv = ["generate", data, "--domain", domain, "--epsilon", "1", *FAST]
    assert run([*argv, "--out", out, "--format", "parquet"]) == 0
    m = json.loads((out / "manifest.json").read_text())
    assert m["schema"] is None and m["domain"] == {"a": 3, "b": 2}
    synthetic = pd.read_parquet(out / "synthetic.parquet")
    assert list(synthetic.columns) == ["a", "b"]
    assert synthetic["a"].between(0, 2).all() and synthetic["b"].between(0, 1).all()
    assert run(["budget", "verify", out]) == 0


def test_default_method_comes_from_the_registry(table, tmp_path, monkeypatch):
    monkeypatch.setattr(
        registry, "SYNTHESIZERS", {"independent": registry.SYNTHESIZERS["independent"]}
    )
    out = tmp_path / "rel"
    argv = ["generate", table, "--schema", write_schema(tmp_path), "--epsilon", "1"]
    assert run([*argv, "--rows", "5", "--out", out]) == 0
    assert json.loads((out / "manifest.json").read_text())["method"] == "independent"


def test_a_nonprivate_schema_is_warned_and_recorded(table, tmp_path, capsys):
    schema = json.loads(write_schema(tmp_path).read_text())
    schema["provenance"] = {"method": "infer", "private": False}
    (tmp_path / "inferred.json").write_text(json.dumps(schema))
    out = tmp_path / "rel"
    assert run(generate(table, out, "--schema", tmp_path / "inferred.json")) == 0
    assert "PRIVACY WARNING" in capsys.readouterr().err
    assert json.loads((out / "manifest.json").read_text())["nonprivate_schema"] is True


def test_progress_bar_follows_the_callback(table, tmp_path, monkeypatch):
    screen = io.StringIO()
    monkeypatch.setattr(
        cli, "_err", Console(file=screen, force_terminal=True, width=100)
    )
    assert (
        run(generate(table, tmp_path / "rel", "--schema", write_schema(tmp_path))) == 0
    )
    shown = screen.getvalue()
    assert "measure" in shown and "sample" in shown and "write" in shown


# -- bad input: a stated rule applies, or a clear error and nothing written ---------


@pytest.mark.parametrize(
    ("content", "rules", "message"),
    [
        ("red,30\npurple,30\n", {}, "outside its 2 categories"),
        ("red,30\n,30\n", {}, "'colour' has 1 missing value(s)"),
        ("red,30\nred,old\n", {}, "has 1 value(s) that are not numbers"),
        ("red,30\nred,30.5\n", {}, "not whole numbers"),
        ("red,30\nred,30,extra\n", {}, "must be a well-formed CSV table"),
        ("red,30\nblue\n", {}, "'age' has 1 missing value(s)"),
        ("red,300\n", {"age": {"unknown": "error"}}, "outside [18, 80]"),
    ],
    ids=["category", "missing", "type", "fraction", "ragged", "short", "bounds"],
)
def test_bad_rows_are_clear_errors_and_write_nothing(
    tmp_path, capsys, content, rules, message
):
    data = tmp_path / "bad.csv"
    data.write_text("colour,age\n" + GOOD_ROWS + content)
    out = tmp_path / "rel"
    assert run(generate(data, out, "--schema", write_schema(tmp_path, **rules))) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and message in " ".join(err.split())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.csv", "schema.json"]


@pytest.mark.parametrize(
    ("content", "rules"),
    [
        ("purple,30\n", {"colour": {"unknown": "other"}}),
        (",30\n", {"colour": {"missing": "code"}}),
        ("red,300\n", {}),  # integer bounds clip by default
        ("red,\n", {"age": {"missing": "code"}}),
    ],
    ids=["other", "missing-code", "clip", "missing-integer"],
)
def test_odd_values_follow_the_schemas_rules(tmp_path, content, rules):
    data = tmp_path / "odd.csv"
    data.write_text("colour,age\n" + GOOD_ROWS + content)
    out = tmp_path / "rel"
    assert run(generate(data, out, "--schema", write_schema(tmp_path, **rules))) == 0
    assert len(read_table(out / "synthetic.csv")) == 20


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "must not be an empty file"),
        (b"colour,age\n", "at least one row"),
        (b"age\n30\n31\n", "`columns` (['colour']) must be columns of"),
        (b"\x00\x01binary", "binary data"),
    ],
    ids=["empty", "header-only", "column-missing", "binary"],
)
def test_unreadable_tables_are_clear_errors(tmp_path, capsys, content, message):
    data = tmp_path / "bad.csv"
    data.write_bytes(content)
    out = tmp_path / "rel"
    assert run(generate(data, out, "--schema", write_schema(tmp_path))) == 2
    assert message in " ".join(capsys.readouterr().err.split())
    assert not out.exists()


def test_extra_columns_are_ignored(tmp_path):
    data = tmp_path / "wide.csv"
    data.write_text("id,colour,age\n" + "".join(f"{i},red,30\n" for i in range(200)))
    out = tmp_path / "rel"
    assert run(generate(data, out, "--schema", write_schema(tmp_path))) == 0
    assert list(read_table(out / "synthetic.csv").columns) == ["colour", "age"]


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ("a,b\n0,1\n3,1\n", "outside [0, 3)"),
        ("a,b\n0,1\n1,\n", "must have an integer dtype"),
        ("a,b\n0,1\nx,1\n", "must have an integer dtype"),
    ],
    ids=["out-of-range", "missing", "text"],
)
def test_bad_domain_codes_write_nothing(tmp_path, capsys, rows, message):
    data = tmp_path / "t.csv"
    data.write_text(rows)
    domain = tmp_path / "t-domain.json"
    domain.write_text('{"a": 3, "b": 2}')
    out = tmp_path / "rel"
    assert run(generate(data, out, "--domain", domain)) == 2
    assert message in " ".join(capsys.readouterr().err.split())
    assert not out.exists()


# -- arguments and destinations ----------------------------------------------------


def test_params_reach_the_synthesizer_and_the_manifest(table, tmp_path):
    schema = write_schema(tmp_path)
    out = tmp_path / "rel"
    argv = ["generate", table, "--schema", schema, "--epsilon", "1", "--out", out]
    argv += ["--method", "mst", "-p", "one_way_fraction=0.3", "--param", "iters=50"]
    assert run([*argv, "--no-audit", "--seed", "1"]) == 0
    manifest = json.loads((out / "manifest.json").read_text())
    params = manifest["params"]
    assert params["one_way_fraction"] == 0.3 and params["iters"] == 50
    command = manifest["command"]
    assert command.count("--param") == 2 and "iters=50" in command


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--epsilon", "1", "--out", "{out}"], "Give the input"),
        (["{data}", "--epsilon", "1", "--out", "{out}"], "exactly one of `--schema"),
        (["{data}", "--schema", "{schema}", "--out", "{out}"], "`--epsilon` must"),
        (["{data}", "--schema", "{schema}", "--epsilon", "1"], "`--out` must"),
        (["{data}", "--example", "adult", "--epsilon", "1", "--out", "{out}"],
         "give no DATA"),
        (["{data}", "--schema", "{schema}", "--domain", "{schema}", "--epsilon", "1",
          "--out", "{out}"], "exactly one of"),
        (["{data}", "--schema", "{schema}", "--epsilon", "1", "--out", "{out}",
          "--format", "xlsx"], "`--format` ('xlsx')"),
        (["{data}", "--schema", "{schema}", "--epsilon", "1", "--out", "{out}",
          "--method", "gan"], "`method` ('gan') must be one of"),
        (["{data}", "--schema", "{schema}", "--epsilon", "-1", "--out", "{out}"],
         "epsilon"),
        (["{data}", "--schema", "{schema}", "--epsilon", "1", "--out", "{out}",
          "--seed", "-3"], "`seed` (-3)"),
        (["{data}", "--schema", "{schema}", "--epsilon", "1", "--out", "{out}",
          "--dataset", "people"], "must be given together"),
        (["{data}", "--schema", "{schema}", "--epsilon", "1", "--out", "{out}",
          "--param", "epochs"], "`--param` ('epochs') must be KEY=VALUE"),
        (["{data}", "--schema", "{schema}", "--epsilon", "1", "--out", "{out}",
          "-p", "a=1", "-p", "a=2"], "`--param` 'a' is given twice"),
        (["{data}", "--schema", "{schema}", "--epsilon", "1", "--out", "{out}",
          "-p", "epochs=3"], "must be hyperparameters of"),
        (["{data}", "--schema", "{schema}", "--epsilon", "1", "--out", "{out}",
          "--device", "cpu"], "must be hyperparameters of"),
        (["{data}", "--schema", "{schema}", "--epsilon", "1", "--out", "{out}",
          "--device", "cpu", "-p", "device=cpu"], "`--device` and `--param device"),
    ],
)  # fmt: skip
def test_argument_errors_exit_2_and_write_nothing(
    table, tmp_path, capsys, argv, message
):
    schema = write_schema(tmp_path)
    out = tmp_path / "rel"
    filled = [a.format(data=table, schema=schema, out=out) for a in argv]
    assert run(["generate", *FAST, *filled]) == 2  # a later --method wins
    err = capsys.readouterr().err
    assert err.startswith("error:") and message in " ".join(err.split())
    assert not out.exists()


def test_a_non_empty_folder_is_refused_unless_overwriting_a_release(
    table, tmp_path, capsys
):
    schema = write_schema(tmp_path)
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "notes.txt").write_text("keep")
    assert run(generate(table, busy, "--schema", schema)) == 2
    assert "must be empty or absent" in capsys.readouterr().err
    assert run(generate(table, busy, "--schema", schema, "--overwrite")) == 2
    assert [p.name for p in busy.iterdir()] == ["notes.txt"]

    out = tmp_path / "rel"
    assert run(generate(table, out, "--schema", schema)) == 0
    first = sha256(out / "manifest.json")
    assert run(generate(table, out, "--schema", schema, "--overwrite")) == 0
    assert sha256(out / "manifest.json") != first
    assert run(["budget", "verify", out]) == 0


def test_a_file_system_error_is_one_line_and_leaves_nothing(
    table, tmp_path, capsys, monkeypatch
):
    from dpsynth.synthesizers import IndependentSynthesizer

    def full(self, path):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(IndependentSynthesizer, "save", full)
    out = tmp_path / "rel"
    assert run(generate(table, out, "--schema", write_schema(tmp_path))) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: Could not write the release") and err.count("\n") == 1
    assert "No space left on device" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["people.csv", "schema.json"]


# -- the budget store --------------------------------------------------------------


def test_budget_store_limits_releases_across_runs(table, tmp_path, capsys):
    store = tmp_path / "budget.sqlite"
    schema = write_schema(tmp_path)
    charge = ["--budget-store", store, "--dataset", "people"]
    assert run(generate(table, tmp_path / "r1", "--schema", schema, *charge)) == 2
    assert "must be an existing budget store" in capsys.readouterr().err
    assert not store.exists()

    limit = ["budget", "limit", store, "--dataset", "people"]
    assert run([*limit, "--epsilon", "1.5", "--delta", "1e-8", "--data", table]) == 0
    assert run([*limit, "--epsilon", "3", "--delta", "1e-8"]) == 2  # set once
    capsys.readouterr()

    assert run(generate(table, tmp_path / "r1", "--schema", schema, *charge)) == 0
    assert "Budget store: dataset 'people' now at" in capsys.readouterr().out
    charged = json.loads((tmp_path / "r1" / "manifest.json").read_text())
    assert charged["budget_store"]["state"] == "settled"

    assert run(generate(table, tmp_path / "r2", "--schema", schema, *charge)) == 2
    assert "over its limit of epsilon 1.5" in " ".join(capsys.readouterr().err.split())
    assert not (tmp_path / "r2").exists()

    other = tmp_path / "other.csv"
    other.write_text("colour,age\n" + GOOD_ROWS + "red,31\n")
    small = ["--epsilon", "0.1", "--release", "small"]
    assert run(generate(other, tmp_path / "r3", "--schema", schema, *charge)) == 2
    assert "same table" in capsys.readouterr().err
    assert (
        run(generate(table, tmp_path / "r3", "--schema", schema, *charge, *small)) == 0
    )

    capsys.readouterr()
    assert run(["budget", "status", store]) == 0
    status = capsys.readouterr().out
    assert "people: spent epsilon" in status and "of 1.5" in status
    assert "small" in status and status.count("settled") == 2
    assert run(["budget", "status", store, "--dataset", "nope"]) == 2
    assert run(["budget", "status", tmp_path / "missing.sqlite"]) == 2
