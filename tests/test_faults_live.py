"""Live faults with the real app headless (EGL): the picture keeps coming, the message is clear.

Covered here: a stalled model (watchdog), model hot swaps that fail (missing, corrupt,
malicious, incompatible, out of memory), OSC garbage and floods through the real isolated
server, a preset file saved with a syntax error, and SIGINT / window close stopping every
thread quickly. Audio device loss is in test_live_faults.py, broken shaders in
test_live_app.py.
"""

from __future__ import annotations

import itertools
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from live_helpers import PatternRenderer, click_track

from livegan.control.osc_packet import encode_message
from livegan.control.osc_server import OscServer
from livegan.live.app import LiveApp, LiveConfig
from livegan.live.hotswap import ModelSwapper
from livegan.params.definitions import make_registry
from livegan.session import Session, SessionSpec
from livegan.testing.nvpkl_writer import fixtures_dir, write_malicious, write_nvpkl

os.environ.setdefault("EGL_PLATFORM", "surfaceless")
torch.set_num_threads(1)


def config(song: Path, seconds: float, **kw) -> LiveConfig:
    return LiveConfig(file=str(song), play=False, size=32, headless=True, duration=seconds,
                      refresh_hz=30.0, device="cpu", **kw)


@pytest.fixture(scope="module")
def song(tmp_path_factory) -> Path:
    return click_track(tmp_path_factory.mktemp("song") / "clicks.wav", [0.25 * i for i in range(80)], 20.0)


class StallingRenderer(PatternRenderer):
    """The pattern, except that one chosen call blocks until released (a hung model)."""

    def __init__(self, stall_on_call: int) -> None:
        super().__init__(32)
        self.stall_on_call = stall_on_call
        self.release = threading.Event()

    def render(self, groove):
        img = super().render(groove)
        if self.calls == self.stall_on_call:
            self.release.wait(30)
        return img


def hud_text(app: LiveApp) -> str:
    return " | ".join(t for t, _ in app.last_hud.lines) if app.last_hud else ""


def test_stalled_inference_keeps_the_picture_and_restarts(song):
    renderer = StallingRenderer(stall_on_call=5)
    seen: dict = {}

    def on_frame(app: LiveApp, n: int) -> None:
        wd = app.watchdog
        if renderer.calls >= 5 and "stall_frame" not in seen:
            seen["stall_frame"] = n
        if wd.restarts and "restart_frame" not in seen:
            seen["restart_frame"], seen["hud"] = n, hud_text(app)
            seen["calls_at_restart"] = renderer.calls
            seen["pixels"] = app.surface.read()
        if "restart_frame" in seen and n == seen["restart_frame"] + 30:
            seen["calls_later"], seen["message_later"] = renderer.calls, wd.message

    app = LiveApp(config(song, 4.0, stall_limit_s=0.5), registry=make_registry(), renderer=renderer,
                  on_frame=on_frame)
    try:
        result = app.run()
    finally:
        renderer.release.set()
    assert app.watchdog.restarts == 1 and app.watchdog.stalls == 1 and result["inference_restarts"] == 1
    # Frames kept coming during the stall (0.5 s at 30 fps is 15 frames) ...
    assert seen["restart_frame"] - seen["stall_frame"] >= 5
    assert result["frames"] > 60
    # ... showing the last model picture, not black, with the HUD saying what happened.
    assert "INFERENCE STALLED" in seen["hud"] and "SHOWING THE LAST FRAME" in seen["hud"]
    assert np.asarray(seen["pixels"]).mean() > 20
    # The new inference thread produced pictures again and the notice cleared.
    assert seen["calls_later"] > seen["calls_at_restart"] and seen["message_later"] == ""


def _incompatible_file(path: Path) -> Path:
    from safetensors.torch import save_file

    save_file({"weights": torch.zeros(4, 4)}, str(path))  # valid safetensors, no generator in it
    return path


def test_failed_model_swaps_keep_the_current_model(song, tmp_path):
    marker = tmp_path / "pwned"
    corrupt = tmp_path / "corrupt.pkl"
    corrupt.write_bytes(b"\x80\x04garbage" * 100)
    requests = [
        ("corrupt", str(corrupt)),
        ("malicious", str(write_malicious(tmp_path / "evil.pkl", "os_system", marker))),
        ("incompatible", str(_incompatible_file(tmp_path / "other.safetensors"))),
    ]
    if (fixtures_dir() / "sg2_tiny.json").exists():  # a real StyleGAN2 file, NVIDIA's pickle format
        requests.append(("good", str(write_nvpkl(tmp_path / "sg2_tiny.pkl", "sg2_tiny"))))
    state: dict = {"i": 0, "missing": None, "models": []}

    def on_frame(app: LiveApp, n: int) -> None:
        sw = app.swapper
        if n == 1:
            state["original"] = app.watchdog.guard.renderer
            try:
                sw.request(str(tmp_path / "nope.pkl"))
            except Exception as exc:  # refused at once, before any loading
                state["missing"] = str(exc)
        if sw.busy:  # the display keeps drawing while a model loads
            return
        done = len(sw.results)
        if done < state["i"]:
            return
        if done and len(state["models"]) < done:
            if state.get("settled") != done:  # one more frame, so the HUD has drawn the outcome
                state["settled"] = done
                return
            state["models"].append((app.watchdog.guard.renderer, hud_text(app)))
        if state["i"] < len(requests):
            sw.request(requests[state["i"]][1])
            state["i"] += 1
        elif "done" not in state:
            state["done"] = n
            state["model_frames_at_done"] = app.stats.model_frames
        if "done" in state and n == state["done"] + 20:
            state["model_frames_later"] = app.stats.model_frames

    app = LiveApp(config(song, 5.0, model="builtin"), registry=make_registry(), on_frame=on_frame)
    result = app.run()
    assert "done" in state, app.swapper.results
    assert state["missing"] and "no such file" in state["missing"] and "keeping the current model" in state["missing"]
    results = app.swapper.results
    for (kind, path), res, (renderer, hud) in zip(requests, results, state["models"]):
        assert "\n" not in res.message and Path(path).name in res.message, res.message
        if kind == "good":
            assert res.ok and renderer is not state["original"], res.message
            assert "sg2_tiny" in res.message and res.message in hud
        else:
            assert not res.ok and "keeping" in res.message, res.message
            assert renderer is state["original"]  # the show went on with the old model
            assert res.message[:60] in hud
    assert "refused to load global 'posix.system'" in results[1].message
    assert not marker.exists()  # the malicious payload never ran
    assert result["frames"] > 100  # 5 s at 30 fps: the loads never held the display up for long
    assert state["model_frames_later"] > state["model_frames_at_done"]  # still making pictures


def test_out_of_memory_on_load_falls_back_to_fp16_or_keeps_the_model(song):
    """No GPU here: the builder fails the way CUDA does, around the real live model path."""
    real = Session(SessionSpec(model_size=32, device="cpu"), load_model=False).load_model
    calls: list[str] = []

    def oom_unless_fp16(spec: str, precision: str):
        calls.append(precision)
        if precision == "auto":
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 4.00 GiB (simulated)")
        return real(spec, "auto")  # the CPU builtin has no fp16 path worth running here

    class Slot:
        renderer = PatternRenderer(32)

    slot = Slot()
    sw = ModelSwapper(slot, oom_unless_fp16)
    sw.request("builtin:3")
    res = sw.wait(60)
    assert res.ok and res.precision == "fp16" and calls == ["auto", "fp16"]
    assert not isinstance(slot.renderer, PatternRenderer)

    def always_oom(spec: str, precision: str):
        raise RuntimeError("CUDA out of memory. Tried to allocate 4.00 GiB")

    kept = slot.renderer
    sw2 = ModelSwapper(slot, always_oom)
    sw2.request("builtin:4")
    res = sw2.wait(60)
    assert not res.ok and slot.renderer is kept
    assert res.message == "model builtin:4: out of memory (keeping the current model)"


def test_osc_garbage_and_floods_never_stall_the_picture(song):
    registry = make_registry()
    osc = OscServer(registry, port=0, isolate=True).start()
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    dest = ("127.0.0.1", osc.port)
    rng = np.random.default_rng(1)
    marks: dict = {}

    def on_frame(app: LiveApp, n: int) -> None:
        if n == 15:
            marks["t0"], marks["f0"] = time.perf_counter(), n
            for i in range(300):  # garbage of every kind
                sock.sendto(rng.integers(0, 256, int(rng.integers(1, 200)), dtype=np.uint8).tobytes(), dest)
                sock.sendto(encode_message("/livegan/latent/speed", ["fast"]), dest)
                sock.sendto(b"/livegan/truncation/psi\x00,f\x00\x00", dest)
            for i in range(20000):  # a flood
                sock.sendto(encode_message("/livegan/latent/speed", [0.5 + (i % 100) / 1000]), dest)
            marks["sent_frame"] = n
        if "sent_frame" in marks and "psi_frame" not in marks:
            if abs(registry.get("truncation/psi") - 0.42) < 1e-6:
                marks["psi_frame"] = n
            else:  # UDP may drop what overflowed the socket buffer: a controller sends again
                sock.sendto(encode_message("/livegan/truncation/psi", [0.42]), dest)
        if n == 75:
            marks["hud"] = hud_text(app)

    app = LiveApp(config(song, 3.5), registry=registry,
                  renderer=PatternRenderer(32), osc_activity=osc.stats, on_frame=on_frame)
    try:
        result = app.run()
        stats = osc.stats()
    finally:
        osc.stop()
        sock.close()
    assert result["frames"] > 60 and result["frame_ms_p99"] < 500  # no stall: a stall lasts seconds
    assert "psi_frame" in marks  # good messages after the flood still get through
    assert stats.errors.get("malformed", 0) > 100 and stats.errors.get("bad_arguments", 0) >= 300
    assert stats.received > 5000
    assert "OSC" in marks["hud"] and "ERR" in marks["hud"]


def test_preset_saved_with_a_syntax_error_keeps_the_last_good_values(song, tmp_path):
    from livegan.control.preset_watch import PresetWatcher

    preset = tmp_path / "mine.toml"
    preset.write_text('name = "mine"\n\n[params]\n"latent/speed" = 0.25\n')
    registry = make_registry()
    holder: dict = {}
    watcher = PresetWatcher(registry, preset, apply_first=True,
                            on_error=lambda msg: setattr(holder["app"].show, "message", msg))
    assert watcher.check() and registry.get("latent/speed") == pytest.approx(0.25)
    seen: dict = {}

    def on_frame(app: LiveApp, n: int) -> None:
        if n == 10:
            preset.write_text('name = "mine"\n\n[params\n"latent/speed" = 1.5\n')  # the closing ] forgotten
        if n == 11:
            seen["applied"], seen["speed"] = watcher.check(), registry.get("latent/speed")
        if n == 13:
            seen["hud"] = hud_text(app)

    app = LiveApp(config(song, 2.0), registry=registry, renderer=PatternRenderer(32), on_frame=on_frame)
    holder["app"] = app
    result = app.run()
    assert result["frames"] > 40 and seen["applied"] is False and seen["speed"] == pytest.approx(0.25)
    msg = watcher.last_error
    assert msg.startswith(f"{preset}:3") and "\n" not in msg, msg  # file and line
    assert msg[:60] in seen["hud"]


@pytest.mark.parametrize("how", ["sigint", "window"])
def test_sigint_and_window_close_stop_every_thread_quickly(song, tmp_path, how, request):
    if how == "sigint":
        stats = tmp_path / "stats.json"
        env = dict(os.environ, LIVEGAN_THREADS="1", PYTHONFAULTHANDLER="1")  # SIGABRT dumps the stacks
        proc = subprocess.Popen([sys.executable, "-m", "livegan", "live", "--headless", "--file", str(song),
                                 "--no-playback", "--size", "32", "--fps", "30", "--threads", "1", "--duration", "60",
                                 "--stats-json", str(stats)], env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        try:
            deadline = time.monotonic() + 60
            line = ""
            while "running on the file's clock" not in line:  # the app is up and playing
                line = proc.stderr.readline()
                assert line or proc.poll() is None, "live exited early"
                assert time.monotonic() < deadline
            time.sleep(1.0)
            t0 = time.monotonic()
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:  # hung: make it print every thread's stack, then fail
                proc.send_signal(signal.SIGABRT)
                pytest.fail("no exit 20 s after SIGINT; thread stacks:\n" + proc.communicate(timeout=20)[1][-8000:])
            took = time.monotonic() - t0
            err = proc.stderr.read()
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        assert proc.returncode == 130 and "livegan: interrupted" in err, err
        assert took < 3.0, f"stopping took {took:.1f} s"
        return
    # The window needs a fresh process: Mesa refuses GLX once this one has used EGL.
    display = request.getfixturevalue("xvfb_display")
    proc = subprocess.run([sys.executable, "-c", WINDOW_CHILD, str(song)], capture_output=True, text=True,
                          timeout=120, env=dict(os.environ, DISPLAY=display),
                          cwd=str(Path(__file__).resolve().parent))
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["frames"] == 20 and out["took"] < 2.0, out
    assert out["left"] == [], out


SLOW_LOAD_CHILD = """
import sys, time
import torch
import livegan.live.hotswap as hotswap

def probe_forever(self, renderer):  # a load that is still inside torch's C++ code at quit
    a = torch.randn(1024, 1024)
    while True:
        a @ a

hotswap.ModelSwapper._probe = probe_forever
import livegan.live.app as app
app.LOAD_QUIT_WAIT_S = 0.5
from livegan.cli import main
raise SystemExit(main(sys.argv[1:]))
"""


@pytest.mark.parametrize("load", ["normal", "never-ends"])
def test_quitting_while_a_model_loads_exits_cleanly(song, load):
    """The show ends with a model load in flight: no abort from a thread left inside torch.

    The app waits for a normal load. One that overruns the wait is left behind: the CLI exits
    past it (os._exit), because Python's own exit would abort the process ("terminate called").
    """
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = dict(os.environ, LIVEGAN_THREADS="1")
    cli = ["live", "--headless", "--file", str(song), "--no-playback", "--size", "128", "--fps", "30",
           "--threads", "1", "--duration", "4", "--osc-port", str(port)]
    prefix = [sys.executable, "-m", "livegan"] if load == "normal" else [sys.executable, "-c", SLOW_LOAD_CHILD]
    proc = subprocess.Popen(prefix + cli, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    sent = 0
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        while proc.poll() is None:  # a load request every 20 ms: one is nearly always loading
            sock.sendto(encode_message("/livegan/model/load", [f"builtin:{sent % 3}"]), ("127.0.0.1", port))
            sent += 1
            time.sleep(0.02)
    out, err = proc.communicate(timeout=60)
    assert "terminate called" not in err and proc.returncode == 0, (proc.returncode, err[-2000:])
    assert json.loads(out.strip().splitlines()[-1])["frames"] > 60, err[-2000:]
    if load == "normal":
        assert " loaded" in err, err[-2000:]
    else:
        assert "livegan: exiting past model-load" in err, err[-2000:]


WINDOW_CHILD = """
import json, sys, threading, time
from live_helpers import PatternRenderer
from livegan.live.app import LiveApp, LiveConfig
from livegan.params.definitions import make_registry

before = {t.ident for t in threading.enumerate()}
closed = {}

def on_frame(app, n):
    if n == 20:
        app.surface.glfw.set_window_should_close(app.surface.window, True)  # what the close button does
        closed["t"] = time.perf_counter()

app = LiveApp(LiveConfig(file=sys.argv[1], play=False, size=32, window=(160, 120), duration=30,
                         device="cpu"), registry=make_registry(), renderer=PatternRenderer(32), on_frame=on_frame)
app.run()
took = time.perf_counter() - closed["t"]
left = [t.name for t in threading.enumerate() if t.ident not in before and t.is_alive()]
print(json.dumps({"frames": app.frames_drawn, "took": took, "left": left}))
"""


def test_a_slow_model_is_not_taken_for_a_stalled_one():
    """A model slower than the limit (or compiling on its first frame) keeps its thread."""
    from livegan.audio.features import FeatureFrame
    from livegan.live.inference_thread import InferenceThread
    from livegan.live.latest import Latest
    from livegan.live.watchdog import InferenceWatchdog

    class Slow(PatternRenderer):
        def render(self, groove):
            time.sleep(0.6 if self.calls == 0 else 0.25)  # a long first frame, then 4 fps
            return super().render(groove)

    session = Session(SessionSpec(preset=None), load_model=False)
    features, frames, clocks, ids = Latest(), Latest(), Latest(), itertools.count(1)
    renderer = Slow(32)
    wd = InferenceWatchdog(lambda slot: InferenceThread(features, session.registry, session.performance, slot, frames,
                                                        clocks, ids), renderer, limit_s=0.1).start()
    try:
        t_end = time.perf_counter() + 2.5
        while time.perf_counter() < t_end:  # the display's ticks
            features.put(FeatureFrame.rest(0))
            wd.check()
            time.sleep(1 / 30)
    finally:
        wd.stop()
    assert wd.restarts == 0 and wd.message == "" and renderer.calls >= 5
    assert wd.guard.typical_s > 0.2
