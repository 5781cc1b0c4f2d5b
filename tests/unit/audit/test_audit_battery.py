"""The battery's verdicts, the report dict's schema, and the files it writes."""

import json

import numpy as np
import pytest
from _population import NAMES, SIZES, audit_data, draw, frame, split

from dpsynth.audit.battery import (
    AuditConfig,
    Claim,
    powered,
    run_audit,
)
from dpsynth.audit.report import JSON_FILE, audit_tables, write_audit
from dpsynth.audit.result import AttackResult, Rate, ThreatModel
from dpsynth.audit.stats import holm, holm_adjusted
from dpsynth.data.domain import Domain
from dpsynth.errors import ValidationError

DOMAIN = Domain(dict(zip(NAMES, SIZES, strict=True)))
NO_UTILITY = AuditConfig(utility=False)


@pytest.fixture(scope="module")
def copied_report():
    rng = np.random.default_rng(20)
    train, holdout = split(rng)
    return run_audit(
        audit_data(train, holdout, train.copy()),
        claim=Claim(epsilon=1.0, delta=1e-9),
        config=NO_UTILITY,
        rng=1,
    )


def test_a_copied_table_fails_every_criterion_and_its_claim(copied_report):
    rep = copied_report
    assert rep.verdict == "fail"
    assert rep.criteria["membership"]["verdict"] == "fail"
    assert rep.criteria["attribute"]["verdict"] == "fail"
    assert rep.criteria["linkability"]["verdict"] == "fail"
    eps = rep.empirical_epsilon
    assert eps["verdict"] == "fail" and eps["lower_bound"] > 3 and eps["claimed"] == 1
    assert rep.summary().startswith("FAIL: the attacks prove epsilon >=")
    # the per-record section lists training rows, most exposed first
    top = rep.per_record["most_exposed"]
    assert top[0]["score"] == 1.0 and all(0 <= e["record"] < 3000 for e in top)


def test_independent_data_never_fails_at_a_tiny_alpha():
    # Under exchangeability every p-value is valid: Holm at alpha = 1e-6 rejects
    # anything with probability <= 1e-6, so a fail here is a defect.
    rng = np.random.default_rng(21)
    train, holdout = split(rng)
    rep = run_audit(
        audit_data(train, holdout, draw(3000, rng)),
        claim=Claim(epsilon=1.0),
        config=AuditConfig(alpha=1e-6, utility=False),
        rng=2,
    )
    assert rep.verdict != "fail"
    assert all(v != "fail" for v in rep.verdicts.values())
    assert rep.empirical_epsilon["verdict"] == "pass"


def test_verdict_rules_on_hand_made_results():
    config = AuditConfig(tolerance=0.05)

    def result(main, control, name="x"):
        return AttackResult(
            name=name,
            title=name,
            criterion="membership",
            description="",
            threat_model=ThreatModel(knowledge="", targets=""),
            main=Rate(*main),
            control=Rate(*control),
            baseline=0.0,
        )

    from dpsynth.audit.battery import _verdicts

    clear = result((5000, 10000), (5000, 10000), "clear")
    leak = result((600, 1000), (400, 1000), "leak")
    small = result((3, 10), (3, 10), "small")
    verdicts, adjusted = _verdicts([clear, leak, small], config)
    assert verdicts == {"clear": "pass", "leak": "fail", "small": "inconclusive"}
    assert powered(clear, config) and not powered(small, config)
    assert adjusted["leak"] < 1e-10 and adjusted["clear"] <= 1.0


def test_holm_adjusted_p_values_agree_with_holm():
    p = [0.01, 0.04, 0.03, 0.2, 0.001]
    adj = holm_adjusted(p)
    for alpha in (0.01, 0.02, 0.05, 0.1, 0.5):
        assert [a <= alpha for a in adj] == holm(p, alpha=alpha)


def test_report_dict_schema(copied_report):
    d = copied_report.to_dict()
    json.dumps(d, allow_nan=False)
    assert d["format"] == "dpsynth-audit-report" and d["version"] == 1
    assert d["verdict"] in ("pass", "fail", "inconclusive")
    names = set()
    for a in d["attacks"]:
        assert a["criterion"] in (
            "membership",
            "attribute",
            "singling_out",
            "linkability",
        )
        assert isinstance(a["risk"], float) and len(a["ci"]) == 2
        assert a["ci"][0] <= a["risk"] <= a["ci"][1]
        assert a["verdict"] in ("pass", "fail", "inconclusive")
        assert set(a["threat_model"]) == {"knowledge", "targets", "neighbouring"}
        names.add(a["name"])
    assert {"dcr_membership", "density_membership", "linkability"} <= names
    mia = next(a for a in d["attacks"] if a["name"] == "dcr_membership")
    assert set(mia["roc"]["tpr_at"]) == {"0.001", "0.01"}
    assert len(mia["roc"]["fpr"]) <= 200
    eps = d["empirical_epsilon"]
    assert {"lower_bound", "confidence", "claimed"} <= set(eps)
    assert set(d["criteria"]) == {
        "membership",
        "attribute",
        "singling_out",
        "linkability",
    }
    assert d["limitations"] and d["thresholds"]["justification"]


def test_claim_from_manifest_and_bad_claims():
    claim = Claim.from_manifest(
        {
            "format": "dpsynth-release",
            "method": "mst",
            "claimed": {"epsilon": 1.0, "delta": 1e-9},
            "ledger": {"budget": {"epsilon": 1.0, "delta": 1e-9}, "entries": []},
        },
        "m.json",
    )
    assert (claim.epsilon, claim.delta, claim.method) == (1.0, 1e-9, "mst")
    with pytest.raises(ValidationError, match="not a dpsynth release manifest"):
        Claim.from_manifest({"format": "other"}, "x.json")
    with pytest.raises(ValidationError, match="tolerance"):
        AuditConfig(tolerance=1.5)
    with pytest.raises(ValidationError, match="alpha"):
        AuditConfig(alpha=0)


def test_audit_tables_writes_reproducible_reports(tmp_path):
    rng = np.random.default_rng(22)
    train, holdout = split(rng)
    syn = draw(2000, rng)
    kwargs = {"schema": DOMAIN, "seed": 5, "config": NO_UTILITY}
    one = audit_tables(frame(train), frame(holdout), frame(syn), **kwargs)
    two = audit_tables(frame(train), frame(holdout), frame(syn), **kwargs)
    for d in (one, two):
        d.pop("created"), d.pop("seconds")
    assert one == two  # the same seed gives the same report
    assert one["reproducibility"]["seed"] == 5
    assert one["reproducibility"]["inputs"]["train"]["rows"] == 3000
    out = write_audit(tmp_path / "audit", one)
    assert json.loads((out / JSON_FILE).read_text())["verdict"] == one["verdict"]
    assert "<svg" in (out / "report.html").read_text()
    # an existing audit is replaced only with overwrite; other folders never
    with pytest.raises(ValidationError, match="overwrite"):
        write_audit(out, one)
    write_audit(out, one, overwrite=True)
    other = tmp_path / "other"
    other.mkdir()
    (other / "keep.txt").write_text("x")
    with pytest.raises(ValidationError, match="not a previous audit"):
        write_audit(other, one, overwrite=True)
    assert (other / "keep.txt").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["audit", "other"]
