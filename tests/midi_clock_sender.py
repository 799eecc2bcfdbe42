"""A drum machine for the tests and the benchmark: MIDI clock from its own process, through rtmidi on JACK.

``python midi_clock_sender.py CLIENT BPM SECONDS [WAIT_FILE] [BPM2]``: opens a virtual JACK
MIDI output ``CLIENT:clock``, waits until WAIT_FILE exists, sends Start and 24 pulses a beat
for SECONDS (at BPM2 for the second half when given), then Stop. Prints the host time
(time.monotonic) of the Start and of the tempo change as JSON.
"""

from __future__ import annotations

import json
import os
import sys
import time

import rtmidi


def main() -> None:
    client, bpm, seconds = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
    wait_file = sys.argv[4] if len(sys.argv) > 4 and sys.argv[4] != "-" else None
    bpm2 = float(sys.argv[5]) if len(sys.argv) > 5 else bpm
    out = rtmidi.MidiOut(rtmidi.API_UNIX_JACK, name=client)
    out.open_virtual_port("clock")
    print(json.dumps({"ready": True}), flush=True)
    deadline = time.monotonic() + 180
    while wait_file and not os.path.exists(wait_file) and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)  # JACK connects ports on its process cycle
    start = time.monotonic()
    out.send_message([0xFA])
    t, change = start, None
    while t < start + seconds:
        out.send_message([0xF8])
        tempo = bpm if t < start + seconds / 2 else bpm2
        if tempo != bpm and change is None:
            change = t
        t += 60.0 / (tempo * 24)
        time.sleep(max(0.0, t - time.monotonic()))
    out.send_message([0xFC])
    print(json.dumps({"start": start, "change": change, "end": time.monotonic()}), flush=True)
    time.sleep(0.2)
    out.close_port()


if __name__ == "__main__":
    main()
