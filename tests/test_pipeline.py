"""One pipeline: live and offline are built by the same Session from the same spec, and a
recorded show re-renders to the pictures the audience saw.

* The live inference thread and the offline conductor, fed the same features and the same
  parameter changes, produce the same generator inputs (smoothing included).
* ``livegan live --record`` steered over real UDP OSC, then ``livegan render --replay --check``.
* A preset with a kaleidoscope and feedback chain, rendered offline (lossless), decodes to the
  live headless pictures of the same instants.
"""

from __future__ import annotations

import itertools
import json
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import av
import numpy as np
import pytest
import torch
from live_helpers import click_track
from pythonosc.udp_client import SimpleUDPClient

from livegan.audio.features import FeatureFrame
from livegan.cli import build_parser
from livegan.commands.live import live_config
from livegan.commands.render import session_spec
from livegan.live.inference_thread import InferenceThread
from livegan.live.latest import Latest
from livegan.live.watchdog import StallGuard
from livegan.record.setfile import load_set
from livegan.render.offline import conduct
from livegan.session import Session

SR = 48000
FPS = 30
LIVEGAN = [sys.executable, "-m", "livegan"]


def free_port() -> int:
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def features(n: int) -> list[FeatureFrame]:
    """One hop per video frame, exactly at i / FPS: kicks every half second, a quiet stretch."""
    out = []
    for i in range(n):
        loud = 0.1 if 40 <= i < 55 else 0.8
        kick = i % 15 == 0
        out.append(FeatureFrame(sample_pos=i * SR // FPS, time=i / FPS, rms=loud,
                                bands=(0.9 * loud, 0.7 * loud, 0.5 * loud, 0.4 * loud),
                                band_onsets=(1.0, 0.5, 0.2, 0.1) if kick else (0.0,) * 4, onset=kick,
                                onset_strength=0.5 if kick else 0.0, flux=0.6 if kick else 0.1,
                                chroma=tuple(np.roll(np.eye(12)[0], i // 20)), tempo_bpm=120.0,
                                beat_phase=(i / FPS * 2.0) % 1.0))
    return out


# Frame -> changes applied before its snapshot: psi jumps, a speed change, a reseed, a freeze
# with taps inside, a flash.
CHANGES = {
    0: [("truncation/energy", 0.0)], 10: [("truncation/psi", 0.0)], 11: [("latent/speed", 2.0)], 20: [("truncation/psi", 1.4)],
    25: [("latent/reseed", None)], 30: [("show/freeze", True)], 31: [("tempo/tap", None)],
    33: [("tempo/tap", None), ("fx/flash", None)], 35: [("tempo/tap", None)], 37: [("show/freeze", False)],
    60: [("latent/next", None)],
}


def specs(tmp_path: Path):
    song = str(tmp_path / "song.wav")
    parser = build_parser()[0]
    live = parser.parse_args(["live", "--file", song, "--seed", "5", "--preset", "pulse", "--size", "64"])
    render = parser.parse_args(["render", song, "-o", str(tmp_path / "x.mp4"), "--seed", "5", "--preset", "pulse",
                                "--model-size", "64"])
    return live_config(live).session_spec(SR), session_spec(render, SR)


def test_live_and_offline_pipelines_give_identical_inputs(tmp_path):
    torch.set_num_threads(1)
    live_spec, offline_spec = specs(tmp_path)
    assert live_spec == offline_spec  # the CLIs ask for the same pipeline ...
    n = 75
    feats = features(n)

    # Live: the real inference thread, fed one FeatureFrame at a time through its latest-wins slot.
    live = Session(live_spec)
    grooves: list = []
    step = live.performance.step
    live.performance.step = lambda f, s, t: grooves.append(step(f, s, t)) or grooves[-1]  # type: ignore[method-assign]
    slot, out, clocks, ticks = Latest(), Latest(), Latest(), []
    thread = InferenceThread(slot, live.registry, live.performance, StallGuard(live.model), out, clocks,
                             itertools.count(1), on_tick=lambda *a: ticks.append(a)).start()
    try:
        for i, f in enumerate(feats):
            for name, value in CHANGES.get(i, ()):
                live.registry.set(name, value, source="test")
            slot.put(f)
            deadline = time.monotonic() + 30
            while len(ticks) <= i and time.monotonic() < deadline:
                time.sleep(0.001)  # one tick per frame: the next features wait for it
    finally:
        thread.stop()
    assert len(grooves) == n and thread.error is None

    # Offline: the render's own conductor loop on the same features and changes.
    offline = Session(offline_spec)

    def on_time(t: float) -> None:
        for name, value in CHANGES.get(round(t * FPS), ()):
            offline.registry.set(name, value, source="test")

    jobs = list(conduct(offline, feats, SR, n, FPS, on_time))
    # Exact on purpose: both sides run the same performance and rig code on the same inputs.
    for i, (g, job) in enumerate(zip(grooves, jobs)):
        a = live.model.rig.inputs(g)
        b = job.inputs
        assert torch.equal(a.ws, b.ws), f"frame {i}"
        assert (a.noise, a.bends, a.flash, a.master, a.blackout, a.time) == \
               (b.noise, b.bends, b.flash, b.master, b.blackout, b.time), f"frame {i}"
        assert (a.transform is None) == (b.transform is None)

    # Smoothing is the registry's (truncation/psi: 0.3 s) on both sides: one frame after the
    # jump to 0 the psi has fallen by 1 - exp(-(1/30) / 0.3), about 10 %, not to 0.
    tau = live.registry.spec("truncation/psi").smoothing
    assert tau == pytest.approx(0.3) and live.performance.taus["truncation/psi"] == tau
    before = grooves[9].psi  # the preset's psi (truncation/energy is 0 from frame 0)
    assert before > 0.5
    assert grooves[10].psi == pytest.approx(before * np.exp(-(1 / FPS) / tau), rel=1e-9)
    # Frozen: the picture holds (ws unchanged) while taps, the reseed and the flash still count.
    frozen = [live.model.rig.inputs(g).ws for g in grooves[30:37]]
    assert all(torch.equal(w, frozen[0]) for w in frozen) and all(g.frozen for g in grooves[30:37])
    assert grooves[37].clock.bpm > 0 and grooves[37].seed == 6  # reseed: latent/seed 5 -> 6


def run_live(args: list[str], record: Path, script=None, timeout: float = 180) -> subprocess.CompletedProcess:
    """``livegan live`` in its own process; ``script(port)`` steers it over UDP once it records."""
    thread = None
    if script is not None:
        def steer() -> None:
            deadline = time.monotonic() + 120
            while not (record / "set.json").is_file() and time.monotonic() < deadline:
                time.sleep(0.05)  # the recorder starts with the show
            script()

        thread = threading.Thread(target=steer, daemon=True)
        thread.start()
    proc = subprocess.run(LIVEGAN + ["live", *args, "--record", str(record)], capture_output=True, text=True,
                          timeout=timeout)
    if thread is not None:
        thread.join(5)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc


def check_line(out: str) -> tuple[int, int, float]:
    m = re.search(r"replay check: (\d+) frames, max diff (\d+)/255, mean ([0-9.]+)/255", out)
    assert m, out
    return int(m.group(1)), int(m.group(2)), float(m.group(3))


def test_recorded_show_replays_to_the_same_pictures(tmp_path):
    """``live --headless --file SONG --seed 5 --record SET`` over real OSC, then ``render --replay SET --check``."""
    song = click_track(tmp_path / "song.wav", [0.25 * i for i in range(40)], 10.0)
    port, record = free_port(), tmp_path / "set"
    sent: list[str] = []

    def script() -> None:
        osc = SimpleUDPClient("127.0.0.1", port)
        steps = [("/livegan/truncation/psi", 0.0), ("/livegan/latent/speed", 2.5), ("/livegan/truncation/psi", 1.5),
                 ("/livegan/latent/reseed", []), ("/livegan/preset/load", "pulse"), ("/livegan/show/freeze", 1),
                 ("/livegan/tempo/tap", []), ("/livegan/tempo/tap", []), ("/livegan/fx/flash", []),
                 ("/livegan/tempo/tap", []), ("/livegan/show/freeze", 0), ("/livegan/truncation/psi", 0.2)]
        time.sleep(0.4)
        for address, value in steps:
            osc.send_message(address, value)
            sent.append(address)
            time.sleep(0.25)

    run_live(["--headless", "--file", str(song), "--no-playback", "--duration", "6", "--size", "64", "--fps", "30",
              "--seed", "5", "--osc-port", str(port)], record, script)
    assert len(sent) == 12
    recorded = load_set(record)
    assert recorded.complete and recorded.initial["latent/seed"] == 5  # --seed survived the preset
    names = [c.name for c in recorded.changes]
    for name in ("truncation/psi", "latent/speed", "latent/reseed", "preset/name", "tempo/tap", "fx/flash"):
        assert name in names, name
    seeds = [c.value for c in recorded.changes if c.name == "latent/seed"]
    assert seeds and seeds[0] == 6  # the reseed moved the seed on, and the set kept it
    freeze = [c.value for c in recorded.changes if c.name == "show/freeze"]
    assert freeze == [True, False]
    held = recorded.ticks[recorded.ticks["frame"] < 0]
    assert len(held) > 0  # ticks during the freeze stepped the performance but made no picture

    proc = subprocess.run(LIVEGAN + ["render", "--replay", str(record), "--check", "--quiet"],
                          capture_output=True, text=True, timeout=300)
    frames, max_diff, mean = check_line(proc.stdout)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert frames >= 100 and max_diff <= 2, proc.stdout


def test_effect_chain_renders_offline_as_the_show_drew_it(tmp_path):
    """A preset with a kaleidoscope and feedback trails: the lossless replay decodes to the live pictures."""
    from livegan.gl.compositor import Compositor
    from livegan.gl.context import create_headless_context
    from livegan.session import session_registry

    song = click_track(tmp_path / "song.wav", [0.25 * i for i in range(24)], 6.0)
    preset = tmp_path / "mirrors.toml"
    preset.write_text('name = "mirrors"\ndescription = "kaleidoscope over trails"\n[params]\n"latent/speed" = 0.8\n\n'
                      '[[effects]]\nname = "kaleidoscope"\nsegments = 6\nspin = 0.2\n\n'
                      '[[effects]]\nname = "feedback"\namount = 0.85\n')
    record = tmp_path / "set"
    run_live(["--headless", "--file", str(song), "--no-playback", "--duration", "4", "--size", "96", "--fps", "30",
              "--preset", str(preset), "--no-hud"], record)
    out = tmp_path / "show.mp4"
    proc = subprocess.run(LIVEGAN + ["render", "--replay", str(record), "-o", str(out), "--lossless", "--quiet"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    recorded = load_set(record)
    with av.open(str(out)) as c:
        fps = float(c.streams.video[0].average_rate)
        decoded = [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]
    assert len(decoded) == round(recorded.audio.duration * fps)

    # Output frame i shows the newest frame displayed at or before i / fps (a screen capture).
    shown = np.searchsorted(recorded.display["pos"] / recorded.sample_rate, np.arange(len(decoded)) / fps,
                            side="right") - 1
    ctx = create_headless_context()
    thumbs = Compositor(ctx, session_registry())
    worst, compared = 0, 0
    for frame, j in zip(decoded, shown):
        live = recorded.thumbnail(recorded.display[j]) if j >= 0 else None
        if live is None:
            continue
        h, w = frame.shape[:2]
        rgba = np.dstack([frame, np.full((h, w), 255, np.uint8)])[::-1]
        tex = ctx.texture((w, h), 4, np.ascontiguousarray(rgba).tobytes())
        diff = np.abs(thumbs.thumbnail(tex).astype(int) - live.astype(int))
        tex.release()
        worst, compared = max(worst, int(diff.max())), compared + 1
    thumbs.release()
    ctx.release()
    assert compared >= 90
    assert worst <= 2, worst
    # The chain really ran, live and offline: the preset switched the effects on, in its order.
    initial = json.loads((record / "set.json").read_text())["initial"]
    assert initial["fx/kaleidoscope/enabled"] and initial["fx/feedback/enabled"]
    assert initial["fx/order"] == "kaleidoscope,feedback"
