"""Neural benchmark: dpsynth's DP-TVAE and DP-CTGAN beside smartnoise-synth and MST/AIM.

On the bundled Adult table (``dpsynth/examples/adult.csv``, 32,561 rows)
encoded by its bundled public schema, split once (seed 0) into 80% training rows
and a 20% test set that no synthesizer sees. For each epsilon, method and seed,
one fresh subprocess fits on the training rows and samples (the harness of
``benchmarks/marginal.py``: wall/CPU seconds, peak RSS, timeouts), and this
script scores:

* mean TVD over all 1-, 2- and 3-way marginals against the training rows;
* train-on-synthetic, test-on-real accuracy on income (``income-per-year``;
  ``dpsynth.audit.utility``: scikit-learn's HistGradientBoosting), beside
  train-on-real and the majority class;
* fit+sample seconds and peak RSS.

Then, in this process, the DP-SGD throughput (examples per second) of each
dpsynth neural model at its default size and expected batch, with DP (Opacus,
ghost clipping, noise) and without DP (the same model, batch and optimizer),
measured in alternating rounds on one thread.

``--positions`` runs a separate comparison instead: each neural model fitted
on the raw training rows (not codes) with within-bin positions on
(``position_bins=8``, the default) and off, scored per numeric column by KS
and W1 against the training rows, beside the 1- and 2-way TVD of the bins.

Usage (from the repository root)::

    python benchmarks/neural.py [--epsilons 1,10] [--seeds 3]
        [--methods dpsynth:dptvae,dpsynth:dpctgan,dpsynth:mst,dpsynth:aim,
                   smartnoise:dpctgan,smartnoise:patectgan,ref]
        [--timeout 1800] [--out results.json] [--resume]
        [--no-throughput] [--throughput-only]
    python benchmarks/neural.py --positions [--epsilons 1,10] [--seeds 3] [--jobs 2]
        [--position-bins 8,0] [--position-methods dptvae,dpctgan]

smartnoise-synth runs in its own environment (``benchmarks/peers/setup.sh
smartnoise``); a peer that is missing or crashes gets a row that says why.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import marginal  # noqa: E402
import metrics  # noqa: E402

TABLE = "adult-bundled"
TARGET = "income-per-year"
DEFAULT_METHODS = (
    "dpsynth:dptvae,dpsynth:dpctgan,dpsynth:mst,dpsynth:aim,"
    "smartnoise:dpctgan,smartnoise:patectgan,ref"
)


# ------------------------------------------------------------------ data
def bundled_adult() -> tuple[Any, Any, list[str], list[int], list[bool]]:
    """(train codes, test codes, names, sizes, ordered) of the bundled Adult."""
    from dpsynth.cli import example_path, example_schema_path
    from dpsynth.data.encoding import Encoder
    from dpsynth.data.io import read_table
    from dpsynth.data.schema import Schema

    schema = Schema.load(example_schema_path("adult"))
    codes = Encoder(schema).encode(read_table(example_path("adult"))).codes
    codes = np.asarray(codes, dtype=np.int64)
    order = np.random.default_rng(0).permutation(codes.shape[0])
    cut = int(round(0.8 * codes.shape[0]))
    names = list(schema.domain)
    sizes = [int(schema.domain[c]) for c in names]
    ordered = [col.kind != "categorical" for col in schema.columns]
    return codes[order[:cut]], codes[order[cut:]], names, sizes, ordered


def write_table(dir_: Path, train: np.ndarray, names: list[str], sizes: list[int]):
    import pandas as pd

    pd.DataFrame(train, columns=names).to_csv(dir_ / f"{TABLE}.csv", index=False)
    (dir_ / f"{TABLE}-domain.json").write_text(
        json.dumps(dict(zip(names, sizes, strict=True)))
    )


def tstr(train, test, synth, names, sizes, ordered, seed: int) -> dict[str, Any]:
    """Train-on-synthetic accuracy on ``income`` (and train-on-real, majority)."""
    from dpsynth.audit.utility import utility_report

    rep = utility_report(
        train,
        test,
        synth,
        names=names,
        sizes=sizes,
        ordered=ordered,
        target=TARGET,
        max_triples=1,
        rng=seed,
    )
    return rep["ml_efficacy"]


# ------------------------------------------------------------- positions
POSITION_COLUMNS = ("age", "fnlwgt", "capital-gain", "capital-loss", "hours-per-week")


def raw_split() -> tuple[Any, Any, Any]:
    """(schema, train rows, test rows) of the bundled Adult, raw values.

    The same 80/20 split (seed 0) as :func:`bundled_adult`'s codes.
    """
    from dpsynth.cli import example_path, example_schema_path
    from dpsynth.data.io import read_table
    from dpsynth.data.schema import Schema

    schema = Schema.load(example_schema_path("adult"))
    rows = read_table(example_path("adult"))
    order = np.random.default_rng(0).permutation(len(rows))
    cut = int(round(0.8 * len(rows)))
    train = rows.iloc[order[:cut]].reset_index(drop=True)
    test = rows.iloc[order[cut:]].reset_index(drop=True)
    return schema, train, test


def value_scores(schema, real, synth) -> dict[str, Any]:
    """Per numeric column: KS statistic and W1 over the column's range."""
    from scipy.stats import ks_2samp, wasserstein_distance

    ks, w1 = {}, {}
    for name in POSITION_COLUMNS:
        col = schema.column(name)
        a = real[name].dropna().to_numpy(dtype=float)
        b = synth[name].dropna().to_numpy(dtype=float)
        ks[name] = float(ks_2samp(a, b).statistic)
        w1[name] = float(wasserstein_distance(a, b) / (col.upper - col.lower))
    return {
        "ks": ks,
        "w1": w1,
        "mean_ks": statistics.fmean(ks.values()),
        "mean_w1": statistics.fmean(w1.values()),
    }


def _position_run(job: tuple[str, int, float, int]) -> dict[str, Any]:
    """One fit on the raw training rows (in a worker process) and its scores."""
    import torch

    from dpsynth.data.encoding import Encoder
    from dpsynth.synthesizers import make_synthesizer

    method, bins, eps, seed = job
    torch.set_num_threads(1)
    schema, train, _ = raw_split()
    t = time.perf_counter()
    syn = make_synthesizer(method, position_bins=bins)
    syn.fit(train, schema=schema, epsilon=eps, delta=1e-9, rng=seed)
    synth = syn.sample(rng=seed + 1000)
    seconds = time.perf_counter() - t
    enc = Encoder(schema)
    sizes = [int(schema.domain[c]) for c in schema.domain]
    real = metrics.RealMarginals(np.asarray(enc.encode(train).codes, np.int64), sizes)
    synth_codes = np.asarray(enc.encode(synth).codes, np.int64)
    return {
        "method": f"dpsynth:{method}",
        "position_bins": bins,
        "epsilon": eps,
        "seed": seed,
        "fit_sample_s": seconds,
        "tvd_1": float(0.5 * metrics.l1_errors(real, synth_codes, 1).mean()),
        "tvd_2": float(0.5 * metrics.l1_errors(real, synth_codes, 2).mean()),
        **value_scores(schema, train, synth),
    }


def positions_bench(
    epsilons: list[float],
    methods: list[str],
    position_bins: list[int],
    seeds: int,
    jobs: int,
) -> list[dict]:
    """Within-bin positions on and off, per neural model, epsilon and seed.

    Each fit runs on the raw training rows under the bundled schema; the
    synthetic values are scored against the training rows per numeric column
    (KS, W1 / range), beside the 1- and 2-way TVD of the codes (bins). Two
    references: the training rows' own codes decoded uniformly inside their
    bins (the best a bins-only model can do), and the test rows (sampling
    noise).
    """
    from concurrent.futures import ProcessPoolExecutor

    from dpsynth.data.encoding import Encoder

    schema, train, test = raw_split()
    enc = Encoder(schema)
    rows = [
        {
            "method": "ref:bins-uniform",
            "position_bins": 0,
            "epsilon": None,
            "seed": 0,
            "fit_sample_s": None,
            "tvd_1": 0.0,
            "tvd_2": 0.0,
            **value_scores(schema, train, enc.decode(enc.encode(train), rng=0)),
        },
        {
            "method": "ref:test-rows",
            "position_bins": None,
            "epsilon": None,
            "seed": 0,
            "fit_sample_s": None,
            "tvd_1": None,
            "tvd_2": None,
            **value_scores(schema, train, test),
        },
    ]
    jobs_list = [
        (method, bins, eps, seed)
        for eps in epsilons
        for method in methods
        for bins in position_bins
        for seed in range(seeds)
    ]
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        for row in pool.map(_position_run, jobs_list):
            print(
                f"positions: {row['method']} bins={row['position_bins']} "
                f"eps={row['epsilon']:g} seed={row['seed']}: mean KS "
                f"{row['mean_ks']:.4f} ({row['fit_sample_s']:.0f} s)",
                file=sys.stderr,
            )
            rows.append(row)
    return rows


def positions_report(rows: list[dict]) -> list[str]:
    """The positions table: medians over seeds."""
    if not rows:
        return []
    short = {"age": "age", "fnlwgt": "fnlwgt", "capital-gain": "gain"}
    short |= {"capital-loss": "loss", "hours-per-week": "hours"}
    lines = [
        "",
        "| method | position bins | eps | seeds | mean KS | mean W1/range | "
        + " | ".join(f"KS {short[c]}" for c in POSITION_COLUMNS)
        + " | TVD 1-way | TVD 2-way | fit+sample s |",
        "| --- | --- | --- | --- | --- | --- | "
        + " | ".join("---" for _ in POSITION_COLUMNS)
        + " | --- | --- | --- |",
    ]
    keys = sorted(
        {(r["epsilon"] or 0, r["method"], r["position_bins"] or 0) for r in rows},
        key=lambda k: (k[0], k[1], -k[2]),
    )
    for eps, method, bins in keys:
        runs = [
            r
            for r in rows
            if (r["epsilon"] or 0) == eps
            and r["method"] == method
            and (r["position_bins"] or 0) == bins
        ]

        def med(values: list) -> str:
            values = [v for v in values if v is not None]
            return format(statistics.median(values), ".4f") if values else "–"

        fit = [r["fit_sample_s"] for r in runs if r["fit_sample_s"] is not None]
        lines.append(
            f"| {method} | {bins if eps else '–'} | {format(eps, 'g') if eps else '–'} "
            f"| {len(runs)} | {med([r['mean_ks'] for r in runs])} | "
            f"{med([r['mean_w1'] for r in runs])} | "
            + " | ".join(med([r["ks"][c] for r in runs]) for c in POSITION_COLUMNS)
            + f" | {med([r['tvd_1'] for r in runs])} | "
            f"{med([r['tvd_2'] for r in runs])} | "
            f"{format(statistics.median(fit), '.0f') if fit else '–'} |"
        )
    return lines


# ------------------------------------------------------------ throughput
def throughput(rounds: int, steps: int):
    """Examples/s of one training step, DP (Opacus) and not, per neural model.

    The default models on the raw training rows, as a fit from a DataFrame
    sees them: codes and positions inside bins, the position head included.
    """
    import torch

    from dpsynth.data.encoding import Encoder
    from dpsynth.synthesizers.neural import _dpsgd, _gan, _vae
    from dpsynth.synthesizers.neural._blocks import TorchBlocks
    from dpsynth.synthesizers.neural.ctgan import DPCTGANSynthesizer
    from dpsynth.synthesizers.neural.encoding import TabularRepresentation
    from dpsynth.synthesizers.neural.tvae import DPTVAESynthesizer

    torch.set_num_threads(1)
    tvae, ctgan = DPTVAESynthesizer(), DPCTGANSynthesizer()
    schema, train_rows, _ = raw_split()
    enc = Encoder(schema)
    rep = TabularRepresentation.from_schema(schema, position_bins=tvae.position_bins)
    rows = rep.one_hot(enc.encode(train_rows).codes, enc.positions(train_rows))
    batch = round(rows.shape[0] / tvae.steps_per_epoch)
    gen = torch.Generator().manual_seed(0)
    x_all = torch.from_numpy(rows)
    blocks = TorchBlocks.of(torch, rep)
    cw = rep.code_width
    masks = blocks.matrix[:cw, : len(rep.blocks)].T.contiguous()

    def dpsgd_plan() -> Any:  # both models share these defaults
        return _dpsgd.DPSGDPlan(
            1.0,
            1 / tvae.steps_per_epoch,
            tvae.steps_per_epoch,
            1,
            float(tvae.max_grad_norm),
            False,
        )

    def trainer(model, lr: float, losses_of, dp: bool):
        """One training step of ``model``: DP (ghost clipping, noise) or not.

        ``losses_of(module, x)`` returns ``(per-example losses, leaf input)``.
        """
        opt = torch.optim.Adam(model.parameters(), lr=lr)
        private = None
        if dp:
            private = _dpsgd.make_private(
                model=model, optimizer=opt, rows=rows, plan=dpsgd_plan()
            )
            model, opt = private.module, private.optimizer

        def step(x):
            opt.zero_grad(set_to_none=True)
            losses, leaf = losses_of(model, x, private is not None)
            if private is None:
                losses.sum().backward()
            else:
                private.backward(losses, leaf)
            opt.step()

        return step

    def vae_step(dp: bool):
        plan = _vae.TrainingPlan(
            dpsgd_plan(),
            tvae.learning_rate,
            tuple(tvae.hidden_dims),
            tvae.latent_dim,
        )
        model = _vae.build_vae(torch, rep, plan, gen)

        def losses_of(module, x, needs_leaf: bool):
            eps = torch.randn(x.shape[0], plan.latent_dim, generator=gen)
            x = x.clone().requires_grad_(needs_leaf)
            return _vae._per_row_loss(torch, blocks, x, module(x, eps)), x

        return trainer(model, plan.learning_rate, losses_of, dp)

    def gan_step(dp: bool):  # the discriminator step: the only one DP-SGD touches
        plan = _gan.GANPlan(
            dpsgd_plan(),
            ctgan.generator_lr,
            ctgan.discriminator_lr,
            ctgan.embedding_dim,
            tuple(ctgan.generator_dims),
            tuple(ctgan.discriminator_dims),
            ctgan.dropout,
            ctgan.marginal_weight,
        )
        g = _gan.build_generator(torch, rep, plan, gen)
        d = _gan.build_discriminator(torch, rep.width, plan, gen)

        def losses_of(module, x, needs_leaf: bool):
            cols = torch.randint(0, masks.shape[0], (x.shape[0],), generator=gen)
            cond = x[:, :cw] * masks[cols]
            with torch.no_grad():
                z = torch.randn(x.shape[0], plan.embedding_dim, generator=gen)
                fake = _gan._soft_outputs(torch, blocks, g(z, cond), gen, g.head)
            pairs = torch.stack([x, fake], 1).requires_grad_(needs_leaf)
            return _gan.pair_loss(torch, module(pairs)), pairs

        return trainer(d, plan.discriminator_lr, losses_of, dp)

    results = []
    with _dpsgd.quiet_opacus():
        for name, make in (("dptvae", vae_step), ("dpctgan discriminator", gan_step)):
            steps_fn = {dp: make(dp) for dp in (False, True)}
            times: dict[bool, list[float]] = {False: [], True: []}
            for _ in range(rounds):
                for dp in (False, True):
                    fn = steps_fn[dp]
                    for k in range(steps + 2):
                        x = x_all[
                            torch.randint(0, x_all.shape[0], (batch,), generator=gen)
                        ]
                        t = time.perf_counter()
                        fn(x)
                        if k >= 2:  # two warm-up steps per round
                            times[dp].append(time.perf_counter() - t)
            plain, private = (statistics.median(times[dp]) for dp in (False, True))
            results.append(
                {
                    "model": name,
                    "batch": batch,
                    "nondp_examples_per_s": batch / plain,
                    "dp_examples_per_s": batch / private,
                    "dp_over_nondp": plain / private,
                }
            )
    return results


# ----------------------------------------------------------------- main
def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--epsilons", default="1,10")
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--first-seed", type=int, default=0)
    p.add_argument("--methods", default=DEFAULT_METHODS)
    p.add_argument("--timeout", type=float, default=1800.0)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--out", type=Path, default=None, help="results JSON")
    p.add_argument("--resume", action="store_true")
    p.add_argument("--keep-synth", type=Path, default=None)
    p.add_argument("--no-throughput", action="store_true")
    p.add_argument("--throughput-only", action="store_true")
    p.add_argument("--throughput-rounds", type=int, default=5)
    p.add_argument("--throughput-steps", type=int, default=20)
    p.add_argument(
        "--positions",
        action="store_true",
        help="run only the within-bin positions comparison (raw values, "
        "each of --position-bins)",
    )
    p.add_argument("--jobs", type=int, default=2, help="workers for --positions")
    p.add_argument(
        "--position-bins",
        default="8,0",
        help="the position_bins values --positions compares (8 is the default)",
    )
    p.add_argument(
        "--position-methods",
        default="dptvae,dpctgan",
        help="the neural methods --positions fits",
    )
    p.add_argument(
        "--report",
        type=Path,
        nargs="+",
        default=None,
        help="print the tables of these results JSONs together and exit "
        "(runs split over cores or sessions)",
    )
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.report:
        print(report(merge([json.loads(p.read_text()) for p in args.report])))
        return 0
    train, test, names, sizes, ordered = bundled_adult()
    out = args.out or Path(tempfile.gettempdir()) / "dpsynth-neural.json"
    result: dict[str, Any] = {}
    if out.exists() and args.resume:
        result = json.loads(out.read_text())
    if args.positions:
        eps = [float(e) for e in args.epsilons.split(",")]
        bins = [int(b) for b in args.position_bins.split(",")]
        methods = args.position_methods.split(",")
        result["positions"] = positions_bench(eps, methods, bins, args.seeds, args.jobs)
        out.write_text(json.dumps(result, indent=1, default=str))
        print(report(result))
        print(f"results -> {out}", file=sys.stderr)
        return 0
    if not args.throughput_only:
        with tempfile.TemporaryDirectory(prefix="dpsynth-neural-") as tmp:
            data = Path(tmp)
            write_table(data, train, names, sizes)
            keep = args.keep_synth or data / "synth"
            grid_out = out.with_suffix(".grid.json")
            grid = [
                "--tables",
                TABLE,
                "--data-dir",
                str(data),
                "--epsilons",
                args.epsilons,
                "--seeds",
                str(args.seeds),
                "--first-seed",
                str(args.first_seed),
                "--methods",
                args.methods,
                "--timeout",
                str(args.timeout),
                "--threads",
                str(args.threads),
                "--out",
                str(grid_out),
                "--keep-synth",
                str(keep),
            ]
            if args.resume:
                grid.append("--resume")
            marginal.main(grid)
            records = json.loads(grid_out.read_text())["records"]
            scored = {tuple(r) for r in result.get("tstr_keys", [])}
            tstr_rows = result.get("tstr", [])
            for rec in records:
                if rec["status"] != "ok" or rec["epsilon"] is None:
                    continue
                lib, algo = rec["method"].split(":", 1)
                key = (rec["epsilon"], rec["method"], rec["seed"])
                if key in scored:
                    continue
                csv = (
                    keep
                    / f"{TABLE}-eps{rec['epsilon']:g}-{lib}-{algo}-s{rec['seed']}.csv"
                )
                if not csv.exists():
                    continue
                import pandas as pd

                synth = pd.read_csv(csv)[names].to_numpy(dtype=np.int64)
                ml = tstr(train, test, synth, names, sizes, ordered, rec["seed"])
                tstr_rows.append(
                    {
                        "epsilon": rec["epsilon"],
                        "method": rec["method"],
                        "seed": rec["seed"],
                        **ml,
                    }
                )
                scored.add(key)
            result.update(
                {"grid": records, "tstr": tstr_rows, "tstr_keys": sorted(scored)}
            )
    if not args.no_throughput:
        result["throughput"] = throughput(args.throughput_rounds, args.throughput_steps)
    out.write_text(json.dumps(result, indent=1, default=str))
    print(report(result))
    print(f"results -> {out}", file=sys.stderr)
    return 0


def merge(parts: list[dict[str, Any]]) -> dict[str, Any]:
    """Results of several runs; for a run (epsilon, method, seed) in more than
    one, the later file wins (a rerun replaces what it reruns)."""
    grid: dict[tuple, dict] = {}
    tstr_rows: dict[tuple, dict] = {}
    throughput: list[dict] = []
    positions: dict[tuple, dict] = {}
    for part in parts:
        for row in part.get("positions", []):
            key = (row["epsilon"], row["method"], row["position_bins"], row["seed"])
            positions[key] = row
        for rec in part.get("grid", []):
            grid[rec["epsilon"], rec["method"], rec["seed"]] = rec
        for row in part.get("tstr", []):
            tstr_rows[row["epsilon"], row["method"], row["seed"]] = row
        throughput = part.get("throughput") or throughput
    for key in list(tstr_rows):  # a rerun that failed drops the older score
        if grid.get(key, {}).get("status") != "ok":
            del tstr_rows[key]
    return {
        "grid": list(grid.values()),
        "tstr": list(tstr_rows.values()),
        "throughput": throughput,
        "positions": list(positions.values()),
    }


def checks(grid: list[dict], tstr_rows: list[dict]) -> list[str]:
    """Issue 5's comparison: each dpsynth neural method against each peer GAN.

    Per epsilon, the medians over seeds: lower 2-way TVD and higher
    train-on-synthetic accuracy than smartnoise-synth's DPCTGAN and PATECTGAN.
    """

    def medians(eps: float, method: str) -> tuple[float, float] | None:
        tvd = [
            r["tvd_2"]
            for r in grid
            if r["epsilon"] == eps and r["method"] == method and r["status"] == "ok"
        ]
        acc = [
            t["accuracy_synthetic"]
            for t in tstr_rows
            if t["epsilon"] == eps and t["method"] == method
        ]
        if not tvd or not acc:
            return None
        return statistics.median(tvd), statistics.median(acc)

    ours = ("dpsynth:dptvae", "dpsynth:dpctgan")
    peers = ("smartnoise:dpctgan", "smartnoise:patectgan")
    out = []
    for eps in sorted({r["epsilon"] for r in grid if r["epsilon"]}):
        for m in ours:
            for p in peers:
                a, b = medians(eps, m), medians(eps, p)
                if a is None or b is None:
                    out.append(f"check eps={eps:g} {m} vs {p}: not measured")
                    continue
                ok = a[0] < b[0] and a[1] > b[1]
                out.append(
                    f"check eps={eps:g} {m} vs {p}: TVD2 {a[0]:.4f} vs {b[0]:.4f}, "
                    f"TSTR {a[1]:.4f} vs {b[1]:.4f} -> {'pass' if ok else 'FAIL'}"
                )
    return [""] + out if out else []


def report(result: dict[str, Any]) -> str:
    """The summary table (medians over seeds) and the throughput table."""
    lines = []
    grid = result.get("grid", [])
    tstr_rows = result.get("tstr", [])
    if grid:
        lines += [
            "| method | eps | seeds ok | TVD 1-way | TVD 2-way | TVD 3-way | "
            "TSTR accuracy | fit+sample s | peak RSS MB |",
            "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
        ]
        keys = sorted({(r["epsilon"] or 0, r["method"]) for r in grid})
        for eps, method in keys:
            shown = format(eps, "g") if eps else "–"  # the references have no eps
            runs = [
                r for r in grid if (r["epsilon"] or 0) == eps and r["method"] == method
            ]
            ok = [r for r in runs if r["status"] == "ok"]
            acc = [
                t["accuracy_synthetic"]
                for t in tstr_rows
                if t["epsilon"] == eps and t["method"] == method
            ]

            def med(name: str, fmt: str, rows=ok) -> str:
                vals = [r[name] for r in rows if r.get(name) is not None]
                return format(statistics.median(vals), fmt) if vals else "–"

            if not ok:
                why = runs[0]["reason"] or runs[0]["status"]
                lines.append(
                    f"| {runs[0]['label']} | {shown} | 0/{len(runs)} | {why} |||||"
                )
                continue
            lines.append(
                f"| {ok[0]['label']} | {shown} | {len(ok)}/{len(runs)} | "
                f"{med('tvd_1', '.4f')} | {med('tvd_2', '.4f')} | "
                f"{med('tvd_3', '.4f')} | "
                f"{format(statistics.median(acc), '.4f') if acc else '–'} | "
                f"{med('fit_sample_wall_s', '.1f')} | {med('peak_rss_mb', '.0f')} |"
            )
        if tstr_rows:
            real = statistics.median(t["accuracy_real"] for t in tstr_rows)
            major = statistics.median(t["majority_baseline"] for t in tstr_rows)
            lines.append("")
            lines.append(
                f"train-on-real accuracy {real:.4f}; majority class {major:.4f}"
            )
    lines += checks(grid, tstr_rows)
    lines += positions_report(result.get("positions", []))
    for k, t in enumerate(result.get("throughput", [])):
        if k == 0:
            lines += [
                "",
                "| model | batch | non-DP ex/s | DP ex/s | DP / non-DP |",
                "| --- | --- | --- | --- | --- |",
            ]
        lines.append(
            f"| {t['model']} | {t['batch']} | {t['nondp_examples_per_s']:.0f} | "
            f"{t['dp_examples_per_s']:.0f} | {t['dp_over_nondp']:.2f} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
