"""The compositor: model frames + per-frame uniforms + parameter values -> the picture.

Live (a window or EGL) and offline (EGL) draw through this one object, so a rendered
video and the show agree pixel for pixel. It takes plain inputs (an RGB frame, a
``FrameUniforms``, a values mapping) and returns plain results (pixels, thumbnails): it
never reads the registry, a clock or the wall time itself.
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from ..params.registry import ParamRegistry
from .effects import VERTEX, EffectChain, FrameUniforms
from .upload import FrameUploader

THUMB_WIDTH = 96  # the picture the audience saw, as a set recording keeps it
_THUMB_TAPS = 4  # bilinear taps per axis inside each thumbnail pixel's footprint

_THUMB_SHADER = """#version 330 core
in vec2 v_uv;
out vec4 f_color;
uniform sampler2D u_input;
uniform vec2 u_out;  // thumbnail size in pixels
void main() {
    // A box filter over the pixel's footprint, sampled on a TAPS x TAPS grid of bilinear taps.
    vec2 cell = 1.0 / u_out;
    vec2 origin = floor(v_uv * u_out) * cell;
    vec3 sum = vec3(0.0);
    for (int j = 0; j < TAPS; j++) {
        for (int i = 0; i < TAPS; i++) {
            sum += texture(u_input, origin + (vec2(i, j) + 0.5) / float(TAPS) * cell).rgb;
        }
    }
    f_color = vec4(sum / float(TAPS * TAPS), 1.0);
}
""".replace("TAPS", str(_THUMB_TAPS))


def crossfade_weight(mix: float, values: Mapping[str, Any]) -> float:
    """The newest frame's share in shaders/crossfade.glsl (same formula)."""
    amount = float(values.get("fx/crossfade/amount", 1.0))
    x = min(max(mix, 0.0), 1.0)
    return (1.0 - amount) + amount * x * x * (3.0 - 2.0 * x)


def thumb_size(size: tuple[int, int], width: int = THUMB_WIDTH) -> tuple[int, int]:
    w, h = size
    tw = min(width, w)
    return tw, max(1, round(h * tw / w))


def read_rgb(fbo, size: tuple[int, int]) -> np.ndarray:
    """A framebuffer's pixels, [H, W, 3] uint8, top row first."""
    w, h = size
    raw = fbo.read(viewport=(0, 0, w, h), components=3, alignment=1)
    return np.frombuffer(raw, np.uint8).reshape(h, w, 3)[::-1].copy()


class Compositor:
    """Uploads model frames and draws them through the effect chain into a target."""

    def __init__(self, ctx, registry: ParamRegistry, shader_dir=None) -> None:
        self.ctx = ctx
        self.uploader = FrameUploader(ctx)
        self.effects = EffectChain(ctx, registry, shader_dir)
        self.has_frame = False
        self._thumb_prog = None
        self._thumb_vao = None
        self._thumb_fbo = None
        self._out_tex = None
        self._out_fbo = None

    def upload(self, pixels: np.ndarray) -> None:
        """A new model frame [H, W, 3] uint8; the previous one stays for the crossfade."""
        self.uploader.upload(pixels)
        self.has_frame = True

    def draw(self, target, size: tuple[int, int], u: FrameUniforms, values: Mapping[str, Any]) -> float:
        """Draw the newest frame (blended from the previous by ``u.frame_mix``) into ``target``.

        Returns the newest frame's share of the picture (1.0 when nothing is blended).
        """
        target.use()
        target.viewport = (0, 0, *size)
        if not self.has_frame or values.get("show/blackout", False):
            target.clear(0.0, 0.0, 0.0, 1.0)
            return 1.0
        weight = crossfade_weight(u.frame_mix, values) if values.get("fx/crossfade/enabled", False) else 1.0
        if weight >= 1.0:
            values = {**values, "fx/crossfade/enabled": False}  # nothing to blend: save a pass
        self.effects.render(self.uploader.current, self.uploader.previous, target, size, u, values)
        return weight

    # ---- an offscreen output, for thumbnails and readback --------------------------------
    def output(self, size: tuple[int, int]):
        """An offscreen framebuffer of ``size`` (kept between calls) and its texture."""
        if self._out_tex is None or self._out_tex.size != tuple(size):
            for obj in (self._out_fbo, self._out_tex):
                if obj is not None:
                    obj.release()
            import moderngl  # noqa: PLC0415

            self._out_tex = self.ctx.texture(tuple(size), 4)
            self._out_tex.filter = (moderngl.LINEAR, moderngl.LINEAR)
            self._out_tex.repeat_x = self._out_tex.repeat_y = False
            self._out_fbo = self.ctx.framebuffer(color_attachments=[self._out_tex])
        return self._out_fbo, self._out_tex

    def thumbnail(self, texture, width: int = THUMB_WIDTH) -> np.ndarray:
        """``texture`` (a drawn picture) box-filtered down to ``width`` pixels: [h, w, 3] uint8."""
        tw, th = thumb_size(texture.size, width)
        if self._thumb_prog is None:
            self._thumb_prog = self.ctx.program(vertex_shader=VERTEX, fragment_shader=_THUMB_SHADER)
            self._thumb_vao = self.ctx.vertex_array(self._thumb_prog, [])
        if self._thumb_fbo is None or self._thumb_fbo.size != (tw, th):
            if self._thumb_fbo is not None:
                self._thumb_fbo.release()
            self._thumb_fbo = self.ctx.simple_framebuffer((tw, th), components=4)
        self._thumb_fbo.use()
        self._thumb_fbo.viewport = (0, 0, tw, th)
        texture.repeat_x = texture.repeat_y = False  # taps at the border must not wrap round
        texture.use(0)
        self._thumb_prog["u_input"].value = 0
        self._thumb_prog["u_out"].value = (float(tw), float(th))
        self._thumb_vao.render(vertices=3)
        return read_rgb(self._thumb_fbo, (tw, th))

    def blit(self, texture, target, size: tuple[int, int]) -> None:
        """Copy a drawn picture to ``target`` (e.g. the window) unchanged."""
        self.effects.blit(texture, target, size)

    def release(self) -> None:
        self.uploader.release()
        self.effects.release()
        for obj in (self._thumb_vao, self._thumb_prog, self._thumb_fbo, self._out_fbo, self._out_tex):
            if obj is not None:
                obj.release()
