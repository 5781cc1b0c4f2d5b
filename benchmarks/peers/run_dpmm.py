"""Benchmark driver: dpmm 0.1.9 MST, AIM and PrivBayes pipelines.

Fairness: the pipeline's preprocessing (a PrivTree binner that spends a hidden
``proc_epsilon=0.1`` and reads bounds off the data) is disabled; the model gets
the public domain ``{column: size}`` of the integer-coded table directly, and
the whole (epsilon, delta) goes to the model. ``n_jobs=1`` (dpmm defaults to
all cores). Other model parameters are dpmm's defaults (AIM: 2-way workload,
``max_cells=10000``; PrivBayes: degree 2). The row count is the model's noisy
total estimate when dpmm exposes one, else ``len(data)`` (noted).
"""

from __future__ import annotations

import _common
import numpy as np
import pandas as pd

METHODS = ("mst", "aim", "privbayes")


def synthesize(job: _common.Job) -> pd.DataFrame:
    from dpmm.pipelines import AIMPipeline, MSTPipeline, PrivBayesPipeline

    cls = {"mst": MSTPipeline, "aim": AIMPipeline, "privbayes": PrivBayesPipeline}
    pipe = cls[job.method](
        epsilon=float(job.epsilon),
        delta=job.delta,
        n_jobs=1,
        disable_processing=True,
    )
    columns = list(job.frame.columns)
    pipe.fit(job.frame.astype("int64"), domain=dict(job.domain), random_state=job.seed)
    job.mark("fit_done")
    model = getattr(getattr(pipe.gen, "generator", None), "model", None)
    total = getattr(model, "total", None)
    if total is not None and np.isfinite(float(total)) and float(total) >= 1:
        rows = int(round(float(total)))
        job.note("row count = model's noisy total")
    else:
        rows = len(job.frame)
        job.note("row count = len(data) (dpmm exposes no noisy total)")
    out = pipe.generate(n_records=rows, random_state=job.seed)
    job.note("dpmm 0.1.9, preprocessing disabled, public domain, n_jobs=1")
    return pd.DataFrame(out)[columns].astype("int64")


if __name__ == "__main__":
    _common.main(synthesize, METHODS, __doc__.splitlines()[0])
