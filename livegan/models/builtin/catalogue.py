"""The builtin generator's worlds, by name."""

from __future__ import annotations

from livegan.errors import LiveganError

from . import DEFAULT_WORLD, WORLD_NAMES
from .cells import Cells
from .crystal import Crystal
from .grain import Grain
from .ink import Ink
from .marble import Marble
from .nebula import Nebula
from .opart import OpArt
from .world import World

WORLDS: dict[str, type[World]] = {cls.name: cls for cls in (Ink, Nebula, Crystal, Cells, OpArt, Grain, Marble)}
if tuple(WORLDS) != WORLD_NAMES or DEFAULT_WORLD not in WORLDS:
    raise ImportError("builtin worlds: WORLD_NAMES in __init__.py must list catalogue.WORLDS in order")


def world_class(name: str) -> type[World]:
    try:
        return WORLDS[name]
    except KeyError:
        raise LiveganError(f"builtin model: unknown world {name!r} (worlds: {', '.join(WORLDS)})") from None
