"""Presets: TOML files in ``presets/`` that set registry values and order the effect chain.

A preset looks like::

    name = "Pulse"
    description = "kicks punch the picture"

    [params]                    # any registry parameter; nested tables join with '/'
    "latent/speed" = 0.2
    truncation.psi = 0.7

    [[effects]]                 # shader effects in order (shaders/<name>.glsl)
    name = "colour"
    enabled = true
    hue = 0.1                   # a uniform value, i.e. fx/colour/hue

Every problem is reported as one line naming the file and, when known, the line.
"""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from ..errors import LiveganError
from ..params.registry import ParamError, ParamRegistry

PRESET_DIR = Path(__file__).resolve().parents[2] / "presets"
DEFAULT_PRESET = "drift"


class PresetError(LiveganError):
    """A preset file that cannot be used."""


@dataclass(frozen=True)
class Preset:
    name: str
    path: Path | None = None
    description: str = ""
    params: dict[str, Any] = field(default_factory=dict)
    effects: tuple[dict[str, Any], ...] = ()
    mappings: tuple[dict[str, Any], ...] = ()  # declarative audio mappings (musical-mapping work)


def preset_dirs() -> list[Path]:
    """Where presets are looked up: $LIVEGAN_PRESETS, ./presets, then the bundled folder."""
    dirs = []
    if os.environ.get("LIVEGAN_PRESETS"):
        dirs.extend(Path(p) for p in os.environ["LIVEGAN_PRESETS"].split(os.pathsep) if p)
    dirs.append(Path.cwd() / "presets")
    dirs.append(PRESET_DIR)
    seen: list[Path] = []
    for d in dirs:
        if d.resolve() not in [s.resolve() for s in seen]:
            seen.append(d)
    return seen


def list_presets() -> list[str]:
    names: list[str] = []
    for d in preset_dirs():
        if d.is_dir():
            for p in sorted(d.glob("*.toml")):
                if p.stem not in names:
                    names.append(p.stem)
    return names


def find_preset(name_or_path: str) -> Path:
    p = Path(name_or_path)
    if p.suffix == ".toml" or os.sep in name_or_path:
        if not p.is_file():
            raise PresetError(f"preset file {name_or_path} not found")
        return p
    for d in preset_dirs():
        cand = d / f"{name_or_path}.toml"
        if cand.is_file():
            return cand
    known = ", ".join(list_presets()) or "none"
    raise PresetError(f"unknown preset {name_or_path!r} (known: {known})")


def _line_of(text: str, key: str) -> int | None:
    """The line where ``key`` (a full slash name, or its last part in a nested table) is set."""
    leaf = key.rsplit("/", 1)[-1]
    patterns = (rf'"{re.escape(key)}"\s*=', rf'(^|[\s."/]){re.escape(leaf)}"?\s*=')
    lines = text.splitlines()
    for pattern in patterns:
        for i, line in enumerate(lines, 1):
            if re.search(pattern, line):
                return i
    return None


def _table_lines(text: str, name: str) -> list[int]:
    """Lines that open table ``name`` (``[name]``, ``[[name]]``, ``[name.sub]``) or assign it."""
    header = re.compile(rf'^\s*\[\[?\s*"?{re.escape(name)}"?\s*[\].]')
    assign = re.compile(rf'^\s*"?{re.escape(name)}"?\s*=')
    return [i for i, line in enumerate(text.splitlines(), 1) if header.match(line) or assign.match(line)]


def _at(where: str, line: int | None) -> str:
    return f"{where}:{line}" if line else where


def _top_line(text: str, key: str, index: int = 0) -> int | None:
    """The line of top-level ``key`` (its ``index``-th table of an array of tables)."""
    lines = _table_lines(text, key)
    return lines[min(index, len(lines) - 1)] if lines else None


def _flatten(table: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in table.items():
        name = f"{prefix}/{k}" if prefix else str(k)
        if isinstance(v, dict):
            out.update(_flatten(v, name))
        else:
            out[name] = v
    return out


def parse_preset(text: str, path: Path | str = "<preset>", registry: ParamRegistry | None = None) -> Preset:
    """Parse and check a preset's text. ``registry`` (when given) validates every value."""
    where = str(path)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        m = re.search(r"line (\d+)", str(exc))
        line = f":{m.group(1)}" if m else ""
        raise PresetError(f"{where}{line}: invalid TOML: {str(exc).split(' (at')[0]}") from None
    known_top = {"name", "description", "params", "effects", "mappings", "seed", "model"}
    for k in data:
        if k not in known_top:
            raise PresetError(f"{_at(where, _top_line(text, k))}: unknown key {k!r} "
                              f"(expected {', '.join(sorted(known_top))})")
    params_raw = data.get("params", {})
    if not isinstance(params_raw, dict):
        raise PresetError(f"{_at(where, _top_line(text, 'params'))}: 'params' must be a table")
    params = _flatten(params_raw)
    if "seed" in data:
        params.setdefault("latent/seed", data["seed"])
    effects = data.get("effects", [])
    if not isinstance(effects, list):
        raise PresetError(f"{_at(where, _top_line(text, 'effects'))}: 'effects' must be an array of tables")
    for i, eff in enumerate(effects):
        if not (isinstance(eff, dict) and isinstance(eff.get("name"), str)):
            raise PresetError(f"{_at(where, _top_line(text, 'effects', i))}: effects[{i}] must be a table "
                              "with a name")
    mappings = data.get("mappings", [])
    if not isinstance(mappings, list) or not all(isinstance(m, dict) for m in mappings):
        raise PresetError(f"{_at(where, _top_line(text, 'mappings'))}: 'mappings' must be an array of tables")
    from .mappings import MappingError, parse_mapping  # checked here so a typo fails at load, not mid-show

    for i, table in enumerate(mappings):
        try:
            parse_mapping(table, f"{_at(where, _top_line(text, 'mappings', i))}: mappings[{i}]")
        except MappingError as exc:
            raise PresetError(str(exc)) from None
    if registry is not None:
        for name, value in params.items():
            if name.startswith("fx/") and name not in registry:
                continue  # shader uniforms are declared when the shader loads
            loc = _at(where, _line_of(text, name) or _top_line(text, "params"))
            try:
                if registry.spec(name).readonly:
                    raise PresetError(f"{loc}: {name} is read-only (livegan sets it): a preset cannot")
                params[name] = registry.spec(name).coerce(value)
            except ParamError as exc:
                raise PresetError(f"{loc}: {exc}") from None
    name = data.get("name", Path(where).stem)
    if not isinstance(name, str):
        raise PresetError(f"{_at(where, _top_line(text, 'name'))}: 'name' must be a string")
    return Preset(
        name=name,
        path=Path(path) if isinstance(path, (str, Path)) and str(path) != "<preset>" else None,
        description=str(data.get("description", "")),
        params=params,
        effects=tuple(effects),
        mappings=tuple(mappings),
    )


def load_preset(name_or_path: str, registry: ParamRegistry | None = None) -> Preset:
    path = find_preset(name_or_path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise PresetError(f"{path}: cannot read preset ({exc.__class__.__name__})") from None
    return parse_preset(text, path, registry)


def effect_params(preset: Preset) -> dict[str, Any]:
    """The ``fx/<effect>/<uniform>`` values a preset's effect list sets."""
    out: dict[str, Any] = {}
    for eff in preset.effects:
        for k, v in eff.items():
            if k not in ("name", "enabled"):
                out[f"fx/{eff['name']}/{k}"] = v
    return out


# Kept across preset changes unless the preset sets them: the show's state and the music's tempo.
SHOW_CONTROLS = ("show/freeze", "show/blackout", "show/master", "show/quantize", "audio/gain",
                 "tempo/source", "tempo/bpm", "latent/seed")


# What a preset brings beyond its [params]: saved as its own tables, not as values.
LOOK_PARAMS = ("preset/name", "preset/mappings", "fx/order")


def preset_values(registry: ParamRegistry, preset: Preset, keep: Iterable[str] = SHOW_CONTROLS) -> dict[str, Any]:
    """Every value loading ``preset`` leaves in ``registry``: its own, the look it brings
    (``preset/name``, ``preset/mappings``, ``fx/order`` and its effects switched on or off),
    and defaults for the rest, except the show controls in ``keep`` that it does not set.

    Raises PresetError (naming the file) for an effect the registry does not know.
    """
    from .mappings import mappings_json

    where = str(preset.path or preset.name)
    given = {k: v for k, v in {**preset.params, **effect_params(preset)}.items() if k in registry}
    for entry in preset.effects:
        name = entry["name"]
        if f"fx/{name}/enabled" not in registry:
            raise PresetError(f"{where}: effect {name!r}: there is no shader {name}.glsl")
        given[f"fx/{name}/enabled"] = entry.get("enabled", True)
    look = {"preset/name": preset.name, "preset/mappings": mappings_json(preset.mappings),
            "fx/order": ",".join(e["name"] for e in preset.effects)}
    given.update({k: v for k, v in look.items() if k in registry})
    checked = {k: registry.spec(k).coerce(v) for k, v in given.items()}  # raises before anything changes
    keep = set(keep)
    defaults = {s.name: s.default for s in registry.specs()
                if s.type != "trigger" and not s.readonly and s.name not in keep and s.name not in checked}
    return {**defaults, **checked}


def apply_preset(registry: ParamRegistry, preset: Preset, source: str = "preset",
                 keep: Iterable[str] = SHOW_CONTROLS) -> None:
    """Reset to defaults, then set the preset's values and look: all or nothing, in one update.

    Show-control values (``keep``) survive a preset change unless the preset sets them: a
    VJ's blackout must not lift, nor a tempo typed in or the seed be lost, because a preset loaded.
    """
    registry.update(preset_values(registry, preset, keep), source=source)
