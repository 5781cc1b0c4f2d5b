"""The ``dpsynth`` command line.

Commands:
    dpsynth generate DATA (--schema S | --domain D) --epsilon E --out DIR
    dpsynth generate --example adult --epsilon E --out DIR
    dpsynth schema discover DATA --epsilon E [--delta D] --out schema.json
    dpsynth schema infer DATA --out schema.json          (non-private, warned)
    dpsynth budget show RELEASE_OR_LEDGER
    dpsynth budget verify RELEASE_OR_LEDGER
    dpsynth budget limit STORE --dataset NAME --epsilon E --delta D
    dpsynth budget status STORE [--dataset NAME]
    dpsynth audit --train T --holdout H --synthetic S [--schema S | --domain D]
        [--manifest M] [--secret COL] [--quasi-identifiers A,B] --out DIR

Errors print one clear line on stderr and exit with status 2; nothing is written
unless the command succeeds (outputs are written atomically).
"""

from __future__ import annotations

import json
import logging
import sys
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import wraps
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console

from dpsynth.errors import DPSynthError, PrivacyWarning

__all__ = ["app", "main"]

app = typer.Typer(
    name="dpsynth",
    help="Differentially private synthetic data: schemas, budgets, releases, audits.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
schema_app = typer.Typer(
    help="Obtain a public schema for a table.", no_args_is_help=True
)
budget_app = typer.Typer(
    help="Show or verify a privacy ledger (a release, its manifest.json or a "
    "ledger JSON); set and watch a dataset's total budget in a budget store.",
    no_args_is_help=True,
)
app.add_typer(schema_app, name="schema")
app.add_typer(budget_app, name="budget")

_err = Console(stderr=True)
_out = Console()
EXAMPLES = ("adult",)

F = TypeVar("F", bound=Callable[..., Any])


def _friendly_errors(func: F) -> F:
    """Turns dpsynth errors into one red line on stderr and exit status 2."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except DPSynthError as exc:
            _err.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
            raise typer.Exit(code=2) from exc

    return wrapper  # type: ignore[return-value]


def _show_privacy_warnings() -> None:
    """Prints every PrivacyWarning loudly instead of Python's default one-liner."""

    def show(message: Any, category: Any, *_: Any, **__: Any) -> None:
        if issubclass(category, PrivacyWarning):
            _err.print(
                f"[bold yellow]PRIVACY WARNING:[/] {message}",
                highlight=False,
                soft_wrap=True,
            )
        else:
            _err.print(f"warning: {message}", highlight=False, soft_wrap=True)

    warnings.showwarning = show


def example_path(name: str) -> Path:
    """Path of a bundled example table (``adult``: the public UCI Adult data)."""
    if name not in EXAMPLES:
        from dpsynth.errors import ValidationError

        raise ValidationError(
            f"`--example` ({name!r}) must be one of {list(EXAMPLES)}."
        )
    return Path(str(resources.files("dpsynth") / "examples" / f"{name}.csv"))


def example_schema_path(name: str) -> Path:
    """Path of a bundled example's hand-written public schema."""
    example_path(name)  # validates the name
    return Path(str(resources.files("dpsynth") / "examples" / f"{name}_schema.json"))


def example_kinds(name: str) -> dict[str, str]:
    """Column kinds of a bundled example, from its hand-written public schema."""
    from dpsynth.data.schema import Schema

    schema = Schema.load(example_schema_path(name))
    return {column.name: column.kind for column in schema.columns}


def _input_table(data: Path | None, example: str | None) -> Path:
    from dpsynth.errors import ValidationError

    if (data is None) == (example is None):
        raise ValidationError(
            "Give exactly one input: a DATA path or `--example adult`."
        )
    return example_path(example) if example is not None else data  # type: ignore[return-value]


DataArg = Annotated[
    Path | None,
    typer.Argument(help="The sensitive table (CSV or Parquet).", show_default=False),
]
ExampleOpt = Annotated[
    str | None,
    typer.Option("--example", help="Use a bundled public table instead: adult."),
]
OutOpt = Annotated[
    Path, typer.Option("--out", "-o", help="Where to write the schema JSON.")
]


@schema_app.command("discover")
@_friendly_errors
def schema_discover(
    data: DataArg = None,
    epsilon: Annotated[
        float, typer.Option(help="Privacy budget spent on discovery.")
    ] = 0.1,
    delta: Annotated[float, typer.Option(help="Delta of that budget.")] = 1e-9,
    out: OutOpt = Path("schema.json"),
    kinds: Annotated[
        Path | None,
        typer.Option(help="JSON {column: kind}; without it kinds come from dtypes."),
    ] = None,
    bins: Annotated[int, typer.Option(help="Quantile bins per numeric column.")] = 16,
    example: ExampleOpt = None,
) -> None:
    """Discover a schema WITH differential privacy (categories, bounds, bins)."""
    from dpsynth.data.io import read_table
    from dpsynth.data.schema import discover
    from dpsynth.privacy.accountant import PrivacyAccountant

    path = _input_table(data, example)
    df = read_table(path)
    if kinds is not None:
        kind_map: dict[str, Any] | None = _read_json_mapping(kinds, "--kinds")
    elif example is not None:
        kind_map = example_kinds(example)  # public: from the documented schema
    else:
        kind_map = None
    accountant = PrivacyAccountant(epsilon=epsilon, delta=delta)
    schema = discover(
        df,
        epsilon=epsilon,
        delta=delta,
        accountant=accountant,
        kinds=kind_map,
        bins=bins,
    )
    schema.save(out)
    _out.print(
        f"Wrote {out} ({len(schema.columns)} columns); discovery spent "
        f"epsilon = {accountant.epsilon():.6g} at delta = {delta:g} "
        f"({len(accountant.ledger)} ledger entries)."
    )


@schema_app.command("infer")
@_friendly_errors
def schema_infer(
    data: DataArg = None,
    out: OutOpt = Path("schema.json"),
    bins: Annotated[int, typer.Option(help="Uniform bins per numeric column.")] = 16,
    example: ExampleOpt = None,
) -> None:
    """Infer a schema WITHOUT privacy: reads categories and bounds off the data."""
    from dpsynth.data.io import read_table
    from dpsynth.data.schema import infer

    df = read_table(_input_table(data, example))
    schema = infer(df, bins=bins)
    schema.save(out)
    _out.print(
        f"Wrote {out} ({len(schema.columns)} columns). It is NOT differentially "
        "private and is recorded as such."
    )


def _read_json_mapping(path: Path, option: str) -> dict[str, Any]:
    from dpsynth.errors import ValidationError

    try:
        value = json.loads(Path(path).read_text())
    except (OSError, ValueError) as exc:
        msg = f"`{option}` ({str(path)!r}) must be a JSON file: {exc}"
        raise ValidationError(msg) from exc
    if not isinstance(value, dict):
        raise ValidationError(f"`{option}` ({str(path)!r}) must hold a JSON object.")
    return value


ManifestArg = Annotated[
    Path,
    typer.Argument(
        help="A release folder, its manifest.json, a ledger JSON or a discovered "
        "schema."
    ),
]


def _ledger_source(path: Path) -> tuple[dict[str, Any], bool]:
    """The JSON to read a ledger from, and whether it is a release manifest."""
    from dpsynth.release import FORMAT, read_manifest

    if Path(path).is_dir():
        return read_manifest(path), True
    value = _read_json_mapping(path, "MANIFEST")
    if value.get("format") == FORMAT:
        return read_manifest(path), True
    return value, False


@budget_app.command("show")
@_friendly_errors
def budget_show(manifest: ManifestArg) -> None:
    """Print the ledger: every event in order with the running epsilon."""
    from dpsynth.privacy.verify import verify_ledger

    value, is_release = _ledger_source(manifest)
    result = verify_ledger(value["ledger"] if is_release else value)
    _out.print(result.summary(), highlight=False, soft_wrap=True)


@budget_app.command("verify")
@_friendly_errors
def budget_verify(manifest: ManifestArg) -> None:
    """Recompute epsilon from the ledger's events; exit 1 if it does not match.

    For a release (its folder or manifest.json), also check the claimed budget
    and the SHA-256 of the synthetic table and the model.
    """
    from dpsynth.privacy.verify import verify_ledger
    from dpsynth.release import verify_release

    value, is_release = _ledger_source(manifest)
    if is_release:
        check = verify_release(manifest)
        _out.print(check.summary(), highlight=False, soft_wrap=True)
        ok = check.ok
    else:
        result = verify_ledger(value)
        _out.print(result.summary(), highlight=False, soft_wrap=True)
        ok = result.ok
    if not ok:
        raise typer.Exit(code=1)


StoreArg = Annotated[
    Path, typer.Argument(help="The budget store (a SQLite file).", show_default=False)
]


@budget_app.command("limit")
@_friendly_errors
def budget_limit(
    store: StoreArg,
    dataset: Annotated[
        str, typer.Option(help="The sensitive table's name in the store.")
    ],
    epsilon: Annotated[
        float, typer.Option(help="Total epsilon; the releases' epsilons add up.")
    ],
    delta: Annotated[
        float, typer.Option(help="Total delta; the releases' deltas add up.")
    ],
    data: Annotated[
        Path | None,
        typer.Option(help="The table's file: record its fingerprint (SHA-256)."),
    ] = None,
) -> None:
    """Set a dataset's total limit in a budget store (once; created if missing)."""
    from dpsynth.privacy.store import BudgetStore, fingerprint_file

    fingerprint = None if data is None else fingerprint_file(data)
    budget = BudgetStore(store).set_limit(
        dataset, epsilon=epsilon, delta=delta, fingerprint=fingerprint
    )
    _out.print(
        f"Dataset {dataset!r} in {store}: limit epsilon = {budget.epsilon:g} at "
        f"delta = {budget.delta:g} over all its releases.",
        highlight=False,
        soft_wrap=True,
    )


@budget_app.command("status")
@_friendly_errors
def budget_status(
    store: StoreArg,
    dataset: Annotated[
        str | None, typer.Option(help="Only this dataset (default: all).")
    ] = None,
) -> None:
    """Show spent vs limit per dataset, and each dataset's releases."""
    from rich.table import Table

    from dpsynth.errors import ValidationError
    from dpsynth.privacy.store import BudgetStore

    if not Path(store).is_file():
        raise ValidationError(
            f"`STORE` ({str(store)!r}) must be an existing budget store. Create "
            "one with `dpsynth budget limit`."
        )
    db = BudgetStore(store)
    names = db.datasets() if dataset is None else [dataset]
    if dataset is not None and db.limit(dataset) is None:
        raise ValidationError(
            f"`--dataset` ({dataset!r}) must be a dataset of the store: "
            f"{db.datasets()!r}."
        )
    if not names:
        _out.print(f"{store}: no dataset yet.", highlight=False, soft_wrap=True)
    for name in names:
        limit = db.limit(name)
        if limit is None:  # pragma: no cover - names come from the store
            continue
        spent, spent_delta = db.spent(name)
        fingerprint = db.fingerprint(name)
        left = max(limit.epsilon - spent, 0.0)
        print_fp = f"{fingerprint[:12]}..." if fingerprint else "not recorded"
        _out.print(
            f"[bold]{name}[/]: spent epsilon = {spent:.6g} of {limit.epsilon:g} "
            f"(remaining {left:.6g}), delta = {spent_delta:g} of {limit.delta:g}; "
            f"releases add up; fingerprint {print_fp}",
            highlight=False,
            soft_wrap=True,
        )
        table = Table()
        columns = ("release", "state", "created", "events", "epsilon", "delta")
        for column in (*columns, "epsilon after"):
            table.add_column(column, overflow="fold")
        for record in db.releases(name):
            table.add_row(
                record.name,
                record.state,
                record.created,
                str(record.events),
                f"{record.epsilon:.6g}",
                f"{record.delta:g}",
                f"{record.epsilon_after:.6g}",
            )
        _out.print(table)


# --------------------------------------------------------------------- generate
def _release_inputs(
    data: Path | None,
    schema: Path | None,
    domain: Path | None,
    example: str | None,
) -> tuple[Path, Any]:
    """The input table and its public Schema or Domain."""
    from dpsynth.data.domain import Domain
    from dpsynth.data.schema import Schema
    from dpsynth.errors import ValidationError

    if example is not None:
        if data is not None or schema is not None or domain is not None:
            raise ValidationError(
                "`--example` comes with its table and public schema: give no DATA, "
                "`--schema` or `--domain` with it."
            )
        return example_path(example), Schema.load(example_schema_path(example))
    if data is None:
        raise ValidationError(
            "Give the input: a DATA path (with `--schema` or `--domain`) or "
            "`--example adult`."
        )
    if (schema is None) == (domain is None):
        raise ValidationError(
            "Give exactly one of `--schema schema.json` (a public schema) and "
            "`--domain T-domain.json` (for a table of integer codes)."
        )
    if schema is not None:
        return data, Schema.load(schema)
    return data, Domain.load(domain)  # type: ignore[arg-type]


@contextmanager
def _progress_bar() -> Iterator[Callable[[str, int, int], None]]:
    """A rich progress bar on stderr fed by ``callback(stage, done, total)``."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )

    with Progress(
        TextColumn("{task.description:<10}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=_err,
        transient=True,
        disable=not _err.is_terminal,
    ) as bar:
        tasks: dict[str, Any] = {}

        def callback(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = bar.add_task(stage, total=total or None)
            bar.update(tasks[stage], completed=done, total=total or None)

        yield callback


@app.command("generate")
@_friendly_errors
def generate(
    data: DataArg = None,
    schema: Annotated[
        Path | None, typer.Option(help="The table's public schema (JSON).")
    ] = None,
    domain: Annotated[
        Path | None,
        typer.Option(help="Domain JSON {column: size} for a table of integer codes."),
    ] = None,
    example: ExampleOpt = None,
    epsilon: Annotated[
        float | None, typer.Option(help="The release's privacy budget (required).")
    ] = None,
    delta: Annotated[float, typer.Option(help="Delta of that budget.")] = 1e-9,
    method: Annotated[
        str | None,
        typer.Option(help="Synthesizer (default: the best registered, aim first)."),
    ] = None,
    param: Annotated[
        list[str] | None,
        typer.Option(
            "--param",
            "-p",
            help="A hyperparameter of the method as KEY=VALUE (repeatable); VALUE "
            "is read as JSON when it parses (numbers, true, [64, 64]), else as "
            "text. Example: -p epochs=30 -p hidden_dims=[64].",
        ),
    ] = None,
    device: Annotated[
        str | None,
        typer.Option(
            help="Neural methods only: auto (a CUDA GPU when present), cpu, cuda "
            "or cuda:N (same as -p device=...)."
        ),
    ] = None,
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="The release folder to create.")
    ] = None,
    rows: Annotated[
        int | None,
        typer.Option(
            help="Rows to sample (default: the noisy estimate of the input's)."
        ),
    ] = None,
    seed: Annotated[
        int | None,
        typer.Option(help="Seed of the non-DP randomness (default: OS entropy)."),
    ] = None,
    fmt: Annotated[
        str, typer.Option("--format", help="Synthetic table format: csv or parquet.")
    ] = "csv",
    budget_store: Annotated[
        Path | None,
        typer.Option(help="Charge this budget store (SQLite; see `budget limit`)."),
    ] = None,
    dataset: Annotated[
        str | None, typer.Option(help="The table's dataset name in the store.")
    ] = None,
    release: Annotated[
        str | None,
        typer.Option(help="The release's name in the store (default: DIR@time)."),
    ] = None,
    overwrite: Annotated[
        bool,
        typer.Option("--overwrite", help="Replace DIR if it holds a previous release."),
    ] = False,
    record_input_hash: Annotated[
        bool,
        typer.Option(
            "--record-input-hash",
            help="Write the input file's SHA-256 into the manifest. NOT private: "
            "only for releases that stay with the data holder.",
        ),
    ] = False,
    audit: Annotated[
        bool,
        typer.Option(
            "--audit/--no-audit",
            help="Audit the release against a holdout into DIR/audit/ (default).",
        ),
    ] = True,
    holdout: Annotated[
        Path | None,
        typer.Option(help="A holdout table for the audit (default: hold out rows)."),
    ] = None,
    holdout_fraction: Annotated[
        float,
        typer.Option(help="Fraction of the input held out from the fit for the audit."),
    ] = 0.1,
    shadow: Annotated[
        bool,
        typer.Option(
            "--shadow",
            help="Also run the shadow-model attack in the audit (refits the "
            "synthesizer 320 times on holdout samples: slow).",
        ),
    ] = False,
) -> None:
    """Fit a synthesizer with differential privacy and write a release folder.

    DIR gets synthetic.csv (or .parquet), model.json and manifest.json; it is
    written atomically (nothing is left on error). With --budget-store the whole
    budget is reserved before any noise is drawn.

    By default 10% of the input is held out from the fit and the synthetic table
    is audited against it (membership, attribute inference, singling out,
    linkability) into DIR/audit/. The audit is NOT private: it is for the data
    controller; remove DIR/audit/ before publishing. --no-audit skips it and fits
    on every row.
    """
    from dpsynth.data.io import read_table
    from dpsynth.data.schema import Schema
    from dpsynth.errors import ValidationError
    from dpsynth.release import check_destination, default_method, make_release

    if epsilon is None or out is None:
        missing = [n for n, v in (("--epsilon", epsilon), ("--out", out)) if v is None]
        raise ValidationError(f"`{missing[0]}` must be given.")
    if fmt not in ("csv", "parquet"):
        raise ValidationError(
            f"`--format` ({fmt!r}) must be one of ['csv', 'parquet']."
        )
    path, public = _release_inputs(data, schema, domain, example)
    check_destination(out, overwrite=overwrite)  # before reading a large table
    columns = public.names if isinstance(public, Schema) else public.attributes
    frame = _select(read_table(path), list(columns), path)
    held: Any = None
    if audit:
        held = holdout_fraction
        if holdout is not None:
            held = _select(read_table(holdout), list(columns), holdout)
    elif holdout is not None or shadow:
        raise ValidationError(
            "`--holdout` and `--shadow` are for the audit: drop `--no-audit`."
        )
    chosen = method or default_method()
    params = _params(param or [])
    if device is not None:
        if "device" in params:
            raise ValidationError("`--device` and `--param device=...` are both given.")
        params["device"] = device
    command = _command(
        "generate",
        None if example else data,
        example=example,
        schema=schema,
        domain=domain,
        epsilon=epsilon,
        delta=delta,
        method=chosen,
        param=param or None,
        device=device,
        out=out,
        rows=rows,
        seed=seed,
        format=fmt,
        budget_store=budget_store,
        dataset=dataset,
        release=release,
        overwrite=overwrite,
        no_audit=not audit,
        holdout=holdout,
        holdout_fraction=holdout_fraction if audit and holdout is None else None,
        shadow=shadow,
    )
    with _progress_bar() as callback, _os_errors(out):
        result = make_release(
            frame,
            out,
            schema=public,
            epsilon=epsilon,
            delta=delta,
            method=chosen,
            params=params,
            rows=rows,
            seed=seed,
            fmt=fmt,  # type: ignore[arg-type]
            input_path=path,
            record_input_hash=record_input_hash,
            budget_store=budget_store,
            dataset=dataset,
            release_name=release,
            overwrite=overwrite,
            callback=callback,
            command=command,
            audit=audit,
            holdout=held,
            shadow=shadow,
        )
    _report_release(result)


def _params(items: list[str]) -> dict[str, Any]:
    """``["epochs=30", "hidden_dims=[64]"]`` -> ``{"epochs": 30, "hidden_dims": [64]}``.

    Raises:
        ValidationError: an item without ``=``, an empty or repeated key.
    """
    from dpsynth.errors import ValidationError

    out: dict[str, Any] = {}
    for item in items:
        key, sep, text = item.partition("=")
        key = key.strip().replace("-", "_")
        if not sep or not key:
            raise ValidationError(
                f"`--param` ({item!r}) must be KEY=VALUE, e.g. epochs=30."
            )
        if key in out:
            raise ValidationError(f"`--param` {key!r} is given twice.")
        try:
            out[key] = json.loads(text)
        except json.JSONDecodeError:
            out[key] = text
    return out


@app.command("audit")
@_friendly_errors
def audit(
    train: Annotated[
        Path | None, typer.Option(help="The table the generator was fitted on.")
    ] = None,
    holdout: Annotated[
        Path | None,
        typer.Option(help="Records of the same population the generator never saw."),
    ] = None,
    synthetic: Annotated[
        Path | None, typer.Option(help="The synthetic table to audit.")
    ] = None,
    schema: Annotated[
        Path | None,
        typer.Option(help="The public schema (default: read off the tables)."),
    ] = None,
    domain: Annotated[
        Path | None,
        typer.Option(help="Domain JSON {column: size} for integer-coded tables."),
    ] = None,
    manifest: Annotated[
        Path | None,
        typer.Option(help="The release's manifest.json (or folder): the claim."),
    ] = None,
    secret: Annotated[
        str | None,
        typer.Option(help="Attribute to infer (default: the last column)."),
    ] = None,
    quasi_identifiers: Annotated[
        str | None,
        typer.Option(
            "--quasi-identifiers",
            help="Comma-separated columns an attacker knows (default: all but "
            "the secret).",
        ),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option("--out", "-o", help="Folder for report.json and report.html."),
    ] = None,
    seed: Annotated[
        int | None,
        typer.Option(help="Seed of the audit's draws (default: OS entropy)."),
    ] = None,
    tolerance: Annotated[
        float, typer.Option(help="Largest excess risk a pass accepts.")
    ] = 0.05,
    alpha: Annotated[
        float, typer.Option(help="Family-wise error rate across the attacks.")
    ] = 0.05,
    utility: Annotated[
        bool, typer.Option("--utility/--no-utility", help="Compute utility.")
    ] = True,
    shadow: Annotated[
        bool,
        typer.Option(
            "--shadow",
            help="Run the shadow-model attack: refit the release's dpsynth "
            "synthesizer (needs --manifest) 320 times on holdout samples.",
        ),
    ] = False,
    overwrite: Annotated[
        bool,
        typer.Option("--overwrite", help="Replace DIR if it holds a previous audit."),
    ] = False,
) -> None:
    """Attack a synthetic table and write an audit report (JSON + HTML).

    Membership inference (distance and density ratio), attribute inference,
    singling out and linkability, each measured on training records against
    holdout records, with intervals, a verdict per GDPR criterion and an
    empirical epsilon. The report reads the real data without privacy: it is
    for the data controller, not for publication.
    """
    from dpsynth.audit.battery import AuditConfig
    from dpsynth.audit.report import audit_tables, write_audit
    from dpsynth.data.domain import Domain
    from dpsynth.data.io import read_table
    from dpsynth.data.schema import Schema
    from dpsynth.errors import ValidationError

    given = {"--train": train, "--holdout": holdout, "--synthetic": synthetic}
    given["--out"] = out
    missing = [flag for flag, value in given.items() if value is None]
    if missing:
        raise ValidationError(f"`{missing[0]}` must be given.")
    if schema is not None and domain is not None:
        raise ValidationError("Give at most one of `--schema` and `--domain`.")
    public: Schema | Domain | None = None
    if schema is not None:
        public = Schema.load(schema)
    elif domain is not None:
        public = Domain.load(domain)
    claim_manifest = None
    manifest_path = None
    if manifest is not None:
        claim_manifest, is_release = _ledger_source(manifest)
        if not is_release:
            raise ValidationError(
                f"`--manifest` ({str(manifest)!r}) must be a release's manifest.json "
                "or release folder."
            )
        manifest_path = str(
            manifest / "manifest.json" if manifest.is_dir() else manifest
        )
        if public is None:  # the release's own public schema or domain
            if claim_manifest.get("schema"):
                public = Schema.from_dict(claim_manifest["schema"])
            elif claim_manifest.get("domain"):
                public = Domain(claim_manifest["domain"])
    factory = None
    if shadow:
        if claim_manifest is None or public is None:
            raise ValidationError(
                "`--shadow` refits the release's synthesizer: give the release's "
                "`--manifest`."
            )
        from dpsynth.release_audit import synthesizer_factory

        claimed = claim_manifest["claimed"]
        factory = synthesizer_factory(
            claim_manifest["method"],
            claim_manifest.get("params") or {},
            public,
            epsilon=claimed["epsilon"],
            delta=claimed["delta"],
        )
    qis = None
    if quasi_identifiers is not None:
        qis = [c.strip() for c in quasi_identifiers.split(",") if c.strip()]
    config = AuditConfig(
        secret=secret,
        quasi_identifiers=qis,
        tolerance=tolerance,
        alpha=alpha,
        utility=utility,
    )
    tables = {
        name: read_table(path)  # type: ignore[arg-type]
        for name, path in (
            ("train", train),
            ("holdout", holdout),
            ("synthetic", synthetic),
        )
    }
    command = _command(
        "audit",
        None,
        train=train,
        holdout=holdout,
        synthetic=synthetic,
        schema=schema,
        domain=domain,
        manifest=manifest,
        secret=secret,
        quasi_identifiers=quasi_identifiers,
        out=out,
        seed=seed,
        tolerance=tolerance,
        alpha=alpha,
        no_utility=not utility,
        shadow=shadow,
        overwrite=overwrite,
    )
    with _progress_bar() as callback:
        report = audit_tables(
            tables["train"],
            tables["holdout"],
            tables["synthetic"],
            schema=public,
            manifest=claim_manifest,
            manifest_path=manifest_path,
            config=config,
            seed=seed,
            paths={
                k: str(v)
                for k, v in (
                    ("train", train),
                    ("holdout", holdout),
                    ("synthetic", synthetic),
                )
            },
            command=command,
            progress=callback,
            factory=factory,
            generator=(
                None
                if claim_manifest is None
                else f"dpsynth's {claim_manifest.get('method')} at the claimed budget"
            )
            or "the generator",
        )
    with _os_errors(out, "audit"):  # type: ignore[arg-type]
        folder = write_audit(out, report, overwrite=overwrite)  # type: ignore[arg-type]
    _report_audit(report, folder)


def _report_audit(report: dict[str, Any], folder: Path) -> None:
    colour = {"pass": "green", "fail": "red"}.get(report["verdict"], "yellow")
    _out.print(f"[bold {colour}]{report['summary']}[/]", soft_wrap=True)
    for name, entry in report["criteria"].items():
        _out.print(f"  {name:13s} {entry['verdict']}", highlight=False)
    eps = report["empirical_epsilon"]
    claimed = "none" if eps["claimed"] is None else f"{eps['claimed']:g}"
    _out.print(
        f"Empirical epsilon >= {eps['lower_bound']:.3g} "
        f"({eps['confidence']:.0%} confidence; claimed: {claimed}).",
        highlight=False,
    )
    _out.print(
        f"Wrote {folder / 'report.html'} and report.json (for the data controller: "
        "computed on the real data without privacy).",
        highlight=False,
        soft_wrap=True,
    )


@contextmanager
def _os_errors(out: Path, what: str = "release") -> Iterator[None]:
    """A file-system error while writing becomes one line (nothing was written)."""
    try:
        yield
    except OSError as exc:
        raise DPSynthError(
            f"Could not write the {what} {str(out)!r}: {exc.strerror or exc}. "
            "Nothing was written."
        ) from exc


def _select(frame: Any, columns: list[str], path: Path) -> Any:
    """The schema's columns of the table (others are ignored, not read as data).

    The whole file is parsed first, so a malformed row anywhere is an error.
    """
    from dpsynth.errors import ValidationError

    found = [str(c) for c in frame.columns]
    absent = [c for c in columns if c not in found]
    if absent:
        raise ValidationError(
            f"`columns` ({absent!r}) must be columns of {str(path)!r}; it has "
            f"{found!r}. Check the table against its schema or domain."
        )
    return frame[columns]


def _command(name: str, data: Path | None, **options: Any) -> list[str]:
    """The command line of a release, with every option spelled out."""
    argv = ["dpsynth", name] + ([] if data is None else [str(data)])
    for key, value in options.items():
        flag = "--" + key.replace("_", "-")
        if value is True:
            argv.append(flag)
        elif isinstance(value, list):
            for item in value:
                argv += [flag, str(item)]
        elif value is not None and value is not False:
            argv += [flag, str(value)]
    return argv


def _report_release(result: Any) -> None:
    manifest = result.manifest
    claimed = manifest["claimed"]
    _out.print(
        f"Wrote {result.path}: {manifest['output']['rows']} synthetic rows "
        f"({manifest['method']}); spent epsilon = {claimed['epsilon_spent']:.6g} "
        f"of {claimed['epsilon']:g} at delta = {claimed['delta']:g}.",
        highlight=False,
        soft_wrap=True,
    )
    store = manifest.get("budget_store")
    if store:
        limit = store["dataset_limit"]
        _out.print(
            f"Budget store: dataset {store['dataset']!r} now at epsilon = "
            f"{store['dataset_epsilon_after']:.6g} of {limit['epsilon']:g}, delta = "
            f"{store['dataset_delta_after']:g} of {limit['delta']:g} "
            f"(release {store['release']!r}, {store['state']}).",
            highlight=False,
            soft_wrap=True,
        )
    block = manifest.get("audit")
    if block and block.get("error"):
        _err.print(
            f"[bold red]The audit failed[/] ({block['error']}); the release was "
            "written without it. Audit it with `dpsynth audit`.",
            soft_wrap=True,
            highlight=False,
        )
    elif block:
        report = json.loads((result.path / "audit" / "report.json").read_text())
        colour = {"pass": "green", "fail": "red"}.get(report["verdict"], "yellow")
        _out.print(f"Audit: [bold {colour}]{report['summary']}[/]", soft_wrap=True)
        _out.print(
            f"[bold]{result.path / 'audit'} is NOT private[/] (computed on the real "
            "data, for the data controller): remove it before publishing.",
            soft_wrap=True,
        )
    _out.print(
        f"Check it with: dpsynth budget verify {result.path}",
        highlight=False,
        soft_wrap=True,
    )


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``dpsynth`` console script."""
    logging.basicConfig(
        level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s"
    )
    with warnings.catch_warnings():  # restores the caller's warning display
        warnings.simplefilter("always", PrivacyWarning)  # a CLI user must see them
        _show_privacy_warnings()
        app(args=argv if argv is not None else sys.argv[1:], prog_name="dpsynth")


if __name__ == "__main__":  # pragma: no cover
    main()
