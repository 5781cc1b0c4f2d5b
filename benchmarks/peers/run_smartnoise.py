"""Benchmark driver: smartnoise-synth 1.0.8 MST, AIM, DPCTGAN and PATECTGAN.

Fairness: smartnoise reads categories off the data unless it is handed a fitted
transformer, so the driver fits a ``TableTransformer`` on a *public* frame that
lists every code ``0..size-1`` of each column (``preprocessor_eps=0``): the
cardinalities are the public domain, nothing is read off the data. MST and AIM
get ``LabelTransformer`` (no null category) per column; the two GANs get what
smartnoise's own ``style='gan'`` inference would build, ``LabelTransformer``
chained into ``OneHotEncoder``, fitted on the same public frame. The released
row count is ``len(data)`` (not noised; smartnoise's default) for every method.

MST estimates with the true total as ``known_total``, and AIM uses its default
2-way workload (``degree=2``, ``max_cells=10000``). Rows are shuffled before
writing (smartnoise MST emits rows grouped by parent values; marginal metrics do
not see row order anyway).

DPCTGAN (DP-SGD on the discriminator, opacus 0.14 RDP accountant) and
PATECTGAN (PATE teachers, smartnoise's moments accountant) get ``epsilon``,
``delta`` and ``cuda=False`` and keep smartnoise's defaults (``sigma=5``,
``batch_size=500``, ``noise_multiplier=1e-3``, ...) except DPCTGAN's
``epochs``: it trains until its accountant says the budget is spent or
``GAN_EPOCHS`` epochs have run, whichever comes first. On Adult at
``delta=1e-9`` that is 24 epochs at epsilon 1, the cap from about 1.02 up, and
no epoch at all below about 0.25, where opacus' bound for zero steps already
exceeds epsilon (the generator stays untrained). PATECTGAN has no epoch loop;
it trains until its budget is spent (3 generator steps on Adult at epsilon 1).
The driver sets glibc's ``mallopt`` for speed only (``keep_freed_memory``).

Caveats, recorded in the notes:

* both GANs draw their conditional vectors, in training and in sampling, from
  the *exact* per-column category frequencies of the data (smartnoise 1.0.8's
  ``DataSampler`` adds no noise; PATECTGAN's sampler even copies categories of
  random real rows): the one-way marginals are not protected by the accountant,
  which favours the GANs on one-way metrics;
* DPCTGAN checks its budget *before* each epoch, so the last epoch can push the
  spent epsilon slightly past the target; the driver records the spent epsilon
  (from opacus' accountant and the steps taken);
* smartnoise's PATECTGAN builds all its teachers and the student from one
  discriminator object, so its PATE privacy argument does not hold as
  implemented; its accountant refuses budgets below about
  ``log(1/delta) / moments_order`` (0.21 at ``delta=1e-9``), reported as
  unavailable (exit 3);
* smartnoise reseeds torch to 0 when it builds a discriminator and opacus draws
  its DP noise from an ``os.urandom`` seed, so the GAN runs are seeded
  (numpy, random, torch) but DPCTGAN is not bit-reproducible.
"""

from __future__ import annotations

import contextlib
import ctypes
import io
import os
import random
import re

import _common
import numpy as np
import pandas as pd

os.environ.setdefault("JAX_PLATFORMS", "cpu")

METHODS = ("mst", "aim", "dpctgan", "patectgan")

# DPCTGAN epoch cap (smartnoise's default is 300). One epoch on the 32,561-row,
# 15-column Adult codes takes about 17 s of one core (47 s without the mallopt
# below): 24 epochs fitted in 400 s CPU, so 25 keep fit + sample near 7 minutes
# of a dedicated core. At delta = 1e-9 the accountant stops training by itself
# below epsilon of about 1.02 (24 epochs at epsilon = 1); above, the cap binds.
GAN_EPOCHS = 25


def public_frame(columns: list[str], domain: dict[str, int]) -> pd.DataFrame:
    """Every code ``0..size-1`` of each column (shorter columns wrap around)."""
    width = max(domain[c] for c in columns)
    return pd.DataFrame(
        {c: np.arange(width) % domain[c] for c in columns}, columns=columns
    )


def public_transformer(columns: list[str], domain: dict[str, int]):
    """A TableTransformer whose categories are ``0..size-1`` of each column."""
    from snsynth.transform import LabelTransformer, TableTransformer

    tt = TableTransformer([LabelTransformer(nullable=False) for _ in columns])
    tt.fit(public_frame(columns, domain))
    cards = [int(c) for c in tt.cardinality]
    assert cards == [domain[c] for c in columns], cards
    return tt


def public_onehot_transformer(columns: list[str], domain: dict[str, int]):
    """Label + one-hot per column (smartnoise's 'gan' style) on public codes."""
    from snsynth.transform import (
        ChainTransformer,
        LabelTransformer,
        OneHotEncoder,
        TableTransformer,
    )

    tt = TableTransformer(
        [
            ChainTransformer([LabelTransformer(nullable=False), OneHotEncoder()])
            for _ in columns
        ]
    )
    tt.fit(public_frame(columns, domain))
    widths = [t.output_width for t in tt.transformers]
    assert widths == [domain[c] for c in columns], widths
    return tt


def dpctgan_spent(synth, rows: int, epochs: int) -> float:
    """Epsilon spent by ``epochs`` DPCTGAN epochs, by opacus' RDP accountant.

    Mirrors the accountant smartnoise attaches: sample rate batch/rows, its
    alphas, and two optimizer steps (fake, real) per discriminator update.
    """
    from opacus import privacy_analysis

    alphas = [1 + x / 10.0 for x in range(1, 100)] + list(range(12, 64))
    steps = 2 * max(rows // synth._batch_size, 1) * epochs
    rate = min(1.0, synth._batch_size / rows)
    rdp = privacy_analysis.compute_rdp(rate, synth.sigma, steps, alphas)
    eps, _ = privacy_analysis.get_privacy_spent(alphas, rdp, synth.delta)
    return float(eps)


def keep_freed_memory() -> bool:
    """Tells glibc malloc to reuse freed memory instead of unmapping it.

    opacus allocates per-sample gradients of hundreds of MB per step; by
    default glibc serves each from a fresh ``mmap`` and unmaps it on free, so
    two thirds of a DPCTGAN epoch went to page faults (kernel time). Switching
    ``mmap`` off and never trimming the heap cuts the epoch time from 47 s to
    17 s of CPU (peak RSS about 2 GB instead of 0.9 GB on Adult). Changes
    only where the process gets memory, not what smartnoise computes.
    """
    try:
        libc = ctypes.CDLL("libc.so.6")
        m_trim_threshold, m_mmap_max = -1, -4  # glibc <malloc.h>
        ok_mmap = libc.mallopt(m_mmap_max, 0)
        ok_trim = libc.mallopt(m_trim_threshold, 2**31 - 1)
        return bool(ok_mmap and ok_trim)
    except (OSError, AttributeError):
        return False


def fit_gan(job: _common.Job, columns: list[str]):
    """Fits smartnoise's DPCTGAN or PATECTGAN; notes what it ran."""
    import torch
    from snsynth.pytorch.nn import DPCTGAN, PATECTGAN

    if keep_freed_memory():
        job.note("glibc mallopt: no mmap, no heap trim (speed only)")
    torch.set_num_threads(1)
    torch.manual_seed(job.seed)
    random.seed(job.seed)
    np.random.seed(job.seed % 2**32)  # noqa: NPY002
    transformer = public_onehot_transformer(columns, job.domain)
    eps, delta = float(job.epsilon), float(job.delta)
    if job.method == "dpctgan":
        synth = DPCTGAN(epsilon=eps, delta=delta, epochs=GAN_EPOCHS, cuda=False)
    else:
        synth = PATECTGAN(epsilon=eps, delta=delta, cuda=False)
    log = io.StringIO()  # smartnoise's verbose progress (one line per step)
    try:
        with contextlib.redirect_stdout(log):
            synth.fit(
                job.frame.astype("int64"),
                transformer=transformer,
                preprocessor_eps=0.0,
            )
    except ValueError as exc:
        if "too small to" in str(exc):
            raise _common.Unavailable(f"smartnoise refuses: {exc}") from exc
        raise
    if job.method == "dpctgan":
        ran = len(synth.loss_d_list)
        spent = dpctgan_spent(synth, len(job.frame), ran) if ran else 0.0
        stop = "budget" if ran < GAN_EPOCHS else "epoch cap"
        job.note(
            f"dpctgan: epochs={GAN_EPOCHS} (cap; default 300), {ran} ran, "
            f"stopped by {stop}; epsilon spent {spent:.4f} (opacus RDP)"
        )
        if ran == 0:
            job.note(
                "dpctgan: opacus' bound for zero steps already exceeds epsilon: "
                "no training step, untrained generator"
            )
    else:
        checked = re.findall(r"^eps: ([0-9.]+)", log.getvalue(), flags=re.M)
        last = f"{float(checked[-1]):.4f}" if checked else "none"
        job.note(
            f"patectgan: {synth.num_teachers} teachers (one shared discriminator "
            f"object in smartnoise), {len(checked)} generator steps until its "
            f"moments accountant was spent (epsilon before the last step {last})"
        )
    but = " (but epochs)" if job.method == "dpctgan" else ""
    job.note(
        f"{job.method}: epsilon, delta passed, cuda=False; other parameters "
        f"smartnoise-synth 1.0.8 defaults{but}"
    )
    job.note(
        "conditional vectors from exact per-column category frequencies "
        "(smartnoise DataSampler, not noised): one-way marginals not private"
    )
    job.note(
        "seeded numpy/random/torch, but smartnoise reseeds torch to 0 when it "
        "builds the discriminator (and opacus seeds its noise from os.urandom)"
    )
    return synth


def synthesize(job: _common.Job) -> pd.DataFrame:
    columns = list(job.frame.columns)
    if job.method in ("dpctgan", "patectgan"):
        synth = fit_gan(job, columns)
        job.mark("fit_done")
        out = synth.sample(len(job.frame))
        job.note("public categories via label+one-hot transformer")
    else:
        from snsynth.aim import AIMSynthesizer
        from snsynth.mst import MSTSynthesizer

        cls = {"mst": MSTSynthesizer, "aim": AIMSynthesizer}[job.method]
        synth = cls(epsilon=float(job.epsilon), delta=job.delta)
        synth.fit(
            job.frame.astype("int64"),
            transformer=public_transformer(columns, job.domain),
            preprocessor_eps=0.0,
        )
        job.mark("fit_done")
        out = synth.sample()
        job.note("smartnoise-synth 1.0.8 defaults; public categories via transformer")
    frame = pd.DataFrame(out, columns=columns).astype("int64")
    frame = frame.sample(frac=1.0, random_state=job.seed).reset_index(drop=True)
    job.note("row count = len(data) (not noised)")
    return frame


if __name__ == "__main__":
    _common.main(synthesize, METHODS, __doc__.splitlines()[0])
