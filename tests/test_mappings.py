"""The mapping library and its use by the conductor and the presets."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch

from livegan.audio.features import FeatureFrame
from livegan.conductor import ganspace
from livegan.audio.features import merge_frames
from livegan.conductor.mappings import (MappingError, bend_layer, layer_indices, mappings_json, parse_mapping,
                                        parse_mappings)
from livegan.conductor.preset import PresetError, list_presets, load_preset, parse_preset
from livegan.params.definitions import make_registry
from livegan.session import Session, SessionSpec

FIXTURES = Path(os.environ.get("LIVEGAN_FIXTURES",
                               Path(__file__).resolve().parents[1].parent / "shared" / "fixtures" / "stylegan"))


def session(tables=(), seed: int = 0, preset: str | None = None) -> Session:
    """The embedded model at 32 px; no preset unless named, ``tables`` as the mappings."""
    s = Session(SessionSpec(model_size=32, preset=preset, seed=seed, device="cpu"))
    if tables:
        s.registry.set("preset/mappings", mappings_json(tables))
    return s


@pytest.fixture(scope="module")
def gen():
    torch.set_num_threads(1)
    return session().model.rig.generator


def frame(t, rms=0.8, kick=False, **kw):
    return FeatureFrame(int(t * 48000), t, rms=rms, bands=(0.9 * rms, 0.8 * rms, 0.5 * rms, 0.4 * rms),
                        band_onsets=(1.0, 0.5, 0.2, 0.2) if kick else (0.0,) * 4, onset=kick,
                        onset_strength=0.5 if kick else 0.0, **kw)


def conductor_with(tables, seed=0):
    s = session(tables, seed)
    return s, s.conductor(), s.registry


# ---- parsing ---------------------------------------------------------------------------------

@pytest.mark.parametrize("table, match", [
    ({"kind": "wobble"}, r"kind = 'wobble': expected one of push"),
    ({"kind": "push", "source": "bassline"}, r"source = 'bassline': unknown"),
    ({"kind": "push", "source": "lfo:sine:0"}, r"an LFO is lfo:"),
    ({"kind": "push", "layers": "top"}, r"layers = 'top'"),
    ({"kind": "push", "layers": [0.8, 0.2]}, r"layers = \[0.8, 0.2\]"),
    ({"kind": "bend", "op": "melt"}, r"op = 'melt'"),
    ({"kind": "snap", "target": "hat"}, r"target = 'hat'"),
    ({"kind": "push", "amount": "lots"}, r"amount = 'lots'"),
    ({"kind": "push", "attack": -1}, r"attack = -1"),
    ({"kind": "push", "op": "scale"}, r"unknown key 'op'"),
])
def test_bad_mappings_are_one_line_errors_naming_field_and_value(table, match):
    with pytest.raises(MappingError, match=match):
        parse_mapping(table, "x.toml: mappings[0]")


def test_preset_with_bad_mapping_fails_at_load_naming_the_file(tmp_path):
    p = tmp_path / "oops.toml"
    p.write_text('name = "oops"\n[[mappings]]\nkind = "push"\nsource = "kik"\n')
    with pytest.raises(PresetError, match=r"oops\.toml:2: mappings\[0\] \(push\): source = 'kik'"):
        load_preset(str(p))


def test_at_least_eight_presets_all_with_mappings_and_descriptions():
    names = list_presets()
    assert len(names) >= 8
    reg = make_registry()
    presets = [load_preset(n, reg) for n in names]
    assert all(p.description and p.mappings for p in presets)
    assert len({p.description for p in presets}) == len(presets)
    readme = (Path(__file__).resolve().parents[1] / "presets" / "README.md").read_text()
    assert all(f"`{n}`" in readme for n in names)


# ---- runtime ---------------------------------------------------------------------------------

def _run_presets(seconds=2.0, fps=8, model: str = "builtin"):
    out = {}
    for name in list_presets():
        s = Session(SessionSpec(model=model, model_size=32 if model == "builtin" else None, preset=name,
                                device="cpu"))
        cond, reg = s.conductor(), s.registry
        seq = [cond.step(frame(i / fps, kick=i % 4 == 0, drop=i == 8, section=i == 8), reg.snapshot(), i / fps)
               for i in range(int(seconds * fps))]
        img = s.model.engine.generate(seq[::4])
        assert img.dtype == torch.uint8 and img.float().std() > 1.0, name
        out[name] = seq
    return out


def test_every_preset_runs_on_the_builtin_model(gen):
    runs = _run_presets()
    # The presets really differ: their latents part ways.
    finals = [seq[-1].ws for seq in runs.values()]
    assert min(float((a - b).norm()) for i, a in enumerate(finals) for b in finals[i + 1:]) > 1e-3


@pytest.mark.skipif(not (FIXTURES / "sg2_tiny.safetensors").is_file(), reason="no StyleGAN fixtures")
@pytest.mark.parametrize("name", ["sg2_tiny", "sg3t_tiny"])
def test_every_preset_runs_on_stylegan_models(name, tmp_path):
    from livegan.testing.nvpkl_writer import write_nvpkl

    pkl = write_nvpkl(tmp_path / f"{name}.pkl", name)
    runs = _run_presets(seconds=1.0, model=str(pkl))
    g = Session(SessionSpec(model=str(pkl), preset=None, device="cpu")).model.rig.generator
    layer_names = {layer.name for layer in g.layers}
    assert all(b.layer in layer_names for seq in runs.values() for inp in seq for b in inp.bends)
    assert any(inp.bends for inp in runs["glitch"])


def test_groups_and_depths_pick_layers_by_resolution(gen):
    groups = gen.layer_groups()
    assert layer_indices("coarse", groups, gen.num_ws) == groups["coarse"]
    assert layer_indices((0.0, 0.0), groups, gen.num_ws) == [0]
    assert layer_indices((0.9, 1.0), groups, gen.num_ws) == [gen.num_ws - 1]
    # A group a family lacks falls back to that third of the depth.
    assert layer_indices("middle", {"coarse": [0, 1], "fine": [2, 3, 4, 5]}, 6) == [2, 3]
    res = {layer.name: layer.resolution for layer in gen.layers}
    assert res[bend_layer("coarse", gen.layers, groups)] <= res[bend_layer("fine", gen.layers, groups)]


def test_snap_pulls_toward_the_kick_latent_and_releases(gen):
    snap_table = [{"kind": "snap", "source": "kick", "layers": "coarse", "amount": 1.0, "release": 0.2}]
    s, cond, reg = conductor_with(snap_table)
    plain = session()
    idx = gen.layer_groups()["coarse"]
    a = cond.step(frame(0.0, kick=True), reg.snapshot(), 0.0)
    b = plain.conductor().step(frame(0.0, kick=True), plain.registry.snapshot(), 0.0)
    target = s.model.rig.latent(7001)
    psi = 0.8 + 0.2 * s.performance.state.energy  # the default truncation of both
    w_avg = s.model.rig.material(0).w_avg
    expect = w_avg + psi * (target - w_avg)
    assert torch.allclose(a.ws[idx], expect.expand(len(idx), -1), atol=1e-4)
    assert not torch.allclose(b.ws[idx], a.ws[idx], atol=1e-2)
    later = [cond.step(frame(0.05 * i), reg.snapshot(), 0.05 * i) for i in range(1, 40)]
    d = [float((x.ws[idx] - a.ws[idx]).norm()) for x in later]
    assert d[5] > d[0] and d[-1] > 0.5 * max(d)  # decays away from the target


def test_a_repeated_frame_fires_its_events_once():
    s, cond, reg = conductor_with([{"kind": "jump", "source": "drop"}])
    f = frame(1.0, drop=True)
    for i in range(3):  # live: the same newest frame seen by three video frames
        cond.step(f, reg.snapshot(), 1.0 + i / 60)
    assert s.performance.state.key_offset == 1


def test_events_between_video_frames_are_kept():
    hops = [frame(0.01 * i, kick=(i == 1), drop=(i == 2)) for i in range(4)]
    merged = merge_frames(hops)
    assert merged.onset and merged.drop and merged.band_onsets[0] == 1.0 and merged.time == hops[-1].time


def test_envelopes_are_frame_rate_independent():
    table = [{"kind": "push", "source": "kick", "layers": "middle", "amount": 1.0, "release": 0.3},
             {"kind": "bend", "op": "scale", "source": "rms", "attack": 0.1, "release": 0.4, "amount": 0.5}]

    def run(fps):
        _, cond, reg = conductor_with(table)
        out = None
        for i in range(int(2 * fps) + 1):
            t = i / fps
            out = cond.step(frame(t, rms=0.8 if t < 1.0 else 0.2, kick=abs(t - 1.5) < 1e-9), reg.snapshot(), t)
        return out, cond.last.mappings.values

    (a, va), (b, vb) = run(12), run(48)
    # An event's decay is the same at any frame rate: exp(-a) * exp(-b) == exp(-(a + b)) up to
    # float64 rounding over the ~100 steps taken.
    assert va[0] == pytest.approx(vb[0], rel=1e-6)
    # A level sampled at the frame rate: exact while it holds, within one frame's smoothing
    # after it steps (the step falls somewhere in a 1/12 s frame).
    assert va[1] == pytest.approx(vb[1], abs=0.01)
    assert a.bends[0].amount == pytest.approx(b.bends[0].amount, abs=0.01)


def test_silence_rests_even_with_lfos():
    table = [{"kind": "direction", "source": "lfo:sine:2", "amount": 2.0, "release": 0.5},
             {"kind": "bend", "op": "rotate", "source": "lfo:tri:1", "amount": 30.0, "release": 0.5}]
    _, cond, reg = conductor_with(table)
    reg.set("tempo/bpm", 120.0)
    quiet = [cond.step(FeatureFrame(int(t * 48000), t), reg.snapshot(), t) for t in np.arange(0, 20, 0.1)]
    steps = [float((b.ws - a.ws).norm()) for a, b in zip(quiet[150:], quiet[151:])]
    assert max(steps) < 1e-3
    assert all(abs(x.bends[0].amount) < 0.5 for x in quiet[150:] if x.bends)
    loud = [cond.step(frame(20 + t), reg.snapshot(), 20 + t) for t in np.arange(0, 4, 0.1)]
    assert max(float((b.ws - a.ws).norm()) for a, b in zip(loud, loud[1:])) > 100 * max(steps + [1e-9])


def test_keyframe_loop_locks_to_bars():
    s = session()
    reg = s.registry
    reg.update({"tempo/bpm": 120.0, "tempo/loop_bars": 2, "latent/keyframes": 4, "latent/motion": 0.0,
                "latent/pulse": 0.0, "latent/chroma": 0.0, "truncation/energy": 0.0, "layers/bass_coarse": 0.0,
                "layers/mid_middle": 0.0, "layers/high_fine": 0.0})
    cond = s.conductor()
    seq = {round(t, 2): cond.step(frame(t), reg.snapshot(), t).ws for t in np.arange(0, 12.01, 0.05)}
    # 2 bars at 120 BPM = 4 s per loop: the picture repeats every 4 s, not before.
    assert torch.allclose(seq[1.0], seq[5.0], atol=1e-4) and torch.allclose(seq[2.5], seq[10.5], atol=1e-4)
    assert not torch.allclose(seq[1.0], seq[3.0], atol=1e-2)


def test_ganspace_directions_are_orthonormal_and_cached(gen, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    ganspace._memory.pop(gen, None)
    d = ganspace.directions(gen)
    comp = d.components.double()
    assert torch.allclose(comp @ comp.T, torch.eye(len(comp), dtype=torch.float64), atol=1e-4)
    assert bool((d.stds[:-1] >= d.stds[1:]).all()) and float(d.stds[0]) > 0
    files = list((tmp_path / "livegan" / "ganspace").glob("*.npz"))
    assert len(files) == 1
    ganspace._memory.pop(gen, None)
    again = ganspace.directions(gen)  # from the disk cache
    assert torch.equal(again.components, d.components)
    # ganspace/<k> moves the latent along component k by that many sds.
    s1, s2 = session(), session()
    a = s1.conductor().step(frame(0.0), s1.registry.snapshot(), 0.0)
    s2.registry.set("ganspace/0", 2.0)
    b = s2.conductor().step(frame(0.0), s2.registry.snapshot(), 0.0)
    moved = (b.ws - a.ws)[0]
    psi = 0.8 + 0.2 * 0.8 * (1 - np.exp(0))  # energy is 0 on the first frame
    assert float(moved @ d.components[0]) == pytest.approx(2.0 * float(d.stds[0]) * psi, rel=1e-3)


def test_parse_mappings_keeps_order_and_defaults():
    specs = parse_mappings([{"kind": "bend", "op": "scale", "source": "kick"}, {"kind": "truncation"}], "p")
    assert [s.kind for s in specs] == ["bend", "truncation"]
    assert specs[0].layers == "middle" and specs[1].layers == "all" and specs[1].source == "rms"
    preset = parse_preset('name = "x"\n[[mappings]]\nkind = "flash"\nsource = "drop"\n')
    assert preset.mappings[0]["source"] == "drop"
