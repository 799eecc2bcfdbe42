"""H.264 + AAC encoding through PyAV on its own thread.

The caller hands over uint8 RGB frames; colour conversion to yuv420p and x264 run on
the encoder thread so they overlap with generation. The file is written under a
temporary name next to the target and renamed only when complete, so an interrupted
render never leaves a broken output.
"""

from __future__ import annotations

import errno
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


def write_error(path: str | Path, exc: BaseException) -> LiveganError:
    """One clear line for a failed write; a full disk says so by name."""
    if getattr(exc, "errno", None) == errno.ENOSPC:
        return LiveganError(f"{path}: no space left on the device")
    if isinstance(exc, LiveganError):
        return exc
    why = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    return LiveganError(f"{path}: cannot write video ({why})")


class AacWriter:
    """The source audio as AAC into ``stream``, a piece at a time (so it interleaves with video)."""

    FRAME = 1024  # AAC frame size

    def __init__(self, container, stream, audio: np.ndarray, sample_rate: int) -> None:
        audio = audio if audio.ndim == 2 else audio[:, None]
        self.planar = np.ascontiguousarray(audio.T.astype(np.float32))
        self.container, self.stream, self.sample_rate = container, stream, sample_rate
        self.layout = stream.layout.name
        self.pos = 0

    @staticmethod
    def add_stream(container, audio: np.ndarray, sample_rate: int):
        channels = audio.shape[1] if audio.ndim == 2 else 1
        layout = {1: "mono", 2: "stereo"}.get(channels, f"{channels}c")
        a = container.add_stream("aac", rate=sample_rate, layout=layout)
        a.bit_rate = 128_000 * max(1, channels // 2 + channels % 2)
        return a

    def write_until(self, end: int) -> None:
        """Encode whole AAC frames up to sample ``end`` (the rest waits for the next call)."""
        n = self.FRAME
        end = min(end, self.planar.shape[1])
        while self.pos + n <= end or (end == self.planar.shape[1] and self.pos < end):
            chunk = np.ascontiguousarray(self.planar[:, self.pos:self.pos + n])  # a short last frame is fine
            af = av.AudioFrame.from_ndarray(chunk, format="fltp", layout=self.layout)
            af.sample_rate = self.sample_rate
            af.pts = self.pos
            for packet in self.stream.encode(af):
                self.container.mux(packet)
            self.pos += chunk.shape[1]

    def finish(self) -> None:
        self.write_until(self.planar.shape[1])
        for packet in self.stream.encode(None):
            self.container.mux(packet)


@dataclass
class EncoderStats:
    frames: int = 0
    seconds: float = 0.0  # time spent converting and encoding on the encoder thread


@dataclass(frozen=True)
class Encoding:
    """How frames become H.264: x264's quality and speed, or lossless RGB."""

    crf: int = 18
    preset: str = "veryfast"
    lossless: bool = False

    def meta(self) -> dict:
        return {"crf": self.crf, "x264_preset": self.preset, "lossless": self.lossless}


class VideoEncoder:
    """Writes frames (and the source audio) to ``path``; use as a context manager."""

    def __init__(self, path: str | Path, width: int, height: int, fps: int,
                 audio: np.ndarray | None = None, sample_rate: int = 0,
                 encoding: Encoding = Encoding(), queue_size: int = 8) -> None:
        self.path = Path(path)
        if width % 2 or height % 2:
            raise LiveganError(f"video size {width}x{height}: width and height must be even for H.264")
        self.tmp = self.path.with_name(f".{self.path.stem}.partial{self.path.suffix or '.mp4'}")
        self.width, self.height, self.fps = width, height, fps
        self.audio, self.sample_rate = audio, sample_rate
        self.crf, self.preset = encoding.crf, encoding.preset
        # Lossless: x264's RGB encoder at crf 0, so the decoded pixels are the rendered ones
        # exactly (a master for a later grade or a check; not every player plays it).
        self.lossless = encoding.lossless
        self.pix_fmt = "rgb24" if self.lossless else "yuv420p"
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
            raise write_error(self.path, exc) from None
        v = self._container.add_stream("libx264rgb" if self.lossless else "libx264", rate=self.fps)
        v.width, v.height, v.pix_fmt = self.width, self.height, self.pix_fmt
        v.codec_context.time_base = Fraction(1, self.fps)
        v.options = {"crf": "0" if self.lossless else str(self.crf), "preset": self.preset}
        v.thread_type = "AUTO"
        self._vstream = v
        self._astream = None
        if self.audio is not None and len(self.audio):
            self._astream = AacWriter.add_stream(self._container, self.audio, self.sample_rate)
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
            if isinstance(err, OSError):
                raise write_error(self.path, err)
            raise LiveganError(f"{self.path}: encoding failed ({err})")

    def finish(self) -> None:
        """Flush, mux the audio, close, and rename into place (a failure leaves no temporary file)."""
        self._q.put(_STOP)
        self._thread.join()
        try:
            self._raise_if_failed()
            try:
                if self._astream is not None:
                    AacWriter(self._container, self._astream, self.audio, self.sample_rate).finish()
                self._container.close()
            except (OSError, av.FFmpegError) as exc:
                raise write_error(self.path, exc) from None
            os.replace(self.tmp, self.path)
        except BaseException:
            self._finished = True  # nothing more for __exit__ to do
            try:
                self._container.close()
            except Exception:
                pass
            self.tmp.unlink(missing_ok=True)
            raise
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
                    # Convert here, not inside encode(): the implicit conversion made the same frames
                    # encode differently run to run; --resume needs the bits of a whole render.
                    vf = vf.reformat(format=self.pix_fmt)
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


def join_chunks(chunks: list[Path], out: str | Path, fps: int, audio: np.ndarray | None = None,
                sample_rate: int = 0) -> Path:
    """Remux finished video chunks (each its own MP4) end to end, plus the audio, into ``out``.

    No re-encoding: every chunk's packets are copied with their timestamps moved by the
    frames before it. Audio is encoded in step, so the file interleaves. Written under a
    temporary name and renamed, so ``out`` appears only complete; a failure removes the
    temporary file and leaves the chunks as they were.
    """
    out = Path(out)
    tmp = out.with_name(f".{out.stem}.partial{out.suffix or '.mp4'}")
    container = None
    done = False
    try:
        container = av.open(str(tmp), mode="w", format="mp4")
        vstream = None
        aac = None
        offset_s = 0.0
        for path in chunks:
            with av.open(str(path)) as src:
                ins = src.streams.video[0]
                if vstream is None:
                    vstream = container.add_stream_from_template(ins)
                    if audio is not None and len(audio):
                        astream = AacWriter.add_stream(container, audio, sample_rate)
                        aac = AacWriter(container, astream, audio, sample_rate)
                frames = 0
                shift = int(round(offset_s / ins.time_base))
                for packet in src.demux(ins):
                    if packet.size == 0:  # the demuxer's end-of-stream marker
                        continue
                    packet.pts = None if packet.pts is None else packet.pts + shift
                    packet.dts = None if packet.dts is None else packet.dts + shift
                    packet.stream = vstream
                    container.mux(packet)
                    frames += 1
            offset_s += frames / fps
            if aac is not None:
                aac.write_until(int(round(offset_s * sample_rate)))
        if aac is not None:
            aac.finish()
        container.close()
        container = None
        os.replace(tmp, out)
        done = True
    except (OSError, av.FFmpegError) as exc:
        raise write_error(out, exc) from None
    finally:
        if container is not None:
            try:
                container.close()
            except Exception:
                pass
        if not done:
            tmp.unlink(missing_ok=True)
    return out
