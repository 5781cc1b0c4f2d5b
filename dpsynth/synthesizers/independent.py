"""The independent-marginals baseline: every column on its own."""

from __future__ import annotations

from typing import Any

import numpy as np

from dpsynth.data.dataset import Dataset, code_dtype
from dpsynth.privacy.accountant import PrivacyAccountant
from dpsynth.synthesizers._measure import (
    measure_marginals,
    noisy_total,
    project_to_simplex_counts,
)
from dpsynth.synthesizers.base import Progress, Synthesizer

__all__ = ["IndependentSynthesizer"]


class IndependentSynthesizer(Synthesizer):
    """Samples every column independently from its noisy 1-way marginal.

    The baseline every correlation-aware synthesizer must beat: it keeps each
    column's distribution and nothing of the relations between columns.

    Privacy:
        Spends the whole budget on one discrete Gaussian measurement per column
        (``GaussianEvent(sigma, l2_sensitivity=1)`` each, add/remove-one-row
        neighbours), all with the sigma that lands the ledger on the budget.

    Example:
        >>> import pandas as pd
        >>> from dpsynth.data import Domain
        >>> frame = pd.DataFrame({"a": [0, 1] * 500, "b": [1, 1] * 500})
        >>> syn = IndependentSynthesizer().fit(
        ...     frame, schema=Domain({"a": 2, "b": 2}), epsilon=1.0, delta=1e-9, rng=0
        ... )
        >>> out = syn.sample(100, rng=0)
        >>> out.shape, abs(syn.ledger.epsilon - 1.0) < 1e-3
        ((100, 2), True)
    """

    name = "independent"

    def __init__(self) -> None:
        pass

    def _fit(
        self,
        dataset: Dataset,
        accountant: PrivacyAccountant,
        rng: np.random.Generator,
        callback: Progress,
    ) -> None:
        queries = [(c,) for c in dataset.columns]
        sigma = accountant.plan_gaussian_sigma(len(queries))
        callback("measure", 0, len(queries))
        noisy = measure_marginals(
            dataset, queries, sigma=sigma, accountant=accountant, label="1-way"
        )
        callback("measure", len(queries), len(queries))
        self.total_ = noisy_total(noisy, [sigma] * len(noisy))
        self.marginals_ = [
            project_to_simplex_counts(m, self.total_) / self.total_ for m in noisy
        ]

    def _estimated_rows(self) -> float:
        return self.total_

    def _sample_codes(self, n: int, rng: np.random.Generator) -> Dataset:
        codes = np.empty((n, len(self.domain_)), dtype=code_dtype(self.domain_))
        for j, (p, gen) in enumerate(
            zip(self.marginals_, rng.spawn(len(self.marginals_)), strict=True)
        ):
            codes[:, j] = gen.choice(p.size, size=n, p=p)
        return Dataset(codes, self.domain_)

    def _model_to_dict(self) -> dict[str, Any]:
        return {
            "total": self.total_,
            "marginals": [p.tolist() for p in self.marginals_],
        }

    def _model_from_dict(self, data: dict[str, Any]) -> None:
        self.total_ = float(data["total"])
        self.marginals_ = [np.asarray(p, dtype=np.float64) for p in data["marginals"]]
