"""A Link peer for the tests and the benchmark: Ableton Link through aalink (not livegan's code).

Reads commands on stdin, one a line, and answers each with one JSON line on stdout:

* ``state``: its Link host time, beat, tempo, peers, playing;
* ``tempo BPM``: propose a tempo; ``play`` / ``stop``: start/stop the transport (quantum 4);
* ``wait_tempo BPM SECONDS``: wait until the session's tempo is BPM (answers whether it came);
* ``log SECONDS``: sample (time, beat) every 5 ms for that long, as a list;
* ``osc PORT ADDRESS VALUE``: send one float OSC message to 127.0.0.1:PORT (inside the namespace);
* ``quit``.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time


async def main() -> None:
    from aalink import Link

    link = Link(float(sys.argv[1]) if len(sys.argv) > 1 else 120.0)
    link.quantum = 4
    link.start_stop_sync_enabled = True
    link.enabled = True
    loop = asyncio.get_running_loop()

    def state() -> dict:
        return {"time": link.time.total_seconds(), "beat": link.beat, "tempo": link.tempo, "peers": link.num_peers,
                "playing": link.playing}

    print(json.dumps({"ready": True, **state()}), flush=True)
    while True:
        line = await loop.run_in_executor(None, sys.stdin.readline)
        words = line.split()
        if not words or words[0] == "quit":
            return
        cmd, args = words[0], words[1:]
        out: dict = {}
        if cmd == "tempo":
            link.tempo = float(args[0])
        elif cmd in ("play", "stop"):
            link.playing = cmd == "play"
        elif cmd == "wait_tempo":
            deadline = time.monotonic() + float(args[1])
            # Link keeps a tempo as microseconds per beat: 133 BPM comes back as 132.99999...
            while abs(link.tempo - float(args[0])) > 1e-3 and time.monotonic() < deadline:
                await asyncio.sleep(0.005)
            out["came"] = abs(link.tempo - float(args[0])) <= 1e-3
        elif cmd == "log":
            samples, end = [], time.monotonic() + float(args[0])
            while time.monotonic() < end:
                samples.append((link.time.total_seconds(), link.beat, link.tempo))
                await asyncio.sleep(0.005)
            out["samples"] = samples
        elif cmd == "osc":
            from pythonosc.udp_client import SimpleUDPClient

            SimpleUDPClient("127.0.0.1", int(args[0])).send_message(args[1], float(args[2]))
        print(json.dumps({**out, **state()}), flush=True)


if __name__ == "__main__":
    asyncio.run(main())
