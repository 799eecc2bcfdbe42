"""An NDI receiver for the tests and the benchmark: cyndilib's Finder and Receiver, in a process of its own.

``python ndi_receiver.py NAME SECONDS OUT.npz``: finds the source whose name ends in
``(NAME)``, receives RGBX for SECONDS and saves the frames (RGB), their NDI timestamps
(the sender's submit time, s) and when they arrived (time.time()). NDI discovery needs
mDNS or a config file listing the sender's address (``NDI_CONFIG_DIR``).
"""

from __future__ import annotations

import json
import sys
import time

import numpy as np
from cyndilib.finder import Finder
from cyndilib.receiver import ReceiveFrameType, Receiver
from cyndilib.video_frame import VideoRecvFrame
from cyndilib.wrapper.ndi_recv import RecvBandwidth, RecvColorFormat


def main() -> None:
    name, seconds, out = sys.argv[1], float(sys.argv[2]), sys.argv[3]
    finder = Finder()
    finder.open()
    print(json.dumps({"looking": True}), flush=True)
    source, deadline = None, time.monotonic() + 90
    while source is None and time.monotonic() < deadline:
        finder.wait_for_sources(0.5)
        found = [n for n in finder.get_source_names() if n.endswith(f"({name})")]
        source = finder.get_source(found[0]) if found else None
    frames, stamps, arrived = [], [], []
    if source is not None:
        vf = VideoRecvFrame()
        recv = Receiver(color_format=RecvColorFormat.RGBX_RGBA, bandwidth=RecvBandwidth.highest)
        recv.set_video_frame(vf)
        recv.set_source(source)
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            kind = recv.receive(ReceiveFrameType.recv_video, 200)
            if kind & ReceiveFrameType.recv_video:
                w, h = vf.get_resolution()
                arrived.append(time.time())
                stamps.append(vf.get_timestamp_posix())
                frames.append(np.asarray(vf).reshape(h, w, 4)[..., :3].copy())
        recv.disconnect()
    finder.close()
    np.savez(out, frames=np.array(frames), stamps=np.array(stamps), arrived=np.array(arrived))
    print(json.dumps({"found": source is not None, "frames": len(frames)}), flush=True)


if __name__ == "__main__":
    main()
