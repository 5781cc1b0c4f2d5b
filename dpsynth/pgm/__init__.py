"""Graphical-model estimation and sampling (Private-PGM style), post-processing only.

:func:`estimate` turns noisy marginal :class:`Measurement` objects into a
:class:`GraphicalModel` (a junction tree of clique potentials) by maximum
likelihood; the model answers any marginal query with :meth:`GraphicalModel.project`
and generates synthetic rows with :meth:`GraphicalModel.sample`. The engine never
sees data, only noisy counts, so nothing here spends privacy budget.
:func:`model_size` tells, before anything is allocated, how large the model of a
set of cliques would be (see :class:`~dpsynth.errors.ModelTooLargeError`).

References:
    McKenna, R., Sheldon, D. and Miklau, G. (2019). Graphical-model based
    estimation and inference for differential privacy. ICML.
"""

from dpsynth.pgm.estimation import Measurement, estimate
from dpsynth.pgm.factor import Factor
from dpsynth.pgm.junction_tree import JunctionTree, build_junction_tree, model_size
from dpsynth.pgm.model import GraphicalModel

__all__ = [
    "Factor",
    "GraphicalModel",
    "JunctionTree",
    "Measurement",
    "build_junction_tree",
    "estimate",
    "model_size",
]
