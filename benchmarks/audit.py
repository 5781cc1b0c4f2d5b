"""Acceptance figures of the privacy audit (``dpsynth.audit``) in one run.

Three parts, each on hd/adult (integer codes, public domain, 48,842 rows),
split at random (seeded) into 30,000 training and 10,000 holdout rows:

* **power** -- two fake generators audited at default settings with a stated
  claim of epsilon = 1, delta = 1e-9: ``copy5`` (30,000 rows drawn column by
  column from the training 1-way marginals, no DP, with 5% of the rows
  replaced by randomly chosen training rows) and ``train`` (the training table
  itself). Acceptance: copy5's membership risk interval excludes 0 and its
  verdict is fail; ``train`` gives an empirical epsilon > 3.
* **soundness** -- per seed a fresh split and a real DP release at epsilon = 1,
  delta = 1e-9 by dpsynth's synthesizer (``--method mst`` or ``independent``)
  through the Python API, audited (``utility=False``) with the claim from its
  own ledger. Acceptance: the empirical epsilon bound is <= the claim on at
  least 95% of the seeds (19 of 20). Per attack: how many seeds' risk interval
  excludes 0 (lower end > 0), with the binomial tail of that count.
* **speed** -- the whole no-box audit of the 30,000-row training table, the
  copy5 table and the 10,000-row holdout, once with the utility section and
  once without, each in a fresh subprocess (wall and CPU by ``os.wait4``;
  peak RSS as the child's own VmHWM, see :func:`vm_hwm_mb`). Acceptance:
  under 60 s and 2 GiB. Beside it Anonymeter 1.1.0
  (``peers/audit_anonymeter.py`` in ``/work/peer-venvs/anonymeter``) on the
  same CSVs, with our report's figures for the same attacks for reference
  (the two tools define risk differently: only the timings compare).

Usage (from the repository root)::

    python benchmarks/audit.py [--power] [--soundness] [--speed]
        [--soundness-seeds 20] [--method mst|independent] [--out FILE.json]
        [--quick]

No part flag runs all three. ``--quick``: 3 soundness seeds, no Anonymeter.
Tables go to stdout as Markdown, progress lines with timestamps to stderr.
The machine has 2 cores shared with other work: pin the run
(``taskset -c 1 python benchmarks/audit.py ...``); the affinity is recorded.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))

import marginal  # noqa: E402  (run_child, child_env, machine_info, git_commit)

REPO_ROOT = Path(__file__).resolve().parents[1]
DRIVER = Path(__file__).resolve().parent / "peers" / "audit_anonymeter.py"
DEFAULT_DATA_DIR = REPO_ROOT.parent / "shared" / "data" / "hd"
DEFAULT_VENVS = Path(os.environ.get("PEER_VENVS", "/work/peer-venvs"))
N_TRAIN, N_HOLDOUT = 30_000, 10_000
COPY_FRACTION = 0.05
EPSILON, DELTA = 1.0, 1e-9
MEMBERSHIP = ("dcr_membership", "density_membership")
SPEED_LIMIT_S, RSS_LIMIT_MB = 60.0, 2048.0
# Anonymeter evaluator -> our attacks on the same question (reference only).
SAME_ATTACKS = {
    "singling_out_univariate": ("univariate_singling_out",),
    "singling_out_multivariate": ("multivariate_singling_out",),
    "linkability": ("linkability",),
    "inference": ("nn_attribute", "cap_attribute", "model_attribute"),
}

_T0 = time.perf_counter()


def log(message: str) -> None:
    """A progress line on stderr: wall clock and seconds since start."""
    now = dt.datetime.now().strftime("%H:%M:%S")
    print(
        f"[{now} +{time.perf_counter() - _T0:5.0f}s] {message}",
        file=sys.stderr,
        flush=True,
    )


# -------------------------------------------------------------------- data
def load_adult(data_dir: Path) -> tuple[pd.DataFrame, Any]:
    """hd/adult as int64 codes in the domain's column order, and its Domain."""
    from dpsynth.data.domain import Domain

    domain = Domain.load(data_dir / "adult-domain.json")
    frame = pd.read_csv(data_dir / "adult.csv")[list(domain)].astype("int64")
    return frame, domain


def split(frame: pd.DataFrame, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A random 30,000 / 10,000 train / holdout split (rows left over unused)."""
    order = np.random.default_rng([seed, 0xAD17]).permutation(len(frame))
    train = frame.iloc[order[:N_TRAIN]].reset_index(drop=True)
    holdout = frame.iloc[order[N_TRAIN : N_TRAIN + N_HOLDOUT]].reset_index(drop=True)
    return train, holdout


def copy5(train: pd.DataFrame, sizes: Sequence[int], seed: int) -> pd.DataFrame:
    """Independent columns from the training 1-way marginals, 5% copied rows."""
    gen = np.random.default_rng([seed, 0xC0B7])
    codes = train.to_numpy()
    n = codes.shape[0]
    out = np.empty_like(codes)
    for j, size in enumerate(sizes):
        p = np.bincount(codes[:, j], minlength=size) / n
        out[:, j] = gen.choice(size, size=n, p=p)
    k = round(COPY_FRACTION * n)
    where = gen.choice(n, size=k, replace=False)
    out[where] = codes[gen.choice(n, size=k, replace=False)]
    return pd.DataFrame(out, columns=train.columns)


def stated_claim(method: str) -> dict[str, Any]:
    """A minimal release manifest claiming (epsilon, delta) = (1, 1e-9)."""
    return {
        "format": "dpsynth-release",
        "claimed": {"epsilon": EPSILON, "delta": DELTA},
        "method": method,
    }


# ------------------------------------------------------------ report digest
def attack_rows(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Per attack: risk, interval, verdict, adjusted p, main/control rates."""
    return {
        a["name"]: {
            "risk": a["risk"],
            "ci": a["ci"],
            "verdict": a["verdict"],
            "p_adjusted": a["p_adjusted"],
            "powered": a["powered"],
            "main": [a["main"]["successes"], a["main"]["trials"]],
            "control": [a["control"]["successes"], a["control"]["trials"]],
            "epsilon": None if a["epsilon"] is None else a["epsilon"]["lower_bound"],
        }
        for a in report["attacks"]
    }


def digest(report: dict[str, Any]) -> dict[str, Any]:
    """What the benchmark keeps of a report (no per-record section)."""
    eps = report["empirical_epsilon"]
    return {
        "verdict": report["verdict"],
        "summary": report["summary"],
        "criteria": {k: v["verdict"] for k, v in report["criteria"].items()},
        "empirical_epsilon": {
            k: eps[k] for k in ("lower_bound", "attack", "claimed", "verdict")
        },
        "attacks": attack_rows(report),
        "seconds": report["seconds"],
    }


def risk_text(row: dict[str, Any] | None) -> str:
    """``0.123 [0.100, 0.150]`` (or an en dash)."""
    if row is None:
        return "–"
    return f"{row['risk']:.3f} [{row['ci'][0]:.3f}, {row['ci'][1]:.3f}]"


def md_table(head: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A Markdown pipe table."""
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


# ------------------------------------------------------------------- power
def run_power(frame: pd.DataFrame, domain: Any, seed: int) -> dict[str, Any]:
    """Audits copy5 and the training table itself (default settings)."""
    from dpsynth.audit.report import audit_tables

    train, holdout = split(frame, seed)
    sizes = [domain[c] for c in frame.columns]
    generators = {"copy5": copy5(train, sizes, seed), "train": train.copy()}
    out: dict[str, Any] = {"seed": seed, "claim": [EPSILON, DELTA], "generators": {}}
    for name, synthetic in generators.items():
        log(f"power: auditing {name} ({len(synthetic)} rows, default settings)")
        w0, c0 = time.perf_counter(), time.process_time()
        report = audit_tables(
            train,
            holdout,
            synthetic,
            schema=domain,
            manifest=stated_claim(name),
            seed=seed,
        )
        entry = digest(report)
        entry["wall_s"] = time.perf_counter() - w0
        entry["cpu_s"] = time.process_time() - c0
        out["generators"][name] = entry
        log(
            f"power: {name}: {entry['verdict']}, epsilon >= "
            f"{entry['empirical_epsilon']['lower_bound']:.3g} "
            f"({entry['wall_s']:.0f} s wall, {entry['cpu_s']:.0f} s CPU)"
        )
    c5, tr = out["generators"]["copy5"], out["generators"]["train"]
    excluded = [m for m in MEMBERSHIP if c5["attacks"][m]["ci"][0] > 0]
    out["acceptance"] = {
        "copy5_membership_excludes_0": bool(excluded),
        "copy5_membership_attacks_excluding_0": excluded,
        "copy5_verdict_fail": c5["verdict"] == "fail",
        "train_epsilon_above_3": tr["empirical_epsilon"]["lower_bound"] > 3,
    }
    out["acceptance"]["pass"] = all(
        v for k, v in out["acceptance"].items() if isinstance(v, bool)
    )
    return out


def format_power(res: dict[str, Any]) -> str:
    """The power table."""
    rows = []
    for name, g in res["generators"].items():
        eps = g["empirical_epsilon"]
        rows.append(
            [
                name,
                g["verdict"],
                g["criteria"]["membership"],
                risk_text(g["attacks"]["dcr_membership"]),
                risk_text(g["attacks"]["density_membership"]),
                f"{eps['lower_bound']:.3f} ({eps['attack']})",
                f"{g['wall_s']:.0f} / {g['cpu_s']:.0f}",
            ]
        )
    head = [
        "generator",
        "verdict",
        "membership",
        "dcr risk [95% CI]",
        "density risk [95% CI]",
        "empirical ε ≥ (attack)",
        "wall / CPU s",
    ]
    acc = res["acceptance"]
    checks = [
        f"- copy5 membership interval excludes 0: "
        f"{_ok(acc['copy5_membership_excludes_0'])} "
        f"({', '.join(acc['copy5_membership_attacks_excluding_0']) or 'none'})",
        f"- copy5 verdict is fail: {_ok(acc['copy5_verdict_fail'])}",
        f"- train: empirical ε > 3: {_ok(acc['train_epsilon_above_3'])}",
    ]
    title = (
        f"## Power (adult, {N_TRAIN:,} train / {N_HOLDOUT:,} holdout, split seed "
        f"{res['seed']}, claim ε = {EPSILON:g}, δ = {DELTA:g}, default settings)"
    )
    return "\n".join([title, "", md_table(head, rows), "", *checks])


def _ok(flag: bool) -> str:
    return "yes" if flag else "**NO**"


# --------------------------------------------------------------- soundness
def dp_release(
    train: pd.DataFrame, domain: Any, method: str, seed: int
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """A DP release at (1, 1e-9) and its manifest claim (from its ledger)."""
    from dpsynth.synthesizers import make_synthesizer

    syn = make_synthesizer(method)
    syn.fit(train, schema=domain, epsilon=EPSILON, delta=DELTA, rng=seed)
    synthetic = syn.sample(rng=seed)
    ledger = syn.ledger
    manifest = {
        "format": "dpsynth-release",
        "method": syn.name,
        "claimed": {
            "epsilon": float(ledger.budget.epsilon),
            "delta": float(ledger.budget.delta),
            "epsilon_spent": float(ledger.epsilon),
        },
        "ledger": ledger.to_dict(),
    }
    return synthetic, manifest


def run_soundness(
    frame: pd.DataFrame, domain: Any, method: str, seeds: int
) -> dict[str, Any]:
    """Per seed: split, DP release, audit with the ledger's claim."""
    from scipy.stats import binom

    from dpsynth.audit.battery import AuditConfig
    from dpsynth.audit.report import audit_tables

    config = AuditConfig(utility=False)
    per_seed = []
    for seed in range(seeds):
        train, holdout = split(frame, seed)
        w0, c0 = time.perf_counter(), time.process_time()
        synthetic, manifest = dp_release(train, domain, method, seed)
        fit_s = (time.perf_counter() - w0, time.process_time() - c0)
        w0, c0 = time.perf_counter(), time.process_time()
        report = audit_tables(
            train,
            holdout,
            synthetic,
            schema=domain,
            manifest=manifest,
            config=config,
            seed=seed,
        )
        entry = digest(report)
        entry.update(
            seed=seed,
            rows=len(synthetic),
            claimed_epsilon=manifest["claimed"]["epsilon"],
            epsilon_spent=manifest["claimed"]["epsilon_spent"],
            release_wall_s=fit_s[0],
            release_cpu_s=fit_s[1],
            audit_wall_s=time.perf_counter() - w0,
            audit_cpu_s=time.process_time() - c0,
            excluding_0=[n for n, a in entry["attacks"].items() if a["ci"][0] > 0],
        )
        per_seed.append(entry)
        log(
            f"soundness {method} seed {seed}: epsilon >= "
            f"{entry['empirical_epsilon']['lower_bound']:.3g}, verdict "
            f"{entry['verdict']}, CI excludes 0: {entry['excluding_0'] or 'none'} "
            f"(release {fit_s[0]:.0f} s, audit {entry['audit_wall_s']:.0f} s)"
        )
    n = len(per_seed)
    within = sum(
        s["empirical_epsilon"]["lower_bound"] <= s["claimed_epsilon"] for s in per_seed
    )
    needed = int(np.ceil(0.95 * n))
    attacks = list(per_seed[0]["attacks"]) if per_seed else []
    per_attack = {}
    for name in attacks:
        k = sum(name in s["excluding_0"] for s in per_seed)
        per_attack[name] = {
            "seeds_excluding_0": k,
            "p_at_least_5pct": float(binom.sf(k - 1, n, 0.05)),
            "p_at_least_2_5pct": float(binom.sf(k - 1, n, 0.025)),
        }
    return {
        "method": method,
        "claim": [EPSILON, DELTA],
        "seeds": n,
        "per_seed": per_seed,
        "per_attack": per_attack,
        "verdicts": {
            v: sum(s["verdict"] == v for s in per_seed)
            for v in ("pass", "inconclusive", "fail")
        },
        "bound_within_claim": within,
        "acceptance": {"needed": needed, "pass": within >= needed},
    }


def _verdict_text(entry: dict[str, Any]) -> str:
    """The overall verdict, with the criteria that did not pass."""
    other = [f"{k} {v}" for k, v in entry["criteria"].items() if v != "pass"]
    if entry["empirical_epsilon"]["verdict"] == "fail":
        other.append("empirical ε fail")
    return entry["verdict"] + (f" ({', '.join(other)})" if other else "")


def format_soundness(res: dict[str, Any]) -> str:
    """The per-seed table, the per-attack counts and the acceptance line."""
    rows = [
        [
            s["seed"],
            s["rows"],
            f"{s['epsilon_spent']:.4g}",
            f"{s['empirical_epsilon']['lower_bound']:.3f}",
            s["empirical_epsilon"]["attack"],
            _verdict_text(s),
            ", ".join(s["excluding_0"]) or "–",
            f"{s['release_wall_s']:.0f} / {s['audit_wall_s']:.0f}",
        ]
        for s in res["per_seed"]
    ]
    head = [
        "seed",
        "rows",
        "ε spent (ledger)",
        "empirical ε ≥",
        "bound from",
        "verdict",
        "risk CI excludes 0",
        "release / audit s",
    ]
    n = res["seeds"]
    attack_rows_ = [
        [
            name,
            f"{a['seeds_excluding_0']} / {n}",
            f"{a['p_at_least_5pct']:.3f}",
            f"{a['p_at_least_2_5pct']:.3f}",
        ]
        for name, a in res["per_attack"].items()
    ]
    head2 = [
        "attack",
        "seeds with CI low > 0",
        "P(≥ k) at 5%",
        "P(≥ k) at 2.5%",
    ]
    v = res["verdicts"]
    acc = res["acceptance"]
    title = (
        f"## Soundness ({res['method']}, ε = {EPSILON:g}, δ = {DELTA:g}, {n} seeds, "
        "fresh split per seed, utility=False)"
    )
    return "\n".join(
        [
            title,
            "",
            md_table(head, rows),
            "",
            md_table(head2, attack_rows_),
            "",
            f"- seeds with empirical ε ≤ claimed ε: {res['bound_within_claim']} / {n} "
            f"(acceptance ≥ {acc['needed']}): {_ok(acc['pass'])}",
            f"- overall verdicts: {v['pass']} pass, {v['inconclusive']} "
            f"inconclusive, {v['fail']} fail",
            "- P(≥ k): binomial probability of at least that many seeds under the "
            "stated per-seed rate (5% as specified; 2.5% is the nominal rate at "
            "which a two-sided 95% interval's lower end exceeds a true 0).",
        ]
    )


# ------------------------------------------------------------------- speed
def speed_child(folder: Path, utility: bool, seed: int, result: Path) -> int:
    """Runs in a fresh process: loads the CSVs, audits, writes a JSON digest."""
    w0, c0 = time.perf_counter(), time.process_time()
    from dpsynth.audit.battery import AuditConfig
    from dpsynth.audit.report import audit_tables
    from dpsynth.data.domain import Domain

    domain = Domain.load(folder / "domain.json")
    tables = {n: pd.read_csv(folder / f"{n}.csv") for n in ("train", "holdout", "syn")}
    load = (time.perf_counter() - w0, time.process_time() - c0)
    w0, c0 = time.perf_counter(), time.process_time()
    report = audit_tables(
        tables["train"],
        tables["holdout"],
        tables["syn"],
        schema=domain,
        manifest=stated_claim("copy5"),
        config=AuditConfig(utility=utility),
        seed=seed,
    )
    out = digest(report)
    out.update(
        import_load_wall_s=load[0],
        import_load_cpu_s=load[1],
        audit_wall_s=time.perf_counter() - w0,
        audit_cpu_s=time.process_time() - c0,
        linkability_source_a=next(
            a["details"]["source_a"]
            for a in report["attacks"]
            if a["name"] == "linkability"
        ),
        secret=report["data"]["secret"],
        vm_hwm_mb=vm_hwm_mb(),
    )
    result.write_text(json.dumps(out))
    return 0


def vm_hwm_mb() -> float | None:
    """This process's own peak RSS (VmHWM), in MB, or None off Linux.

    ``os.wait4``'s ``ru_maxrss`` is not enough: Linux carries it across
    ``execve`` from the forking parent, so a child of a large benchmark process
    reports at least the parent's size. VmHWM belongs to the child's own
    address space.
    """
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return None


def _child_status(child: marginal.ChildRun, log_path: Path, timeout: float) -> str:
    if child.timed_out:
        return f"timeout after {timeout:.0f} s"
    if child.rc != 0:
        return f"crashed: {marginal.last_error_line(log_path) or child.rc}"
    return "ok"


def run_speed(
    frame: pd.DataFrame,
    domain: Any,
    args: argparse.Namespace,
    workdir: Path,
) -> dict[str, Any]:
    """Times our audit (with/without utility) and Anonymeter, fresh processes."""
    train, holdout = split(frame, args.seed)
    synthetic = copy5(train, [domain[c] for c in frame.columns], args.seed)
    for name, table in (("train", train), ("holdout", holdout), ("syn", synthetic)):
        table.to_csv(workdir / f"{name}.csv", index=False)
    (workdir / "domain.json").write_text(json.dumps(dict(domain)))
    env = marginal.child_env(args.threads)
    out: dict[str, Any] = {
        "tables": {
            "train": list(train.shape),
            "holdout": list(holdout.shape),
            "synthetic": [*synthetic.shape, "copy5"],
        },
        "threads": args.threads,
        "runs": {},
    }
    for utility in (True, False):
        label = "dpsynth (with utility)" if utility else "dpsynth (no utility)"
        result = workdir / f"ours-{int(utility)}.json"
        log_path = workdir / f"ours-{int(utility)}.log"
        log(f"speed: {label} in a fresh process")
        cmd = [sys.executable, str(Path(__file__).resolve()), "--speed-child"]
        cmd += [str(workdir), "--seed", str(args.seed), "--child-result", str(result)]
        cmd += ["--utility" if utility else "--no-utility"]
        child = marginal.run_child(cmd, env, args.timeout, log_path)
        run = _proc(child, _child_status(child, log_path, args.timeout))
        if run["status"] == "ok":
            run.update(json.loads(result.read_text()))
            if run.get("vm_hwm_mb") is not None:
                run["peak_rss_wait4_mb"] = run["peak_rss_mb"]
                run["peak_rss_mb"] = run["vm_hwm_mb"]
        out["runs"][label] = run
        log(f"speed: {label}: {run['status']}, {child.wall_s:.0f} s wall")
    ours = out["runs"]["dpsynth (with utility)"]
    left = (
        ours.get("linkability_source_a") or list(frame.columns)[: frame.shape[1] // 2]
    )
    secret = ours.get("secret") or frame.columns[-1]
    if args.quick or args.no_anonymeter:
        out["anonymeter"] = {"status": "skipped (--quick)"}
    else:
        out["anonymeter"] = run_anonymeter(args, env, workdir, left, secret)
    checks = {}
    for label, run in out["runs"].items():
        if run["status"] == "ok":
            checks[label] = {
                "wall_under_60_s": run["proc_wall_s"] < SPEED_LIMIT_S,
                "rss_under_2_gib": run["peak_rss_mb"] < RSS_LIMIT_MB,
            }
    out["acceptance"] = checks
    return out


def _proc(child: marginal.ChildRun, status: str) -> dict[str, Any]:
    return {
        "status": status,
        "proc_wall_s": child.wall_s,
        "proc_cpu_s": child.cpu_s,
        "peak_rss_mb": child.maxrss_mb,
    }


def run_anonymeter(
    args: argparse.Namespace,
    env: dict[str, str],
    workdir: Path,
    left: Sequence[str],
    secret: str,
) -> dict[str, Any]:
    """Anonymeter's four evaluations in its own venv (a black box)."""
    venv = Path(args.peer_venvs) / "anonymeter"
    py = venv / "bin" / "python"
    if not ((venv / marginal.MARKER).exists() and py.exists()):
        return {"status": "not installed (bash benchmarks/peers/setup.sh anonymeter)"}
    result = workdir / "anonymeter.json"
    log_path = workdir / "anonymeter.log"
    cmd = [str(py), str(DRIVER), "--train", str(workdir / "train.csv")]
    cmd += ["--holdout", str(workdir / "holdout.csv")]
    cmd += ["--synthetic", str(workdir / "syn.csv"), "--left", ",".join(left)]
    cmd += ["--secret", secret, "--n-attacks", str(args.n_attacks)]
    cmd += ["--seed", str(args.seed), "--n-jobs", "1", "--out", str(result)]
    log(
        f"speed: Anonymeter ({args.n_attacks} attacks each, timeout "
        f"{args.anonymeter_timeout:.0f} s)"
    )
    child = marginal.run_child(cmd, env, args.anonymeter_timeout, log_path)
    status = _child_status(child, log_path, args.anonymeter_timeout)
    run = _proc(child, status)
    if result.exists():  # rc 1 = an evaluator crashed; the others still count
        run.update(json.loads(result.read_text()))
        if run.get("vm_hwm_mb") is not None:  # see vm_hwm_mb()
            run["peak_rss_wait4_mb"] = run["peak_rss_mb"]
            run["peak_rss_mb"] = run["vm_hwm_mb"]
        crashed = [k for k, e in run["evaluators"].items() if e["status"] != "ok"]
        run["status"] = "ok" if not crashed else f"evaluator(s) crashed: {crashed}"
    run["log_tail"] = log_path.read_text(errors="replace")[-2000:]
    log(f"speed: Anonymeter: {run['status']}, {child.wall_s:.0f} s wall")
    return run


def format_speed(res: dict[str, Any]) -> str:
    """Timings of both tools, then the same attacks' risks side by side."""
    rows = []
    for label, run in res["runs"].items():
        rows.append(
            _speed_row(label, run, run.get("audit_wall_s"), run.get("audit_cpu_s"))
        )
    anon = res["anonymeter"]
    if "proc_wall_s" in anon:
        rows.append(
            _speed_row(
                "Anonymeter 1.1.0 (4 evaluations)",
                anon,
                anon.get("total_wall_s"),
                anon.get("total_cpu_s"),
            )
        )
        for name, e in anon.get("evaluators", {}).items():
            rows.append(
                [
                    f"  Anonymeter {name}",
                    "–",
                    "–",
                    f"{e['wall_s']:.1f}",
                    f"{e['cpu_s']:.1f}",
                    "–",
                    e["status"],
                ]
            )
    else:
        rows.append(["Anonymeter 1.1.0", "–", "–", "–", "–", "–", anon["status"]])
    head = [
        "run",
        "process wall s",
        "process CPU s",
        "audit wall s",
        "audit CPU s",
        "peak RSS MB",
        "status",
    ]
    ours = res["runs"].get("dpsynth (with utility)", {})
    stages = ours.get("seconds", {})
    t = res["tables"]
    lines = [
        f"## Speed (train {t['train'][0]:,} × {t['train'][1]}, synthetic "
        f"{t['synthetic'][0]:,} rows (copy5), holdout {t['holdout'][0]:,}; fresh "
        f"process each, {res['threads']} thread(s))",
        "",
        md_table(head, rows),
        "",
        "- process = the whole child (interpreter, imports, CSV loading), "
        "`os.wait4`; audit = the `audit_tables` call (ours) or the four "
        "evaluations (Anonymeter), measured inside the child; peak RSS = the "
        "child's own VmHWM (`ru_maxrss` from `os.wait4` would include the "
        "forking parent's size: Linux carries it across `execve`).",
    ]
    if stages:
        lines.append(
            "- our stages (with utility), s: "
            + ", ".join(f"{k} {v:.1f}" for k, v in stages.items())
        )
    for label, acc in res["acceptance"].items():
        lines.append(
            f"- {label}: process wall < {SPEED_LIMIT_S:.0f} s: "
            f"{_ok(acc['wall_under_60_s'])}; peak RSS < {RSS_LIMIT_MB:.0f} MB: "
            f"{_ok(acc['rss_under_2_gib'])}"
        )
    lines += ["", format_comparison(res)]
    return "\n".join(lines)


def _speed_row(
    label: str, run: dict[str, Any], wall: float | None, cpu: float | None
) -> list[str]:
    return [
        label,
        marginal.fmt(run.get("proc_wall_s"), "{:.1f}"),
        marginal.fmt(run.get("proc_cpu_s"), "{:.1f}"),
        marginal.fmt(wall, "{:.1f}"),
        marginal.fmt(cpu, "{:.1f}"),
        marginal.fmt(run.get("peak_rss_mb"), "{:.0f}"),
        run["status"],
    ]


def format_comparison(res: dict[str, Any]) -> str:
    """Ours and Anonymeter's risk for the same attacks (not comparable)."""
    ours = res["runs"].get("dpsynth (with utility)", {}).get("attacks", {})
    anon = res["anonymeter"].get("evaluators", {})
    rows = []
    for name, mine in SAME_ATTACKS.items():
        e = anon.get(name)
        if e is None:
            theirs = res["anonymeter"]["status"]
        elif e["status"] != "ok":
            theirs = e.get("reason", e["status"])
        else:
            theirs = f"{e['risk']:.3f} [{e['ci'][0]:.3f}, {e['ci'][1]:.3f}]"
            extra = _anon_rates(e)
            theirs += f" ({extra})"
        ours_text = "; ".join(f"{m} {risk_text(ours.get(m))}" for m in mine)
        rows.append([name, ours_text, theirs])
    head = [
        "question",
        "dpsynth risk [95% CI] (excess over holdout)",
        "Anonymeter risk [95% CI] (attack / control / baseline rate)",
    ]
    return "\n".join(
        [
            "### The same attacks in both reports (copy5; for reference only)",
            "",
            md_table(head, rows),
            "",
            "Not comparable as numbers: ours is the excess success on training "
            "targets over holdout controls (Newcombe interval); Anonymeter's is its "
            "own normalised residual risk (attack - control) / (1 - control) on "
            "Wilson-centred rates, its error propagated and clipped to [0, 1], on "
            "its own attack definitions and target draws. Only the timings "
            "compare.",
        ]
    )


def _anon_rates(e: dict[str, Any]) -> str:
    parts = []
    for key in ("attack_rate", "control_rate", "baseline_rate"):
        rate = e.get(key)
        parts.append("–" if rate is None else f"{rate['value']:.3f}")
    return " / ".join(parts)


# -------------------------------------------------------------------- main
def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command line."""
    p = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--power", action="store_true", help="run the power part")
    p.add_argument("--soundness", action="store_true", help="run the soundness part")
    p.add_argument("--speed", action="store_true", help="run the speed part")
    p.add_argument("--soundness-seeds", type=int, default=20)
    p.add_argument("--method", choices=("mst", "independent"), default="mst")
    p.add_argument("--seed", type=int, default=0, help="power/speed split seed")
    p.add_argument("--n-attacks", type=int, default=2000, help="Anonymeter's")
    p.add_argument("--timeout", type=float, default=600.0, help="our child, s")
    p.add_argument("--anonymeter-timeout", type=float, default=1800.0)
    p.add_argument("--no-anonymeter", action="store_true")
    p.add_argument("--threads", type=int, default=1, help="BLAS threads per child")
    p.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR)
    p.add_argument("--peer-venvs", default=str(DEFAULT_VENVS))
    p.add_argument("--out", type=Path, default=None, help="results JSON")
    p.add_argument(
        "--quick", action="store_true", help="3 soundness seeds, no Anonymeter"
    )
    p.add_argument(
        "--render",
        type=Path,
        default=None,
        metavar="JSON",
        help="print the Markdown tables of a saved --out file and exit",
    )
    p.add_argument("--speed-child", type=Path, default=None, help=argparse.SUPPRESS)
    p.add_argument("--child-result", type=Path, default=None, help=argparse.SUPPRESS)
    p.add_argument(
        "--utility",
        action=argparse.BooleanOptionalAction,
        default=True,
        help=argparse.SUPPRESS,
    )
    args = p.parse_args(argv)
    if not (args.power or args.soundness or args.speed):
        args.power = args.soundness = args.speed = True
    if args.quick:
        args.soundness_seeds = min(args.soundness_seeds, 3)
    return args


def format_header(payload: dict[str, Any]) -> str:
    """The title and the run's circumstances."""
    machine = payload["machine"]
    return (
        f"# Audit acceptance benchmark ({payload['date']}, commit "
        f"{payload['dpsynth_commit']})\n\n`{payload['command']}`: CPU affinity "
        f"{payload['cpu_affinity']} (of {machine['cores']} cores, shared with "
        f"other work; load average {payload['load_average_start'][0]:.2f} at "
        f"start), {machine['cpu']}. Data: hd/adult, {N_TRAIN:,} train / "
        f"{N_HOLDOUT:,} holdout per split."
    )


def format_footer(payload: dict[str, Any]) -> str:
    """Total time and load at the end."""
    return (
        f"Total {payload['total_wall_s']:.0f} s wall; load average "
        f"{payload['load_average_end'][0]:.2f} at the end. Wall times are "
        "inflated by other work on the same core; CPU seconds are not."
    )


def render(payload: dict[str, Any]) -> str:
    """The whole Markdown summary of a results JSON (``--render``)."""
    parts = [format_header(payload)]
    if "power" in payload:
        parts.append(format_power(payload["power"]))
    if "soundness" in payload:
        parts.append(format_soundness(payload["soundness"]))
    if "speed" in payload:
        parts.append(format_speed(payload["speed"]))
    if "total_wall_s" in payload:
        parts.append(format_footer(payload))
    return "\n\n".join(parts)


def save(path: Path | None, payload: dict[str, Any]) -> None:
    """Writes the results JSON atomically (after every part)."""
    if path is None:
        return
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(payload, indent=1, allow_nan=True) + "\n")
    tmp.replace(path)


def main(argv: list[str] | None = None) -> int:
    """Runs the requested parts, prints their tables, writes the JSON."""
    args = parse_args(argv)
    if args.speed_child is not None:
        return speed_child(args.speed_child, args.utility, args.seed, args.child_result)
    if args.render is not None:
        print(render(json.loads(args.render.read_text())))
        return 0
    affinity = sorted(os.sched_getaffinity(0))
    payload: dict[str, Any] = {
        "date": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]),
        "machine": marginal.machine_info(),
        "cpu_affinity": affinity,
        "load_average_start": list(os.getloadavg()),
        "dpsynth_commit": marginal.git_commit(),
        "data": str(args.data_dir / "adult.csv"),
    }
    print(format_header(payload) + "\n", flush=True)
    log(f"CPU affinity {affinity}; results -> {args.out}")
    frame, domain = load_adult(args.data_dir)
    if args.power:
        payload["power"] = run_power(frame, domain, args.seed)
        print(format_power(payload["power"]) + "\n", flush=True)
        save(args.out, payload)
    if args.soundness:
        payload["soundness"] = run_soundness(
            frame, domain, args.method, args.soundness_seeds
        )
        print(format_soundness(payload["soundness"]) + "\n", flush=True)
        save(args.out, payload)
    if args.speed:
        with tempfile.TemporaryDirectory(prefix="dpsynth-audit-bench-") as tmp:
            payload["speed"] = run_speed(frame, domain, args, Path(tmp))
        print(format_speed(payload["speed"]) + "\n", flush=True)
    payload["load_average_end"] = list(os.getloadavg())
    payload["total_wall_s"] = time.perf_counter() - _T0
    save(args.out, payload)
    print(format_footer(payload), flush=True)
    log(f"done in {payload['total_wall_s']:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
