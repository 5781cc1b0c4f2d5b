"""Reading and writing tables (CSV, Parquet) with clear errors and atomic writes.

Formats are chosen by extension: ``.csv`` (also ``.csv.gz``, ``.csv.bz2``,
``.csv.xz``, ``.csv.zip``), ``.tsv`` and ``.parquet`` / ``.pq``.

Errors never quote the table's contents: a table may be the sensitive input.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Literal

import pandas as pd

from dpsynth.errors import ValidationError

__all__ = ["DEFAULT_NA_VALUES", "atomic_write", "read_table", "write_table"]

#: Extra strings read as missing in CSV files, besides pandas' defaults ("", "NA",
#: "NaN", "null", ...). The UCI Adult files code missing values as ``?``.
DEFAULT_NA_VALUES: tuple[str, ...] = ("?",)

_COMPRESSION = {".gz": "gzip", ".bz2": "bz2", ".xz": "xz", ".zip": "zip"}
_EXTENSIONS = [".csv", ".tsv", ".parquet", ".pq"] + [f".csv{c}" for c in _COMPRESSION]

Format = Literal["csv", "tsv", "parquet"]


def _format(path: Path) -> tuple[Format, str | None]:
    """The table format and compression named by ``path``'s extension."""
    suffixes = [s.lower() for s in path.suffixes]
    compression = None
    if suffixes and suffixes[-1] in _COMPRESSION:
        compression = _COMPRESSION[suffixes.pop()]
    last = suffixes[-1] if suffixes else ""
    if last in (".parquet", ".pq") and compression is None:
        return "parquet", None
    if last == ".csv":
        return "csv", compression
    if last == ".tsv" and compression is None:
        return "tsv", None
    raise ValidationError(
        f"`path` ({str(path)!r}) must end in one of {_EXTENSIONS}. "
        "Rename the file, or convert it to CSV or Parquet."
    )


def _sniff(path: Path, fmt: Format, compression: str | None) -> None:
    """Refuses files that are obviously not tables (binary, JSON) before parsing."""
    if compression is not None or fmt == "parquet":
        return
    with path.open("rb") as fh:
        head = fh.read(8192)
    if not head.strip():
        raise ValidationError(f"`path` ({str(path)!r}) must not be an empty file.")
    if b"\x00" in head or head.startswith(b"PAR1"):
        raise ValidationError(
            f"`path` ({str(path)!r}) must be a text {fmt.upper()} table, but it holds "
            "binary data. Check the file, or give Parquet files a .parquet extension."
        )
    first = head.lstrip(b"\xef\xbb\xbf \t\r\n")[:1]
    if first in (b"{", b"["):
        raise ValidationError(
            f"`path` ({str(path)!r}) must be a {fmt.upper()} table, but it looks like "
            "JSON. Convert it to CSV or Parquet first."
        )


def read_table(
    path: str | Path,
    *,
    columns: Sequence[str] | None = None,
    na_values: Sequence[str] = DEFAULT_NA_VALUES,
    keep_default_na: bool = True,
    skipinitialspace: bool = True,
) -> pd.DataFrame:
    r"""Reads a CSV or Parquet table, chosen by the file's extension.

    CSV files are read with a header row. Strings in ``na_values`` (by default
    ``?``, as in the UCI Adult files) and, with ``keep_default_na``, pandas' usual
    missing markers (the empty string, ``NA``, ``NaN``, ``null``...) become
    missing values. With ``skipinitialspace`` spaces after each delimiter are
    dropped (the original UCI files write ``39, State-gov, ...``).

    Args:
        path: the file (``.csv``, ``.csv.gz``..., ``.tsv``, ``.parquet``, ``.pq``).
        columns: read only these columns, in this order (all by default).
        na_values: extra strings read as missing (CSV/TSV only).
        keep_default_na: also read pandas' default markers as missing.
        skipinitialspace: drop spaces right after delimiters (CSV/TSV only).

    Returns:
        The table as a DataFrame.

    Raises:
        ValidationError: if the file does not exist, has an unknown extension, is
            not a table (binary, JSON, unparsable), has no rows or no columns, or
            lacks a requested column (all are named). Messages never quote the
            file's contents.

    Example:
        >>> import tempfile, pathlib
        >>> p = pathlib.Path(tempfile.mkdtemp()) / "t.csv"
        >>> _ = p.write_text("a,b\n1, ?\n2, x\n")
        >>> read_table(p)["b"].isna().tolist()
        [True, False]
    """
    p = Path(path)
    fmt, compression = _format(p)
    if not p.is_file():
        raise ValidationError(
            f"`path` ({str(p)!r}) must be an existing file. Check the path."
        )
    wanted = _check_columns_arg(columns)
    _sniff(p, fmt, compression)
    if fmt == "parquet":
        frame = _read_parquet(p, wanted)
    else:
        frame = _read_csv(
            p,
            sep="\t" if fmt == "tsv" else ",",
            compression=compression,
            wanted=wanted,
            na_values=list(na_values),
            keep_default_na=keep_default_na,
            skipinitialspace=skipinitialspace,
        )
    if frame.shape[1] == 0:
        raise ValidationError(f"`path` ({str(p)!r}) must hold a table with columns.")
    if frame.shape[0] == 0:
        raise ValidationError(
            f"`path` ({str(p)!r}) must hold a table with at least one row; it has "
            "only a header."
        )
    return frame


def _check_columns_arg(columns: Sequence[str] | None) -> list[str] | None:
    if columns is None:
        return None
    if isinstance(columns, str) or not all(isinstance(c, str) for c in columns):
        raise ValidationError(
            f"`columns` ({columns!r}) must be a list of column names, or None."
        )
    return list(columns)


def _require(found: Sequence[str], wanted: list[str] | None, path: Path) -> None:
    if wanted is None:
        return
    absent = [c for c in wanted if c not in found]
    if absent:
        raise ValidationError(
            f"`columns` ({absent!r}) must be columns of {str(path)!r}; it has "
            f"{list(found)!r}."
        )


def _read_csv(
    path: Path,
    *,
    sep: str,
    compression: str | None,
    wanted: list[str] | None,
    na_values: list[str],
    keep_default_na: bool,
    skipinitialspace: bool,
) -> pd.DataFrame:
    kwargs = {
        "sep": sep,
        "compression": compression,
        "skipinitialspace": skipinitialspace,
    }
    try:
        header = pd.read_csv(path, nrows=0, **kwargs)  # type: ignore[call-overload]
        found = [str(c) for c in header.columns]
        _require(found, wanted, path)
        # Every column is parsed (no ``usecols``): with ``usecols`` pandas
        # silently accepts rows with too many fields.
        frame = pd.read_csv(  # type: ignore[call-overload]
            path,
            na_values=na_values,
            keep_default_na=keep_default_na,
            low_memory=False,
            **kwargs,
        )
    except pd.errors.EmptyDataError as exc:
        raise ValidationError(f"`path` ({str(path)!r}) must not be empty.") from exc
    except pd.errors.ParserError as exc:
        # Parser messages name line numbers and field counts, not values.
        raise ValidationError(
            f"`path` ({str(path)!r}) must be a well-formed CSV table: {exc}"
        ) from exc
    except (UnicodeDecodeError, OSError, EOFError) as exc:
        raise ValidationError(
            f"`path` ({str(path)!r}) must be a readable UTF-8 CSV table "
            f"({type(exc).__name__})."
        ) from exc
    return frame if wanted is None else frame[wanted]


def _read_parquet(path: Path, wanted: list[str] | None) -> pd.DataFrame:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        found = list(pq.read_schema(path).names)
        _require(found, wanted, path)
        return pd.read_parquet(path, columns=wanted)
    except (pa.ArrowException, OSError) as exc:
        raise ValidationError(
            f"`path` ({str(path)!r}) must be a Parquet table "
            f"({type(exc).__name__}). Check the file."
        ) from exc


def atomic_write(path: str | Path, write: Callable[[Path], object]) -> Path:
    """Writes a file atomically: ``write(temporary path)``, then rename over ``path``.

    The temporary file sits in the same folder, so the rename is atomic; readers
    see either the old file or the complete new one. On any error the temporary
    file is removed and ``path`` is left as it was.

    Args:
        path: the destination; its folder must exist.
        write: called with the temporary path; must write the whole file there.

    Returns:
        The destination path.

    Raises:
        ValidationError: if the folder does not exist or ``path`` is a folder.
    """
    dest = Path(path)
    folder = dest.parent if str(dest.parent) else Path(".")
    if not folder.is_dir():
        raise ValidationError(
            f"`path` ({str(dest)!r}) must be in an existing folder. Create "
            f"{str(folder)!r} first."
        )
    if dest.is_dir():
        raise ValidationError(f"`path` ({str(dest)!r}) must not be a folder.")
    fd, name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".tmp", dir=folder)
    os.close(fd)
    tmp = Path(name)
    try:
        write(tmp)
        with tmp.open("rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, dest)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise
    return dest


def write_table(frame: pd.DataFrame, path: str | Path) -> Path:
    """Writes ``frame`` as CSV (header, no index) or Parquet, atomically.

    Missing values are written as empty fields in CSV. The format comes from the
    extension, as for :func:`read_table`.

    Args:
        frame: the table.
        path: the destination; its folder must exist.

    Returns:
        The destination path.

    Raises:
        ValidationError: if ``frame`` is not a DataFrame, or for an unknown
            extension or a missing folder; nothing is written then.
    """
    if not isinstance(frame, pd.DataFrame):
        raise ValidationError(
            f"`frame` ({type(frame).__name__}) must be a pandas DataFrame."
        )
    dest = Path(path)
    fmt, compression = _format(dest)

    def write(tmp: Path) -> None:
        if fmt == "parquet":
            frame.to_parquet(tmp, index=False)
        else:
            frame.to_csv(
                tmp,
                index=False,
                sep="\t" if fmt == "tsv" else ",",
                compression=compression,
            )

    return atomic_write(dest, write)
