"""``--stream URL``: the picture as a low-latency H.264 network stream through PyAV (FFmpeg).

``udp://HOST:PORT`` and ``tcp://HOST:PORT`` carry MPEG-TS (``ffplay``, OBS's media source,
VLC, vMix receive it), ``rtmp://HOST/APP/KEY`` FLV to an RTMP server, ``srt://`` MPEG-TS
where the FFmpeg build has SRT (PyAV's wheels do not). Tuned for latency: x264
``ultrafast`` + ``zerolatency`` (no lookahead, no frame threads), no B-frames, a keyframe
every half second so a receiver that joins late starts quickly. Each frame's timestamp is
the audio time it shows. The connection opens on the output's own thread; if it fails or
drops, the worker retries every ``RETRY_S`` and the show goes on.
"""

from __future__ import annotations

import ctypes
import fractions
import logging
import time
from urllib.parse import urlsplit

from ..errors import LiveganError
from .base import OutFrame, VideoOutput, even_size

log = logging.getLogger("livegan.output")

FORMATS = {"udp": "mpegts", "tcp": "mpegts", "srt": "mpegts", "rtmp": "flv", "rtmps": "flv"}
TIME_BASE = fractions.Fraction(1, 90000)  # MPEG-TS's clock
# Stamps at least 1 ms apart: FLV (RTMP) keeps milliseconds, so two frames shown within a
# millisecond of audio time (the first ones of a show) would otherwise share a stamp.
MIN_STEP = 90
RETRY_S = 2.0


def ffmpeg_protocols() -> set[str] | None:
    """The output protocols PyAV's own FFmpeg has (None when it cannot be asked)."""
    import av  # noqa: F401, PLC0415 - loads libavformat into the process

    try:
        with open("/proc/self/maps", encoding="utf-8") as maps:
            path = next(line.split()[-1] for line in maps if "libavformat" in line)
        lib = ctypes.CDLL(path)
    except (OSError, StopIteration):
        return None
    lib.avio_enum_protocols.restype = ctypes.c_char_p
    lib.avio_enum_protocols.argtypes = [ctypes.POINTER(ctypes.c_void_p), ctypes.c_int]
    opaque, names = ctypes.c_void_p(), set()
    while (name := lib.avio_enum_protocols(ctypes.byref(opaque), 1)) is not None:
        names.add(name.decode())
    return names


def check_url(url: str) -> str:
    """A stream URL this build can send to, or a LiveganError naming what is wrong."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in FORMATS:
        raise LiveganError(f"--stream {url}: expected udp://, tcp://, rtmp:// or srt:// HOST:PORT")
    if not parts.hostname or (scheme != "rtmp" and scheme != "rtmps" and not parts.port):
        raise LiveganError(f"--stream {url}: needs a host and a port, e.g. udp://127.0.0.1:5000")
    have = ffmpeg_protocols()
    if have is not None and scheme not in have:
        raise LiveganError(f"--stream {url}: this FFmpeg build (PyAV's) has no {scheme} protocol; "
                           f"use one of {', '.join(sorted(s for s in FORMATS if s in have))}")
    return url


class StreamOutput(VideoOutput):
    kind = "stream"

    def __init__(self, url: str) -> None:
        super().__init__(check_url(url))
        scheme = urlsplit(url).scheme.lower()
        self.format = FORMATS[scheme]
        # MPEG-TS over UDP goes in 7-packet datagrams, as receivers expect.
        self.url = url + ("&" if "?" in url else "?") + "pkt_size=1316" if scheme == "udp" and "pkt_size" not in url \
            else url
        self.size = (0, 0)
        self.fps = 30.0
        self._container = None
        self._stream = None
        self._last_pts = -1
        self._retry_at = 0.0

    def open(self, size: tuple[int, int], fps: float) -> None:
        self.size, self.fps = even_size(size), fps

    def _connect(self) -> None:
        import av  # noqa: PLC0415

        opts = {"max_delay": "0"} if self.format == "mpegts" else {}  # no muxing delay: pts as sent
        container = av.open(self.url, "w", format=self.format, options=opts, timeout=5)
        stream = container.add_stream("libx264", rate=max(1, round(self.fps)))
        stream.width, stream.height = self.size
        stream.pix_fmt = "yuv420p"
        stream.time_base = TIME_BASE
        cc = stream.codec_context
        cc.time_base = TIME_BASE
        cc.gop_size = max(1, round(self.fps / 2))
        cc.max_b_frames = 0
        cc.options = {"preset": "ultrafast", "tune": "zerolatency", "bf": "0"}
        self._container, self._stream, self._last_pts = container, stream, -1

    def send(self, frame: OutFrame) -> None:
        import av  # noqa: PLC0415

        if self._container is None:
            if time.monotonic() < self._retry_at:
                return
            self._retry_at = time.monotonic() + RETRY_S
            self._connect()
        w, h = self.size
        rgb = frame.rgb()[:h, :w] if frame.size != self.size else frame.rgb()
        if rgb.shape[:2] != (h, w):
            return  # the window was resized smaller than the stream: skip until it is back
        vf = av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(format="yuv420p")
        pts = max(self._last_pts + MIN_STEP, round(frame.time / TIME_BASE))
        vf.pts, vf.time_base = pts, TIME_BASE
        self._last_pts = pts
        try:
            for packet in self._stream.encode(vf):
                self._container.mux(packet)
        except Exception:
            self._drop()  # reconnect on the next frame (after RETRY_S)
            raise

    def _drop(self) -> None:
        container, self._container = self._container, None
        try:
            container.close()
        except Exception:  # already broken: the error that got us here is what counts
            pass

    def close(self) -> None:
        if self._container is None:
            return
        try:
            for packet in self._stream.encode():
                self._container.mux(packet)
        finally:
            self._drop()
