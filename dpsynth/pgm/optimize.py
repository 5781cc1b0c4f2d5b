"""Accelerated entropic mirror descent on the clique potentials.

The model is ``p(x) ∝ exp(sum_C theta_C(x_C))`` on a junction tree, with clique
marginals ``mu_C = total * p(x_C)``. The loss is the Gaussian negative
log-likelihood of the noisy marginals ``y_m`` (up to a constant),

    L(mu) = sum_m ||mu_{C_m} - y_m||^2 / (2 sigma_m^2),

convex in ``mu`` over the marginal polytope. Mirror descent with the entropy as
mirror map adds ``-a * grad L`` to the potentials, and belief propagation maps
them back to marginals (Private-PGM). This module accelerates it with
Nesterov's method of similar triangles: the mirror steps act on a sequence
``z`` with growing step sizes ``a_k``, gradients are taken at ``y``, and the
iterate ``x`` is a running convex combination of the ``z`` marginals (still
consistent on the tree, so it is a model again).

Step control: since ``L`` is quadratic, ``L(x+) = L(y) + <grad, x+ - y> +
Q(x+ - y)`` exactly, with ``Q(d) = sum_m ||d_m||^2 / (2 sigma_m^2)``, and a step
is accepted when ``Q(z+ - z) <= lip * total * KL(p_z+ || p_z)``; otherwise
``lip`` grows and the step is retried (it shrinks again after successes). The
KL divergence of two tree models comes from their log-partition functions (or,
for tiny steps, from their clique marginals, without cancellation). An
iteration that would raise the loss is not taken: the method restarts from
``x`` instead, so the loss never increases. It stops after ``iters`` steps, or
once the step size has been tested (one step refused) and over the last
``WINDOW`` steps the loss fell by less than ``tol`` times its value and by less
than a tenth of what it fell since the start, so that progress that is slow but
steady (as after a warm start) is not cut short; or by less than a tenth of
``tol`` times its value (nothing left to gain).

References:
    McKenna, R., Sheldon, D. and Miklau, G. (2019). Graphical-model based
    estimation and inference for differential privacy. ICML.
    Nesterov, Y. (2013). Gradient methods for minimizing composite functions.
    Mathematical Programming 140, 125-161 (accelerated method with line search).
    O'Donoghue, B. and Candes, E. (2015). Adaptive restart for accelerated
    gradient schemes. Foundations of Computational Mathematics 15, 715-732.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from dpsynth.pgm.inference import TreePlan, calibrate
from dpsynth.pgm.reduction import ReductionPlan

__all__ = ["WINDOW", "Problem", "Result", "Target", "minimize"]

logger = logging.getLogger(__name__)

WINDOW = 20
_MAX_BACKTRACKS = 50
_KL_PRECISION = 1e-11
_RECENT = 0.1  # stop only once recent progress is this small a share of all


@dataclass(frozen=True, eq=False)
class Target:
    """Measurements of one attribute set, combined (precision-weighted mean).

    Attributes:
        attributes: the measured attributes, in clique axis order.
        clique: the index of a tree clique that holds them.
        values: the weighted mean of the noisy counts (axes in that order).
        weight: the total precision, ``sum 1 / sigma**2``: a number, or one per
            cell (shaped as ``values``) when a measurement's cells differ.
    """

    attributes: tuple[str, ...]
    clique: int
    values: np.ndarray
    weight: float | np.ndarray


@dataclass(frozen=True, eq=False)
class Problem:
    """An estimation problem: a tree, combined targets, the total and an offset.

    ``constant`` is the part of the loss the combined targets do not carry (the
    spread of repeated measurements of one attribute set around their mean).
    """

    plan: TreePlan
    targets: tuple[Target, ...]
    total: float
    constant: float = 0.0


@dataclass(frozen=True, eq=False)
class Result:
    """The outcome of :func:`minimize`.

    Attributes:
        potentials: the final log-potentials, one per clique.
        loss: the final loss, ``sum_m ||mu_m - y_m||^2 / (2 sigma_m^2)``.
        iterations: the number of iterations run.
        converged: whether the stopping rule fired before ``iters`` ran out.
    """

    potentials: tuple[np.ndarray, ...]
    loss: float
    iterations: int
    converged: bool


@dataclass(eq=False)
class _Point:
    """Potentials (flat), clique probabilities (flat), target marginals, loss."""

    theta: np.ndarray
    probs: np.ndarray
    log_z: float
    mu: np.ndarray
    loss: float


class _Engine:
    """Flat buffers: all clique tables in one vector, all targets in another.

    Large models spend their time in memory traffic, so belief propagation
    writes into preallocated buffers instead of fresh arrays.
    """

    def __init__(self, problem: Problem) -> None:
        self.problem = problem
        tree = problem.plan.tree
        self.shapes = [tree.shape(k) for k in range(len(tree.cliques))]
        self.cells = np.cumsum([0] + [math.prod(s) for s in self.shapes])
        targets = problem.targets
        self.tcells = np.cumsum([0] + [t.values.size for t in targets])
        self.y = np.concatenate([t.values.ravel() for t in targets] or [np.zeros(0)])
        self.w = np.concatenate(
            [np.broadcast_to(t.weight, t.values.shape).ravel() for t in targets]
            or [np.zeros(0)]
        )
        self.reduction = ReductionPlan(
            tree, [(t.attributes, t.clique) for t in targets]
        )
        self.work = self.cliques(np.empty(self.cells[-1]))
        self.scratch = np.empty(self.cells[-1])
        self.scratch_views = self.cliques(self.scratch)

    def buffer(self) -> np.ndarray:
        """A new flat array with one cell per clique cell."""
        return np.empty(self.cells[-1])

    def cliques(self, flat: np.ndarray) -> list[np.ndarray]:
        c = self.cells
        return [flat[c[k] : c[k + 1]].reshape(s) for k, s in enumerate(self.shapes)]

    def targets(self, flat: np.ndarray) -> list[np.ndarray]:
        c = self.tcells
        return [
            flat[c[i] : c[i + 1]].reshape(t.values.shape)
            for i, t in enumerate(self.problem.targets)
        ]

    def evaluate(self, theta: np.ndarray, probs: np.ndarray) -> _Point:
        """Belief propagation at ``theta``, writing the probabilities to ``probs``."""
        cal = calibrate(
            self.problem.plan,
            self.cliques(theta),
            out=self.cliques(probs),
            work=self.work,
            scratch=self.scratch_views,
        )
        mu = np.empty_like(self.y)
        self.reduction.marginals(cal.probabilities, self.targets(mu))
        mu *= self.problem.total
        return _Point(theta, probs, cal.log_partition, mu, self.loss(mu))

    def loss(self, mu: np.ndarray) -> float:
        diff = mu - self.y
        return 0.5 * _dot(self.w * diff, diff) + self.problem.constant

    def descend(
        self, theta: np.ndarray, resid: np.ndarray, step: float, out: np.ndarray
    ) -> np.ndarray:
        """Writes ``theta - step * gradient`` (residuals ``resid``) to ``out``."""
        grad = resid * step
        self.reduction.spread(
            self.targets(grad), self.cliques(theta), self.cliques(out)
        )
        return out

    def mix(self, x: np.ndarray, z: np.ndarray, tau: float) -> None:
        """``x <- (1 - tau) x + tau z`` in place."""
        x *= 1.0 - tau
        x += np.multiply(z, tau, out=self.scratch)

    def potentials_of(self, probs: np.ndarray, out: np.ndarray) -> np.ndarray:
        """Log-potentials (into ``out``) of the tree model with marginals ``probs``."""
        plan = self.problem.plan
        tiny = np.finfo(np.float64).tiny
        np.log(np.maximum(probs, tiny, out=out), out=out)
        for k, (log_p, p) in enumerate(
            zip(self.cliques(out), self.cliques(probs), strict=True)
        ):
            if k:
                sep = p.sum(axis=plan.child_axes[k], keepdims=True)
                log_p -= np.log(np.maximum(sep, tiny))
        return out


def minimize(
    problem: Problem,
    theta: Sequence[np.ndarray],
    *,
    iters: int,
    tol: float,
    callback: Callable[[int, float], None] | None = None,
) -> Result:
    """Minimises the loss of ``problem`` from the potentials ``theta``.

    Args:
        problem: the tree, targets and total.
        theta: the starting log-potentials, one per clique (not modified).
        iters: the maximum number of iterations.
        tol: stop when the loss fell by less than ``tol`` times its value (and
            by less than a tenth of its fall since the start, or of ``tol``
            times its value) over the last :data:`WINDOW` iterations (0: never).
        callback: called as ``callback(iteration, loss)`` after each iteration.

    Returns:
        The final potentials and statistics.
    """
    eng = _Engine(problem)
    z = eng.evaluate(np.concatenate([np.ravel(t) for t in theta]), eng.buffer())
    if not problem.targets:
        return Result(tuple(eng.cliques(z.theta)), z.loss, 0, True)
    spare = (eng.buffer(), eng.buffer())
    x_probs, x_mu, x_loss = z.probs.copy(), z.mu, z.loss
    n = problem.total
    # always acceptable (Pinsker), with each target's largest cell weight
    lip = n * sum(float(np.max(t.weight)) for t in problem.targets)
    acc, it, converged, history, tested = 0.0, 0, False, [x_loss], False
    while it < iters:
        for _ in range(_MAX_BACKTRACKS):
            a = (1.0 + math.sqrt(1.0 + 4.0 * lip * acc)) / (2.0 * lip)
            tau = a / (acc + a)
            resid = eng.w * ((1.0 - tau) * x_mu + tau * z.mu - eng.y)
            new = eng.evaluate(eng.descend(z.theta, resid, a, spare[0]), spare[1])
            ratio = _ratio(eng, z, new, resid, a, lip)
            if ratio >= 1.0:
                break
            ratio = ratio if math.isfinite(ratio) else 0.0  # NaN: back off hard
            lip /= float(np.clip(0.9 * ratio, 0.1, 0.5))
            tested = True
        else:
            logger.debug("no acceptable step at iteration %d: converged", it)
            converged = True
            break
        it += 1
        # Until a step has been refused, ``lip`` is an upper bound: shrink fast.
        lip /= float(np.clip(0.9 * ratio, 1.0, 2.0 if tested else 100.0))
        mu = (1.0 - tau) * x_mu + tau * new.mu
        loss = eng.loss(mu)
        if loss <= x_loss:
            x_mu, x_loss, acc = mu, loss, acc + a
            eng.mix(x_probs, new.probs, tau)
        else:  # restart from x: the loss never increases
            acc = 0.0
            new = eng.evaluate(eng.potentials_of(x_probs, spare[0]), spare[1])
        spare, z = (z.theta, z.probs), new
        history.append(x_loss)
        if callback is not None:
            callback(it, x_loss)
        recent = history[-WINDOW - 1] - x_loss if it >= WINDOW else math.inf
        small = recent <= tol * x_loss
        if (
            small
            and tested
            and (  # not while the step size is still growing
                recent <= _RECENT * (history[0] - x_loss)
                or recent <= _RECENT * tol * x_loss
            )
        ):
            converged = True
            break
    logger.debug("accelerated descent: %d iterations, loss %.6g", it, x_loss)
    theta_x = eng.potentials_of(x_probs, spare[0])
    return Result(tuple(eng.cliques(theta_x)), x_loss, it, converged)


def _dot(a: np.ndarray, b: np.ndarray) -> float:
    """The inner product of two flat arrays.

    ``einsum`` rather than BLAS ``ddot``: on busy machines OpenBLAS threads can
    make a 100k-element dot product fifty times slower.
    """
    return float(np.einsum("i,i->", a, b))


def _ratio(
    eng: _Engine, z: _Point, new: _Point, resid: np.ndarray, step: float, lip: float
) -> float:
    """``lip * total * KL(new || z) / Q(new - z)``: the step is fine when >= 1."""
    n = eng.problem.total
    kl = -step * _dot(new.mu, resid) / n - (new.log_z - z.log_z)
    if kl < _KL_PRECISION * max(1.0, abs(new.log_z)):
        kl = _tree_kl(eng, new.probs, z.probs)
    diff = new.mu - z.mu
    quad = 0.5 * _dot(eng.w * diff, diff)
    if quad <= 0.0:
        return math.inf if kl > 0.0 else 0.0
    return lip * n * kl / quad


def _tree_kl(eng: _Engine, new: np.ndarray, old: np.ndarray) -> float:
    """``KL(new || old)`` of two tree models from their clique marginals.

    Both models factorise on one tree, so the KL divergence is the sum over
    cliques minus the sum over separators of ``E_new[phi(log new - log old)]``
    with ``phi(d) = d + exp(-d) - 1 >= 0`` (the added terms have mean zero);
    ``phi`` via ``expm1`` keeps full relative precision for tiny steps, where
    the log-partition formula loses it to cancellation.
    """
    plan = eng.problem.plan
    total = 0.0
    for k, (p_new, p_old) in enumerate(
        zip(eng.cliques(new), eng.cliques(old), strict=True)
    ):
        total += _expected_phi(p_new, p_old)
        axes = plan.child_axes[k]
        if k and len(axes) < p_new.ndim:
            total -= _expected_phi(p_new.sum(axis=axes), p_old.sum(axis=axes))
    return total


def _expected_phi(p_new: np.ndarray, p_old: np.ndarray) -> float:
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        d = np.log(p_new) - np.log(p_old)
        terms = p_new * (d + np.expm1(-d))
    return float(np.sum(terms[p_new > 0]))
