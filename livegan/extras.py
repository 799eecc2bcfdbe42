"""Optional extras: a module imported only when its option is used, or one line saying how to get it."""

from __future__ import annotations

import importlib
from types import ModuleType

from .errors import LiveganError


def require(module: str, option: str, install: str) -> ModuleType:
    """``import module``, or a LiveganError: "OPTION needs the optional extra: pip install ..."."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise LiveganError(f"{option} needs the optional extra: {install}") from None
