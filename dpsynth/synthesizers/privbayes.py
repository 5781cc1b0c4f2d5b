"""PrivBayes: a differentially private Bayesian network (Zhang et al. 2017).

The fit has three stages, each touching the data only through a mechanism:

1. **Row scale.** The first attribute (drawn at random, independent of the data)
   has its 1-way marginal measured; its noisy sum is a noisy row count ``n``
   that sizes the usefulness rule below.
2. **Structure** (GreedyBayes). The other attributes join the network one at a
   time; each step picks a pair (attribute, parent set) among public candidates
   with the exponential mechanism on the unnormalised R score
   (:func:`r_score`). The parent sets are the maximal subsets of the attributes
   already chosen whose joint table with the child passes the theta-usefulness
   rule (at most ``n / (theta * sigma)`` cells), up to ``max_degree`` parents.
3. **Parameters** (NoisyConditionals). The joint marginal of every family
   (attribute + parents) is measured with discrete Gaussian noise, projected
   onto nonnegative counts of the noisy total, and normalised into the
   conditional distribution of the attribute given its parents.

Sampling is ancestral, in network order, vectorised over rows, with the
count-keeping, balanced allocation of :func:`dpsynth.pgm.sampling.assign_values`.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import numpy as np

from dpsynth.data.dataset import Dataset, code_dtype
from dpsynth.errors import ValidationError
from dpsynth.marginals import counting_backend
from dpsynth.mechanisms import noisy_max
from dpsynth.pgm.sampling import assign_values
from dpsynth.privacy.accountant import PrivacyAccountant
from dpsynth.synthesizers._measure import (
    measure_marginals,
    noisy_total,
    project_to_simplex_counts,
)
from dpsynth.synthesizers._params import (
    check_fraction,
    check_int,
    check_positive,
    is_int,
)
from dpsynth.synthesizers.base import Progress, Synthesizer

__all__ = ["R_SCORE_SENSITIVITY", "PrivBayesSynthesizer", "r_score"]

#: Add/remove-one-row sensitivity of :func:`r_score` (a strict upper bound).
R_SCORE_SENSITIVITY = 2.0

#: Exact counts held at once while scoring (cells): 128 MiB of int64.
_BATCH_CELLS = 2**24

#: A family: (child column, parent columns in domain order).
Family = tuple[str, tuple[str, ...]]


def r_score(counts: np.ndarray) -> float:
    """The unnormalised R score of a family's exact counts.

    With ``C`` the counts of (parent configuration, child value), ``r`` and ``s``
    its row and column sums and ``n`` its total, the score is
    ``0.5 * || C - r s^T / n ||_1``: ``n`` times the total variation distance
    between the joint distribution and the product of its marginals (the
    paper's R score, without the division by ``n``). It is 0 for an empty table
    or a family without parents, and grows with the dependence of the child on
    its parents.

    Privacy:
        Adding or removing one row changes the score by less than
        :data:`R_SCORE_SENSITIVITY` (= 2), whatever the table. Proof sketch:
        let ``C' = C + e_a e_b^T`` (one row added to a table of ``n`` rows) and
        ``E = r s^T / n``. By the reverse triangle inequality the score moves by
        at most ``0.5 * ||D||_1`` with ``D = (C' - C) - (E' - E)``. Expanding,
        ``D[a, b] = (n - r_a)(n - s_b) / (n (n + 1))``, ``D[x, y] = r_x s_y /
        (n (n + 1))`` off row ``a`` and column ``b`` (both >= 0), and ``D <= 0``
        elsewhere on row ``a`` and column ``b``. ``D`` sums to 0, so ``||D||_1``
        is twice its positive mass, ``4 (n - r_a)(n - s_b) / (n (n + 1)) <
        4 n / (n + 1)``, and the score moves by less than ``2 n / (n + 1) < 2``
        (by 0 from the empty table). Removal is the same pair read backwards. No
        noisy ``n`` enters the score, so the bound needs no assumption on ``n``.
        (The paper states its scores' sensitivities for replace-one neighbours
        on normalised distributions with a known ``n``, which does not carry
        over to add/remove.)

    Args:
        counts: a 2-D array, parent configurations by child values.

    Returns:
        The score, ``>= 0``.

    Example:
        >>> r_score(np.array([[10, 0], [0, 10]]))
        10.0
        >>> r_score(np.array([[5, 5], [5, 5]]))
        0.0
    """
    c = np.asarray(counts, dtype=np.float64)
    n = float(c.sum())
    if n <= 0:
        return 0.0
    expected = np.outer(c.sum(axis=1), c.sum(axis=0)) / n
    return 0.5 * float(np.abs(c - expected).sum())


def maximal_parent_sets(
    child: str,
    chosen: Sequence[str],
    sizes: Mapping[str, int],
    *,
    max_degree: int,
    max_cells: float,
) -> list[tuple[str, ...]]:
    """The candidate parent sets of ``child`` among the ``chosen`` attributes.

    A parent set qualifies when it has at most ``max_degree`` attributes and the
    family table (child and parents) has at most ``max_cells`` cells; only the
    maximal ones are kept (no chosen attribute can be added without breaking a
    limit), since the R score never decreases when a parent is added. When no
    nonempty set qualifies, the empty set is the only candidate. Public: reads
    the domain sizes only.

    Example:
        >>> maximal_parent_sets("c", ["a", "b"], {"a": 2, "b": 3, "c": 2},
        ...                     max_degree=2, max_cells=8)
        [('a',), ('b',)]
    """
    limit = max_cells / sizes[child]
    out: list[tuple[str, ...]] = []
    for k in range(min(max_degree, len(chosen)), 0, -1):
        for parents in itertools.combinations(chosen, k):
            cells = math.prod(sizes[p] for p in parents)
            if cells > limit:
                continue
            if k < max_degree:
                others = [sizes[v] for v in chosen if v not in parents]
                if others and cells * min(others) <= limit:
                    continue  # not maximal
            out.append(parents)
    return out or [()]


class PrivBayesSynthesizer(Synthesizer):
    """PrivBayes: a Bayesian network learned and fitted with differential privacy.

    Args:
        degree: ``"auto"`` (default) sizes each attribute's parent set by the
            theta-usefulness rule, up to ``max_degree`` parents; an integer
            ``k`` gives every attribute ``min(k, chosen)`` parents, whatever
            the noise (the paper's fixed-degree GreedyBayes).
        max_degree: the largest parent set under ``degree="auto"`` (1 to 3 is
            sensible; families grow exponentially with it).
        theta: the usefulness threshold under ``degree="auto"``: a family may
            have at most ``n / (theta * max(sigma, 1))`` cells, i.e. its mean
            cell count must be at least ``theta`` noise standard deviations
            (``n`` is the noisy row count, ``sigma`` the planned noise).
        select_fraction: the share of the zCDP budget spent on the structure
            (the exponential-mechanism selections); the rest measures marginals.
        max_candidates: the most (attribute, parent set) pairs scored per step;
            larger candidate sets are subsampled uniformly with the fit's
            ``rng`` (independent of the data).

    Privacy:
        Under add/remove-one-row neighbours, with ``d`` columns and ``rho`` the
        zCDP budget that remains when ``fit`` starts: ``d - 1`` selections
        ``ExponentialEvent(epsilon_select)`` (R score, sensitivity 2, see
        :func:`r_score`), each with ``select_fraction * rho / (d - 1)`` of
        zCDP, then ``d`` discrete Gaussian marginals (``GaussianEvent(sigma,
        l2_sensitivity=1)``): the first attribute's 1-way marginal at the
        planned sigma, and the ``d - 1`` families with what remains, so the
        ledger lands on the budget. The row count is never read: the default
        sample size is the noisy total of the measured marginals.

    References:
        Zhang, Cormode, Procopiuc, Srivastava, Xiao. PrivBayes: Private Data
        Release via Bayesian Networks. ACM TODS 42(4), 2017: the private
        GreedyBayes network construction with the theta-usefulness choice of
        parent sets, the R score for non-binary attributes, NoisyConditionals
        and ancestral sampling (procedure names as in the paper). Here the
        Laplace noise becomes discrete Gaussian noise and the budget is split in
        zCDP.

    Example:
        >>> import pandas as pd
        >>> from dpsynth.data import Domain
        >>> rng = np.random.default_rng(0)
        >>> a = rng.integers(0, 3, 2000)
        >>> frame = pd.DataFrame({"a": a, "b": (a + (rng.random(2000) < 0.1)) % 3})
        >>> syn = PrivBayesSynthesizer().fit(
        ...     frame, schema=Domain({"a": 3, "b": 3}), epsilon=1.0, delta=1e-9, rng=0
        ... )
        >>> out = syn.sample(100, rng=0)
        >>> out.shape, 0.995 <= syn.ledger.epsilon <= 1.0
        ((100, 2), True)
    """

    name = "privbayes"

    def __init__(
        self,
        *,
        degree: int | Literal["auto"] = "auto",
        max_degree: int = 3,
        theta: float = 8.0,
        select_fraction: float = 0.1,
        max_candidates: int = 1000,
    ) -> None:
        self.degree = degree
        self.max_degree = max_degree
        self.theta = theta
        self.select_fraction = select_fraction
        self.max_candidates = max_candidates

    # ------------------------------------------------------------ parameters
    def _check_params(self) -> None:
        if self.degree != "auto" and not is_int(self.degree, 0):
            raise ValidationError(
                f'`degree` ({self.degree!r}) must be "auto" or an integer >= 0.'
            )
        check_int("max_degree", self.max_degree, 0)
        check_positive("theta", self.theta)
        check_fraction("select_fraction", self.select_fraction)
        check_int("max_candidates", self.max_candidates, 1)

    # ------------------------------------------------------------------- fit
    def _fit(
        self,
        dataset: Dataset,
        accountant: PrivacyAccountant,
        rng: np.random.Generator,
        callback: Progress,
    ) -> None:
        columns = dataset.columns
        d = len(columns)
        selections = d - 1
        if selections == 0:
            epsilon_select = 0.0
            sigma_first = accountant.plan_gaussian_sigma(1)
        else:
            # Planned up front, in zCDP: the selections get select_fraction of
            # what remains, every one of the d marginals an equal share of the
            # rest (the last d - 1 are re-planned to land on the budget).
            epsilon_select = accountant.plan_exponential_epsilon(
                selections, fraction=self.select_fraction
            )
            sigma_first = accountant.plan_gaussian_sigma(
                d, fraction=1.0 - self.select_fraction
            )
        first = columns[int(rng.integers(d))]
        callback("measure", 0, d)
        (first_counts,) = measure_marginals(
            dataset, [(first,)], sigma=sigma_first, accountant=accountant, label="1-way"
        )
        callback("measure", 1, d)
        rows_first = max(float(first_counts.sum()), 1.0)
        max_cells = rows_first / (float(self.theta) * max(sigma_first, 1.0))
        network = self._learn_structure(
            dataset,
            first,
            max_cells=max_cells,
            epsilon=epsilon_select,
            accountant=accountant,
            rng=rng,
            callback=callback,
        )
        families = network[1:]
        noisy = [first_counts]
        sigmas = [sigma_first]
        if families:
            sigma = accountant.plan_gaussian_sigma(len(families))
            queries = [(*parents, child) for child, parents in families]
            noisy += measure_marginals(
                dataset, queries, sigma=sigma, accountant=accountant, label="family"
            )
            sigmas += [sigma] * len(families)
        callback("measure", d, d)
        self.total_ = noisy_total(noisy, sigmas)
        self.network_ = network
        self.conditionals_ = [
            _conditional(m, self.total_, dataset.domain[child])
            for m, (child, _) in zip(noisy, network, strict=True)
        ]

    def _learn_structure(
        self,
        dataset: Dataset,
        first: str,
        *,
        max_cells: float,
        epsilon: float,
        accountant: PrivacyAccountant,
        rng: np.random.Generator,
        callback: Progress,
    ) -> list[Family]:
        """GreedyBayes: ``d - 1`` private selections of (child, parents)."""
        domain = dataset.domain
        backend = counting_backend(dataset)
        network: list[Family] = [(first, ())]
        chosen = [first]
        remaining = [c for c in dataset.columns if c != first]
        cache: dict[Family, float] = {}
        steps = len(remaining)
        while remaining:
            candidates = self._candidates(remaining, chosen, domain, max_cells, rng)
            todo = [f for f in candidates if f not in cache and f[1]]
            for batch in _batches(todo, domain):
                exact = backend.counts_many([(*ps, child) for child, ps in batch])
                for (child, ps), counts in zip(batch, exact, strict=True):
                    cache[(child, ps)] = r_score(counts.reshape(-1, domain[child]))
            scores = [cache.get(f, 0.0) for f in candidates]
            pick = noisy_max(
                scores,
                epsilon=epsilon,
                sensitivity=R_SCORE_SENSITIVITY,
                accountant=accountant,
                label=f"privbayes parents {len(network)}/{steps}",
                columns=sorted({c for f in candidates for c in (f[0], *f[1])}),
            )
            child, parents = candidates[pick]
            network.append((child, parents))
            chosen.append(child)
            remaining.remove(child)
            callback("select", len(network) - 1, steps)
        return network

    def _candidates(
        self,
        remaining: Sequence[str],
        chosen: Sequence[str],
        domain: Mapping[str, int],
        max_cells: float,
        rng: np.random.Generator,
    ) -> list[Family]:
        """The public (child, parents) candidates of one step, capped."""
        order = {c: j for j, c in enumerate(domain)}
        ranked = sorted(chosen, key=order.__getitem__)
        out: list[Family] = []
        for child in remaining:
            if self.degree == "auto":
                sets = maximal_parent_sets(
                    child,
                    ranked,
                    domain,
                    max_degree=int(self.max_degree),
                    max_cells=max_cells,
                )
            else:
                k = min(int(self.degree), len(ranked))
                sets = list(itertools.combinations(ranked, k))
            out += [(child, parents) for parents in sets]
        if len(out) > self.max_candidates:
            keep = rng.choice(len(out), size=int(self.max_candidates), replace=False)
            out = [out[i] for i in np.sort(keep)]
        return out

    # ---------------------------------------------------------------- sample
    def _estimated_rows(self) -> float:
        return self.total_

    def _sample_codes(self, n: int, rng: np.random.Generator) -> Dataset:
        domain = self.domain_
        position = {c: j for j, c in enumerate(domain)}
        codes = np.empty((n, len(domain)), dtype=code_dtype(domain), order="F")
        done = 0  # families generated so far
        for (child, parents), table in zip(
            self.network_, self.conditionals_, strict=True
        ):
            if parents:
                config = np.ravel_multi_index(
                    [codes[:, position[p]] for p in parents],
                    [domain[p] for p in parents],
                )
            else:
                config = np.zeros(n, dtype=np.intp)
            earlier = [codes[:, position[c]] for c, _ in self.network_[:done]]
            codes[:, position[child]] = assign_values(config, table, earlier, rng=rng)
            done += 1
        # rows were grouped while generated: shuffle so their order carries nothing
        codes = np.asfortranarray(codes[rng.permutation(n)])
        codes.flags.writeable = False
        return Dataset._trusted(codes, domain)

    # ------------------------------------------------------------ save/load
    def _model_to_dict(self) -> dict[str, Any]:
        return {
            "total": self.total_,
            "network": [[c, list(p)] for c, p in self.network_],
            "conditionals": [t.tolist() for t in self.conditionals_],
        }

    def _model_from_dict(self, data: dict[str, Any]) -> None:
        try:
            self.total_ = float(data["total"])
            self.network_ = [(str(c), tuple(map(str, p))) for c, p in data["network"]]
            self.conditionals_ = [
                np.asarray(t, dtype=np.float64) for t in data["conditionals"]
            ]
        except (KeyError, TypeError, ValueError) as exc:
            raise ValidationError(
                f"`model` must hold a PrivBayes network and its tables: {exc}"
            ) from exc
        if len(self.network_) != len(self.conditionals_):
            raise ValidationError(
                f"`model` has {len(self.network_)} families and "
                f"{len(self.conditionals_)} tables; they must match."
            )

    @property
    def network(self) -> list[Family]:
        """The learned network: (attribute, parents) in sampling order."""
        self._check_fitted()
        return list(self.network_)


def _batches(
    families: Sequence[Family], domain: Mapping[str, int]
) -> list[list[Family]]:
    """Splits families into counting batches of at most ``_BATCH_CELLS`` cells."""
    out: list[list[Family]] = []
    cells = _BATCH_CELLS
    for child, parents in families:
        size = math.prod(domain[c] for c in (child, *parents))
        if cells + size > _BATCH_CELLS:
            out.append([])
            cells = 0
        out[-1].append((child, parents))
        cells += size
    return out


def _conditional(noisy: np.ndarray, total: float, child_size: int) -> np.ndarray:
    """Conditional table (parent configurations x child values) from noisy counts.

    The noisy family counts are projected onto nonnegative counts summing to the
    noisy total, then each parent configuration's row is normalised; a row with
    no mass falls back to the child's marginal in the projected table (uniform
    if that is empty too). Post-processing only.
    """
    counts = project_to_simplex_counts(noisy, total).reshape(-1, child_size)
    marginal = counts.sum(axis=0)
    mass = marginal.sum()
    fallback = marginal / mass if mass > 0 else np.full(child_size, 1.0 / child_size)
    sums = counts.sum(axis=1, keepdims=True)
    empty = sums[:, 0] <= 0
    table = np.divide(counts, sums, out=np.zeros_like(counts), where=sums > 0)
    table[empty] = fallback
    return table
