"""DP-SGD generators (optional extra ``dpsynth[neural]``: torch and Opacus).

Importing this package needs neither torch nor Opacus; fitting does, and says how
to install them when they are missing. Fitted models sample with numpy alone.
"""

from dpsynth.synthesizers.neural._torch import MissingExtraError
from dpsynth.synthesizers.neural.ctgan import DPCTGANSynthesizer
from dpsynth.synthesizers.neural.encoding import Block, TabularRepresentation
from dpsynth.synthesizers.neural.tvae import DPTVAESynthesizer

__all__ = [
    "Block",
    "DPCTGANSynthesizer",
    "DPTVAESynthesizer",
    "MissingExtraError",
    "TabularRepresentation",
]
