"""Live-mode building blocks that need no GL, audio device or model."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from livegan.gl.declarations import ShaderError, parse_declarations
from livegan.live.hud import font_atlas, glyph_bitmap
from livegan.live.latest import Latest
from livegan.live.ringbuffer import AudioRing
from livegan.live.stats import LiveStats


def test_ring_wraps_and_keeps_positions():
    ring = AudioRing(10, 48000)
    ring.write(np.arange(6, dtype=np.float32), arrival=1.0)
    ring.write(np.arange(6, 13, dtype=np.float32), arrival=2.0)  # wraps
    data, start = ring.read_from(3)
    assert start == 3 and data.tolist() == list(range(3, 13))
    # A reader older than the capacity skips to the oldest sample held (stale audio dropped).
    data, start = ring.read_from(0)
    assert start == 3 and data[0] == 3
    # max_samples keeps only the newest.
    data, start = ring.read_from(0, max_samples=4)
    assert start == 9 and data.tolist() == [9, 10, 11, 12]


def test_ring_mixes_channels_and_stamps_blocks():
    ring = AudioRing(100, 48000)
    ring.write(np.array([[1.0, 3.0], [2.0, 4.0]], np.float32), arrival=5.0)
    ring.write(np.zeros(8, np.float32), arrival=6.0)
    data, _ = ring.read_from(0)
    assert data[:2].tolist() == [2.0, 3.0]
    assert ring.arrival_time(1) == 5.0 and ring.arrival_time(2) == 5.0
    assert ring.arrival_time(3) == 6.0 and ring.arrival_time(10) == 6.0
    assert ring.arrival_time(11) is None  # not arrived yet


def test_ring_wait_wakes_on_write():
    ring = AudioRing(100, 48000)
    assert not ring.wait_for(0, 0.01)
    t = threading.Timer(0.05, lambda: ring.write(np.ones(4, np.float32)))
    t.start()
    assert ring.wait_for(0, 5.0)
    t.join()


def test_latest_wins_and_counts_drops():
    slot: Latest[int] = Latest()
    slot.put(1)
    slot.put(2)  # 1 was never read
    value, version = slot.get()
    assert (value, version) == (2, 2) and slot.dropped == 1
    slot.put(3)
    assert slot.wait_newer(2, 0.01) == (3, 3)
    assert slot.wait_newer(3, 0.01) == (3, 3)  # timeout: still the newest
    assert slot.dropped == 1


def test_stats_summary():
    st = LiveStats()
    for i in range(11):
        st.on_swap(i * 0.02)
    for lat in (10.0, 20.0, 30.0):
        st.on_new_model_frame(lat, 5.0)
    st.on_new_model_frame(None, 7.0)
    s = st.summary()
    assert s.frames == 11 and s.seconds == pytest.approx(0.2)
    assert s.fps == pytest.approx(50.0)
    assert s.frame_ms_p50 == pytest.approx(20.0)
    assert s.latency_ms_p50 == pytest.approx(20.0) and s.latency_samples == 3
    assert s.model_frames == 4


SHADER = """#version 330 core
// @effect enabled=true desc="test effect"
uniform float u_gain; // @param min=0 max=2 default=0.5 unit=x desc="gain \\"amount\\""
uniform int u_mode;   // @param choices="a,b,c" default=b
uniform bool u_on;    // @param default=true
uniform int u_count;  // @param min=1 max=8 default=3
uniform float u_time;
"""


def test_shader_declarations_become_param_specs():
    info = parse_declarations("demo", SHADER)
    assert info.enabled and info.description == "test effect"
    specs = {p.uniform: p.spec for p in info.params}
    assert set(specs) == {"u_gain", "u_mode", "u_on", "u_count"}  # u_time is standard, not a param
    g = specs["u_gain"]
    assert (g.name, g.type, g.min, g.max, g.default, g.unit) == ("fx/demo/gain", "float", 0.0, 2.0, 0.5, "x")
    assert g.description == 'gain "amount"'
    assert specs["u_mode"].type == "enum" and specs["u_mode"].choices == ("a", "b", "c")
    assert specs["u_mode"].default == "b"
    assert specs["u_on"].type == "bool" and specs["u_on"].default is True
    assert specs["u_count"].type == "int" and specs["u_count"].default == 3


@pytest.mark.parametrize("line, fragment", [
    ("uniform float u_x; // @param min=0 max=1 colour=red", "unknown @param keys colour"),
    ("uniform float u_x; // @param min=0 max=1 default=5", "5.0 is out of range [0.0, 1.0]"),
    ("uniform float u_x; // @param choices=\"a,b\"", "choices need an int"),
    ("uniform float u_x; // @param min", "expected key=value"),
])
def test_bad_declarations_name_file_and_line(line, fragment):
    with pytest.raises(ShaderError) as err:
        parse_declarations("bad", "#version 330 core\n" + line + "\n", "shaders/bad.glsl")
    assert "shaders/bad.glsl:2" in str(err.value) and fragment in str(err.value)


def test_bundled_shaders_declare_what_presets_use():
    from livegan.gl.declarations import SHADER_DIR

    names = {p.stem: parse_declarations(p.stem, p.read_text()) for p in SHADER_DIR.glob("*.glsl")}
    assert {"colour", "feedback", "mirror", "kaleidoscope", "zoom", "strobe", "crossfade", "vignette",
            "scale"} <= set(names)
    colour = {p.spec.name for p in names["colour"].params}
    assert {"fx/colour/hue", "fx/colour/saturation", "fx/colour/contrast", "fx/colour/gamma"} <= colour
    assert names["scale"].order == "last" and names["crossfade"].order == "first"


def test_font_glyphs():
    a = glyph_bitmap("a")  # lower case draws as upper case
    assert a.shape == (7, 5)
    assert a[0].tolist() == [False, True, True, True, False] and a[3].all()
    assert (glyph_bitmap("~") == glyph_bitmap("?")).all()
    atlas = font_atlas()
    assert atlas.shape == (32, 96)
    assert atlas[:8, :6].max() == 0  # space is blank
    assert atlas[0:7, 6 * 1:6 * 1 + 5].sum() > 0  # '!' has ink


def test_inference_thread_tags_frames_with_their_audio_and_freezes():
    import torch

    import itertools

    from livegan.audio.features import FeatureFrame
    from livegan.live.inference_thread import InferenceThread
    from livegan.live.watchdog import StallGuard
    from livegan.session import Session, SessionSpec

    torch.set_num_threads(1)
    session = Session(SessionSpec(model_size=32, device="cpu"))
    reg = session.registry
    feats: Latest = Latest()
    frames: Latest = Latest()
    clocks: Latest = Latest()
    ticks = []
    worker = InferenceThread(feats, reg, session.performance, StallGuard(session.model), frames, clocks,
                             itertools.count(1), on_tick=lambda *tick: ticks.append(tick)).start()
    try:
        feats.put(FeatureFrame(sample_pos=4800, time=0.1, rms=0.5))
        frame, v = frames.wait_newer(0, 30.0)
        assert v == 1 and frame.sample_pos == 4800 and frame.index == 1
        assert frame.pixels.shape == (32, 32, 3) and frame.pixels.dtype == np.uint8 and frame.pixels.std() > 0
        reg.set("show/freeze", True)
        feats.put(FeatureFrame(sample_pos=9600, time=0.2))
        assert frames.wait_newer(1, 0.5)[1] == 1  # frozen: no new picture
        reg.set("show/freeze", False)
        feats.put(FeatureFrame(sample_pos=14400, time=0.3))
        frame, v = frames.wait_newer(1, 30.0)
        assert v == 2 and frame.sample_pos == 14400
    finally:
        worker.stop()
    assert worker.error is None
    # Every tick stepped the performance and was reported, the frozen one without a frame;
    # frame ids run on over the hold, and the model is named on the first tick only.
    assert [(t[2], t[3]) for t in ticks] == [(4800, 1), (9600, -1), (14400, 2)]
    assert ticks[0][4] == "builtin" and ticks[1][4] is None
    assert clocks.version == 3


def test_host_copier_matches_plain_copy():
    import torch

    from livegan.live.inference_thread import HostCopier

    x = torch.randint(0, 256, (1, 8, 6, 3), dtype=torch.uint8)
    assert np.array_equal(HostCopier()(x), x[0].numpy())
    if torch.cuda.is_available():  # the pinned asynchronous path
        copier = HostCopier()
        for _ in range(4):  # goes round the pinned pool
            y = torch.randint(0, 256, (1, 64, 48, 3), dtype=torch.uint8, device="cuda")
            assert np.array_equal(copier(y), y[0].cpu().numpy())


def test_every_bundled_preset_effect_has_a_shader_with_those_uniforms():
    from livegan.conductor.preset import PRESET_DIR, load_preset
    from livegan.gl.declarations import SHADER_DIR

    declared = {p.stem: {u.spec.name for u in parse_declarations(p.stem, p.read_text()).params}
                for p in SHADER_DIR.glob("*.glsl")}
    presets = sorted(PRESET_DIR.glob("*.toml"))
    assert presets
    for path in presets:
        for eff in load_preset(str(path)).effects:
            assert eff["name"] in declared, f"{path.name}: no shader for effect {eff['name']!r}"
            for key in eff:
                if key not in ("name", "enabled"):
                    assert f"fx/{eff['name']}/{key}" in declared[eff["name"]], f"{path.name}: {eff['name']}.{key}"
