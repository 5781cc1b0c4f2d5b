"""The network's view of a table, built from the PUBLIC domain alone.

A :class:`TabularRepresentation` maps integer codes (categories, numeric bins,
the ``other`` and missing codes) to concatenated one-hot blocks, one block per
column, and maps network outputs (one block of logits per column) back to codes.
It is a function of the :class:`~dpsynth.data.domain.Domain` only (which comes
from the public schema): two tables with the same schema get the same
representation, and nothing is read off the data to build it (no mode
detection, no scaling, no category frequencies). This module needs no torch.

Not done yet: a within-bin position for numeric columns (the value's place
between its public bin edges), which would let the network model values inside
a bin instead of the encoder's uniform decoding.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dpsynth.data.dataset import Dataset, code_dtype
from dpsynth.data.domain import Domain
from dpsynth.data.schema import Schema
from dpsynth.errors import ValidationError

__all__ = ["Block", "TabularRepresentation"]


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
    """Concatenated one-hot blocks over a public domain.

    Attributes:
        domain: the public domain (column -> number of codes).
        blocks: one :class:`Block` per column, in the domain's order.

    Example:
        >>> rep = TabularRepresentation.from_schema(Domain({"a": 2, "b": 3}))
        >>> rep.width
        5
        >>> rep.one_hot(np.array([[1, 0], [0, 2]])).tolist()
        [[0.0, 1.0, 1.0, 0.0, 0.0], [1.0, 0.0, 0.0, 0.0, 1.0]]
    """

    domain: Domain
    blocks: tuple[Block, ...]

    @classmethod
    def from_schema(cls, schema: Schema | Domain) -> TabularRepresentation:
        """The representation of a public schema (or of its domain).

        Raises:
            ValidationError: for anything but a Schema or a Domain.
        """
        if isinstance(schema, Schema):
            domain = schema.domain
        elif isinstance(schema, Domain):
            domain = schema
        else:
            raise ValidationError(
                f"`schema` ({type(schema).__name__}) must be a Schema or a Domain."
            )
        blocks = []
        start = 0
        for column, size in domain.items():
            blocks.append(Block(column, start, int(size)))
            start += int(size)
        return cls(domain=domain, blocks=tuple(blocks))

    @property
    def width(self) -> int:
        """The representation's dimension (the sum of the domain sizes)."""
        return self.blocks[-1].stop if self.blocks else 0

    def one_hot(self, codes: np.ndarray) -> np.ndarray:
        """The float32 one-hot rows of integer ``codes`` (rows x columns).

        A data-independent map: row ``i`` depends on row ``i`` of ``codes`` only.
        """
        codes = np.asarray(codes)
        if codes.ndim != 2 or codes.shape[1] != len(self.blocks):
            raise ValidationError(
                f"`codes` (shape {codes.shape}) must have one column per domain "
                f"column ({len(self.blocks)})."
            )
        out = np.zeros((codes.shape[0], self.width), dtype=np.float32)
        rows = np.arange(codes.shape[0])
        for j, block in enumerate(self.blocks):
            out[rows, block.start + codes[:, j].astype(np.int64)] = 1.0
        return out

    def encode(self, dataset: Dataset) -> np.ndarray:
        """The one-hot rows of a Dataset over this representation's domain."""
        if dataset.domain != self.domain:
            raise ValidationError(
                f"`dataset` (domain {dataset.domain!r}) must have the domain "
                f"{self.domain!r}."
            )
        return self.one_hot(dataset.codes)

    def sample_codes(self, logits: np.ndarray, rng: np.random.Generator) -> Dataset:
        """Draws codes from per-block softmax distributions over ``logits``.

        Post-processing of a fitted model's outputs: row ``i`` of the result is
        drawn from the softmax of each block of ``logits[i]``, independently,
        by inverse-CDF sampling with ``rng``.
        """
        logits = np.asarray(logits, dtype=np.float64)
        n = logits.shape[0]
        codes = np.empty((n, len(self.blocks)), dtype=code_dtype(self.domain))
        uniforms = rng.random((n, len(self.blocks)))
        for j, block in enumerate(self.blocks):
            part = logits[:, block.start : block.stop]
            part = np.exp(part - part.max(axis=1, keepdims=True))
            cdf = np.cumsum(part, axis=1)
            cdf /= cdf[:, -1:]
            drawn = (uniforms[:, j : j + 1] > cdf).sum(axis=1)
            codes[:, j] = np.minimum(drawn, block.size - 1)
        return Dataset(codes, self.domain)
