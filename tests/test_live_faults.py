"""Audio faults never stop the picture: no device, and a device that vanishes and comes back."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
import time

import pytest
from conftest import jack_env, start_jackd, stop_process

pytestmark = pytest.mark.jack


def _live(tmp_path, env, duration: float, *extra: str) -> subprocess.Popen:
    out = tmp_path / "stats.json"
    cmd = [sys.executable, "-m", "livegan", "live", "--headless", "--duration", str(duration), "--size", "32",
           "--fps", "30", "--threads", "1", "--stats-json", str(out), *extra]
    return subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_missing_default_device_runs_on_silence(tmp_path):
    # No sound server at all, and no device named: the show runs on silence. (A device the user
    # names that does not exist is exit 2 at start: test_cli_bad_input.py.)
    env = jack_env(f"livegan_none_{os.getpid()}")  # a JACK server that does not exist
    proc = _live(tmp_path, env, 4.0)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    stats = json.loads((tmp_path / "stats.json").read_text())
    assert stats["frames"] > 10 and stats["model_frames"] > 0  # the picture kept going
    assert stats["audio_state"] == "lost"
    messages = [ln for ln in err.splitlines() if "audio input" in ln]
    assert messages and "running on silence" in messages[0]
    assert len(messages) <= 3, messages  # said once, not once per retry


def test_device_vanishes_and_returns(tmp_path):
    if not shutil.which("jackd"):
        pytest.skip("jackd is not installed")
    server = f"livegan_fault_{os.getpid()}"
    jackd = start_jackd(server)
    proc = None
    lines: list[str] = []
    try:
        proc = _live(tmp_path, jack_env(server), 10.0, "--audio-device", "system")
        reader = threading.Thread(target=lambda: lines.extend(proc.stderr), daemon=True)
        reader.start()
        deadline = time.monotonic() + 60
        while not any("capturing from" in ln for ln in lines) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert any("capturing from" in ln for ln in lines), lines
        time.sleep(1.0)
        stop_process(jackd)  # the device disappears mid-run
        time.sleep(2.5)
        jackd = start_jackd(server)  # and comes back
        proc.wait(timeout=60)
        reader.join(timeout=10)
        err = "".join(lines)
    finally:
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait()
        stop_process(jackd)
    assert proc.returncode == 0, err
    stats = json.loads((tmp_path / "stats.json").read_text())
    assert stats["audio_restarts"] >= 1 and stats["audio_state"] == "running", stats
    assert stats["frames_audio_lost"] > 10  # frames kept coming while the device was gone
    assert "running on silence" in err and "audio input resumed" in err


def test_file_without_an_output_device_runs_on_its_own_clock(tmp_path, monkeypatch):
    from live_helpers import PatternRenderer, click_track

    from livegan.live.app import LiveApp, LiveConfig

    monkeypatch.setenv("JACK_DEFAULT_SERVER", f"livegan_none_{os.getpid()}")  # no sound server at all
    monkeypatch.setenv("JACK_NO_START_SERVER", "1")
    song = click_track(tmp_path / "song.wav", [0.5 + 0.5 * i for i in range(4)], 6.0)
    cfg = LiveConfig(file=str(song), play=True, headless=True, window=(32, 32), duration=4.0, refresh_hz=30)
    app = LiveApp(cfg, renderer=PatternRenderer(8))
    result = app.run()
    assert result["audio_state"] == "file-clock", result
    assert "running on the file's clock" in result["audio_message"]
    assert result["frames"] > 30 and result["onsets"] >= 2  # the song was still analysed


def test_without_portaudio_the_picture_still_runs(tmp_path):
    # Fault injection: a sounddevice that fails to import exactly as it does without libportaudio.
    fake = tmp_path / "fake"
    fake.mkdir()
    (fake / "sounddevice.py").write_text("raise OSError('PortAudio library not found')\n")
    env = jack_env()
    env["PYTHONPATH"] = os.pathsep.join([str(fake), env.get("PYTHONPATH", "")])
    proc = _live(tmp_path, env, 3.0)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    stats = json.loads((tmp_path / "stats.json").read_text())
    assert stats["frames"] > 10 and stats["audio_state"] == "lost"
    assert "PortAudio is not available" in err and "running on silence" in err
