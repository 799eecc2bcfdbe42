"""``--virtual-camera [DEVICE]``: the picture as a webcam other programs open (Zoom, OBS, a browser).

Through ``pyvirtualcam`` (optional extra ``livegan[vcam]``), which on Linux writes to a
v4l2loopback device (``sudo modprobe v4l2loopback devices=1 exclusive_caps=1``); on macOS
and Windows it uses OBS's virtual camera. Without the module or the device, one line says
which is missing.
"""

from __future__ import annotations

import glob
import sys
from typing import Any

from ..errors import LiveganError
from ..extras import require
from .base import OutFrame, VideoOutput, even_size

INSTALL_HINT = "pip install 'livegan[vcam]' (pyvirtualcam)"


def loopback_devices() -> list[str]:
    """/dev/video* devices that are v4l2loopback's (Linux)."""
    found = []
    for dev in sorted(glob.glob("/sys/devices/virtual/video4linux/video*")):
        try:
            with open(f"{dev}/name", encoding="utf-8") as f:
                found.append(("/dev/" + dev.rsplit("/", 1)[1], f.read().strip()))
        except OSError:
            continue
    return [d for d, _ in found]


class VirtualCameraOutput(VideoOutput):
    kind = "vcam"

    def __init__(self, device: str | None = None) -> None:
        require("pyvirtualcam", "--virtual-camera", INSTALL_HINT)
        if sys.platform.startswith("linux"):
            devices = loopback_devices()
            if not devices:
                raise LiveganError("--virtual-camera: no v4l2loopback device (/dev/videoN); load the kernel module: "
                                   "sudo modprobe v4l2loopback devices=1 exclusive_caps=1")
            if device is not None and device not in devices:
                raise LiveganError(f"--virtual-camera {device}: not a v4l2loopback device "
                                   f"(these are: {', '.join(devices)})")
        super().__init__(device or "default")
        self.device = device
        self._cam: Any = None

    def open(self, size: tuple[int, int], fps: float) -> None:
        import pyvirtualcam  # noqa: PLC0415

        w, h = even_size(size)
        try:
            self._cam = pyvirtualcam.Camera(w, h, fps, device=self.device, fmt=pyvirtualcam.PixelFormat.RGB)
        except Exception as exc:  # pyvirtualcam raises RuntimeError with the backend's reason
            raise LiveganError(f"--virtual-camera: cannot open {self.device or 'a device'} ({exc})") from None
        self.target = self._cam.device

    def send(self, frame: OutFrame) -> None:
        w, h = self._cam.width, self._cam.height
        rgb = frame.rgb()[:h, :w]
        if rgb.shape[:2] == (h, w):
            self._cam.send(rgb)

    def close(self) -> None:
        if self._cam is not None:
            self._cam.close()
            self._cam = None
