"""Summarise `marginal.py` result files: median tables and the acceptance checks.

Usage:
    python benchmarks/report.py RESULTS.json [MORE.json ...] [--markdown]

Several files (say, peers run on one core and dpsynth on another) are merged; a
run present in two files is taken from the later file. For every (table, epsilon)
the script prints the median over seeds of each method's W3 L1 (workload error)
and TVD2, with how many seeds finished, and then checks:

* AIM (dpsynth) below the independent-marginals baseline and MST (dpsynth) on W3;
* each dpsynth method against the same method in every peer library: dpsynth's
  median may exceed the peer's by at most 5% (W3, and TVD2 for tree methods).

A peer with no finished seed (timeout, crash) gives no comparison; the reason
is printed instead. Medians are over the seeds that finished, so a peer that
finished one seed in three is compared on that seed.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from collections import defaultdict
from pathlib import Path

TOLERANCE = 0.05  # "no worse than the same method in a peer library by more than 5%"
METRICS = (("workload_error", "W3"), ("tvd_2", "TVD2"))


def load(paths: list[Path]) -> dict[tuple, dict]:
    """Runs keyed by (table, epsilon, method, seed); later files win."""
    runs: dict[tuple, dict] = {}
    for path in paths:
        for rec in json.loads(path.read_text()).get("records", []):
            key = (rec["table"], rec["epsilon"], rec["method"], rec["seed"])
            runs[key] = rec
    return runs


def summarise(runs: dict[tuple, dict]) -> dict[tuple, dict[str, dict]]:
    """Per (table, epsilon): per method, the medians and the seeds that finished."""
    groups: dict[tuple, dict[str, list[dict]]] = defaultdict(lambda: defaultdict(list))
    refs: dict[str, dict[str, list[dict]]] = defaultdict(lambda: defaultdict(list))
    for (table, eps, method, _), rec in runs.items():
        if eps is None:  # reference rows do not depend on epsilon
            refs[table][method].append(rec)
        else:
            groups[table, eps][method].append(rec)
    out: dict[tuple, dict[str, dict]] = {}
    for (table, eps), methods in sorted(groups.items()):
        for method, recs in refs[table].items():
            methods.setdefault(method, recs)
        row: dict[str, dict] = {}
        for method, recs in methods.items():
            ok = [r for r in recs if r["status"] == "ok"]
            med = {
                name: statistics.median(r[name] for r in ok) if ok else None
                for name, _ in METRICS
            }
            reasons = sorted({r["reason"] or r["status"] for r in recs if r not in ok})
            row[method] = {
                "label": recs[0]["label"],
                "ok": len(ok),
                "runs": len(recs),
                "reasons": reasons,
                **med,
            }
        out[table, eps] = row
    return out


def checks(
    table: str, eps: float, row: dict[str, dict]
) -> list[tuple[str, bool | None]]:
    """The acceptance checks for one (table, epsilon): (statement, verdict)."""
    found: list[tuple[str, bool | None]] = []

    def get(method: str, metric: str) -> float | None:
        return row.get(method, {}).get(metric)

    aim = get("dpsynth:aim", "workload_error")
    for other in ("dpsynth:independent", "dpsynth:mst"):
        value = get(other, "workload_error")
        if aim is not None and value is not None:
            found.append(
                (f"dpsynth aim W3 {aim:.4f} < {other} {value:.4f}", aim < value)
            )
    for method in sorted(row):
        lib, _, algo = method.partition(":")
        if lib in ("dpsynth", "ref") or not algo:
            continue
        ours = f"dpsynth:{algo}"
        if ours not in row:
            continue
        peer = row[method]
        if peer["ok"] == 0:
            why = "; ".join(peer["reasons"]) or "no run"
            found.append((f"{ours} vs {method}: no peer result ({why})", None))
            continue
        metrics = METRICS if algo in ("mst", "privbayes") else METRICS[:1]
        for name, short in metrics:
            a, b = get(ours, name), peer[name]
            if a is None or b is None:
                continue
            ok = a <= b * (1 + TOLERANCE)
            found.append(
                (
                    f"{ours} {short} {a:.4f} vs {method} {b:.4f} "
                    f"({(a / b - 1) * 100:+.1f}%)",
                    ok,
                )
            )
    return found


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("results", nargs="+", type=Path)
    p.add_argument("--markdown", action="store_true", help="markdown tables")
    args = p.parse_args(argv)
    missing = [str(f) for f in args.results if not f.is_file()]
    if missing:
        p.error(f"no such results file: {', '.join(missing)}")
    summary = summarise(load(args.results))
    failed = 0
    for (table, eps), row in summary.items():
        print(f"\n### {table}, ε = {eps:g} (median over the seeds that finished)\n")
        if args.markdown:
            print("| method | seeds ok | W3 L1 | TVD2 | note |")
            print("| --- | ---: | ---: | ---: | --- |")
        for _method, r in sorted(row.items(), key=lambda kv: _order(kv[0])):
            w3 = "–" if r["workload_error"] is None else f"{r['workload_error']:.4f}"
            tv = "–" if r["tvd_2"] is None else f"{r['tvd_2']:.4f}"
            note = "; ".join(r["reasons"])
            seeds = f"{r['ok']}/{r['runs']}"
            if args.markdown:
                print(f"| {r['label']} | {seeds} | {w3} | {tv} | {note} |")
            else:
                print(f"  {r['label']:<34} {seeds:>5} {w3:>8} {tv:>8}  {note}")
        print()
        for text, verdict in checks(table, eps, row):
            mark = {True: "pass", False: "FAIL", None: "n/a "}[verdict]
            failed += verdict is False
            print(f"- {mark}: {text}" if args.markdown else f"  [{mark}] {text}")
    print(f"\n{failed} failed check(s)")
    return 0


def _order(method: str) -> tuple[int, str]:
    lib = method.split(":", 1)[0]
    rank = {"dpsynth": 0, "mbi": 1, "opendp": 2, "smartnoise": 3, "dpmm": 4, "ref": 5}
    return rank.get(lib, 9), method


if __name__ == "__main__":
    sys.exit(main())
