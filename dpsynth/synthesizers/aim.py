"""AIM: adaptive, workload-aware selection of marginals on a graphical model."""

from __future__ import annotations

import itertools
import logging
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from dpsynth.data.dataset import Dataset
from dpsynth.errors import ValidationError
from dpsynth.marginals import counting_backend
from dpsynth.mechanisms import noisy_max
from dpsynth.pgm import GraphicalModel, Measurement, estimate, model_size
from dpsynth.privacy import conversions as conv
from dpsynth.privacy.accountant import PrivacyAccountant
from dpsynth.privacy.events import ExponentialEvent, GaussianEvent
from dpsynth.synthesizers._compress import Compression
from dpsynth.synthesizers._measure import measure_marginals
from dpsynth.synthesizers._params import (
    check_fraction,
    check_int,
    check_nonnegative,
    check_positive,
)
from dpsynth.synthesizers.base import Progress, Synthesizer

__all__ = ["AIMSynthesizer"]

logger = logging.getLogger(__name__)

Clique = tuple[str, ...]

#: Bytes per model cell (float64).
_CELL_BYTES = 8


def _workload(columns: Sequence[str], degree: int) -> list[Clique]:
    k = min(degree, len(columns))
    return [tuple(c) for c in itertools.combinations(columns, k)]


def _downward_closure(workload: Sequence[Clique]) -> list[Clique]:
    out: dict[Clique, None] = {}
    for clique in workload:
        for k in range(1, len(clique) + 1):
            for sub in itertools.combinations(clique, k):
                out[sub] = None
    return sorted(out, key=lambda c: (len(c), c))


def _water_fill(
    need: dict[str, float], weight: dict[str, float], cap: float
) -> dict[str, float]:
    """``min(need[c], lam * weight[c])`` per key, with ``lam`` spending ``cap``.

    Everything asked when it fits. Under the cap, rho proportional to
    ``n**(2/3)`` minimises the summed L1 noise ``sum(n_c sigma_c)`` of marginals
    with ``n_c`` cells (Lagrange: ``n_c = lam / sigma_c**3``), and no column gets
    more than it asked for.
    """
    if math.fsum(need.values()) <= cap:
        return dict(need)

    def spent(lam: float) -> float:
        return math.fsum(min(need[c], lam * weight[c]) for c in need)

    lo, hi = 0.0, max(need[c] / weight[c] for c in need)
    for _ in range(100):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if spent(mid) <= cap else (lo, mid)
    return {c: min(need[c], lo * weight[c]) for c in need}


class AIMSynthesizer(Synthesizer):
    """AIM (McKenna, Mullins, Sheldon, Miklau 2022): adaptive and iterative.

    Starts from noisy 1-way marginals (measured again where the paper's start
    leaves them too noisy, then compressed as in MST), then in rounds selects
    the marginal of
    the workload's downward closure the current model gets most wrong (the
    exponential mechanism on a noise-aware error score), measures it with
    discrete Gaussian noise and re-estimates the graphical model. The
    per-round budget starts small and doubles (noise halves) whenever the model
    stops improving on the selected marginal (annealing); the last round spends
    exactly what remains. Cliques that would make the model exceed
    ``max_model_mb`` (scaled by the share of the budget used) are not
    candidates, so the model stays small.

    Args:
        workload: the marginals the release should preserve, as column tuples;
            default all ``degree``-way marginals.
        degree: the default workload's marginal size.
        max_model_mb: the model-size cap (MB of float64 clique tables). The
            paper uses 80; the estimator holds about eight model-sized
            buffers, and at 80 an epsilon = 10 fit on hd/adult peaked at
            1.24 GB of memory (825 MB at 40, workload error 0.071 against
            0.070).
        rounds: the largest number of rounds; default ``16 * d`` for ``d``
            columns (AIM's T).
        measure_fraction: share of each round's budget for the measurement
            (AIM's alpha); the rest is for the selection.
        one_way_fraction: ``None`` (default) measures the 1-way marginals with
            one round's noise, as in the paper, then measures again those left
            too noisy (``one_way_tolerance``); a number instead spends that
            fixed share of the budget on them first (OpenDP's AIM uses 0.5).
        one_way_tolerance: after the paper's start, a column whose expected
            normalised L1 noise ``sqrt(2/pi) sigma n / N`` (``n`` values, ``N``
            estimated from the noisy totals) exceeds this is measured again so
            that both measurements together meet it; ``None`` keeps the
            paper's start alone. On binary columns of 20,000 rows nothing is
            measured again; a 91-value column of 1,304 rows is.
        one_way_max_share: the most of the budget the 1-way measurements may
            take, start included.
        compress_sigmas: after the 1-way measurements, a column's values whose
            noisy count is below this many noise standard deviations merge
            into one code (MST's domain compression; post-processing), and
            sampled codes expand back in proportion to the noisy counts. 0
            disables it.
        iters: estimation iterations per round (warm-started).
        final_iters: estimation iterations of the final model.

    Privacy:
        Under add/remove-one-row neighbours: ``d`` GaussianEvents for the 1-way
        initialisation, then per round one ExponentialEvent (score sensitivity
        ``max weight``) and one GaussianEvent (L2 sensitivity 1). Annealing
        sizes later rounds from earlier noisy outputs, so the accountant is
        declared fully adaptive first
        (:meth:`~dpsynth.privacy.accountant.PrivacyAccountant.declare_fully_adaptive`):
        the whole ledger composes in zCDP, a valid privacy filter, as in the
        paper's own analysis, and never by privacy loss distributions. All scales
        are planned from what remains, and the last round lands the ledger on
        the budget, never above. The row count is never read.

    References:
        McKenna, Mullins, Sheldon, Miklau. AIM: An Adaptive and Iterative
        Mechanism for Differentially Private Synthetic Data. PVLDB 15(11), 2022
        (Algorithm 2 (AIM), Section 4: scores, annealing, model-size filter).
    """

    name = "aim"
    # annealing sizes later rounds from earlier noisy outputs
    fully_adaptive = True

    def __init__(
        self,
        *,
        workload: Sequence[Sequence[str]] | None = None,
        degree: int = 3,
        max_model_mb: float = 40.0,
        rounds: int | None = None,
        measure_fraction: float = 0.9,
        one_way_fraction: float | None = None,
        one_way_tolerance: float | None = 0.05,
        one_way_max_share: float = 0.5,
        compress_sigmas: float = 3.0,
        iters: int = 100,
        final_iters: int = 1000,
    ) -> None:
        self.compress_sigmas = compress_sigmas
        self.one_way_tolerance = one_way_tolerance
        self.one_way_max_share = one_way_max_share
        self.workload = workload
        self.degree = degree
        self.max_model_mb = max_model_mb
        self.rounds = rounds
        self.measure_fraction = measure_fraction
        self.one_way_fraction = one_way_fraction
        self.iters = iters
        self.final_iters = final_iters

    def _check_params(self) -> None:
        for name in ("degree", "iters", "final_iters"):
            check_int(name, getattr(self, name), 1)
        check_int("rounds", self.rounds, 1, none_ok=True)
        check_fraction("measure_fraction", self.measure_fraction)
        if self.one_way_fraction is not None:
            check_fraction("one_way_fraction", self.one_way_fraction)
        check_positive("max_model_mb", self.max_model_mb)
        check_nonnegative("compress_sigmas", self.compress_sigmas)
        if self.one_way_tolerance is not None:
            check_positive("one_way_tolerance", self.one_way_tolerance)
        check_fraction("one_way_max_share", self.one_way_max_share)

    def _check_data(self, dataset: Dataset) -> None:
        self._workload_cliques(dataset)

    def _workload_cliques(self, dataset: Dataset) -> list[Clique]:
        if self.workload is None:
            return _workload(dataset.columns, self.degree)
        out = []
        for item in self.workload:
            clique = tuple(item)
            unknown = [c for c in clique if c not in dataset.domain]
            if not clique or unknown or len(set(clique)) != len(clique):
                raise ValidationError(
                    f"`workload` entry ({item!r}) must be distinct column names of "
                    f"the domain {list(dataset.columns)!r}."
                )
            out.append(clique)
        if not out:
            raise ValidationError("`workload` ([]) must name at least one marginal.")
        return out

    def _fit(
        self,
        dataset: Dataset,
        accountant: PrivacyAccountant,
        rng: np.random.Generator,
        callback: Progress,
    ) -> None:
        domain = dataset.domain
        workload = self._workload_cliques(dataset)
        candidates = _downward_closure(workload)
        weights = np.array(
            [sum(len(set(r) & set(w)) for w in workload) for r in candidates],
            dtype=np.float64,
        )
        cols = dataset.columns
        rounds = self.rounds or 16 * len(cols)
        alpha = self.measure_fraction
        # for the model-size schedule only (a fast estimate, see below)
        total_estimate = accountant.remaining_rho_estimate()
        whole_rho = accountant.remaining_rho()
        ones = [(c,) for c in cols]
        callback("measure 1-way", 0, 0)
        one_way: list[np.ndarray] = []
        sigma1 = 0.0
        if self.one_way_fraction is not None:
            # a fixed share for the 1-way start; the rounds share the rest
            sigma1 = accountant.plan_gaussian_sigma(
                len(ones), fraction=self.one_way_fraction
            )
            one_way = measure_marginals(
                dataset, ones, sigma=sigma1, accountant=accountant, label="1-way"
            )
        total_rho = accountant.remaining_rho()
        rho_measure = alpha * total_rho / rounds
        rho_select = (1 - alpha) * total_rho / rounds
        sigma = conv.gaussian_sigma(rho_measure)
        epsilon = conv.exponential_epsilon(rho_select)
        max_cells = self.max_model_mb * 2**20 / _CELL_BYTES
        extra: dict[str, tuple[np.ndarray, float]] = {}
        if self.one_way_fraction is None:
            # the paper's start: every 1-way marginal with the round's sigma
            sigma1 = sigma
            one_way = measure_marginals(
                dataset, ones, sigma=sigma1, accountant=accountant, label="1-way"
            )
            extra = self._top_up(dataset, one_way, sigma1, accountant, whole_rho)
            if extra:  # the rounds share what is left
                total_rho = accountant.remaining_rho()
                sigma = conv.gaussian_sigma(alpha * total_rho / rounds)
                epsilon = conv.exponential_epsilon((1 - alpha) * total_rho / rounds)
        noisy1 = {c: m.astype(np.float64) for c, m in zip(cols, one_way, strict=True)}
        combined, cuts = {}, {}
        for c in cols:  # inverse-variance weighted, for the compression only
            if c in extra:
                y2, s2 = extra[c]
                w1, w2 = sigma1**-2, s2**-2
                combined[c] = (w1 * noisy1[c] + w2 * y2) / (w1 + w2)
                cuts[c] = self.compress_sigmas * (w1 + w2) ** -0.5
            else:
                combined[c], cuts[c] = noisy1[c], self.compress_sigmas * sigma1
        comp = Compression.from_noisy(domain, combined, threshold=cuts)
        self.compression_ = comp
        dataset = comp.compress(dataset)
        domain = dataset.domain
        measurements = [comp.measurement(c, noisy1[c], sigma1) for c in cols]
        measurements += [comp.measurement(c, y2, s2) for c, (y2, s2) in extra.items()]
        model = estimate(domain, measurements, iters=self.iters)
        exact = dict(
            zip(
                candidates,
                counting_backend(dataset).counts_many(candidates),
                strict=True,
            )
        )
        cliques: list[Clique] = list(ones)
        t = 0
        while True:
            t += 1
            # AIM's budget check: the last round when fewer than two rounds of
            # this size remain. Asked of the accountant itself (exact; one
            # composition), then the last round takes all that is left.
            final = not accountant.can_spend_many(
                [
                    (GaussianEvent(sigma=sigma), 2),
                    (ExponentialEvent(epsilon=epsilon), 2),
                ]
            )
            if final:
                epsilon = accountant.plan_exponential_epsilon(1, fraction=1 - alpha)
            left = accountant.remaining_rho_estimate()
            used = 1 - left / total_estimate if total_estimate > 0 else 1.0
            used_share = min(1.0, max(0.0, used))
            pool = self._candidates(domain, candidates, cliques, used_share * max_cells)
            scores = np.array(
                [
                    weights[k]
                    * (
                        np.abs(
                            exact[candidates[k]] - model.project(candidates[k])
                        ).sum()
                        - math.sqrt(2 / math.pi) * sigma * exact[candidates[k]].size
                    )
                    for k in pool
                ]
            )
            pick = pool[
                noisy_max(
                    scores,
                    epsilon=epsilon,
                    sensitivity=float(weights[pool].max()),
                    accountant=accountant,
                    label=f"select (round {t})",
                    columns=cols,
                )
            ]
            clique = candidates[pick]
            if final:
                sigma = accountant.plan_gaussian_sigma(1)
            (noisy,) = measure_marginals(
                dataset,
                [clique],
                sigma=sigma,
                accountant=accountant,
                label=f"round {t}",
            )
            measurements.append(
                Measurement(
                    columns=clique, values=noisy.astype(np.float64), sigma=sigma
                )
            )
            if clique not in cliques:
                cliques.append(clique)
            before = model.project(clique)
            model = estimate(domain, measurements, iters=self.iters, warm_start=model)
            after = model.project(clique)
            callback("round", t, rounds)
            logger.info(
                "AIM round %d: %s sigma=%.4g epsilon=%.4g", t, clique, sigma, epsilon
            )
            if final:
                break
            if np.abs(after - before).sum() <= math.sqrt(2 / math.pi) * sigma * (
                before.size
            ):
                sigma /= 2  # anneal: four times the rho per measurement
                epsilon *= 2
        callback("estimate", t, t)
        self.model_ = estimate(
            domain, measurements, iters=self.final_iters, warm_start=model
        )
        self.cliques_ = cliques
        self.rounds_ = t

    def _top_up(
        self,
        dataset: Dataset,
        one_way: list[np.ndarray],
        sigma1: float,
        accountant: PrivacyAccountant,
        whole_rho: float,
    ) -> dict[str, tuple[np.ndarray, float]]:
        """Measures again the 1-way marginals that the start left too noisy.

        The paper's start gives every 1-way marginal one round's sigma, which
        on a small table or at a small epsilon buries a column with many
        values in noise. The expected L1 error of a noisy marginal with ``n``
        cells, normalised by the row count ``N``, is ``sqrt(2/pi) sigma n / N``.
        ``N`` is estimated from the start's noisy totals (inverse-variance
        weighted over the columns; post-processing), and every column above
        ``one_way_tolerance`` gets a second measurement sized so that the two
        together meet it; when that would take more than ``one_way_max_share``
        of the budget (counting the start), the share is water-filled with
        rho proportional to ``n**(2/3)`` (:func:`_water_fill`). Sizing noise from
        noisy outputs is why AIM's ledger is fully adaptive.

        Returns:
            ``{column: (noisy counts, sigma)}`` of the second measurements.
        """
        tau = self.one_way_tolerance
        if tau is None:
            return {}
        cols = dataset.columns
        sizes = np.array([dataset.domain[c] for c in cols], dtype=np.float64)
        totals = np.array([float(m.sum()) for m in one_way])
        n_hat = max(float(np.sum(totals / sizes) / np.sum(1.0 / sizes)), 1.0)
        c0 = math.sqrt(2 / math.pi)
        need: dict[str, float] = {}
        for c, n in zip(cols, sizes, strict=True):
            if c0 * sigma1 * n / n_hat > tau:
                target = tau * n_hat / (c0 * n)  # the combined sigma that meets tau
                need[c] = 0.5 * (target**-2 - sigma1**-2)
        cap = self.one_way_max_share * whole_rho - len(cols) * conv.gaussian_rho(sigma1)
        cap = min(cap, 0.5 * accountant.remaining_rho())
        if not need or cap <= 0:
            return {}
        share = _water_fill(
            need, {c: float(dataset.domain[c]) ** (2 / 3) for c in need}, cap
        )
        out: dict[str, tuple[np.ndarray, float]] = {}
        for c, rho in share.items():
            s2 = conv.gaussian_sigma(rho)
            (noisy,) = measure_marginals(
                dataset, [(c,)], sigma=s2, accountant=accountant, label="1-way again"
            )
            out[c] = (noisy.astype(np.float64), s2)
        logger.info(
            "AIM: %d one-way marginals measured again (N ~ %.0f, %.0f%% of the "
            "rho they asked for)",
            len(out),
            n_hat,
            100 * math.fsum(share.values()) / math.fsum(need.values()),
        )
        return out

    @staticmethod
    def _candidates(
        domain: Any, candidates: list[Clique], cliques: list[Clique], limit: float
    ) -> list[int]:
        """Candidates whose addition keeps the model within ``limit`` cells.

        Cliques inside a current clique never grow the model; if no candidate
        fits, the ones already measured remain (they always fit).
        """
        current = [set(c) for c in cliques]
        pool = []
        for k, r in enumerate(candidates):
            inside = any(set(r) <= c for c in current)
            if inside or model_size(domain, [*cliques, r]) <= limit:
                pool.append(k)
        return pool

    def _estimated_rows(self) -> float:
        return float(self.model_.total)

    def _sample_codes(self, n: int, rng: np.random.Generator) -> Dataset:
        model_rng, expand_rng = rng.spawn(2)
        return self.compression_.expand(
            self.model_.sample(n, rng=model_rng), expand_rng
        )

    def _model_to_dict(self) -> dict[str, Any]:
        return {
            "cliques": [list(c) for c in self.cliques_],
            "rounds": self.rounds_,
            "compression": self.compression_.to_dict(),
            "model": self.model_.to_dict(),
        }

    def _model_from_dict(self, data: dict[str, Any]) -> None:
        self.cliques_ = [tuple(c) for c in data["cliques"]]
        self.rounds_ = int(data["rounds"])
        self.compression_ = (
            Compression.from_dict(self.domain_, data["compression"])
            if "compression" in data  # models saved before AIM compressed
            else Compression.identity(self.domain_)
        )
        self.model_ = GraphicalModel.from_dict(data["model"])
