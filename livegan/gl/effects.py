"""The shader effect chain: compiled ``shaders/*.glsl`` programs drawn in the preset's order.

What each shader declares (its ``@param`` uniforms, defaults, place in the chain) is read
as text by ``declarations.py``; this module compiles and draws. Standard uniforms, set
when a shader declares them (see shaders/README.md): ``u_input``, ``u_prev_output`` (this
effect's own previous output: feedback), ``u_frame_prev`` and ``u_frame_mix`` (the
previous model frame and how far the display is towards the next one), ``u_time``,
``u_onset``, ``u_rms``, ``u_flux``, ``u_bands``, ``u_beat_phase``, ``u_resolution``,
``u_src_resolution``.

Saving a shader recompiles it; a compile error keeps the last good program and is kept
in ``errors`` for the HUD and the log. Effects that feed back keep their previous output
in a texture; ``state()`` / ``restore()`` save and load it, so an offline render that
resumes mid-way continues the trails exactly.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from ..params.registry import ParamRegistry
from .declarations import EffectInfo, ShaderError, declare_effect, effect_order, parse_declarations, shader_folder

log = logging.getLogger("livegan.gl.effects")

VERTEX = """#version 330 core
out vec2 v_uv;
void main() {
    // One triangle covering the viewport; no vertex buffer needed.
    vec2 p = vec2(float((gl_VertexID << 1) & 2), float(gl_VertexID & 2));
    v_uv = p;
    gl_Position = vec4(p * 2.0 - 1.0, 0.0, 1.0);
}
"""

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
    """Compiles every shader in a folder and draws the enabled ones, in ``fx/order``."""

    def __init__(self, ctx, registry: ParamRegistry, shader_dir: str | Path | None = None,
                 reload_interval_s: float = 0.25) -> None:
        self.ctx = ctx
        self.registry = registry  # shader edits re-declare their parameters here
        self.dir = shader_folder(shader_dir)
        self.effects: dict[str, Effect] = {}
        self.reload_interval_s = reload_interval_s
        from .context import pass_sync  # noqa: PLC0415

        self._sync = pass_sync(ctx)
        self._last_check = 0.0
        self._ping: list = []
        self._ping_fbos: list = []
        self._plain = None
        self._plain_vao = None
        for path in sorted(self.dir.glob("*.glsl")):
            self._add(path)

    # ---- loading ---------------------------------------------------------------------
    def _add(self, path: Path) -> None:
        eff = Effect(self.ctx, path)
        self.effects[eff.name] = eff
        declare_effect(self.registry, eff.info)

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
                changed.append(path.stem)
                continue
            try:
                mtime = path.stat().st_mtime
            except OSError:
                continue
            if mtime != eff.mtime:
                if eff.load():
                    declare_effect(self.registry, eff.info)
                    log.info("shader %s reloaded", eff.name)
                changed.append(eff.name)
        return changed

    def chain(self, values: Mapping[str, Any]) -> list[Effect]:
        """The effects in draw order: ``first`` ones, ``fx/order``, then ``last`` ones."""
        infos = {n: e.info for n, e in self.effects.items()}
        return [self.effects[n] for n in effect_order(infos, str(values.get("fx/order", "")))]

    # ---- feedback state --------------------------------------------------------------
    def state(self) -> dict[str, np.ndarray]:
        """Every feeding-back effect's previous output, as RGBA uint8 arrays."""
        out = {}
        for name, eff in self.effects.items():
            if eff._feedback:
                tex = eff._feedback[1]
                w, h = tex.size
                out[name] = np.frombuffer(tex.read(), np.uint8).reshape(h, w, 4).copy()
        return out

    def restore(self, state: Mapping[str, np.ndarray]) -> None:
        """Load what ``state()`` saved (the textures are created at the saved size). A feeding-back
        effect absent from ``state`` starts from black, as in a fresh chain (a cluster worker
        draws chunks of several places in the show with one chain)."""
        for name, eff in self.effects.items():
            if name not in state and eff._feedback:
                eff._release_targets()
        for name, arr in state.items():
            eff = self.effects.get(name)
            if eff is None:
                continue
            h, w = arr.shape[:2]
            eff.target((w, h))
            eff._feedback[1].write(np.ascontiguousarray(arr, np.uint8).tobytes())

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
        active = [e for e in self.chain(values) if e.program is not None and values.get(f"fx/{e.name}/enabled", False)]
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
        self.blit(current, target, target_size)

    def blit(self, tex, target, size) -> None:
        prog = self._plain_program()
        target.use()
        target.viewport = (0, 0, *size)
        tex.use(0)
        prog["u_input"].value = 0
        self._plain_vao.render(vertices=3)

    def _plain_program(self):
        if self._plain is None:
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
        for obj in self._ping_fbos + self._ping + [self._plain_vao, self._plain]:
            if obj is not None:
                obj.release()
        self._ping, self._ping_fbos, self._plain, self._plain_vao = [], [], None, None
