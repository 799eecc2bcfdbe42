"""The shader effect chain: ``shaders/*.glsl`` files, their uniforms as registry parameters.

Declaring a parameter (one uniform per line)::

    uniform float u_hue;  // @param min=-0.5 max=0.5 default=0 unit=turns desc="hue rotation"
    uniform int u_mode;   // @param choices="fit,fill,stretch" default=fit desc="..."
    uniform bool u_on;    // @param default=true

becomes ``fx/<file stem>/<name without u_>`` in the registry (an int with ``choices``
becomes an enum; the uniform gets the choice's index). A file-level line
``// @effect enabled=true order=first|last desc="..."`` sets the effect's defaults.
Every effect also gets ``fx/<effect>/enabled``.

Standard uniforms, set when a shader declares them (see shaders/README.md): ``u_input``,
``u_prev_output`` (this effect's own previous output: feedback), ``u_frame_prev`` and
``u_frame_mix`` (the previous model frame and how far the display is towards the next
one), ``u_time``, ``u_onset``, ``u_rms``, ``u_flux``, ``u_bands``, ``u_beat_phase``,
``u_resolution``, ``u_src_resolution``.

Saving a shader recompiles it; a compile error keeps the last good program and is kept
in ``errors`` for the HUD and the log.
"""

from __future__ import annotations

import logging
import re
import shlex
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping

from ..errors import LiveganError
from ..params.registry import ParamRegistry, ParamSpec

log = logging.getLogger("livegan.live.effects")

SHADER_DIR = Path(__file__).resolve().parents[2] / "shaders"

VERTEX = """#version 330 core
out vec2 v_uv;
void main() {
    // One triangle covering the viewport; no vertex buffer needed.
    vec2 p = vec2(float((gl_VertexID << 1) & 2), float(gl_VertexID & 2));
    v_uv = p;
    gl_Position = vec4(p * 2.0 - 1.0, 0.0, 1.0);
}
"""

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


def _first_error_line(text: str) -> str:
    lines = [ln.strip() for ln in str(text).splitlines() if ln.strip()]
    for ln in lines:
        if "error" in ln.lower() and not ln.lower().startswith("glsl compiler failed"):
            return ln
    return lines[-1] if lines else "compile failed"


class Effect:
    """One shader file, its program (the last good one) and its feedback textures."""

    def __init__(self, ctx, path: Path) -> None:
        self.ctx = ctx
        self.path = path
        self.name = path.stem
        self.program = None
        self.vao = None
        self.info = EffectInfo(self.name)
        self.error: str | None = None
        self.mtime = -1.0
        self._feedback: list = []  # [current, previous] output textures when u_prev_output is used
        self._fbos: list = []
        self.load()

    def load(self) -> bool:
        """(Re)read and compile; on failure keep the old program and record the error."""
        try:
            self.mtime = self.path.stat().st_mtime
            source = self.path.read_text(encoding="utf-8")
        except OSError as exc:
            self.error = f"{self.path.name}: cannot read ({exc.__class__.__name__})"
            log.error("shader %s", self.error)
            return False
        try:
            info = parse_declarations(self.name, source, str(self.path))
            program = self.ctx.program(vertex_shader=VERTEX, fragment_shader=source)
        except ShaderError as exc:
            self.error = str(exc)
            log.error("shader %s", self.error)
            return False
        except Exception as exc:  # moderngl.Error carries the driver's compile log
            self.error = f"{self.path.name}: {_first_error_line(str(exc))}"
            log.error("shader %s (keeping the last good program)", self.error)
            return False
        if self.vao is not None:
            self.vao.release()
        if self.program is not None:
            self.program.release()
        self.program = program
        self.vao = self.ctx.vertex_array(program, [])
        self.info = info
        self.error = None
        return True

    @property
    def uses_feedback(self) -> bool:
        return self.program is not None and "u_prev_output" in self.program

    def target(self, size: tuple[int, int]):
        """The framebuffer this effect draws into (its own pair when it feeds back)."""
        if not self._feedback or self._feedback[0].size != size:
            self._release_targets()
            import moderngl  # noqa: PLC0415

            for _ in range(2):
                tex = self.ctx.texture(size, 4)
                tex.filter = (moderngl.LINEAR, moderngl.LINEAR)
                tex.repeat_x = tex.repeat_y = False
                self._feedback.append(tex)
                fbo = self.ctx.framebuffer(color_attachments=[tex])
                fbo.clear(0.0, 0.0, 0.0, 1.0)
                self._fbos.append(fbo)
        return self._fbos[0], self._feedback[0], self._feedback[1]

    def flip(self) -> None:
        self._feedback.reverse()
        self._fbos.reverse()

    def _release_targets(self) -> None:
        for obj in self._fbos + self._feedback:
            obj.release()
        self._fbos, self._feedback = [], []

    def release(self) -> None:
        self._release_targets()
        for obj in (self.vao, self.program):
            if obj is not None:
                obj.release()
        self.vao = self.program = None


@dataclass(frozen=True)
class FrameUniforms:
    """Per-frame values every shader may read."""

    time: float = 0.0
    onset: float = 0.0
    rms: float = 0.0
    flux: float = 0.0
    bands: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0)
    beat_phase: float = 0.0
    frame_mix: float = 1.0


class EffectChain:
    """Loads every shader in a folder, declares its parameters and draws the enabled ones."""

    def __init__(self, ctx, registry: ParamRegistry, shader_dir: str | Path | None = None,
                 reload_interval_s: float = 0.25) -> None:
        self.ctx = ctx
        self.registry = registry
        self.dir = Path(shader_dir) if shader_dir else SHADER_DIR
        if not self.dir.is_dir():
            raise LiveganError(f"shader folder {self.dir} not found")
        self.effects: dict[str, Effect] = {}
        self.order: list[str] = []  # preset order of the middle effects
        self.reload_interval_s = reload_interval_s
        from .gl_context import pass_sync  # noqa: PLC0415

        self._sync = pass_sync(ctx)
        self._last_check = 0.0
        self._ping: list = []
        self._ping_fbos: list = []
        for path in sorted(self.dir.glob("*.glsl")):
            self._add(path)
        self.order = self._default_order()

    # ---- loading ---------------------------------------------------------------------
    def _add(self, path: Path) -> None:
        eff = Effect(self.ctx, path)
        self.effects[eff.name] = eff
        self._declare(eff)

    def _declare(self, eff: Effect) -> None:
        reg = self.registry
        reg.declare(ParamSpec(f"fx/{eff.name}/enabled", "bool", eff.info.enabled,
                              description=eff.info.description or f"{eff.name} effect on/off"), replace=True)
        for up in eff.info.params:
            reg.declare(up.spec, replace=True)

    def _default_order(self) -> list[str]:
        return sorted(n for n, e in self.effects.items() if e.info.order == "")

    @property
    def errors(self) -> dict[str, str]:
        return {n: e.error for n, e in self.effects.items() if e.error}

    def poll_reload(self, force: bool = False) -> list[str]:
        """Recompile shaders whose file changed (checked at most every reload_interval_s)."""
        now = time.monotonic()
        if not force and now - self._last_check < self.reload_interval_s:
            return []
        self._last_check = now
        changed = []
        for path in sorted(self.dir.glob("*.glsl")):
            eff = self.effects.get(path.stem)
            if eff is None:
                self._add(path)
                self.order.append(path.stem)
                changed.append(path.stem)
                continue
            try:
                mtime = path.stat().st_mtime
            except OSError:
                continue
            if mtime != eff.mtime:
                if eff.load():
                    self._declare(eff)
                    log.info("shader %s reloaded", eff.name)
                changed.append(eff.name)
        return changed

    def configure(self, effects: Iterable[Mapping[str, Any]]) -> None:
        """Order and enable effects as a preset lists them (unlisted ones keep their defaults).

        Call after ``apply_preset`` (which resets ``fx/*/enabled`` to the shaders' defaults).
        """
        listed: list[str] = []
        for entry in effects:
            name = entry.get("name")
            if name not in self.effects:
                raise LiveganError(f"preset effect {name!r}: no shader {self.dir / f'{name}.glsl'}")
            if self.effects[name].info.order == "":
                listed.append(name)
            self.registry.set(f"fx/{name}/enabled", bool(entry.get("enabled", True)), source="preset")
        self.order = listed + [n for n in self._default_order() if n not in listed]

    def chain(self) -> list[Effect]:
        """The effects in draw order: ``first`` ones, the preset order, then ``last`` ones."""
        firsts = sorted(n for n, e in self.effects.items() if e.info.order == "first")
        lasts = sorted(n for n, e in self.effects.items() if e.info.order == "last")
        return [self.effects[n] for n in firsts + self.order + lasts if n in self.effects]

    # ---- drawing ---------------------------------------------------------------------
    def _pingpong(self, size: tuple[int, int]) -> None:
        if self._ping and self._ping[0].size == size:
            return
        import moderngl  # noqa: PLC0415

        for obj in self._ping_fbos + self._ping:
            obj.release()
        self._ping = []
        for _ in range(2):
            tex = self.ctx.texture(size, 4)
            tex.filter = (moderngl.LINEAR, moderngl.LINEAR)
            tex.repeat_x = tex.repeat_y = False
            self._ping.append(tex)
        self._ping_fbos = [self.ctx.framebuffer(color_attachments=[t]) for t in self._ping]

    def render(self, source, previous, target, target_size: tuple[int, int], u: FrameUniforms,
               values: Mapping[str, Any]) -> None:
        """Draw ``source`` (model frame texture) through the enabled effects into ``target``.

        Effects run at the source's size; the last one (normally ``scale``, the output
        scaler) draws into ``target`` at ``target_size``. An effect that feeds back keeps
        its own output, which is then copied out as is.
        """
        src_size = source.size
        self._pingpong(src_size)
        active = [e for e in self.chain() if e.program is not None and values.get(f"fx/{e.name}/enabled", False)]
        if len(active) > 1 and active[-1].name == "scale" and tuple(target_size) == tuple(src_size):
            active.pop()  # scaling to the same size changes nothing: the previous effect draws straight out
        current, ping = source, 0
        for i, eff in enumerate(active):
            final = i == len(active) - 1 and not eff.uses_feedback
            if final:
                fbo, size = target, target_size
            elif eff.uses_feedback:
                fbo, out_tex, prev_tex = eff.target(src_size)
                size = src_size
            else:
                fbo, size = self._ping_fbos[ping], src_size
            fbo.use()
            fbo.viewport = (0, 0, *size)
            self._set_uniforms(eff, current, previous, size, src_size, u, values,
                               prev_tex if (not final and eff.uses_feedback) else None)
            eff.vao.render(vertices=3)
            if self._sync is not None:
                self._sync()
            if final:
                return
            if eff.uses_feedback:
                current = out_tex
                eff.flip()
            else:
                current = self._ping[ping]
                ping ^= 1
        self._blit(current, target, target_size)

    def _blit(self, tex, target, size) -> None:
        prog = self._plain_program()
        target.use()
        target.viewport = (0, 0, *size)
        tex.use(0)
        prog["u_input"].value = 0
        self._plain_vao.render(vertices=3)

    def _plain_program(self):
        if getattr(self, "_plain", None) is None:
            self._plain = self.ctx.program(vertex_shader=VERTEX, fragment_shader="""#version 330 core
in vec2 v_uv; out vec4 f_color; uniform sampler2D u_input;
void main() { f_color = vec4(texture(u_input, v_uv).rgb, 1.0); }
""")
            self._plain_vao = self.ctx.vertex_array(self._plain, [])
        return self._plain

    def _set_uniforms(self, eff: Effect, current, previous, size, src_size, u: FrameUniforms,
                      values: Mapping[str, Any], prev_out) -> None:
        prog = eff.program
        units = {"u_input": current, "u_frame_prev": previous, "u_prev_output": prev_out}
        unit = 0
        for name, tex in units.items():
            if name in prog and tex is not None:
                tex.use(unit)
                prog[name].value = unit
                unit += 1
        scalars = {"u_time": u.time, "u_onset": u.onset, "u_rms": u.rms, "u_flux": u.flux,
                   "u_beat_phase": u.beat_phase, "u_frame_mix": u.frame_mix,
                   "u_bands": tuple(u.bands), "u_resolution": tuple(map(float, size)),
                   "u_src_resolution": tuple(map(float, src_size))}
        for name, v in scalars.items():
            if name in prog:
                prog[name].value = v
        for up in eff.info.params:
            if up.uniform not in prog:
                continue  # declared but optimised away by the compiler
            v = values.get(up.spec.name, up.spec.default)
            if up.spec.type == "enum":
                v = up.spec.choices.index(v) if v in up.spec.choices else 0
            elif up.spec.type == "bool":
                v = bool(v)
            prog[up.uniform].value = v

    def release(self) -> None:
        for eff in self.effects.values():
            eff.release()
        for obj in self._ping_fbos + self._ping:
            obj.release()
        self._ping, self._ping_fbos = [], []
