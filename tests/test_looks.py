"""Looks: every preset renders in its own world through ``livegan render``, the palette effect
maps light to colour on a real EGL context, and tools/looks.py's measures mean what they say."""

from __future__ import annotations

import importlib.util
import math
import sys
from pathlib import Path

import av
import numpy as np
import pytest
import soundfile as sf
import torch

from livegan.audio.demo import demo_track
from livegan.cli import main
from livegan.conductor.inputs import GeneratorInputs
from livegan.conductor.preset import list_presets, load_preset
from livegan.gl.context import HeadlessSurface
from livegan.models.base import NoiseSpec
from livegan.models.builtin import WORLD_NAMES, BuiltinGenerator
from livegan.params.definitions import make_registry
from livegan.synth.engine import Engine
from livegan.render.offline import slice_clip
from live_helpers import draw_effect

ROOT = Path(__file__).resolve().parents[1]


def _looks_tool():
    spec = importlib.util.spec_from_file_location("looks_tool", ROOT / "tools" / "looks.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod  # its dataclasses look their module up
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def demo_wav(tmp_path_factory):
    clip = slice_clip(demo_track(), 4.0, 1.0)
    path = tmp_path_factory.mktemp("audio") / "demo_4s.wav"
    sf.write(path, clip.samples, clip.sample_rate, subtype="FLOAT")
    return path


def _frames(path: Path) -> np.ndarray:
    with av.open(str(path)) as c:
        return np.stack([f.to_ndarray(format="rgb24") for f in c.decode(video=0)])


def test_every_bundled_preset_is_a_scene_that_renders(demo_wav, tmp_path) -> None:
    names = list_presets()
    assert 10 <= len(names) <= 12
    assert {"drift", "pulse", "glitch", "liquid", "rise", "still", "storm", "tunnel", "breaks"} <= set(names)
    reg = make_registry()
    worlds = {}
    for name in names:
        preset = load_preset(name, reg)
        worlds[name] = preset.params.get("look/world")
        assert worlds[name] in WORLD_NAMES, name
        out = tmp_path / f"{name}.mp4"
        assert main(["render", str(demo_wav), "-o", str(out), "--preset", name, "--size", "48x48",
                     "--fps", "3", "--quiet"]) == 0
        frames = _frames(out)
        assert frames.shape == (3, 48, 48, 3), name
    assert len(set(worlds.values())) >= 6  # the scenes spread over the worlds
    # The world reaches the video: op-art's tunnel is all hard stripes (power at high
    # frequencies), the nebula's drift soft gas.
    # (Compared without the effect chains, which scale and vignette both alike.)
    spectrum = _looks_tool().radial_spectrum
    bare = {}
    for name in ("tunnel", "drift"):
        out = tmp_path / f"{name}-bare.mp4"
        assert main(["render", str(demo_wav), "-o", str(out), "--preset", name, "--size", "48x48",
                     "--fps", "3", "--quiet", "--no-effects"]) == 0
        bare[name] = spectrum(list(_frames(out)))
    tunnel, drift = bare["tunnel"], bare["drift"]
    assert tunnel[-8:].mean() > drift[-8:].mean() + 0.5, (tunnel, drift)


def test_engine_routes_look_world_to_the_sibling_world() -> None:
    gen = BuiltinGenerator(seed=2, resolution=48).eval()
    engine = Engine(gen, device="cpu")
    ws = gen.mapping(torch.randn(1, gen.z_dim, generator=torch.Generator().manual_seed(1)))[0]
    noise = NoiseSpec("const")
    frames = engine.synthesize([GeneratorInputs(ws=ws, noise=noise, world=w) for w in ("auto", "cells", "opart")])
    # The engine calls the same synthesis code as these direct calls: equal on purpose.
    assert torch.equal(frames[0], gen.synthesis(ws[None], noise=noise)[0])
    assert torch.equal(frames[1], gen.with_world("cells").synthesis(ws[None], noise=noise)[0])
    assert torch.equal(frames[2], gen.with_world("opart").synthesis(ws[None], noise=noise)[0])
    assert (frames[1] - frames[2]).abs().mean() > 0.05


@pytest.fixture(scope="module")
def gl():
    surface = HeadlessSurface((64, 16))
    yield surface
    surface.close()


def _palette(surface, settings: dict) -> np.ndarray:
    """A black-to-white ramp (64 px wide) through the palette effect only: one row, dark to light."""
    ramp = np.repeat(np.linspace(0, 255, 64).round().astype(np.uint8)[None, :, None], 16, axis=0)
    return draw_effect(surface, np.repeat(ramp, 3, axis=2), "palette", settings)[8].astype(int)


def test_palette_effect_maps_light_to_the_gradient(gl) -> None:
    mono = _palette(gl, {"palette": "mono", "black": 0.1})
    assert np.abs(mono - mono.mean(axis=1, keepdims=True)).max() <= 1  # grey
    assert (mono[:6] == 0).all() and mono[-1].min() >= 250  # black point: real black; white stays white
    assert (np.diff(mono[:, 0]) >= 0).all()  # light keeps its order
    neon = _palette(gl, {"palette": "neon"})
    chroma = neon.max(axis=1) - neon.min(axis=1)
    assert chroma[20:50].mean() > 120 and (neon[0] == 0).all()
    grey = _palette(gl, {"palette": "neon", "saturation": 0.0})
    assert (grey.max(axis=1) - grey.min(axis=1)).max() <= 2
    keep = _palette(gl, {"palette": "neon", "amount": 0.0})  # the picture's own colours
    assert np.abs(keep[:, 0] - np.linspace(0, 255, 64)).max() <= 2
    # Custom stops come from the registry (OSC, presets, morphs): the light end turns pure red.
    custom = _palette(gl, {"palette": "custom", "c4_r": 1.0, "c4_g": 0.0, "c4_b": 0.0})
    assert custom[-1, 0] >= 250 and custom[-1, 1:].max() <= 3
    hard = _palette(gl, {"palette": "mono", "contrast": 3.0, "black": 0.0})
    assert set(np.unique(hard[:, 0])) <= {0, 255}  # noir: pure black and white


def test_looks_measures(tmp_path) -> None:
    looks = _looks_tool()
    rng = np.random.default_rng(0)
    noise = [rng.integers(0, 256, (64, 64, 3), dtype=np.uint8) for _ in range(3)]
    yy, xx = np.indices((64, 64))
    smooth = [np.repeat((127 + 120 * np.sin(2 * math.pi * (xx + k) / 64))[..., None], 3, axis=2).astype(np.uint8)
              for k in range(3)]
    grey_hist = looks.hsv_histogram(smooth)
    assert abs(grey_hist.sum() - 1) < 1e-9 and looks.hellinger(grey_hist, grey_hist) == 0.0
    assert looks.hellinger(grey_hist, looks.hsv_histogram(noise)) > 0.5
    # White noise has a flat spectrum; a smooth wave puts its power at the lowest frequency.
    flat, steep = looks.radial_spectrum(noise), looks.radial_spectrum(smooth)
    assert np.abs(flat).max() < 0.3 and steep[0] - steep[-1] > 3
    assert np.mean(np.abs(flat - steep)) > 0.3
    assert looks.colourfulness(smooth) == 0.0 and looks.colourfulness(noise) > 0.3
