"""Differentially private synthesizers sharing one :class:`Synthesizer` base."""

from dpsynth.synthesizers.base import Synthesizer
from dpsynth.synthesizers.independent import IndependentSynthesizer
from dpsynth.synthesizers.registry import (
    SYNTHESIZERS,
    make_synthesizer,
    synthesizer_class,
)

__all__ = [
    "SYNTHESIZERS",
    "IndependentSynthesizer",
    "Synthesizer",
    "make_synthesizer",
    "synthesizer_class",
]
