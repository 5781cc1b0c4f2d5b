"""Privacy audits of synthetic tables: attacks, their statistics and the report.

Entry points:

* :func:`audit_tables` — training, holdout and synthetic DataFrames in, the
  report dict out (``report.json``); :func:`write_audit` writes it with its
  HTML rendering. ``dpsynth audit`` on the command line does both.
* :func:`run_audit` on :class:`AuditData` — the battery itself, returning an
  :class:`AuditReport` of :class:`AttackResult` objects.

Modules: :mod:`~dpsynth.audit.membership` (distance and density-ratio
membership inference, targets, copying diagnostics),
:mod:`~dpsynth.audit.attribute`, :mod:`~dpsynth.audit.singling_out`,
:mod:`~dpsynth.audit.linkability`, :mod:`~dpsynth.audit.utility`,
:mod:`~dpsynth.audit.stats` (intervals, tests, empirical epsilon),
:mod:`~dpsynth.audit.distance`, :mod:`~dpsynth.audit.html`.
"""

from dpsynth.audit.battery import AuditConfig, AuditReport, Claim, run_audit
from dpsynth.audit.data import AuditData
from dpsynth.audit.distance import nearest_distances
from dpsynth.audit.report import audit_tables, write_audit
from dpsynth.audit.result import AttackResult, Rate, ThreatModel
from dpsynth.audit.stats import (
    EpsilonLowerBound,
    Roc,
    clopper_pearson,
    epsilon_from_split,
    epsilon_lower_bound,
    excess_p_value,
    holm,
    newcombe,
    roc,
    wilson,
)

__all__ = [
    "AttackResult",
    "AuditConfig",
    "AuditData",
    "AuditReport",
    "Claim",
    "EpsilonLowerBound",
    "Rate",
    "Roc",
    "ThreatModel",
    "audit_tables",
    "clopper_pearson",
    "epsilon_from_split",
    "epsilon_lower_bound",
    "excess_p_value",
    "holm",
    "nearest_distances",
    "newcombe",
    "roc",
    "run_audit",
    "wilson",
    "write_audit",
]
