"""Tables, public schemas and integer codes.

* :class:`Schema` and its column specs: public metadata, JSON load/save/validate;
  schemas from data with :func:`discover` (differentially private) or :func:`infer`
  (not private, warned).
* :class:`Encoder`: table <-> :class:`Dataset` of integer codes over a :class:`Domain`.
* :func:`read_table` / :func:`write_table`: CSV and Parquet, atomic writes.
"""

from dpsynth.data.dataset import Dataset
from dpsynth.data.discovery import discover, infer
from dpsynth.data.domain import Domain
from dpsynth.data.encoding import Encoder
from dpsynth.data.io import read_table, write_table
from dpsynth.data.schema import (
    CategoricalColumn,
    Column,
    DatetimeColumn,
    IntegerColumn,
    NumericColumn,
    Schema,
)

__all__ = [
    "CategoricalColumn",
    "Column",
    "Dataset",
    "DatetimeColumn",
    "Domain",
    "Encoder",
    "IntegerColumn",
    "NumericColumn",
    "Schema",
    "discover",
    "infer",
    "read_table",
    "write_table",
]
