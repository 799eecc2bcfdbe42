"""Shader effect declarations: what each ``shaders/*.glsl`` file declares, read as text (no GL).

Declaring a parameter (one uniform per line)::

    uniform float u_hue;  // @param min=-0.5 max=0.5 default=0 unit=turns desc="hue rotation"
    uniform int u_mode;   // @param choices="fit,fill,stretch" default=fit desc="..."
    uniform bool u_on;    // @param default=true

becomes ``fx/<file stem>/<name without u_>`` in the registry (an int with ``choices``
becomes an enum; the uniform gets the choice's index). A file-level line
``// @effect enabled=true order=first|last desc="..."`` sets the effect's defaults.
Every effect also gets ``fx/<effect>/enabled``. The Session declares these before any GL
context exists, so presets, OSC, the docs and a replayed set know every effect parameter.
"""

from __future__ import annotations

import logging
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import LiveganError
from ..params.registry import ParamRegistry, ParamSpec

log = logging.getLogger("livegan.gl.declarations")

SHADER_DIR = Path(__file__).resolve().parents[2] / "shaders"

_UNIFORM = re.compile(r"^\s*uniform\s+(float|int|bool)\s+(u_\w+)\s*;\s*//\s*@param\b(.*)$")
_EFFECT = re.compile(r"^\s*//\s*@effect\b(.*)$")
STANDARD = ("u_input", "u_prev_output", "u_frame_prev", "u_frame_mix", "u_time", "u_onset", "u_rms", "u_flux",
            "u_bands", "u_beat_phase", "u_resolution", "u_src_resolution")


class ShaderError(LiveganError):
    """A shader file whose declarations cannot be used."""


@dataclass(frozen=True)
class UniformParam:
    uniform: str
    spec: ParamSpec


@dataclass
class EffectInfo:
    """What a shader file declares."""

    name: str
    params: list[UniformParam] = field(default_factory=list)
    enabled: bool = False
    order: str = ""  # "", "first" or "last"
    description: str = ""


def _attrs(text: str, where: str) -> dict[str, str]:
    try:
        parts = shlex.split(text)
    except ValueError as exc:
        raise ShaderError(f"{where}: bad @param attributes ({exc})") from None
    out = {}
    for p in parts:
        if "=" not in p:
            raise ShaderError(f"{where}: expected key=value in @param, got {p!r}")
        k, v = p.split("=", 1)
        out[k.strip()] = v
    return out


def parse_declarations(name: str, source: str, path: str = "<shader>") -> EffectInfo:
    """Read the ``@effect`` and ``@param`` lines of one shader."""
    info = EffectInfo(name)
    for lineno, line in enumerate(source.splitlines(), 1):
        where = f"{path}:{lineno}"
        m = _EFFECT.match(line)
        if m:
            a = _attrs(m.group(1), where)
            info.enabled = a.get("enabled", "false").lower() in ("1", "true", "on", "yes")
            info.order = a.get("order", "")
            if info.order not in ("", "first", "last"):
                raise ShaderError(f"{where}: @effect order must be first or last, not {info.order!r}")
            info.description = a.get("desc", "")
            continue
        m = _UNIFORM.match(line)
        if not m:
            continue
        gl_type, uniform, rest = m.groups()
        a = _attrs(rest, where)
        pname = f"fx/{name}/{uniform[2:]}"
        try:
            spec = _spec_for(pname, gl_type, a)
        except (ValueError, LiveganError) as exc:
            raise ShaderError(f"{where}: {uniform}: {exc}") from None
        info.params.append(UniformParam(uniform, spec))
    return info


def _spec_for(pname: str, gl_type: str, a: dict[str, str]) -> ParamSpec:
    known = {"min", "max", "default", "unit", "desc", "choices", "smoothing"}
    extra = set(a) - known
    if extra:
        raise ValueError(f"unknown @param keys {', '.join(sorted(extra))}")
    desc, unit = a.get("desc", ""), a.get("unit", "")
    smoothing = float(a.get("smoothing", 0.0))
    if gl_type == "bool":
        return ParamSpec(pname, "bool", a.get("default", "false"), unit=unit, description=desc)
    if "choices" in a:
        if gl_type != "int":
            raise ValueError("choices need an int uniform")
        choices = tuple(c.strip() for c in a["choices"].split(",") if c.strip())
        return ParamSpec(pname, "enum", a.get("default", choices[0]), description=desc, choices=choices)
    lo = float(a["min"]) if "min" in a else None
    hi = float(a["max"]) if "max" in a else None
    default = float(a.get("default", lo if lo is not None else 0.0))
    if gl_type == "int":
        return ParamSpec(pname, "int", int(default), lo, hi, unit, desc)
    return ParamSpec(pname, "float", default, lo, hi, unit, desc, smoothing)


def enabled_spec(info: EffectInfo) -> ParamSpec:
    return ParamSpec(f"fx/{info.name}/enabled", "bool", info.enabled,
                     description=info.description or f"{info.name} effect on/off")


def declare_effect(registry: ParamRegistry, info: EffectInfo) -> None:
    """Declare (or re-declare, after a shader edit) one effect's parameters."""
    registry.declare(enabled_spec(info), replace=True)
    for up in info.params:
        registry.declare(up.spec, replace=True)


def shader_folder(shader_dir: str | Path | None) -> Path:
    d = Path(shader_dir) if shader_dir else SHADER_DIR
    if not d.is_dir():
        raise LiveganError(f"shader folder {d} not found")
    return d


def read_effects(shader_dir: str | Path | None = None) -> dict[str, EffectInfo]:
    """The declarations of every shader in the folder; a file that cannot be read is left out (logged)."""
    out: dict[str, EffectInfo] = {}
    for path in sorted(shader_folder(shader_dir).glob("*.glsl")):
        try:
            out[path.stem] = parse_declarations(path.stem, path.read_text(encoding="utf-8"), str(path))
        except (OSError, UnicodeDecodeError, ShaderError) as exc:
            log.error("shader %s: %s", path.name, exc)
    return out


def effect_order(infos: dict[str, EffectInfo], order_text: str) -> list[str]:
    """Draw order: the ``first`` effects, the middle ones as ``fx/order`` lists them (then the rest
    alphabetically), then the ``last`` ones."""
    middle = sorted(n for n, e in infos.items() if e.order == "")
    listed = [n for n in (x.strip() for x in order_text.split(",")) if n in middle]
    listed = list(dict.fromkeys(listed))
    firsts = sorted(n for n, e in infos.items() if e.order == "first")
    lasts = sorted(n for n, e in infos.items() if e.order == "last")
    return firsts + listed + [n for n in middle if n not in listed] + lasts
