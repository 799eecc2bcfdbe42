"""A stream receiver for the tests and the benchmark: PyAV (FFmpeg) on the URL, in a process of its own.

``python stream_receiver.py URL SECONDS OUT.npz``: waits up to a minute for the stream, then
decodes for SECONDS and saves every frame (RGB), its pts (seconds) and when it was decoded
(time.monotonic()). Prints ``{"listening": true}`` once the socket is open.
"""

from __future__ import annotations

import json
import sys
import time

import av
import numpy as np


def main() -> None:
    url, seconds, out = sys.argv[1], float(sys.argv[2]), sys.argv[3]
    opts = {"fflags": "nobuffer", "flags": "low_delay", "probesize": "32768", "analyzeduration": "0"}
    if url.startswith("udp://"):
        url += ("&" if "?" in url else "?") + "overrun_nonfatal=1&fifo_size=1000000"
    if url.startswith("rtmp://"):
        opts["rtmp_listen"] = "1"  # the receiver is the server the show pushes to
        # FLV announces its streams: with "nobuffer" the packets read while probing (the first
        # 32 kB, seconds of a small stream) would be thrown away, not decoded.
        del opts["fflags"]
    print(json.dumps({"listening": True}), flush=True)
    frames, pts, arrived = [], [], []
    try:
        with av.open(url, options=opts, timeout=(60, 3)) as c:
            stream = c.streams.video[0]
            end = time.monotonic() + seconds
            for frame in c.decode(stream):
                arrived.append(time.monotonic())
                frames.append(frame.to_ndarray(format="rgb24"))
                pts.append(float(frame.pts * stream.time_base) if frame.pts is not None else -1.0)
                if arrived[-1] > end:
                    break
    except (av.error.ExitError, av.error.OSError):
        pass  # the sender went away: keep what came
    np.savez(out, frames=np.array(frames), pts=np.array(pts), arrived=np.array(arrived))
    print(json.dumps({"frames": len(frames)}), flush=True)


if __name__ == "__main__":
    main()
