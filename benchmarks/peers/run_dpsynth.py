"""Benchmark driver for dpsynth's own synthesizers (run with the project venv).

Calls the public API only: ``make_synthesizer(name)``, ``fit(frame, epsilon=,
delta=, schema=Domain, rng=)`` and ``sample(rng=)`` with the default row count
(dpsynth's noisy total). A method that dpsynth does not have yet (ImportError,
or a ValidationError "unknown synthesizer") exits with status 3 so the harness
prints "not implemented yet" and keeps going.
"""

from __future__ import annotations

import _common
import pandas as pd

METHODS = ("independent", "mst", "aim", "privbayes", "dptvae", "dpctgan")


def synthesize(job: _common.Job) -> pd.DataFrame:
    try:
        from dpsynth.data import Domain
        from dpsynth.synthesizers import make_synthesizer
    except ImportError as exc:
        raise _common.Unavailable(str(exc)) from exc
    try:
        from dpsynth.errors import ValidationError
    except ImportError:  # pragma: no cover - errors module predates this driver
        ValidationError = ValueError  # noqa: N806
    try:
        syn = make_synthesizer(job.method)
    except (ValidationError, KeyError, ValueError) as exc:
        if "unknown" in str(exc).lower() or isinstance(exc, KeyError):
            raise _common.Unavailable(str(exc)) from exc
        raise
    schema = Domain.load(job.domain_path)
    frame = job.frame.astype("int64")
    syn.fit(frame, epsilon=job.epsilon, delta=job.delta, schema=schema, rng=job.seed)
    job.mark("fit_done")
    out = syn.sample(rng=job.seed)
    job.note("dpsynth public API, default parameters, public domain")
    return pd.DataFrame(out)


if __name__ == "__main__":
    _common.main(synthesize, METHODS, __doc__.splitlines()[0])
