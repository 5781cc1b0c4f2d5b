"""The ``dpsynth`` command line.

Commands:
    dpsynth schema discover DATA --epsilon E [--delta D] --out schema.json
    dpsynth schema infer DATA --out schema.json          (non-private, warned)
    dpsynth budget show MANIFEST_OR_LEDGER
    dpsynth budget verify MANIFEST_OR_LEDGER

Errors print one clear line on stderr and exit with status 2; nothing is written
unless the command succeeds (outputs are written atomically).
"""

from __future__ import annotations

import json
import logging
import sys
import warnings
from collections.abc import Callable
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
    help="Show or verify a privacy ledger (a manifest.json or a ledger JSON).",
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
            _err.print(f"[bold red]error:[/] {exc}", highlight=False)
            raise typer.Exit(code=2) from exc

    return wrapper  # type: ignore[return-value]


def _show_privacy_warnings() -> None:
    """Prints every PrivacyWarning loudly instead of Python's default one-liner."""

    def show(message: Any, category: Any, *_: Any, **__: Any) -> None:
        if issubclass(category, PrivacyWarning):
            _err.print(f"[bold yellow]PRIVACY WARNING:[/] {message}", highlight=False)
        else:
            _err.print(f"warning: {message}", highlight=False)

    warnings.showwarning = show


def example_path(name: str) -> Path:
    """Path of a bundled example table (``adult``: the public UCI Adult data)."""
    if name not in EXAMPLES:
        from dpsynth.errors import ValidationError

        raise ValidationError(
            f"`--example` ({name!r}) must be one of {list(EXAMPLES)}."
        )
    return Path(str(resources.files("dpsynth") / "examples" / f"{name}.csv"))


def example_kinds(name: str) -> dict[str, str]:
    """Column kinds of a bundled example, from its hand-written public schema."""
    from dpsynth.data.schema import Schema

    example_path(name)  # validates the name
    schema = Schema.load(
        Path(str(resources.files("dpsynth") / "examples" / f"{name}_schema.json"))
    )
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


ManifestArg = Annotated[Path, typer.Argument(help="manifest.json or a ledger JSON.")]


@budget_app.command("show")
@_friendly_errors
def budget_show(manifest: ManifestArg) -> None:
    """Print the ledger: every event in order with the running epsilon."""
    from dpsynth.privacy.verify import verify_ledger

    result = verify_ledger(_read_json_mapping(manifest, "MANIFEST"))
    _out.print(result.summary(), highlight=False, soft_wrap=True)


@budget_app.command("verify")
@_friendly_errors
def budget_verify(manifest: ManifestArg) -> None:
    """Recompute epsilon from the ledger's events; exit 1 if it does not match."""
    from dpsynth.privacy.verify import verify_ledger

    result = verify_ledger(_read_json_mapping(manifest, "MANIFEST"))
    _out.print(result.summary(), highlight=False, soft_wrap=True)
    if not result.ok:
        raise typer.Exit(code=1)


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
