"""The public domain of an integer-coded table: column -> number of codes."""

from __future__ import annotations

import json
import math
import operator
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dpsynth.errors import ValidationError

__all__ = ["Domain"]


@dataclass(frozen=True)
class Domain(Mapping[str, int]):
    """Ordered mapping from column name to the number of integer codes it takes.

    Column ``c`` takes codes ``0 .. domain[c] - 1``. A Domain is public metadata,
    derived from a schema, never from the data.

    Example:
        >>> d = Domain({"age": 10, "sex": 2})
        >>> d.size(), d.project(["sex"]).attributes
        (20, ('sex',))
    """

    _sizes: tuple[tuple[str, int], ...]
    _lookup: dict[str, int] = field(init=False, repr=False, compare=False)

    def __init__(self, sizes: Mapping[str, int] | Iterable[tuple[str, int]]) -> None:
        items = list(sizes.items() if isinstance(sizes, Mapping) else sizes)
        seen: set[str] = set()
        clean: list[tuple[str, int]] = []
        for item in items:
            if not isinstance(item, tuple | list) or len(item) != 2:
                raise ValidationError(
                    f"`sizes` item ({item!r}) must be a (column, size) pair. "
                    "Pass a mapping {column: size} or a list of such pairs."
                )
            name, size = item
            if not isinstance(name, str) or not name:
                raise ValidationError(
                    f"Column name ({name!r}) must be a non-empty string."
                )
            if name in seen:
                raise ValidationError(f"Column {name!r} appears twice in the domain.")
            count = _as_int(size)
            if count is None or count < 1:
                raise ValidationError(
                    f"Domain size of {name!r} ({size!r}) must be an integer >= 1."
                )
            seen.add(name)
            clean.append((name, count))
        object.__setattr__(self, "_sizes", tuple(clean))
        object.__setattr__(self, "_lookup", dict(clean))

    @property
    def attributes(self) -> tuple[str, ...]:
        """Column names in order."""
        return tuple(n for n, _ in self._sizes)

    @property
    def shape(self) -> tuple[int, ...]:
        """Number of codes per column, in order."""
        return tuple(s for _, s in self._sizes)

    def __getitem__(self, key: str) -> int:
        return self._lookup[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.attributes)

    def __len__(self) -> int:
        return len(self._sizes)

    def size(self, columns: Iterable[str] | None = None) -> int:
        """Number of cells of the full table over ``columns`` (all by default)."""
        cols = self.attributes if columns is None else tuple(columns)
        return math.prod(self[c] for c in cols)

    def project(self, columns: Iterable[str]) -> Domain:
        """The sub-domain over ``columns``, in the order given.

        Raises:
            ValidationError: if a column is not in the domain.
        """
        cols = tuple(columns)
        missing = [c for c in cols if c not in self]
        if missing:
            raise ValidationError(
                f"Columns {missing!r} are not in the domain {list(self.attributes)!r}."
            )
        return Domain([(c, self[c]) for c in cols])

    def to_dict(self) -> dict[str, int]:
        """A JSON-ready ``{column: size}``."""
        return dict(self._sizes)

    @classmethod
    def load(cls, path: str | Path) -> Domain:
        """Reads a ``{column: size}`` JSON file (the hd-datasets domain format).

        Raises:
            ValidationError: if the file is missing, not JSON, or not such a mapping.
        """
        p = Path(path)
        try:
            data: Any = json.loads(p.read_text())
        except FileNotFoundError as exc:
            raise ValidationError(f"Domain file {str(p)!r} does not exist.") from exc
        except OSError as exc:
            raise ValidationError(
                f"Domain file {str(p)!r} cannot be read: {exc.strerror}."
            ) from exc
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ValidationError(
                f"Domain file {str(p)!r} is not valid JSON: {exc}"
            ) from exc
        if not isinstance(data, dict):
            raise ValidationError(
                f"Domain file {str(p)!r} must hold a JSON object {{column: size}}."
            )
        return cls(data)

    def __repr__(self) -> str:
        return f"Domain({dict(self._sizes)!r})"


def _as_int(value: object) -> int | None:
    """``value`` as an int if it is an integer (numpy ones included), not a bool."""
    if isinstance(value, bool):  # numpy's bool has no __index__
        return None
    try:
        return operator.index(value)  # type: ignore[arg-type]
    except TypeError:
        return None
