"""``--ndi NAME``: the picture as an NDI® source, through ``cyndilib`` (optional extra ``livegan[ndi]``).

Resolume, TouchDesigner, OBS (with its NDI plugin) and vMix list the source as
``HOST (NAME)``. Frames go out as RGBX at the show's size and display rate; each carries
the audio time it shows in its metadata (``<livegan audio_time="…" frame="…"/>``).

The NDI runtime (``libndi``, bundled in cyndilib's wheel) is not open source: it comes
under the NDI SDK licence, which is why it is an extra, imported only with ``--ndi``. On Linux, NDI finds sources over mDNS (avahi); where there is none, list
the sender's address in the receiver's ``ndi-config.v1.json`` (``docs/rig.md``).
"""

from __future__ import annotations

import fractions
from typing import Any

import numpy as np

from ..errors import LiveganError
from ..extras import require
from .base import OutFrame, VideoOutput

INSTALL_HINT = "pip install 'livegan[ndi]' (cyndilib, with the NDI runtime under its own licence)"


class NdiOutput(VideoOutput):
    kind = "ndi"

    def __init__(self, name: str) -> None:
        if not name or len(name) > 64 or any(c in name for c in "()\n"):
            raise LiveganError(f"--ndi {name!r}: a source name of 1..64 characters without parentheses")
        require("cyndilib.sender", "--ndi", INSTALL_HINT)
        super().__init__(name)
        self._sender: Any = None
        self._rgbx: np.ndarray | None = None

    def open(self, size: tuple[int, int], fps: float) -> None:
        from cyndilib.sender import Sender  # noqa: PLC0415
        from cyndilib.video_frame import VideoSendFrame  # noqa: PLC0415
        from cyndilib.wrapper.ndi_structs import FourCC  # noqa: PLC0415

        vf = VideoSendFrame()
        vf.set_resolution(*size)
        vf.set_fourcc(FourCC.RGBX)
        vf.set_frame_rate(fractions.Fraction(round(fps * 1000), 1000))
        # The worker paces the frames (latest wins); NDI must not block it to a clock of its own.
        sender = Sender(self.target, clock_video=False)
        sender.set_video_frame(vf)
        sender.open()
        self._sender, self._frame = sender, vf
        self._rgbx = np.full((size[1], size[0], 4), 255, np.uint8)

    def send(self, frame: OutFrame) -> None:
        rgbx = self._rgbx
        if rgbx is None or rgbx.shape[:2] != frame.size[::-1]:
            return  # the window changed size: NDI's frame keeps the size it was opened with
        rgbx[..., :3] = frame.rgb()
        self._frame.set_metadata(f'<livegan audio_time="{frame.time:.6f}" frame="{frame.index}"/>'.encode())
        self._sender.write_video(rgbx.reshape(-1))

    def connections(self) -> int:
        return int(self._sender.get_num_connections(0)) if self._sender is not None else 0

    def detail(self) -> str:
        return f"{self.connections()} RECEIVERS"

    def close(self) -> None:
        if self._sender is not None:
            self._sender.close()
            self._sender = None
