"""Real audio through JACK's dummy driver: a click track played into PortAudio and captured."""

from __future__ import annotations

import subprocess
import sys
import time

import numpy as np
import pytest
from live_helpers import click_track

from livegan.audio.analyzer import Analyzer
from livegan.live.analysis_thread import AnalysisThread
from livegan.live.audio_input import DeviceInput
from livegan.live.latest import Latest
from livegan.live.ringbuffer import AudioRing

pytestmark = pytest.mark.jack

JACK_PERIOD = 1024


def _ports(kind: str) -> list[str]:
    out = subprocess.run(["jack_lsp", "-p"], capture_output=True, text=True, timeout=10).stdout.splitlines()
    ports, current = [], None
    for line in out:
        if not line.startswith((" ", "\t")):
            current = line.strip()
        elif current and kind in line and not current.startswith("system:"):
            ports.append(current)
    return ports


def test_click_track_onsets_arrive_at_the_right_times(jack_server, tmp_path):
    clicks = [1.5 + 0.4 * i for i in range(8)]
    song = click_track(tmp_path / "clicks.wav", clicks, 5.5)
    rate = 48000
    ring = AudioRing(rate * 20, rate)  # holds the whole run, so the test can find the clicks itself
    analyzer = Analyzer(rate)
    feats: Latest = Latest()
    analysis = AnalysisThread(ring, analyzer, feats, max_lag_s=20.0)
    with DeviceInput(ring, "system") as source:
        deadline = time.monotonic() + 15
        while source.status.state != "running" and time.monotonic() < deadline:
            time.sleep(0.02)
        assert source.status.state == "running", source.status.message
        capture_ports = set(_ports("input"))
        analysis.start()
        player = subprocess.Popen([sys.executable, "-m", "livegan.live.audio_child", "play", "--file", str(song),
                                   "--device", "system", "--block", "512"],
                                  stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 15
            while not [p for p in _ports("output")] and time.monotonic() < deadline:
                time.sleep(0.02)
            out_port = _ports("output")[0]
            in_port = sorted(capture_ports)[0]
            subprocess.run(["jack_connect", out_port, in_port], check=True, timeout=10)
            start = ring.write_pos
            while ring.write_pos - start < int(5.5 * rate) and time.monotonic() < deadline + 10:
                time.sleep(0.05)
        finally:
            player.kill()
            player.wait()
        time.sleep(0.2)
        analysis.stop()
    captured, first = ring.read_from(0)
    # Where the clicks really are in the captured stream: rising edges after quiet.
    loud = np.flatnonzero(np.abs(captured) > 0.2)
    edges = [int(i) for k, i in enumerate(loud) if k == 0 or i - loud[k - 1] > rate // 10]
    assert len(edges) == len(clicks), f"captured {len(edges)} clicks, played {len(clicks)}"
    assert np.allclose(np.diff(edges), 0.4 * rate, atol=JACK_PERIOD)  # the spacing survived the trip
    onsets = sorted(o for o in analysis.onsets if o >= first + edges[0] - rate // 10)
    allowed = analyzer.hop + JACK_PERIOD  # one hop plus one block
    for e in edges:
        click_pos = first + e
        near = [o - click_pos for o in onsets if -analyzer.hop <= o - click_pos <= allowed]
        assert near, f"no onset within {allowed} samples after the click at {click_pos} (onsets {onsets})"
        assert 0 <= near[0] <= allowed
    assert len(onsets) <= len(clicks) + 1  # no storm of false onsets


def test_devices_lists_jack_and_the_monitor(jack_server, xvfb_display):
    out = subprocess.run([sys.executable, "-m", "livegan", "devices", "--json"], capture_output=True, text=True,
                         timeout=60, check=True).stdout
    import json

    data = json.loads(out)
    names = [(d["name"], d["host_api"]) for d in data["audio"] if d["inputs"] > 0]
    assert any(n == "system" and "JACK" in api for n, api in names), data["audio"]
    assert data["monitors"] and data["monitors"][0]["width"] == 1280


def test_file_is_played_to_the_output_and_followed(jack_server, tmp_path):
    from live_helpers import PatternRenderer

    from livegan.live.app import LiveApp, LiveConfig

    clicks = [0.6 + 0.4 * i for i in range(6)]
    song = click_track(tmp_path / "song.wav", clicks, 8.0)
    cfg = LiveConfig(file=str(song), play=True, output_device="system", headless=True, window=(32, 32),
                     duration=4.0, refresh_hz=30)
    result = LiveApp(cfg, renderer=PatternRenderer(8)).run()
    assert result["audio_state"] == "playing" and "playing to system" in result["audio_message"], result
    assert len(clicks) <= result["onsets"] <= len(clicks) + 1
    assert result["latency_samples"] > 0
