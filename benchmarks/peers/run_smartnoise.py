"""Benchmark driver: smartnoise-synth 1.0.8 MST and AIM (default settings).

Fairness: smartnoise reads categories off the data unless it is handed a fitted
transformer, so the driver fits a ``TableTransformer`` of ``LabelTransformer``
(no null category) on a *public* frame that lists every code ``0..size-1`` of
each column: the cardinalities are the public domain, nothing is read off the
data. The samplers keep their defaults: the released row count is ``len(data)``
(not noised; smartnoise's default), MST estimates with the true total as
``known_total``, and AIM uses its default 2-way workload (``degree=2``,
``max_cells=10000``). Rows are shuffled before writing (smartnoise MST emits
rows grouped by parent values; marginal metrics do not see row order anyway).
"""

from __future__ import annotations

import os

import _common
import numpy as np
import pandas as pd

os.environ.setdefault("JAX_PLATFORMS", "cpu")

METHODS = ("mst", "aim")


def public_transformer(columns: list[str], domain: dict[str, int]):
    """A TableTransformer whose categories are ``0..size-1`` of each column."""
    from snsynth.transform import LabelTransformer, TableTransformer

    width = max(domain[c] for c in columns)
    public = pd.DataFrame(
        {c: np.arange(width) % domain[c] for c in columns}, columns=columns
    )
    tt = TableTransformer([LabelTransformer(nullable=False) for _ in columns])
    tt.fit(public)
    cards = [int(c) for c in tt.cardinality]
    assert cards == [domain[c] for c in columns], cards
    return tt


def synthesize(job: _common.Job) -> pd.DataFrame:
    from snsynth.aim import AIMSynthesizer
    from snsynth.mst import MSTSynthesizer

    columns = list(job.frame.columns)
    cls = {"mst": MSTSynthesizer, "aim": AIMSynthesizer}[job.method]
    synth = cls(epsilon=float(job.epsilon), delta=job.delta)
    synth.fit(
        job.frame.astype("int64"),
        transformer=public_transformer(columns, job.domain),
        preprocessor_eps=0.0,
    )
    job.mark("fit_done")
    out = synth.sample()
    frame = pd.DataFrame(out, columns=columns).astype("int64")
    frame = frame.sample(frac=1.0, random_state=job.seed).reset_index(drop=True)
    job.note("smartnoise-synth 1.0.8 defaults; public categories via transformer")
    job.note("row count = len(data) (not noised)")
    return frame


if __name__ == "__main__":
    _common.main(synthesize, METHODS, __doc__.splitlines()[0])
