"""H.264 + AAC encoding through PyAV on its own thread.

The caller hands over uint8 RGB frames; colour conversion to yuv420p and x264 run on
the encoder thread so they overlap with generation. The file is written under a
temporary name next to the target and renamed only when complete, so an interrupted
render never leaves a broken output.
"""

from __future__ import annotations

import os
import queue
import threading
import time
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from ..errors import LiveganError

_STOP = object()


@dataclass
class EncoderStats:
    frames: int = 0
    seconds: float = 0.0  # time spent converting and encoding on the encoder thread


class VideoEncoder:
    """Writes frames (and the source audio) to ``path``; use as a context manager."""

    def __init__(self, path: str | Path, width: int, height: int, fps: int,
                 audio: np.ndarray | None = None, sample_rate: int = 0,
                 crf: int = 18, preset: str = "veryfast", queue_size: int = 8) -> None:
        self.path = Path(path)
        if width % 2 or height % 2:
            raise LiveganError(f"video size {width}x{height}: width and height must be even for H.264")
        self.tmp = self.path.with_name(f".{self.path.stem}.partial{self.path.suffix or '.mp4'}")
        self.width, self.height, self.fps = width, height, fps
        self.audio, self.sample_rate = audio, sample_rate
        self.crf, self.preset = crf, preset
        self.stats = EncoderStats()
        self._q: queue.Queue = queue.Queue(maxsize=queue_size)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="encoder", daemon=True)
        self._finished = False

    # ---- producer side --------------------------------------------------------------
    def __enter__(self) -> "VideoEncoder":
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._container = av.open(str(self.tmp), mode="w", format="mp4")
        except (OSError, av.FFmpegError) as exc:
            raise LiveganError(f"{self.path}: cannot write video ({exc})") from None
        v = self._container.add_stream("libx264", rate=self.fps)
        v.width, v.height, v.pix_fmt = self.width, self.height, "yuv420p"
        v.codec_context.time_base = Fraction(1, self.fps)
        v.options = {"crf": str(self.crf), "preset": self.preset}
        v.thread_type = "AUTO"
        self._vstream = v
        self._astream = None
        if self.audio is not None and len(self.audio):
            channels = self.audio.shape[1] if self.audio.ndim == 2 else 1
            layout = {1: "mono", 2: "stereo"}.get(channels, f"{channels}c")
            a = self._container.add_stream("aac", rate=self.sample_rate, layout=layout)
            a.bit_rate = 128_000 * max(1, channels // 2 + channels % 2)
            self._astream = a
        self._thread.start()
        return self

    def put(self, frames: np.ndarray) -> None:
        """Queue uint8 frames ``[B, H, W, 3]`` (or one ``[H, W, 3]``); blocks when the queue is full."""
        self._raise_if_failed()
        if frames.ndim == 3:
            frames = frames[None]
        while True:
            try:
                self._q.put(frames, timeout=0.5)
                return
            except queue.Full:
                self._raise_if_failed()

    def _raise_if_failed(self) -> None:
        if self._error is not None:
            err = self._error
            if isinstance(err, LiveganError):
                raise err
            raise LiveganError(f"{self.path}: encoding failed ({err})")

    def finish(self) -> None:
        """Flush, mux the audio, close, and rename into place."""
        self._q.put(_STOP)
        self._thread.join()
        self._raise_if_failed()
        if self._astream is not None:
            self._encode_audio()
        self._container.close()
        os.replace(self.tmp, self.path)
        self._finished = True

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None and not self._finished:
            self.finish()
            return
        if not self._finished:
            if self._thread.is_alive():
                self._q.put(_STOP)
                self._thread.join(timeout=10)
            try:
                self._container.close()
            except Exception:
                pass
            self.tmp.unlink(missing_ok=True)

    # ---- encoder thread ---------------------------------------------------------------
    def _run(self) -> None:
        try:
            while True:
                item = self._q.get()
                if item is _STOP:
                    break
                t0 = time.perf_counter()
                for frame in item:
                    vf = av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")
                    vf.pts = self.stats.frames
                    for packet in self._vstream.encode(vf):
                        self._container.mux(packet)
                    self.stats.frames += 1
                self.stats.seconds += time.perf_counter() - t0
            t0 = time.perf_counter()
            for packet in self._vstream.encode(None):
                self._container.mux(packet)
            self.stats.seconds += time.perf_counter() - t0
        except BaseException as exc:  # surfaced to the producer on its next call
            self._error = exc
            while True:  # drain so the producer never blocks forever
                try:
                    if self._q.get_nowait() is _STOP:
                        break
                except queue.Empty:
                    break

    def _encode_audio(self) -> None:
        audio = self.audio if self.audio.ndim == 2 else self.audio[:, None]
        planar = np.ascontiguousarray(audio.T.astype(np.float32))
        layout = self._astream.layout.name
        n = 1024  # AAC frame size
        for start in range(0, planar.shape[1], n):
            chunk = np.ascontiguousarray(planar[:, start:start + n])  # FFmpeg's AAC takes a short last frame
            af = av.AudioFrame.from_ndarray(chunk, format="fltp", layout=layout)
            af.sample_rate = self.sample_rate
            af.pts = start
            for packet in self._astream.encode(af):
                self._container.mux(packet)
        for packet in self._astream.encode(None):
            self._container.mux(packet)
