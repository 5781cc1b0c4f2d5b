"""Domain compression from noisy 1-way marginals (post-processing).

Values whose noisy count is small carry little signal after noise: merging them
into one code shrinks every marginal that contains the column, so each later
measurement spends its budget on fewer, better populated cells. The merge is a
function of released noisy counts only, so it costs no privacy. Sampled codes are
expanded back by drawing a merged value in proportion to its (clipped) noisy
count.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from dpsynth.data.dataset import Dataset, code_dtype
from dpsynth.data.domain import Domain
from dpsynth.pgm import Measurement

__all__ = ["Compression"]


@dataclass(frozen=True)
class Compression:
    """A per-column map from original codes to compressed codes.

    Attributes:
        domain: the original domain.
        maps: per column, ``maps[col][code]`` is the compressed code.
        weights: per column, the expansion weight of each original code (its
            clipped noisy count; uniform when all are zero).
    """

    domain: Domain
    maps: dict[str, np.ndarray]
    weights: dict[str, np.ndarray]

    @classmethod
    def from_noisy(
        cls,
        domain: Domain,
        noisy: dict[str, np.ndarray],
        threshold: float | dict[str, float],
    ) -> Compression:
        """Merges every column's values whose noisy count is below ``threshold``.

        ``threshold`` is one number or one per column.

        A column keeps its codes when fewer than two values fall below, or when
        every value does (nothing would be left to tell apart: a column of one
        code); a threshold of 0 or less merges nothing.
        """
        maps, weights = {}, {}
        for col, size in domain.items():
            counts = np.asarray(noisy[col], dtype=np.float64)
            cut = threshold[col] if isinstance(threshold, dict) else threshold
            small = counts < cut if cut > 0 else np.zeros(size, bool)
            mapping = np.arange(size)
            if 2 <= small.sum() < size:
                kept = np.flatnonzero(~small)
                mapping = np.full(size, kept.size)
                mapping[kept] = np.arange(kept.size)
            maps[col] = mapping
            w = np.maximum(counts, 0.0)
            weights[col] = w if w.sum() > 0 else np.ones(size)
        return cls(domain, maps, weights)

    @classmethod
    def identity(cls, domain: Domain) -> Compression:
        """The compression that keeps every code."""
        return cls(
            domain,
            {c: np.arange(k) for c, k in domain.items()},
            {c: np.ones(k) for c, k in domain.items()},
        )

    @property
    def compressed(self) -> Domain:
        """The compressed domain."""
        return Domain({c: int(m.max()) + 1 for c, m in self.maps.items()})

    def is_identity(self, column: str) -> bool:
        """Whether ``column`` keeps every code."""
        return int(self.maps[column].max()) + 1 == self.domain[column]

    def compress(self, dataset: Dataset) -> Dataset:
        """The dataset with compressed codes (a deterministic relabelling)."""
        target = self.compressed
        codes = np.empty(dataset.codes.shape, dtype=code_dtype(target))
        for j, col in enumerate(dataset.columns):
            codes[:, j] = self.maps[col][dataset.codes[:, j]]
        return Dataset(codes, target)

    def compress_counts(self, column: str, counts: np.ndarray) -> np.ndarray:
        """A 1-way count vector of ``column`` summed into compressed codes."""
        mapping = self.maps[column]
        return np.bincount(mapping, weights=counts, minlength=int(mapping.max()) + 1)

    def measurement(self, column: str, noisy: np.ndarray, sigma: float) -> Measurement:
        """A noisy 1-way marginal of ``column`` as a compressed-domain measurement.

        Merged counts are summed and their noise scaled by :meth:`count_scale`.
        """
        return Measurement(
            columns=(column,),
            values=self.compress_counts(column, noisy),
            sigma=sigma,
            scale=self.count_scale(column),
        )

    def count_scale(self, column: str) -> np.ndarray | None:
        """Per compressed code, ``sqrt`` of how many codes it sums; ``None`` if none.

        A compressed noisy count sums that many independent noisy counts, so its
        noise is ``sigma`` times this (:class:`dpsynth.pgm.Measurement`'s
        ``scale``).
        """
        if self.is_identity(column):
            return None
        return np.sqrt(np.bincount(self.maps[column]).astype(np.float64))

    def expand(self, dataset: Dataset, rng: np.random.Generator) -> Dataset:
        """Compressed codes back to original codes.

        A merged code draws one of its values in proportion to the expansion
        weights.
        """
        codes = np.empty(dataset.codes.shape, dtype=code_dtype(self.domain))
        streams = rng.spawn(len(self.domain))
        for j, col in enumerate(self.domain):
            mapping = self.maps[col]
            comp = dataset.codes[:, j].astype(np.int64)
            if self.is_identity(col):
                codes[:, j] = comp
                continue
            merged_code = int(mapping.max())
            members = np.flatnonzero(mapping == merged_code)
            # kept codes: invert the map
            inverse = np.empty(merged_code + 1, dtype=np.int64)
            kept = np.flatnonzero(mapping != merged_code)
            inverse[mapping[kept]] = kept
            out = inverse[comp]
            hit = comp == merged_code
            w = self.weights[col][members]
            p = w / w.sum() if w.sum() > 0 else np.full(members.size, 1 / members.size)
            out[hit] = streams[j].choice(members, size=int(hit.sum()), p=p)
            codes[:, j] = out
        return Dataset(codes, self.domain)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready data."""
        return {
            "maps": {c: m.tolist() for c, m in self.maps.items()},
            "weights": {c: w.tolist() for c, w in self.weights.items()},
        }

    @classmethod
    def from_dict(cls, domain: Domain, data: dict[str, Any]) -> Compression:
        """Inverse of :meth:`to_dict`."""
        return cls(
            domain,
            {c: np.asarray(data["maps"][c], dtype=np.int64) for c in domain},
            {c: np.asarray(data["weights"][c], dtype=np.float64) for c in domain},
        )
