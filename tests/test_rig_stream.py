"""`livegan live --stream URL` received by PyAV in another process; `--ndi` and `--virtual-camera` checks."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from live_helpers import click_track
from pythonosc.udp_client import SimpleUDPClient

from livegan.cli import main
from livegan.record.setfile import load_set

HERE = Path(__file__).parent


def free_port(kind=socket.SOCK_DGRAM) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_live_stream_is_received_with_the_shown_pictures(tmp_path, capsys):
    song = click_track(tmp_path / "song.wav", [0.25 + 0.5 * i for i in range(20)], 12.0)
    url, osc = f"udp://127.0.0.1:{free_port()}", free_port()
    rec, got = tmp_path / "set", tmp_path / "got.npz"
    receiver = subprocess.Popen([sys.executable, str(HERE / "stream_receiver.py"), url, "30", str(got)],
                                stdout=subprocess.PIPE, text=True)
    assert json.loads(receiver.stdout.readline())["listening"]
    blackout_at: list[float] = []

    def control() -> None:
        deadline = time.monotonic() + 120
        while not (rec / "set.json").is_file() and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(3.0)
        blackout_at.append(time.monotonic())
        SimpleUDPClient("127.0.0.1", osc).send_message("/livegan/show/blackout", 1)

    threading.Thread(target=control, daemon=True).start()
    try:
        assert main(["live", "--headless", "--file", str(song), "--no-playback", "--duration", "6", "--size", "64",
                     "--window", "96x64", "--fps", "30", "--osc-port", str(osc), "--stream", url,
                     "--record", str(rec), "--stats-json", str(tmp_path / "stats.json")]) == 0
        receiver.wait(timeout=60)
    finally:
        if receiver.poll() is None:
            receiver.kill()
    sent = json.loads((tmp_path / "stats.json").read_text())["outputs"]["stream"]
    assert sent["sent"] > 20 and sent["errors"] == 0
    data = np.load(got)
    frames, pts, arrived = data["frames"], data["pts"], data["arrived"]
    assert len(frames) > 10 and frames.shape[1:] == (64, 96, 3)  # the show's output size
    # Each frame's timestamp is the audio time it shows: it names the display record, whose
    # thumbnail (the full picture at this size) is what the audience saw.
    recorded = load_set(rec)
    times = recorded.display["pos"] / recorded.sample_rate
    unique = np.unique(recorded.display["pos"], return_counts=True)
    once = set(unique[0][unique[1] == 1].tolist())
    diffs, flipped, best = [], [], []
    for frame, t in zip(frames, pts):
        j = int(np.argmin(np.abs(times - t)))
        row = recorded.display[j]
        live = recorded.thumbnail(row)
        if abs(times[j] - t) > 2.5 / 90000 or int(row["pos"]) not in once or live is None or live.max() < 16:
            continue  # no unique record, no thumbnail, or blacked out (those are checked below)
        diffs.append(np.abs(frame.astype(int) - live).mean())
        flipped.append(np.abs(frame[::-1].astype(int) - live).mean())
        near = [recorded.thumbnail(recorded.display[k]) for k in (j - 2, j - 1, j + 1, j + 2)
                if 0 <= k < len(recorded.display)]
        best.append(all(diffs[-1] <= np.abs(frame.astype(int) - x).mean() for x in near if x is not None))
    assert len(diffs) > 5
    # x264 ultrafast at its default quality on a detailed 96x64 picture: about ten levels; the
    # frame the stamp names is the closest of its neighbours; upside down it is far off.
    assert np.median(diffs) < 16.0 and np.median(diffs) * 3 < np.median(flipped)
    assert np.mean(best) > 0.7
    # Glass to glass: from the blackout sent over OSC to the first black frame decoded here.
    dark = arrived[(frames.reshape(len(frames), -1).max(axis=1) < 16) & (arrived > blackout_at[0])]
    assert len(dark) > 0
    print(f"stream glass-to-glass (OSC blackout -> decoded black frame): {(dark[0] - blackout_at[0]) * 1000:.0f} ms")


@pytest.mark.slow
def test_live_stream_over_rtmp(tmp_path):
    """RTMP (FLV), which PyAV's FFmpeg has: the receiver listens as the server the show pushes to."""
    song = click_track(tmp_path / "song.wav", [0.25 + 0.5 * i for i in range(10)], 8.0)
    url, got = f"rtmp://127.0.0.1:{free_port(socket.SOCK_STREAM)}/live/livegan", tmp_path / "got.npz"
    receiver = subprocess.Popen([sys.executable, str(HERE / "stream_receiver.py"), url, "20", str(got)],
                                stdout=subprocess.PIPE, text=True)
    assert json.loads(receiver.stdout.readline())["listening"]
    time.sleep(0.5)
    try:
        assert main(["live", "--headless", "--file", str(song), "--no-playback", "--duration", "4", "--size", "64",
                     "--window", "96x64", "--fps", "30", "--stream", url]) == 0
        receiver.wait(timeout=60)
    finally:
        if receiver.poll() is None:
            receiver.kill()
    data = np.load(got)
    assert len(data["frames"]) > 10 and data["frames"].shape[1:] == (64, 96, 3)
    assert np.all(np.diff(data["pts"]) > 0)  # stamped in order (the audio time each shows)


def test_stream_url_errors_are_one_line(capsys):
    for url, msg in (("http://127.0.0.1:5000", "expected udp://"), ("udp://127.0.0.1", "needs a host and a port"),
                     ("srt://127.0.0.1:9000", "has no srt protocol")):
        assert main(["live", "--headless", "--duration", "1", "--stream", url]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and msg in err[0], err


def test_virtual_camera_without_a_device_is_one_line(capsys):
    from livegan.output.virtual_camera import loopback_devices

    if loopback_devices():
        pytest.skip("a v4l2loopback device exists here: the error path cannot be reached")
    assert main(["live", "--headless", "--duration", "1", "--virtual-camera"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "v4l2loopback" in err[0] and "modprobe" in err[0], err


def test_hud_names_the_outputs_and_counts_their_frames(tmp_path):
    """The HUD has a line per output (frames sent, dropped) while the show streams."""
    from live_helpers import PatternRenderer

    from livegan.live.app import LiveApp, LiveConfig

    song = click_track(tmp_path / "song.wav", [0.25, 0.75], 3.0)
    url = f"udp://127.0.0.1:{free_port()}"  # nobody listens: UDP sends regardless
    app = LiveApp(LiveConfig(file=str(song), play=False, headless=True, window=(64, 48), duration=2.0, refresh_hz=30,
                             stream=url), renderer=PatternRenderer(8))
    result = app.run()
    lines = [text for text, _ in app.last_hud.lines]
    assert any(line.startswith(f"STREAM {url}") and "SENT" in line for line in lines), lines
    assert result["outputs"]["stream"]["sent"] > 0 and result["outputs"]["display_ms_p50"] >= 0.0
    assert not any(line.startswith("CLOCK") for line in lines)  # no clock to sync with: no clock line
