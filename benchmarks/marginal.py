"""Side-by-side benchmark: dpsynth's marginal synthesizers against published peers.

Runs, in one run, dpsynth's methods and the peer libraries on the same
integer-coded hd-datasets tables with their public domains (delta = 1e-9 by
default), and prints per (table, epsilon) one row per method and seed, plus the
median over seeds:

* workload error: mean L1 distance between normalised real and synthetic
  marginals over ALL 3-way marginals (AIM paper's metric);
* mean TVD over all 1-way and over all 2-way marginals;
* fit+sample wall and CPU seconds (measured inside the child), the child
  process's total CPU seconds and peak RSS (``os.wait4``).

Each method run is a fresh subprocess (its own virtual environment for a peer,
``/work/main/.venv`` for dpsynth) with a timeout; the child writes synthetic
integer codes to a temporary CSV and this process scores it with the one
shared implementation in ``benchmarks/metrics.py``. Two reference rows are
computed in-process: "independent (no DP)" and "resampled real (no DP)".

Usage (from the repository root)::

    python benchmarks/marginal.py [--tables adult,salary,nltcs,titanic]
        [--epsilons 0.1,1,10] [--seeds 3] [--methods dpsynth,mbi:mst,ref]
        [--timeout 1200] [--threads 1] [--out results.json] [--quick]

Peers are installed by ``bash benchmarks/peers/setup.sh`` into
``/work/peer-venvs/<peer>`` (``PEER_VENVS`` or ``--peer-venvs`` to change);
see ``benchmarks/README.md``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import platform
import resource
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))

import metrics  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parents[1]
PEERS_DIR = Path(__file__).resolve().parent / "peers"
DEFAULT_DATA_DIR = REPO_ROOT.parent / "shared" / "data" / "hd"
DEFAULT_VENVS = Path(os.environ.get("PEER_VENVS", "/work/peer-venvs"))
MARKER = ".dpsynth-peer-ok"  # written by setup.sh when a venv installed fully

# library -> its methods, in display order. "dpsynth" runs in the project venv.
LIBRARIES: dict[str, tuple[str, ...]] = {
    "dpsynth": ("independent", "mst", "aim", "privbayes"),
    "mbi": ("mst", "aim"),
    "opendp": ("mst", "aim"),
    "smartnoise": ("mst", "aim"),
    "dpmm": ("mst", "aim", "privbayes"),
}
# Methods only named explicitly (``--methods dpsynth:dptvae``), never by "all"
# or a library token: the neural generators, run by ``benchmarks/neural.py``.
EXPLICIT_ONLY: dict[str, tuple[str, ...]] = {
    "dpsynth": ("dptvae", "dpctgan"),
    "smartnoise": ("dpctgan", "patectgan"),
}
LIBRARY_LABELS = {
    "dpsynth": "dpsynth",
    "mbi": "mbi 2.0 (our driver)",
    "opendp": "OpenDP 0.16",
    "smartnoise": "smartnoise-synth 1.0.8",
    "dpmm": "dpmm 0.1.9",
}
REFERENCES = {
    "ref:independent": "independent (no DP)",
    "ref:resample": "resampled real (no DP)",
}
KEY_PACKAGES = (
    "mbi",
    "opendp",
    "smartnoise-synth",
    "dpmm",
    "jax",
    "numpy",
    "pandas",
    "torch",
    "polars",
)


@dataclass
class Record:
    """One (table, epsilon, method, seed) result."""

    table: str
    epsilon: float | None
    delta: float
    method: str
    label: str
    seed: int
    status: str  # ok | not installed | not implemented yet | unavailable |
    # crashed | timeout | invalid output | skipped
    reason: str = ""
    workload_error: float | None = None
    tvd_1: float | None = None
    tvd_2: float | None = None
    tvd_3: float | None = None
    max_tvd_2: float | None = None
    rows: int | None = None
    fit_wall_s: float | None = None
    fit_cpu_s: float | None = None
    sample_wall_s: float | None = None
    sample_cpu_s: float | None = None
    fit_sample_wall_s: float | None = None
    fit_sample_cpu_s: float | None = None
    proc_wall_s: float | None = None
    proc_cpu_s: float | None = None
    peak_rss_mb: float | None = None
    notes: list[str] = field(default_factory=list)

    def key(self) -> tuple:
        """Identity of the run (for ``--resume``)."""
        return (self.table, self.epsilon, self.method, self.seed)

    @classmethod
    def new(
        cls,
        method: str,
        table: str,
        epsilon: float | None,
        delta: float,
        seed: int,
        status: str = "ok",
        **rest: Any,
    ) -> Record:
        """A record for one run, labelled by :func:`method_label`."""
        return cls(
            table=table,
            epsilon=epsilon,
            delta=delta,
            method=method,
            label=method_label(method),
            seed=seed,
            status=status,
            **rest,
        )


# ------------------------------------------------------------------ methods
def expand_methods(spec: str) -> list[str]:
    """``dpsynth,mbi:mst,ref`` -> full method names, in canonical order."""
    wanted: list[str] = []
    for token in (t.strip() for t in spec.split(",")):
        if not token:
            continue
        if token == "all":
            wanted += all_methods()
        elif token == "ref":
            wanted += list(REFERENCES)
        elif token in LIBRARIES:
            wanted += [f"{token}:{m}" for m in LIBRARIES[token]]
        elif token in REFERENCES:
            wanted.append(token)
        elif ":" in token and token.split(":", 1)[0] in LIBRARIES:
            lib, algo = token.split(":", 1)
            known_algos = LIBRARIES[lib] + EXPLICIT_ONLY.get(lib, ())
            if algo not in known_algos:
                known = ", ".join(known_algos)
                raise SystemExit(f"unknown method {token!r}: {lib} has {known}")
            wanted.append(token)
        else:
            raise SystemExit(f"unknown method {token!r}; see --list")
    explicit = [f"{lib}:{a}" for lib, algos in EXPLICIT_ONLY.items() for a in algos]
    order = all_methods() + explicit
    return sorted(set(wanted), key=order.index)


def all_methods() -> list[str]:
    """Every method name: dpsynth's, the peers', then the references."""
    names = [f"{lib}:{algo}" for lib, algos in LIBRARIES.items() for algo in algos]
    return names + list(REFERENCES)


def method_label(method: str) -> str:
    """Human-readable row label."""
    if method in REFERENCES:
        return REFERENCES[method]
    lib, algo = method.split(":", 1)
    return f"{LIBRARY_LABELS[lib]} {algo}"


def python_for(lib: str, args: argparse.Namespace) -> Path | None:
    """The interpreter of ``lib``'s environment, or None when not installed."""
    if lib == "dpsynth":
        if args.dpsynth_python:
            return Path(args.dpsynth_python)
        venv = REPO_ROOT / ".venv" / "bin" / "python"
        return venv if venv.exists() else Path(sys.executable)
    root = Path(args.peer_venvs) / lib
    py = root / "bin" / "python"
    return py if (root / MARKER).exists() and py.exists() else None


# ---------------------------------------------------------------- children
@dataclass
class ChildRun:
    """How a child process ended and what it used."""

    rc: int | None
    timed_out: bool
    wall_s: float
    cpu_s: float
    maxrss_mb: float


def child_env(threads: int) -> dict[str, str]:
    """The environment of a method run: one BLAS/XLA/polars thread pool size."""
    env = dict(os.environ)
    for var in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV"):
        env.pop(var, None)
    n = str(threads)
    for var in (
        "OMP_NUM_THREADS",
        "OPENBLAS_NUM_THREADS",
        "MKL_NUM_THREADS",
        "NUMEXPR_NUM_THREADS",
        "VECLIB_MAXIMUM_THREADS",
        "POLARS_MAX_THREADS",
        "RAYON_NUM_THREADS",
    ):
        env[var] = n
    xla = "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=" + n
    if threads == 1:
        env["XLA_FLAGS"] = (env.get("XLA_FLAGS", "") + " " + xla).strip()
    env["JAX_PLATFORMS"] = "cpu"
    env["TF_CPP_MIN_LOG_LEVEL"] = "2"
    env["PYTHONWARNINGS"] = "ignore"
    return env


def run_child(
    cmd: list[str], env: dict[str, str], timeout: float, log: Path
) -> ChildRun:
    """Runs ``cmd`` in a new session; kills its process group at ``timeout``.

    CPU seconds and peak RSS come from ``os.wait4`` (the child and every
    descendant it waited for).
    """
    start = time.perf_counter()
    with log.open("wb") as fh:
        proc = subprocess.Popen(
            cmd,
            stdout=fh,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            cwd=REPO_ROOT,
            start_new_session=True,
        )
    timed_out = False
    pause = 0.02
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid != 0:
            break
        if time.perf_counter() - start > timeout:
            timed_out = True
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            pid, status, usage = os.wait4(proc.pid, 0)
            break
        time.sleep(pause)
        pause = min(pause * 1.5, 0.5)
    wall = time.perf_counter() - start
    rc = os.waitstatus_to_exitcode(status)
    proc.returncode = rc  # reaped here; keep Popen from waiting again
    try:  # a killed session may leave grandchildren: end them too
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    return ChildRun(
        rc=rc,
        timed_out=timed_out,
        wall_s=wall,
        cpu_s=usage.ru_utime + usage.ru_stime,
        maxrss_mb=usage.ru_maxrss / 1024.0,
    )


def last_error_line(log: Path) -> str:
    """The last non-empty line of a child's output (for a crash reason)."""
    try:
        lines = [ln.strip() for ln in log.read_text(errors="replace").splitlines()]
    except OSError:
        return ""
    lines = [ln for ln in lines if ln]
    return lines[-1][:200] if lines else ""


def run_method(
    method: str,
    table: str,
    epsilon: float,
    seed: int,
    real: metrics.RealMarginals,
    columns: list[str],
    args: argparse.Namespace,
    workdir: Path,
) -> Record:
    """One method run in a subprocess, scored here."""
    lib, algo = method.split(":", 1)
    rec = Record.new(method, table, epsilon, args.delta, seed)
    py = python_for(lib, args)
    if py is None:
        rec.status = "not installed"
        rec.reason = "not installed (run benchmarks/peers/setup.sh)"
        return rec
    stem = f"{table}-eps{epsilon:g}-{lib}-{algo}-s{seed}"
    out = workdir / f"{stem}.csv"
    meta_path = workdir / f"{stem}.meta.json"
    log = workdir / f"{stem}.log"
    data_dir = Path(args.data_dir)
    cmd = [
        str(py),
        str(PEERS_DIR / f"run_{lib}.py"),
        "--data",
        str(data_dir / f"{table}.csv"),
        "--domain",
        str(data_dir / f"{table}-domain.json"),
        "--method",
        algo,
        "--epsilon",
        repr(float(epsilon)),
        "--delta",
        repr(float(args.delta)),
        "--seed",
        str(seed),
        "--out",
        str(out),
        "--meta",
        str(meta_path),
    ]
    child = run_child(cmd, child_env(args.threads), args.timeout, log)
    rec.proc_wall_s = child.wall_s
    rec.proc_cpu_s = child.cpu_s
    rec.peak_rss_mb = child.maxrss_mb
    meta: dict = {}
    if meta_path.exists():
        try:
            meta = json.loads(meta_path.read_text())
        except json.JSONDecodeError:
            meta = {}
    rec.notes = list(meta.get("notes", []))
    if child.timed_out:
        rec.status = "timeout"
        rec.reason = f"timeout after {args.timeout:g} s"
        return rec
    if child.rc == 3 or meta.get("status") == "unavailable":
        detail = meta.get("reason", "") or "method unavailable"
        if lib == "dpsynth":
            rec.status = rec.reason = "not implemented yet"
            rec.notes.append(detail)
        else:
            rec.status = "unavailable"
            rec.reason = detail
        return rec
    if child.rc != 0 or meta.get("status") != "ok":
        rec.status = "crashed"
        why = meta.get("reason") or last_error_line(log) or f"exit status {child.rc}"
        if child.rc is not None and child.rc < 0:
            why = f"killed by signal {-child.rc}"
            if -child.rc == signal.SIGKILL:
                why += " (out of memory?)"
        rec.reason = why
        return rec
    for name in ("fit_wall_s", "fit_cpu_s", "sample_wall_s", "sample_cpu_s"):
        setattr(rec, name, meta.get(name))
    rec.fit_sample_wall_s = meta["fit_wall_s"] + meta["sample_wall_s"]
    rec.fit_sample_cpu_s = meta["fit_cpu_s"] + meta["sample_cpu_s"]
    try:
        synth = metrics.check_codes(pd.read_csv(out), columns, real.sizes)
    except (metrics.TableError, OSError, ValueError, pd.errors.ParserError) as exc:
        rec.status = "invalid output"
        rec.reason = str(exc)[:200]
        return rec
    apply_scores(rec, metrics.score(real, synth))
    if not args.keep_synth:
        out.unlink(missing_ok=True)
    return rec


def apply_scores(rec: Record, scores: dict[str, float]) -> None:
    """Copies the metric values onto a record."""
    rec.workload_error = scores["workload_error"]
    rec.tvd_1 = scores["tvd_1"]
    rec.tvd_2 = scores["tvd_2"]
    rec.tvd_3 = scores["tvd_3"]
    rec.max_tvd_2 = scores["max_tvd_2"]
    rec.rows = int(scores["rows"])


def run_reference(
    method: str,
    table: str,
    seed: int,
    codes: np.ndarray,
    real: metrics.RealMarginals,
    delta: float,
) -> Record:
    """A no-DP reference row, computed in this process."""
    rng = np.random.default_rng([seed, 0x5EED])
    w0, c0 = time.perf_counter(), time.process_time()
    n = codes.shape[0]
    if method == "ref:independent":
        synth = metrics.independent_sample(codes, real.sizes, n, rng)
    else:
        synth = metrics.bootstrap_sample(codes, n, rng)
    rec = Record.new(
        method,
        table,
        None,
        delta,
        seed,
        notes=["no privacy: a floor for the metrics, not a competitor"],
    )
    rec.fit_sample_wall_s = time.perf_counter() - w0
    rec.fit_sample_cpu_s = time.process_time() - c0
    apply_scores(rec, metrics.score(real, synth))
    return rec


# ---------------------------------------------------------------- printing
METRIC_COLS = (
    ("workload_error", "W3 L1", "{:.4f}"),
    ("tvd_1", "TVD1", "{:.4f}"),
    ("tvd_2", "TVD2", "{:.4f}"),
    ("rows", "rows", "{:.0f}"),
    ("fit_sample_wall_s", "f+s wall s", "{:.1f}"),
    ("fit_sample_cpu_s", "f+s CPU s", "{:.1f}"),
    ("proc_cpu_s", "proc CPU s", "{:.1f}"),
    ("peak_rss_mb", "RSS MB", "{:.0f}"),
)


def fmt(value: float | None, spec: str) -> str:
    """A number, or an en dash for a missing one."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return spec.format(value)


def median_record(recs: list[Record]) -> dict[str, float | None]:
    """Median of each metric over the seeds that finished."""
    ok = [r for r in recs if r.status == "ok"]
    out: dict[str, float | None] = {}
    for name, _, _ in METRIC_COLS:
        vals = [getattr(r, name) for r in ok if getattr(r, name) is not None]
        out[name] = statistics.median(vals) if vals else None
    return out


def format_block(table: str, epsilon: float, recs: list[Record], seeds: int) -> str:
    """The printed table of one (table, epsilon)."""
    head = ["method", "seed", *(h for _, h, _ in METRIC_COLS), "status"]
    rows: list[list[str]] = []
    by_method: dict[str, list[Record]] = {}
    for r in recs:
        by_method.setdefault(r.method, []).append(r)
    for group in by_method.values():
        for r in group:
            status = "ok" if r.status == "ok" else r.reason or r.status
            cells = [fmt(getattr(r, n), s) for n, _, s in METRIC_COLS]
            rows.append([r.label, str(r.seed), *cells, status])
        if seeds > 1:
            med = median_record(group)
            n_ok = sum(r.status == "ok" for r in group)
            cells = [fmt(med[n], s) for n, _, s in METRIC_COLS]
            label = f"{group[0].label} median"
            rows.append([label, f"{n_ok}/{len(group)}", *cells, ""])
    widths = [max(len(x) for x in col) for col in zip(head, *rows, strict=True)]
    widths[-1] = len(head[-1])  # the status column is left ragged
    numeric = set(range(2, len(head) - 1))

    def line(cells: list[str]) -> str:
        return "  ".join(
            c.rjust(w) if i in numeric else c.ljust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        ).rstrip()

    title = f"== {table}  eps={epsilon:g}  delta={recs[0].delta:g} =="
    sep = "  ".join("-" * w for w in widths)
    return "\n".join([title, line(head), sep, *(line(r) for r in rows)])


# ---------------------------------------------------------------- metadata
def peer_versions(venvs: Path) -> dict[str, dict[str, str]]:
    """Key package versions in each peer venv (from setup.sh's freeze file)."""
    out: dict[str, dict[str, str]] = {}
    for lib in LIBRARIES:
        if lib == "dpsynth":
            continue
        freeze = venvs / lib / ".dpsynth-peer-freeze.txt"
        if not freeze.exists():
            continue
        pins = {}
        for line in freeze.read_text().splitlines():
            name, _, version = line.partition("==")
            if name.lower() in KEY_PACKAGES and version:
                pins[name.lower()] = version
        out[lib] = pins
    return out


def machine_info() -> dict[str, object]:
    """CPU model, cores, memory, OS (for the results' header)."""
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_gib = None
    try:
        pages = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        mem_gib = round(pages / 2**30, 1)
    except (ValueError, OSError):
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gib": mem_gib,
        "os": platform.platform(),
        "python": platform.python_version(),
    }


def git_commit() -> str:
    """The checkout's commit (or an empty string)."""
    try:
        return subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            check=False,
        ).stdout.strip()
    except OSError:
        return ""


def save(path: Path, header: dict, records: list[Record]) -> None:
    """Writes the results JSON atomically (after every run)."""
    tmp = path.with_name(path.name + ".tmp")
    payload = {**header, "records": [asdict(r) for r in records]}
    tmp.write_text(json.dumps(payload, indent=1, allow_nan=True))
    tmp.replace(path)


# -------------------------------------------------------------------- main
def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command line."""
    p = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--tables", default="adult,salary,nltcs,titanic")
    p.add_argument("--epsilons", default="0.1,1,10")
    p.add_argument("--seeds", type=int, default=3, help="seeds 0..N-1")
    p.add_argument("--first-seed", type=int, default=0)
    p.add_argument("--delta", type=float, default=1e-9)
    p.add_argument(
        "--methods",
        default="all",
        help="comma list of LIB, LIB:ALGO, ref, ref:independent, "
        "ref:resample or all (default)",
    )
    p.add_argument("--timeout", type=float, default=1200.0, help="s per run")
    p.add_argument(
        "--threads",
        type=int,
        default=1,
        help="BLAS/XLA/polars threads per run (default 1: one core)",
    )
    p.add_argument("--data-dir", default=str(DEFAULT_DATA_DIR))
    p.add_argument("--peer-venvs", default=str(DEFAULT_VENVS))
    p.add_argument("--dpsynth-python", default=None, help="default .venv/bin/python")
    p.add_argument("--out", type=Path, default=None, help="results JSON")
    p.add_argument(
        "--resume",
        action="store_true",
        help="keep finished runs already in --out and skip them",
    )
    p.add_argument("--keep-synth", type=Path, default=None, help="keep CSVs here")
    p.add_argument(
        "--retry-timeouts",
        action="store_true",
        help="run a method again on a table where it already timed out "
        "(default: record it as skipped, which keeps the grid to hours)",
    )
    p.add_argument(
        "--quick",
        action="store_true",
        help="adult only, eps=1, 1 seed, timeout 600 s",
    )
    p.add_argument("--list", action="store_true", help="list methods and exit")
    args = p.parse_args(argv)
    if args.quick:
        args.tables, args.epsilons, args.seeds, args.timeout = "adult", "1", 1, 600.0
    return args


def main(argv: list[str] | None = None) -> int:
    """Runs the grid and prints the tables; returns the exit status."""
    args = parse_args(argv)
    methods = expand_methods(args.methods)
    if args.list:
        for m in all_methods():
            lib = m.split(":", 1)[0]
            where = "in-process" if lib == "ref" else str(python_for(lib, args))
            print(f"{m:24s} {method_label(m):40s} {where}")
        return 0
    tables = [t.strip() for t in args.tables.split(",") if t.strip()]
    epsilons = [float(e) for e in args.epsilons.split(",") if e.strip()]
    seeds = list(range(args.first_seed, args.first_seed + args.seeds))
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    out = args.out or Path(tempfile.gettempdir()) / f"dpsynth-marginal-{stamp}.json"
    header = {
        "date": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]),
        "machine": machine_info(),
        "dpsynth_commit": git_commit(),
        "peer_versions": peer_versions(Path(args.peer_venvs)),
        "delta": args.delta,
        "timeout_s": args.timeout,
        "threads": args.threads,
        "metrics": "workload_error = mean L1 over all 3-way marginals; "
        "tvd_k = mean 0.5*L1 over all k-way marginals (normalised)",
    }
    records: list[Record] = []
    done: dict[tuple, Record] = {}
    if args.resume and out.exists():
        for raw in json.loads(out.read_text()).get("records", []):
            rec = Record(**raw)
            if rec.status not in ("not installed", "not implemented yet", "skipped"):
                done[rec.key()] = rec
    previous = list(done.values())
    # A method that timed out on a table is not rerun there (--retry-timeouts).
    timed_out: dict[tuple[str, str], Record] = {}
    for rec in previous:
        if rec.status == "timeout":
            timed_out.setdefault((rec.table, rec.method), rec)

    def kept(current: list[Record]) -> list[Record]:
        """``current`` plus earlier results (``--resume``) not rerun now."""
        keys = {r.key() for r in current}
        return [r for r in previous if r.key() not in keys] + current

    print(f"results -> {out}", file=sys.stderr)
    keep = args.keep_synth
    if keep:
        keep.mkdir(parents=True, exist_ok=True)
    t_start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="dpsynth-bench-") as tmp:
        workdir = keep or Path(tmp)
        for table in tables:
            domain = metrics.load_domain(Path(args.data_dir) / f"{table}-domain.json")
            codes, columns, sizes = metrics.load_table(
                Path(args.data_dir) / f"{table}.csv", domain
            )
            real = metrics.RealMarginals(codes, sizes)
            refs: dict[tuple[str, int], Record] = {}
            for method in methods:
                if method in REFERENCES:
                    for seed in seeds:
                        refs[method, seed] = run_reference(
                            method, table, seed, codes, real, args.delta
                        )
            for epsilon in epsilons:
                block: list[Record] = []
                for method in methods:
                    for seed in seeds:
                        if method in REFERENCES:
                            rec = refs[method, seed]
                        elif (table, epsilon, method, seed) in done:
                            rec = done[table, epsilon, method, seed]
                        elif (table, method) in timed_out and not args.retry_timeouts:
                            first = timed_out[table, method]
                            rec = Record.new(
                                method,
                                table,
                                epsilon,
                                args.delta,
                                seed,
                                status="skipped",
                                reason=f"not run: timed out after {args.timeout:.0f} s"
                                f" at eps={first.epsilon:g} seed={first.seed}",
                            )
                        else:
                            print(
                                f"[{time.perf_counter() - t_start:7.0f}s] {table} "
                                f"eps={epsilon:g} {method} seed={seed} ...",
                                file=sys.stderr,
                                flush=True,
                            )
                            rec = run_method(
                                method,
                                table,
                                epsilon,
                                seed,
                                real,
                                columns,
                                args,
                                workdir,
                            )
                            print(
                                f"          -> {rec.status} {rec.reason}".rstrip(),
                                file=sys.stderr,
                                flush=True,
                            )
                        block.append(rec)
                        if rec.status == "timeout":
                            timed_out.setdefault((table, method), rec)
                        if method not in REFERENCES:
                            records.append(rec)
                            save(out, header, kept(records + list(refs.values())))
                print(format_block(table, epsilon, block, len(seeds)), flush=True)
                print(flush=True)
            records.extend(refs.values())
            save(out, header, kept(records))
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    print(
        f"total {time.perf_counter() - t_start:.0f} s wall, "
        f"{usage.ru_utime + usage.ru_stime:.0f} s CPU in children; results: {out}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
