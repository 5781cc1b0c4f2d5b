"""Installed package versions, for manifests and reports (no import of the package)."""

from __future__ import annotations

from importlib import metadata

__all__ = ["installed_version"]


def installed_version(dist: str) -> str | None:
    """The installed version of distribution ``dist``, or None if it is absent.

    Example:
        >>> installed_version("no-such-distribution-here") is None
        True
    """
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None
