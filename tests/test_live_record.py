"""`livegan live --record SET` over real OSC, then `livegan render --replay SET`."""

from __future__ import annotations

import socket
import threading
import time

import av
from live_helpers import click_track
from pythonosc.udp_client import SimpleUDPClient

from livegan.cli import main
from livegan.record.setfile import load_set


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_record_over_osc_then_replay(tmp_path):
    song = click_track(tmp_path / "song.wav", [0.3 + 0.4 * i for i in range(8)], 4.0)
    port = free_port()
    sent = threading.Event()

    rec = tmp_path / "set1"

    def control() -> None:
        client = SimpleUDPClient("127.0.0.1", port)
        # Wait for the show itself (a third of a second of recorded audio), not for a fixed time:
        # on a busy machine start-up can take longer than any guess.
        audio = rec / "audio.wav"
        deadline = time.monotonic() + 120
        while (not audio.exists() or audio.stat().st_size < 48000 * 4 // 3) and time.monotonic() < deadline:
            time.sleep(0.02)
        client.send_message("/livegan/latent/speed", 2.5)
        client.send_message("/livegan/preset/load", "pulse")
        sent.set()

    threading.Thread(target=control, daemon=True).start()
    assert main(["live", "--headless", "--file", str(song), "--no-playback", "--duration", "3.5", "--size", "64",
                 "--fps", "30", "--osc-port", str(port), "--record", str(rec)]) == 0
    assert sent.is_set()
    recorded = load_set(rec)
    assert recorded.complete and len(recorded.ticks) > 10
    assert recorded.audio.sample_rate == 48000 and recorded.audio.duration > 2.5
    speeds = [c for c in recorded.changes if c.name == "latent/speed"]
    assert any(c.value == 2.5 for c in speeds)  # the OSC set was recorded with its audio time
    # The preset loaded over OSC reached the registry (its values are recorded too).
    assert any(c.name == "latent/pulse" and c.value == 1.4 for c in recorded.changes)

    out = tmp_path / "show.mp4"
    assert main(["render", "--replay", str(rec), "-o", str(out), "--size", "96x64", "--fps", "24", "--quiet"]) == 0
    with av.open(str(out)) as c:
        n = sum(1 for _ in c.decode(video=0))
    assert n == round(recorded.audio.duration * 24)
