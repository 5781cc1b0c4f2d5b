"""The network's view of a table, built from the PUBLIC schema alone.

A :class:`TabularRepresentation` maps integer codes (categories, numeric bins,
the ``other`` and missing codes) to concatenated one-hot blocks, one block per
column, and maps network outputs (one block of logits per column) back to codes.

With ``position_bins`` and a :class:`~dpsynth.data.schema.Schema`, each binned
column also gets a *position block*: the value's place inside its public bin
(:meth:`dpsynth.data.encoding.Encoder.positions`, a number in ``[0, 1]``) cut
into ``K`` equal sub-intervals and one-hot coded. ``K`` is ``position_bins``,
or twice the widest bin's number of integers when that is smaller, so that an
integer bin of up to ``K / 2`` values keeps every value exactly. A position
block's logits are shifted by a learnt row per bin of its column (the *position
head*: ``logits + W[:, code]``), so the place inside a bin may depend on the
bin (young ages rise inside their 5-year bins, old ages fall). Sampling draws
the codes first, then a sub-interval from each position block's softmax given
the drawn bin, and a uniform point inside it. A
categorical position keeps spikes (50 hours a week, a capital gain of 15,024)
that one Gaussian would smear; it is learnt by the same cross-entropy as the
codes.

Everything is a function of the schema (or :class:`~dpsynth.data.domain.Domain`)
only: two tables with the same schema get the same representation, and nothing
is read off the data to build it (no mode detection, no scaling, no category
frequencies). Row ``i`` of a representation depends on row ``i`` of the table
only. This module needs no torch.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from dpsynth.data.dataset import Dataset, code_dtype
from dpsynth.data.domain import Domain
from dpsynth.data.encoding import binned_columns
from dpsynth.data.schema import Schema
from dpsynth.errors import ValidationError

__all__ = ["Block", "TabularRepresentation", "check_position_bins"]


@dataclass(frozen=True)
class Block:
    """One column's slice of the representation.

    Attributes:
        column: the column name.
        start: the first index of the column's one-hot block.
        size: the number of codes of the column (the block's width).
    """

    column: str
    start: int
    size: int

    @property
    def stop(self) -> int:
        """One past the block's last index."""
        return self.start + self.size


@dataclass(frozen=True)
class TabularRepresentation:
    """Concatenated one-hot blocks over a public domain, then position blocks.

    Attributes:
        domain: the public domain (column -> number of codes).
        blocks: one code :class:`Block` per column, in the domain's order.
        positions: one position :class:`Block` per binned column (after every
            code block), empty without ``position_bins``.

    Example:
        >>> rep = TabularRepresentation.from_schema(Domain({"a": 2, "b": 3}))
        >>> rep.width
        5
        >>> rep.one_hot(np.array([[1, 0], [0, 2]])).tolist()
        [[0.0, 1.0, 1.0, 0.0, 0.0], [1.0, 0.0, 0.0, 0.0, 1.0]]
    """

    domain: Domain
    blocks: tuple[Block, ...]
    positions: tuple[Block, ...] = ()

    @classmethod
    def from_schema(
        cls, schema: Schema | Domain, *, position_bins: int = 0
    ) -> TabularRepresentation:
        """The representation of a public schema (or of its domain).

        Args:
            schema: the public schema, or a Domain (codes only: no positions).
            position_bins: the number of sub-intervals of a position block (at
                most; see the module docstring); 0 for none.

        Raises:
            ValidationError: for anything but a Schema or a Domain, or a bad
                ``position_bins``.
        """
        if isinstance(schema, Schema):
            domain = schema.domain
        elif isinstance(schema, Domain):
            domain = schema
        else:
            raise ValidationError(
                f"`schema` ({type(schema).__name__}) must be a Schema or a Domain."
            )
        check_position_bins(position_bins)
        blocks = []
        start = 0
        for column, size in domain.items():
            blocks.append(Block(column, start, int(size)))
            start += int(size)
        positions = []
        if position_bins and isinstance(schema, Schema):
            for column, widest in binned_columns(schema):
                k = position_bins if widest is None else min(position_bins, 2 * widest)
                positions.append(Block(column, start, k))
                start += k
        return cls(domain=domain, blocks=tuple(blocks), positions=tuple(positions))

    @property
    def all_blocks(self) -> tuple[Block, ...]:
        """The code blocks, then the position blocks."""
        return self.blocks + self.positions

    @property
    def position_parents(self) -> tuple[Block, ...]:
        """The code block of each position block's column."""
        by_name = {b.column: b for b in self.blocks}
        return tuple(by_name[p.column] for p in self.positions)

    @property
    def code_width(self) -> int:
        """The width of the code blocks (the sum of the domain sizes)."""
        return self.blocks[-1].stop if self.blocks else 0

    @property
    def width(self) -> int:
        """The representation's dimension: code and position blocks."""
        return self.positions[-1].stop if self.positions else self.code_width

    def one_hot(
        self, codes: np.ndarray, positions: np.ndarray | None = None
    ) -> np.ndarray:
        """The float32 one-hot rows of integer ``codes`` (rows x columns).

        ``positions`` (rows x position blocks, in ``[0, 1]``; NaN for a value
        with no bin, coded as the middle sub-interval) is required when the
        representation has position blocks. A data-independent map: row ``i``
        depends on row ``i`` of ``codes`` and ``positions`` only.
        """
        codes = np.asarray(codes)
        if codes.ndim != 2 or codes.shape[1] != len(self.blocks):
            raise ValidationError(
                f"`codes` (shape {codes.shape}) must have one column per domain "
                f"column ({len(self.blocks)})."
            )
        n = codes.shape[0]
        if self.positions:
            shape = getattr(positions, "shape", None)
            if positions is None or shape != (n, len(self.positions)):
                raise ValidationError(
                    f"`positions` (shape {shape!r}) must have {n} rows and one "
                    f"column per binned column ({len(self.positions)})."
                )
        out = np.zeros((n, self.width), dtype=np.float32)
        rows = np.arange(n)
        for j, block in enumerate(self.blocks):
            out[rows, block.start + codes[:, j].astype(np.int64)] = 1.0
        if positions is not None and self.positions:
            subs = self.sub_intervals(positions)
            for j, block in enumerate(self.positions):
                out[rows, block.start + subs[:, j]] = 1.0
        return out

    def sub_intervals(self, positions: np.ndarray) -> np.ndarray:
        """The sub-interval index of each position (rows x position blocks).

        ``floor(p K)``, the last sub-interval holding ``p = 1``; NaN (no bin)
        is the middle one. Row by row, from the public ``K`` alone.
        """
        pos = np.nan_to_num(np.asarray(positions, dtype=np.float64), nan=0.5)
        sizes = np.array([b.size for b in self.positions])
        return np.clip(np.floor(pos * sizes), 0, sizes - 1).astype(np.int64)

    def encode(
        self, dataset: Dataset, positions: np.ndarray | None = None
    ) -> np.ndarray:
        """The one-hot rows of a Dataset over this representation's domain."""
        if dataset.domain != self.domain:
            raise ValidationError(
                f"`dataset` (domain {dataset.domain!r}) must have the domain "
                f"{self.domain!r}."
            )
        return self.one_hot(dataset.codes, positions)

    def sample_codes(self, logits: np.ndarray, rng: np.random.Generator) -> Dataset:
        """Draws codes from per-block softmax distributions over ``logits``.

        Post-processing of a fitted model's outputs: row ``i`` of the result is
        drawn from the softmax of each code block of ``logits[i]``,
        independently, by inverse-CDF sampling with ``rng``.
        """
        logits = np.asarray(logits, dtype=np.float64)
        n = logits.shape[0]
        codes = np.empty((n, len(self.blocks)), dtype=code_dtype(self.domain))
        uniforms = rng.random((n, len(self.blocks)))
        for j, block in enumerate(self.blocks):
            codes[:, j] = _draw(logits[:, block.start : block.stop], uniforms[:, j])
        return Dataset(codes, self.domain)

    def sample_positions(
        self,
        logits: np.ndarray,
        codes: np.ndarray,
        head: Sequence[np.ndarray],
        rng: np.random.Generator,
    ) -> np.ndarray:
        """Draws positions (rows x position blocks; no columns without any).

        Each position block's logits are shifted by the position head's column
        for the row's ``codes`` in that column (``head[j]`` is position block
        ``j``'s weight, sub-intervals x the column's codes); then a sub-interval
        is drawn from the block's softmax and a uniform point inside it
        (post-processing, with ``rng``).
        """
        if not self.positions:
            return np.empty((len(logits), 0))
        if len(head) != len(self.positions):
            raise ValidationError(
                f"`head` ({len(head)} arrays) must have one weight per position "
                f"block ({len(self.positions)})."
            )
        logits = np.array(logits, dtype=np.float64)
        codes = np.asarray(codes)
        index = {b.column: j for j, b in enumerate(self.blocks)}
        for block, weight in zip(self.positions, head, strict=True):
            rows = codes[:, index[block.column]].astype(np.int64)
            logits[:, block.start : block.stop] += weight.T[rows]
        n = logits.shape[0]
        uniforms = rng.random((n, len(self.positions), 2))
        out = np.empty((n, len(self.positions)))
        for j, block in enumerate(self.positions):
            sub = _draw(logits[:, block.start : block.stop], uniforms[:, j, 0])
            out[:, j] = np.minimum((sub + uniforms[:, j, 1]) / block.size, 1.0)
        return out


def check_position_bins(value: object) -> None:
    """Raises unless ``value`` is 0 (no positions) or an integer >= 2."""
    if (
        isinstance(value, bool)
        or not isinstance(value, int | np.integer)
        or not (value == 0 or value >= 2)
    ):
        raise ValidationError(
            f"`position_bins` ({value!r}) must be 0 (no positions) or an integer >= 2."
        )


def _draw(logits: np.ndarray, uniforms: np.ndarray) -> np.ndarray:
    """One index per row from the softmax of ``logits``, by inverse CDF."""
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    cdf = np.cumsum(e, axis=1)
    cdf /= cdf[:, -1:]
    drawn = (uniforms[:, None] > cdf).sum(axis=1)
    return np.minimum(drawn, logits.shape[1] - 1)
