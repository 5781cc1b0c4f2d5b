"""Synthesizers by name: ``make_synthesizer("mst")``."""

from __future__ import annotations

from importlib import import_module
from typing import Any

from dpsynth.errors import ValidationError

__all__ = ["SYNTHESIZERS", "make_synthesizer", "synthesizer_class"]

#: Registry name -> "module:Class" (imported on first use).
SYNTHESIZERS: dict[str, str] = {
    "independent": "dpsynth.synthesizers.independent:IndependentSynthesizer",
    "mst": "dpsynth.synthesizers.mst:MSTSynthesizer",
    "aim": "dpsynth.synthesizers.aim:AIMSynthesizer",
    "privbayes": "dpsynth.synthesizers.privbayes:PrivBayesSynthesizer",
    "dptvae": "dpsynth.synthesizers.neural.tvae:DPTVAESynthesizer",
    "dpctgan": "dpsynth.synthesizers.neural.ctgan:DPCTGANSynthesizer",
}


def synthesizer_class(name: Any) -> type[Any]:
    """The Synthesizer class registered as ``name``.

    Raises:
        ValidationError: for an unknown name.
    """
    if not isinstance(name, str) or name not in SYNTHESIZERS:
        raise ValidationError(
            f"`method` ({name!r}) must be one of {sorted(SYNTHESIZERS)}: unknown "
            "synthesizer."
        )
    module, cls = SYNTHESIZERS[name].split(":")
    return getattr(import_module(module), cls)


def make_synthesizer(name: str, **params: Any) -> Any:
    """A new, unfitted synthesizer ``name`` with hyperparameters ``params``.

    Example:
        >>> make_synthesizer("independent").name
        'independent'
    """
    return synthesizer_class(name)(**params)
