"""Release bundles: the manifest, atomic writes, verification, budget reservations."""

from __future__ import annotations

import hashlib
import json
import platform
import re
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import dpsynth
from dpsynth.data import Domain, read_table
from dpsynth.data.schema import CategoricalColumn, IntegerColumn, Schema
from dpsynth.errors import (
    BudgetExceededError,
    DomainError,
    PrivacyWarning,
    ValidationError,
)
from dpsynth.privacy.events import GaussianEvent
from dpsynth.privacy.store import BudgetStore
from dpsynth.release import (
    FORMAT,
    INPUT_HASH_WITHHELD,
    SEED_FROM_OS,
    default_method,
    make_release,
    read_manifest,
    verify_release,
)
from dpsynth.synthesizers import IndependentSynthesizer, Synthesizer, registry

SCHEMA = Schema(
    [
        CategoricalColumn(name="colour", categories=("red", "green", "blue")),
        IntegerColumn(name="age", lower=18, upper=80, bins=8),
    ]
)


@pytest.fixture
def frame() -> pd.DataFrame:
    rng = np.random.default_rng(3)
    n = 2000
    return pd.DataFrame(
        {
            "colour": rng.choice(["red", "green", "blue"], size=n, p=[0.5, 0.3, 0.2]),
            "age": rng.integers(18, 81, size=n),
        }
    )


@pytest.fixture
def data_file(tmp_path: Path, frame: pd.DataFrame) -> Path:
    path = tmp_path / "people.csv"
    frame.to_csv(path, index=False)
    return path


def release(frame, out, **kwargs):
    kwargs.setdefault("schema", SCHEMA)
    kwargs.setdefault("epsilon", 1.0)
    kwargs.setdefault("delta", 1e-9)
    kwargs.setdefault("method", "independent")
    kwargs.setdefault("rows", 50)
    return make_release(frame, out, **kwargs)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def leftovers(folder: Path) -> list[str]:
    """Hidden temporary folders a release may have left next to its folder."""
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


# -- the bundle --------------------------------------------------------------------


def test_the_input_hash_is_withheld_unless_asked_for(frame, data_file, tmp_path):
    m = release(frame, tmp_path / "rel", seed=5, input_path=data_file).manifest
    assert m["input"] == {
        "file": "people.csv",
        "sha256": None,
        "sha256_withheld": INPUT_HASH_WITHHELD,
    }
    assert sha256(data_file) not in json.dumps(m)
    assert sha256(data_file) not in (tmp_path / "rel" / "model.json").read_text()


def test_manifest_records_everything_and_the_hashes_match(frame, data_file, tmp_path):
    out = tmp_path / "rel"
    result = release(
        frame, out, seed=5, input_path=data_file, rows=123, record_input_hash=True
    )
    assert sorted(p.name for p in out.iterdir()) == [
        "manifest.json",
        "model.json",
        "synthetic.csv",
    ]
    assert leftovers(tmp_path) == []
    m = json.loads((out / "manifest.json").read_text())
    assert (
        m
        == result.manifest
        == read_manifest(out)
        == read_manifest(out / "manifest.json")
    )
    assert set(m) == {
        "format", "version", "created", "method", "params", "schema", "domain",
        "nonprivate_schema", "claimed", "ledger", "seed", "input", "output",
        "model", "budget_store", "audit", "versions", "command",
    }  # fmt: skip
    assert (m["format"], m["version"]) == (FORMAT, 1)
    created = datetime.fromisoformat(m["created"])
    assert created.tzinfo is not None and created.utcoffset().total_seconds() == 0
    assert abs((datetime.now(UTC) - created).total_seconds()) < 600
    assert (m["method"], m["params"]) == ("independent", {})
    assert m["schema"] == SCHEMA.to_dict() and m["domain"] == SCHEMA.domain.to_dict()
    assert m["nonprivate_schema"] is False
    model = json.loads((out / "model.json").read_text())
    assert m["ledger"] == model["ledger"] and len(m["ledger"]["entries"]) == 2
    assert m["ledger"]["budget"] == {"epsilon": 1.0, "delta": 1e-9}
    claimed = m["claimed"]
    assert (claimed["epsilon"], claimed["delta"]) == (1.0, 1e-9)
    assert claimed["epsilon_spent"] == m["ledger"]["epsilon"]
    assert 0.999 < claimed["epsilon_spent"] <= 1.0
    assert claimed["neighbouring"] == "add_remove"
    assert m["seed"] == 5
    assert m["input"] == {"file": "people.csv", "sha256": sha256(data_file)}
    assert m["output"] == {
        "file": "synthetic.csv",
        "format": "csv",
        "rows": 123,
        "columns": ["colour", "age"],
        "sha256": sha256(out / "synthetic.csv"),
    }
    assert len(read_table(out / "synthetic.csv")) == 123
    assert m["model"] == {"file": "model.json", "sha256": sha256(out / "model.json")}
    assert m["budget_store"] is None and m["command"] is None
    assert m["versions"] == {
        "dpsynth": dpsynth.__version__,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "pandas": pd.__version__,
        "opendp": metadata.version("opendp"),
    }
    assert verify_release(out).ok


def test_the_model_reloads_and_samples(frame, tmp_path):
    result = release(frame, tmp_path / "rel", seed=1)
    model = Synthesizer.load(result.model_path)
    assert isinstance(model, IndependentSynthesizer)
    assert model.ledger.to_dict() == result.manifest["ledger"]
    more = model.sample(17, rng=0)
    assert list(more.columns) == ["colour", "age"] and len(more) == 17
    assert set(more["colour"]) <= {"red", "green", "blue"}
    assert more["age"].between(18, 80).all()


def test_seed_is_recorded_and_without_one_os_entropy(frame, tmp_path):
    # DP noise is unseedable (OpenDP), so a seed cannot fix the output end to end:
    # the manifest must say what was used.
    assert release(frame, tmp_path / "a", seed=0).manifest["seed"] == 0
    assert (
        release(frame, tmp_path / "b").manifest["seed"] == SEED_FROM_OS == "OS entropy"
    )


def test_default_rows_come_from_the_noisy_estimate(frame, tmp_path):
    result = release(frame, tmp_path / "rel", rows=None)
    assert abs(result.manifest["output"]["rows"] - len(frame)) < 200  # sigma ~ 3


def test_parquet_output(frame, tmp_path):
    result = release(frame, tmp_path / "rel", fmt="parquet")
    assert result.synthetic_path.name == "synthetic.parquet"
    assert result.manifest["output"]["format"] == "parquet"
    assert result.manifest["output"]["sha256"] == sha256(result.synthetic_path)
    assert len(read_table(result.synthetic_path)) == 50


def test_a_domain_table_of_integer_codes(tmp_path):
    rng = np.random.default_rng(0)
    codes = pd.DataFrame({"b": rng.integers(0, 2, 500), "a": rng.integers(0, 3, 500)})
    domain = Domain({"a": 3, "b": 2})
    result = release(codes, tmp_path / "rel", schema=domain)
    m = result.manifest
    assert m["schema"] is None and m["domain"] == {"a": 3, "b": 2}
    assert m["nonprivate_schema"] is False
    synthetic = read_table(result.synthetic_path)
    assert list(synthetic.columns) == ["a", "b"]
    assert synthetic["a"].between(0, 2).all() and synthetic["b"].between(0, 1).all()


def test_a_schema_read_off_the_data_is_recorded_as_nonprivate(frame, tmp_path):
    schema = Schema(SCHEMA.columns, provenance={"method": "infer", "private": False})
    with pytest.warns(PrivacyWarning, match="WITHOUT differential privacy"):
        result = release(frame, tmp_path / "rel", schema=schema)
    assert result.manifest["nonprivate_schema"] is True


def test_default_method_is_the_best_registered_one(monkeypatch):
    table = dict(registry.SYNTHESIZERS)
    monkeypatch.setattr(registry, "SYNTHESIZERS", table)
    table.pop("aim", None), table.pop("mst", None), table.pop("privbayes", None)
    assert default_method() == "independent"
    table["privbayes"] = "x:Y"
    assert default_method() == "privbayes"
    table["mst"] = "x:Y"
    assert default_method() == "mst"
    table["aim"] = "x:Y"
    assert default_method() == "aim"


# -- verification ------------------------------------------------------------------


def test_verify_catches_a_changed_file_claim_or_ledger(frame, tmp_path):
    out = release(frame, tmp_path / "rel").path
    assert verify_release(out).ok
    synthetic = out / "synthetic.csv"
    original = synthetic.read_bytes()
    synthetic.write_bytes(original + b"red,30\n")
    check = verify_release(out)
    assert not check.ok and not check.files[0].ok and check.files[1].ok
    assert "sha256 MISMATCH" in check.summary()
    synthetic.write_bytes(original)

    manifest_path = out / "manifest.json"
    text = manifest_path.read_text()
    m = json.loads(text)
    m["claimed"]["epsilon_spent"] = 0.5
    manifest_path.write_text(json.dumps(m))
    check = verify_release(out)
    assert not check.ok and not check.claim_matches and check.ledger.ok

    m = json.loads(text)
    m["ledger"]["entries"].pop()  # hide a measurement
    manifest_path.write_text(json.dumps(m))
    check = verify_release(out)
    assert not check.ok and not check.ledger.ok and check.model_ledger_matches is False


def test_verify_a_manifest_alone_checks_the_ledger_only(frame, tmp_path):
    out = release(frame, tmp_path / "rel").path
    alone = tmp_path / "elsewhere"
    alone.mkdir()
    (alone / "manifest.json").write_bytes((out / "manifest.json").read_bytes())
    check = verify_release(alone / "manifest.json")
    assert check.ok and "absent, not checked" in check.summary()
    check = verify_release(alone)  # a folder must hold its files
    assert not check.ok and "MISSING" in check.summary()


def test_read_manifest_refuses_other_json(tmp_path):
    (tmp_path / "x.json").write_text('{"format": "dpsynth-ledger"}')
    with pytest.raises(ValidationError, match="must be a 'dpsynth-release' manifest"):
        read_manifest(tmp_path / "x.json")
    with pytest.raises(ValidationError, match="must be a release manifest"):
        read_manifest(tmp_path)


# -- atomicity and destinations ----------------------------------------------------


def test_a_failure_after_the_synthetic_file_leaves_nothing(
    frame, tmp_path, monkeypatch
):
    seen = []

    def broken_save(self, path):
        seen.extend(p.name for p in Path(path).parent.iterdir())
        raise OSError("disk full")

    monkeypatch.setattr(IndependentSynthesizer, "save", broken_save)
    with pytest.raises(OSError, match="disk full"):
        release(frame, tmp_path / "rel")
    assert "synthetic.csv" in seen  # the failure came after the table was written
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_a_failure_at_the_manifest_leaves_an_empty_folder_as_it_was(
    frame, tmp_path, monkeypatch
):
    import dpsynth.release as rel

    def broken(_):
        raise KeyboardInterrupt

    (tmp_path / "rel").mkdir()
    monkeypatch.setattr(rel, "_json_text", broken)
    with pytest.raises(KeyboardInterrupt):
        release(frame, tmp_path / "rel")
    assert [p.name for p in tmp_path.iterdir()] == ["rel"]
    assert list((tmp_path / "rel").iterdir()) == []


def test_a_folder_filled_meanwhile_is_not_touched(frame, tmp_path, monkeypatch):
    out = tmp_path / "rel"
    save = IndependentSynthesizer.save

    def racing_save(self, path):
        out.mkdir()
        (out / "theirs.txt").write_text("another process")
        return save(self, path)

    monkeypatch.setattr(IndependentSynthesizer, "save", racing_save)
    with pytest.raises(ValidationError, match="must be empty or absent"):
        release(frame, out)
    assert [p.name for p in out.iterdir()] == ["theirs.txt"]
    assert leftovers(tmp_path) == []


def test_an_empty_folder_is_used_and_a_non_empty_one_refused(frame, tmp_path):
    (tmp_path / "empty").mkdir()
    assert release(frame, tmp_path / "empty").path == tmp_path / "empty"
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "notes.txt").write_text("keep me")
    with pytest.raises(ValidationError, match="must be empty or absent: it holds"):
        release(frame, busy)
    with pytest.raises(ValidationError, match="must be a previous release"):
        release(frame, busy, overwrite=True)
    assert [p.name for p in busy.iterdir()] == ["notes.txt"]
    (tmp_path / "file").write_text("x")
    with pytest.raises(ValidationError, match="it is a file"):
        release(frame, tmp_path / "file")
    with pytest.raises(ValidationError, match="must be in an existing folder"):
        release(frame, tmp_path / "no" / "rel")
    assert leftovers(tmp_path) == []


def test_overwrite_replaces_a_previous_release(frame, tmp_path):
    first = release(frame, tmp_path / "rel", rows=10)
    second = release(frame, tmp_path / "rel", rows=20, overwrite=True)
    assert second.manifest["output"]["rows"] == 20
    assert first.manifest["output"]["sha256"] != second.manifest["output"]["sha256"]
    assert verify_release(tmp_path / "rel").ok
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rel"]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"epsilon": 0.0}, "epsilon"),
        ({"delta": 0.0}, "`delta` (0.0) must be in (0, 1)"),
        ({"rows": 0}, "`rows` (0) must be an integer >= 1"),
        ({"seed": -1}, "`seed` (-1) must be a non-negative integer"),
        ({"method": "gan"}, "`method` ('gan') must be one of"),
        ({"params": {"degree": 2}}, "must be hyperparameters of 'independent'"),
        ({"fmt": "xlsx"}, "`format` ('xlsx') must be one of"),
        ({"dataset": "adult"}, "must be given together"),
    ],
)
def test_bad_arguments_write_and_spend_nothing(
    frame, tmp_path, monkeypatch, kwargs, message
):
    def must_not_fit(*args):
        raise AssertionError("fitted despite a bad argument")

    monkeypatch.setattr(IndependentSynthesizer, "_fit", must_not_fit)
    with pytest.raises(ValidationError, match=re.escape(message)):
        release(frame, tmp_path / "rel", **kwargs)
    assert list(tmp_path.iterdir()) == []


def test_data_outside_the_schema_is_refused_before_anything(frame, tmp_path):
    store = BudgetStore(tmp_path / "b.sqlite")
    store.set_limit("people", epsilon=2.0, delta=1e-8)
    bad = frame.copy()
    bad.loc[0, "colour"] = "purple"
    with pytest.raises(DomainError, match="outside its 3 categories"):
        release(bad, tmp_path / "rel", budget_store=store, dataset="people")
    assert not (tmp_path / "rel").exists() and store.releases("people") == []


# -- the budget store --------------------------------------------------------------


@pytest.fixture
def store(tmp_path) -> BudgetStore:
    db = BudgetStore(tmp_path / "budget.sqlite")
    db.set_limit("people", epsilon=1.5, delta=1e-8)
    return db


def test_two_releases_against_a_limit(frame, data_file, tmp_path, store):
    first = release(
        frame,
        tmp_path / "r1",
        input_path=data_file,
        budget_store=store,
        dataset="people",
        release_name="first",
    )
    charged = first.manifest["budget_store"]
    assert charged["dataset"] == "people" and charged["release"] == "first"
    assert charged["state"] == "settled"
    assert charged["dataset_limit"] == {"epsilon": 1.5, "delta": 1e-8}
    # settled to the release's own epsilon; releases add up
    assert charged["dataset_epsilon_after"] == store.spent("people")[0]
    assert charged["release_epsilon"] == store.spent("people")[0]
    assert 0.995 <= charged["release_epsilon"] <= 1.0
    assert charged["dataset_delta_after"] == charged["release_delta"] == 1e-9
    assert store.fingerprint("people") == sha256(data_file)

    with pytest.raises(BudgetExceededError, match="over its limit of epsilon 1.5"):
        release(
            frame,
            tmp_path / "r2",
            input_path=data_file,
            budget_store=store,
            dataset="people",
        )
    assert not (tmp_path / "r2").exists() and leftovers(tmp_path) == []
    assert [(r.name, r.state) for r in store.releases("people")] == [
        ("first", "settled")
    ]
    # a smaller release still fits
    third = release(
        frame,
        tmp_path / "r3",
        budget_store=store,
        dataset="people",
        epsilon=0.2,
        delta=1e-9,
    )
    assert third.manifest["budget_store"]["dataset_epsilon_after"] < 1.5


def test_another_file_under_the_same_dataset_is_refused(
    frame, data_file, tmp_path, store
):
    release(
        frame,
        tmp_path / "r1",
        input_path=data_file,
        budget_store=store,
        dataset="people",
        epsilon=0.3,
    )
    other = tmp_path / "other.csv"
    frame.iloc[1:].to_csv(other, index=False)
    with pytest.raises(ValidationError, match="same table"):
        release(
            frame.iloc[1:],
            tmp_path / "r2",
            input_path=other,
            budget_store=store,
            dataset="people",
            epsilon=0.3,
        )
    assert not (tmp_path / "r2").exists() and len(store.releases("people")) == 1


def test_a_fit_that_fails_before_spending_cancels_its_reservation(
    frame, tmp_path, store, monkeypatch
):
    def broken(self, dataset, accountant, rng, callback):
        raise RuntimeError("bug before any measurement")

    monkeypatch.setattr(IndependentSynthesizer, "_fit", broken)
    with pytest.raises(RuntimeError, match="bug before"):
        release(frame, tmp_path / "rel", budget_store=store, dataset="people")
    assert store.releases("people") == [] and store.spent("people") == (0.0, 0.0)
    assert list(p.name for p in tmp_path.iterdir()) == ["budget.sqlite"]


def test_a_fit_that_fails_after_spending_keeps_its_reservation(
    frame, tmp_path, store, monkeypatch
):
    def broken(self, dataset, accountant, rng, callback):
        accountant.spend(GaussianEvent(sigma=10.0), label="measured")
        raise RuntimeError("bug after a measurement")

    monkeypatch.setattr(IndependentSynthesizer, "_fit", broken)
    with pytest.raises(RuntimeError, match="bug after"):
        release(
            frame,
            tmp_path / "rel",
            budget_store=store,
            dataset="people",
            release_name="crashed",
        )
    assert [(r.name, r.state) for r in store.releases("people")] == [
        ("crashed", "failed")
    ]
    assert store.spent("people") == (1.0, 1e-9)  # the reservation, in full
    assert list(p.name for p in tmp_path.iterdir()) == ["budget.sqlite"]


def test_budget_store_file_and_limit_must_exist(frame, tmp_path):
    with pytest.raises(ValidationError, match="must be an existing budget store"):
        release(
            frame,
            tmp_path / "rel",
            budget_store=tmp_path / "no.sqlite",
            dataset="people",
        )
    BudgetStore(tmp_path / "b.sqlite")
    with pytest.raises(ValidationError, match="must have a limit"):
        release(
            frame,
            tmp_path / "rel",
            budget_store=tmp_path / "b.sqlite",
            dataset="people",
        )
    assert not (tmp_path / "rel").exists() and not (tmp_path / "no.sqlite").exists()
