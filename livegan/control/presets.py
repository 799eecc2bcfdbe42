"""Preset actions for controllers: load by name or index, save, morph.

Loading and parsing live in ``livegan.conductor.preset``; this module adds what a
controller needs on top: index lookup, saving the current values as TOML, and the
default ``ControlActions`` used when no live app supplies its own.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import tomli_w

from ..conductor import preset as presets
from ..errors import LiveganError
from ..params.registry import ParamRegistry
from .morph import SHOW_KEEP, MorphRunner, preset_targets
from .triggers import ControlActions, PresetRef

_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


def resolve_preset(ref: PresetRef) -> str:
    """A preset name (checked to exist) from a name or an index into ``list_presets()``."""
    names = presets.list_presets()
    if isinstance(ref, int):
        if not 0 <= ref < len(names):
            raise LiveganError(f"preset index {ref} is out of range (0..{len(names) - 1}, {len(names)} presets)")
        return names[ref]
    presets.find_preset(ref)  # raises PresetError naming the known presets
    return ref


def preset_values(registry: ParamRegistry, keep: Iterable[str] = SHOW_KEEP) -> dict[str, Any]:
    """Every stored value except show controls, for saving."""
    skip = set(keep) | set(presets.LOOK_PARAMS)
    snap = registry.peek().values
    return {s.name: snap[s.name] for s in registry.specs()
            if s.type != "trigger" and not s.readonly and s.name not in skip}


def save_preset(registry: ParamRegistry, name: str, directory: Path | None = None, description: str = "",
                effects: Sequence[Mapping[str, Any]] = (), mappings: Sequence[Mapping[str, Any]] = ()) -> Path:
    """Write the current values as ``<directory>/<name>.toml`` (atomically: readers never see half a file).

    ``effects`` (the effect order) and ``mappings`` (the audio mappings) complete the look; the
    live app passes its own, so a saved preset loads back as it was on screen.
    """
    if not _NAME_RE.match(name):
        raise LiveganError(f"preset name {name!r} must be 1-64 letters, digits, '_', '-' or '.'")
    directory = Path(directory) if directory is not None else presets.PRESET_DIR
    directory.mkdir(parents=True, exist_ok=True)
    doc: dict[str, Any] = {"name": name, "description": description, "params": preset_values(registry)}
    if effects:
        doc["effects"] = [dict(e) for e in effects]
    if mappings:
        doc["mappings"] = [dict(m) for m in mappings]
    path = directory / f"{name}.toml"
    tmp = path.with_suffix(".toml.tmp")
    tmp.write_text(tomli_w.dumps(doc), encoding="utf-8")
    tmp.replace(path)
    return path


def default_actions(registry: ParamRegistry, save_dir: Path | None = None,
                    morph: MorphRunner | None = None) -> ControlActions:
    """Actions with no live app: presets go straight into the registry; models cannot load."""
    runner = morph or MorphRunner(registry)

    def load(ref: PresetRef) -> None:
        presets.apply_preset(registry, presets.load_preset(resolve_preset(ref), registry))

    def save(name: str) -> None:
        save_preset(registry, name, save_dir)

    def morph_to(ref: PresetRef, amount: float, unit: str) -> None:
        target = preset_targets(registry, presets.load_preset(resolve_preset(ref), registry))
        runner.start_thread(target, runner.seconds(amount, unit))

    return ControlActions(load_preset=load, save_preset=save, morph_preset=morph_to)
