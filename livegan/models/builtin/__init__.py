"""The embedded generator (family ``builtin``): seeded weights, several worlds.

The world names are plain constants here, so the parameter registry can list them
without importing torch; the generator itself loads on first use.
"""

from __future__ import annotations

from typing import Any

# Checked against catalogue.WORLDS when that loads (tests/test_builtin.py).
WORLD_NAMES = ("ink", "nebula", "crystal", "cells", "opart", "grain", "marble")
DEFAULT_WORLD = "nebula"

__all__ = ["BuiltinGenerator", "DEFAULT_WORLD", "WORLDS", "WORLD_NAMES", "world_class"]


def __getattr__(name: str) -> Any:
    if name == "BuiltinGenerator":
        from .generator import BuiltinGenerator

        return BuiltinGenerator
    if name in ("WORLDS", "world_class"):
        from . import catalogue

        return getattr(catalogue, name)
    raise AttributeError(name)
