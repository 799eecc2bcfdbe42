"""The effect chain, uploads and HUD on a real offscreen EGL context (Mesa llvmpipe)."""

from __future__ import annotations

import os
import shutil
import time

import numpy as np
import pytest

from livegan.gl.declarations import SHADER_DIR
from livegan.gl.effects import EffectChain, FrameUniforms
from livegan.gl.context import HeadlessSurface
from livegan.live.hud import Hud, HudState
from livegan.gl.upload import FrameUploader
from livegan.params.definitions import make_registry


@pytest.fixture(scope="module")
def surface():
    s = HeadlessSurface((128, 64))
    yield s
    s.close()


@pytest.fixture
def parts(surface):
    """A fresh registry, effect chain and uploader on the shared context."""
    reg = make_registry()
    chain = EffectChain(surface.ctx, reg)
    up = FrameUploader(surface.ctx)
    yield reg, chain, up
    chain.release()
    up.release()


def _frame() -> np.ndarray:
    img = np.zeros((32, 32, 3), np.uint8)
    img[:16] = (200, 40, 40)  # top half red
    img[16:] = (40, 40, 200)  # bottom half blue
    return img


def _only(reg, chain, *names):
    for n in chain.effects:
        reg.set(f"fx/{n}/enabled", n in names)


def _render(surface, chain, up, reg, u=FrameUniforms()):
    chain.render(up.current, up.previous, surface.fbo, surface.size, u, reg.peek().values)
    return surface.read()


def test_scale_fit_fill_stretch(surface, parts):
    reg, chain, up = parts
    up.upload(_frame())
    _only(reg, chain, "scale")
    reg.set("fx/scale/mode", "fit")  # 32x32 into 128x64: a 64x64 square with black bars
    out = _render(surface, chain, up, reg)
    assert out[:, :30].max() == 0 and out[:, 98:].max() == 0
    assert tuple(out[5, 64]) == (200, 40, 40) and tuple(out[58, 64]) == (40, 40, 200)  # top stays top
    reg.set("fx/scale/mode", "stretch")
    out = _render(surface, chain, up, reg)
    assert tuple(out[5, 2]) == (200, 40, 40) and tuple(out[60, 125]) == (40, 40, 200)
    reg.set("fx/scale/mode", "fill")  # covers the width, crops top and bottom
    out = _render(surface, chain, up, reg)
    assert out.max(axis=2).min() >= 40  # no black bars anywhere
    assert tuple(out[2, 2]) == (200, 40, 40)


def test_colour_effect_values_reach_the_shader(surface, parts):
    reg, chain, up = parts
    up.upload(_frame())
    _only(reg, chain, "colour", "scale")
    reg.set("fx/scale/mode", "stretch")
    reg.set("fx/scale/filter", "nearest")
    out = _render(surface, chain, up, reg)
    assert abs(int(out[5, 5, 0]) - 200) <= 1  # neutral defaults leave the picture alone
    reg.set("fx/colour/saturation", 0.0)  # grey: all channels equal the luma
    out = _render(surface, chain, up, reg)
    r, g, b = (int(v) for v in out[5, 5])
    assert abs(r - g) <= 1 and abs(g - b) <= 1
    assert abs(r - (0.2126 * 200 + 0.7152 * 40 + 0.0722 * 40)) <= 2
    reg.set("fx/colour/saturation", 1.0)
    reg.set("fx/colour/brightness", -1.0)
    assert _render(surface, chain, up, reg).max() == 0


def test_crossfade_blends_previous_and_new_frame(surface, parts):
    reg, chain, up = parts
    up.upload(np.zeros((8, 8, 3), np.uint8))
    up.upload(np.full((8, 8, 3), 200, np.uint8))
    _only(reg, chain, "crossfade", "scale")
    half = _render(surface, chain, up, reg, FrameUniforms(frame_mix=0.5))
    assert abs(int(half[30, 60, 0]) - 100) <= 2
    assert int(_render(surface, chain, up, reg, FrameUniforms(frame_mix=1.0))[30, 60, 0]) == 200
    reg.set("fx/crossfade/amount", 0.0)  # repeat instead of blend
    assert int(_render(surface, chain, up, reg, FrameUniforms(frame_mix=0.1))[30, 60, 0]) == 200


def test_hot_reload_keeps_last_good_program(surface, tmp_path):
    shutil.copy(SHADER_DIR / "scale.glsl", tmp_path / "scale.glsl")
    good = "#version 330 core\nin vec2 v_uv; out vec4 f_color; uniform sampler2D u_input;\n" \
           "uniform float u_level; // @param min=0 max=1 default=0.5\n" \
           "void main() { f_color = vec4(vec3(u_level), 1.0); }\n"
    path = tmp_path / "flat.glsl"
    path.write_text(good)
    reg = make_registry()
    chain = EffectChain(surface.ctx, reg, tmp_path)
    up = FrameUploader(surface.ctx)
    up.upload(_frame())
    reg.set("fx/flat/enabled", True)
    assert abs(int(_render(surface, chain, up, reg)[10, 10, 0]) - 128) <= 1
    # Save a broken version: the error is recorded, the old program keeps drawing.
    path.write_text(good.replace("vec3(u_level)", "vec3(u_level) +"))
    os.utime(path, (time.time() + 5, time.time() + 5))
    assert "flat" in chain.poll_reload(force=True)
    assert "flat" in chain.errors and "flat.glsl" in chain.errors["flat"]
    assert abs(int(_render(surface, chain, up, reg)[10, 10, 0]) - 128) <= 1
    # A fixed version with a new parameter replaces it and declares the parameter.
    path.write_text(good.replace("vec3(u_level)", "vec3(u_level * u_gain)").replace(
        "void main", "uniform float u_gain; // @param min=0 max=2 default=2\nvoid main"))
    os.utime(path, (time.time() + 10, time.time() + 10))
    chain.poll_reload(force=True)
    assert chain.errors == {} and "fx/flat/gain" in reg
    assert int(_render(surface, chain, up, reg)[10, 10, 0]) == 255
    chain.release()
    up.release()


def test_hud_draws_text_and_meters(surface):
    hud = Hud(surface.ctx, scale=1)
    surface.fbo.use()
    surface.fbo.clear(0.0, 0.0, 0.0, 1.0)
    hud.draw(surface.fbo, surface.size, HudState([("H", (1.0, 1.0, 1.0, 1.0))], level=1.0))
    out = surface.read()
    # 'H' at (8, 8): its left and right columns are lit, the gap between them is not.
    assert out[8:15, 8].min() > 200 and out[8:15, 12].min() > 200
    assert out[8:11, 10].max() < 60 and out[11, 10].min() > 200
    assert out[-20:, 8:18, 1].max() > 200  # the level meter, full and green, bottom left
    hud.visible = False
    surface.fbo.clear(0.0, 0.0, 0.0, 1.0)
    hud.draw(surface.fbo, surface.size, HudState([("H", (1.0, 1.0, 1.0, 1.0))]))
    assert surface.read().max() == 0
    hud.release()


def test_mirror_and_every_bundled_effect_draw(surface, parts):
    reg, chain, up = parts
    img = np.zeros((32, 32, 3), np.uint8)
    img[:, :16] = (250, 0, 0)  # left half red, right half green
    img[:, 16:] = (0, 250, 0)
    up.upload(img)
    _only(reg, chain, "mirror", "scale")
    reg.set("fx/scale/mode", "stretch")
    reg.set("fx/scale/filter", "nearest")
    out = _render(surface, chain, up, reg)
    assert out[:, :, 0].min() > 200 and out[:, :, 1].max() < 50  # the left half on both sides
    assert chain.errors == {}
    for name in chain.effects:  # each shader compiles and draws something
        _only(reg, chain, name, "scale")
        assert _render(surface, chain, up, reg, FrameUniforms(time=1.0, onset=0.5)).max() > 0, name
