"""Lazy imports of the optional ``neural`` extra (torch, Opacus) and torch helpers.

Nothing here is imported at module load of :mod:`dpsynth.synthesizers.neural`:
a missing extra is reported when a fit needs it, with the command that installs
it. Fitted neural models sample with numpy alone.
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any

import numpy as np

from dpsynth.errors import DPSynthError

__all__ = ["MissingExtraError", "require_neural", "torch_generator"]

INSTALL_HINT = "pip install 'dpsynth[neural]'"


class MissingExtraError(DPSynthError, ImportError):
    """An optional dependency (torch, Opacus) of the ``neural`` extra is missing."""


def require_neural() -> tuple[ModuleType, ModuleType]:
    """Imports and returns ``(torch, opacus)``.

    Raises:
        MissingExtraError: if either is missing, with the install command.
    """
    modules = []
    for name in ("torch", "opacus"):
        try:
            modules.append(importlib.import_module(name))
        except ImportError as exc:
            raise MissingExtraError(
                f"The neural synthesizers need `{name}`, which is not installed. "
                f"Hint: {INSTALL_HINT} (torch and Opacus; a CPU build of torch "
                "is enough)."
            ) from exc
    return modules[0], modules[1]


def torch_generator(rng: np.random.Generator) -> Any:
    """A CPU ``torch.Generator`` seeded from the numpy ``rng`` (advances it)."""
    torch, _ = require_neural()
    gen = torch.Generator(device="cpu")
    gen.manual_seed(int(rng.integers(0, 2**63 - 1)))
    return gen
