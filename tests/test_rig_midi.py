"""`livegan live --midi-clock-in / --midi-clock-out` over JACK MIDI, with rtmidi clients on the other ends.

A drum machine (an rtmidi virtual port) sends Start and 24 pulses a beat at 126 BPM;
livegan follows it and sends the show's clock on to a lighting desk (an rtmidi input).
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from live_helpers import click_track

from livegan.cli import main
from livegan.record.setfile import load_set

BPM = 126.0


@pytest.mark.jack
def test_live_follows_midi_clock_and_sends_it_on(jack_server, tmp_path):
    rtmidi = pytest.importorskip("rtmidi")
    pytest.importorskip("mido")
    song = click_track(tmp_path / "song.wav", [0.25 + 0.5 * i for i in range(20)], 12.0)
    rec, stats = tmp_path / "set", tmp_path / "stats.json"
    # The drum machine is a process of its own, as a real one would be (no share of livegan's GIL).
    drum = subprocess.Popen([sys.executable, str(Path(__file__).with_name("midi_clock_sender.py")), "drumbox",
                             str(BPM), "30", str(rec / "set.json")], stdout=subprocess.PIPE, text=True)
    assert json.loads(drum.stdout.readline())["ready"]
    desk = rtmidi.MidiIn(rtmidi.API_UNIX_JACK, name="lighting")
    desk.ignore_types(sysex=True, timing=False, active_sense=True)  # rtmidi drops clock by default
    got: list[tuple[float, int]] = []
    desk.set_callback(lambda msg, _: got.append((time.monotonic(), msg[0][0])))

    def connect_desk() -> None:
        deadline = time.monotonic() + 120
        while not (rec / "set.json").is_file() and time.monotonic() < deadline:
            time.sleep(0.05)  # the show is up: its ports are open
        ports = desk.get_ports()
        desk.open_port(next(i for i, p in enumerate(ports) if "livegan-clock" in p))

    wiring = threading.Thread(target=connect_desk, daemon=True)
    wiring.start()
    try:
        assert main(["live", "--headless", "--file", str(song), "--no-playback", "--duration", "8", "--size", "64",
                     "--fps", "30", "--preset", "tunnel", "--midi-api", "UNIX_JACK", "--midi-clock-in", "drumbox",
                     "--midi-clock-out", "livegan-clock", "--record", str(rec), "--stats-json", str(stats)]) == 0
    finally:
        drum.kill()
        drum.wait()
        wiring.join(timeout=5)
        desk.close_port()
        del desk
    summary = json.loads(stats.read_text())["clock"]
    assert summary["source"] == "midi" and summary["bpm"] == pytest.approx(BPM, rel=0.05)
    assert summary["midi_clock_in"]["starts"] == 1 and summary["midi_clock_in"]["pulses"] > 24 * 8
    assert summary["midi_clock_out"]["starts"] == 1 and summary["midi_clock_out"]["pulses"] > 24 * 8
    # What the show followed, tick by tick: MIDI clock, its tempo, its position counting on from the Start.
    recorded = load_set(rec)
    led = recorded.clock[recorded.clock["lead"] == 1]
    assert len(led) > 20 and set(led["source"]) == {b"midi"}
    settled = led[led["host"] > led["host"][0] + 1.0]
    # Its tempo (how steady it is on a busy machine is tools/bench_rig.py's business).
    assert np.median(np.abs(settled["bpm"] - BPM)) < 1.0
    assert np.all(np.diff(settled["beats"]) >= -0.05)  # the position runs forward
    # The desk got a Start and the show's pulses at the drum machine's tempo (fitted through JACK's bursts).
    statuses = [s for _, s in got]
    assert 0xFA in statuses
    pulses = np.array([t for t, s in got if s == 0xF8])
    assert len(pulses) > 24 * 4
    late = pulses[len(pulses) // 2:]  # the show has long followed the drum machine by then
    assert 60.0 * (len(late) - 1) / (24 * (late[-1] - late[0])) == pytest.approx(BPM, rel=0.03)
    # A replay follows the recorded MIDI clock readings: the same pictures.
    assert main(["render", "--replay", str(rec), "--check", "--quiet"]) == 0
