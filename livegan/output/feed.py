"""Hands the displayed picture to the outputs without ever blocking the display.

The GL thread reads the post-effects picture back into a pixel buffer (asynchronous on a
GPU: the bytes are collected one display frame later, when the copy has finished) and puts
it into each output's latest-wins slot; each output's worker sends the newest one. A
receiver slower than the display drops frames; an output that fails says so on the HUD and
the show goes on.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from dataclasses import dataclass

import numpy as np

from ..live.latest import Latest
from ..live.worker import Worker
from .base import OutFrame, VideoOutput

log = logging.getLogger("livegan.output")


class Readback:
    """GL framebuffer -> bytes through a ring of pixel buffers, one display frame late."""

    def __init__(self, ctx, depth: int = 2) -> None:
        self.ctx = ctx
        self.depth = depth
        self._bufs: list = []
        self._size: tuple[int, int] | None = None
        self._pending: list[tuple[int, tuple]] = []  # (buffer, stamp) started, not yet collected
        self._next = 0

    def __call__(self, fbo, size: tuple[int, int], stamp: tuple) -> tuple[bytes, tuple[int, int], tuple] | None:
        """Start reading ``fbo``; return the picture started ``depth - 1`` calls ago (None until then)."""
        if size != self._size:
            self.release()
            self._bufs = [self.ctx.buffer(reserve=size[0] * size[1] * 3) for _ in range(self.depth)]
            self._size, self._pending, self._next = size, [], 0
        i = self._next
        fbo.read_into(self._bufs[i], viewport=(0, 0, *size), components=3, alignment=1)
        self._pending.append((i, stamp))
        self._next = (i + 1) % self.depth
        if len(self._pending) < self.depth:
            return None
        j, old = self._pending.pop(0)
        return self._bufs[j].read(), size, old

    def release(self) -> None:
        for b in self._bufs:
            b.release()
        self._bufs = []


@dataclass
class OutputCounts:
    sent: int = 0
    errors: int = 0
    send_ms: float = 0.0  # the last send's duration
    error: str = ""  # the last failure ("" once a send succeeds again)


class OutputWorker(Worker):
    """One output's thread: newest frame in, sent; failures counted, never raised."""

    join_timeout_s = 5.0

    def __init__(self, output: VideoOutput) -> None:
        self.output = output
        self.slot: Latest[OutFrame] = Latest()
        self.counts = OutputCounts()
        super().__init__(f"output-{output.kind}")

    def _run(self) -> None:
        version = 0
        while not self._stop.is_set():
            frame, v = self.slot.wait_newer(version, 0.1)
            if v == version or frame is None:
                continue
            version = v
            t0 = time.perf_counter()
            try:
                self.output.send(frame)
            except Exception as exc:  # a receiver gone, a full network: the show goes on
                c = self.counts
                c.errors += 1
                if c.error != str(exc):
                    log.warning("%s %s: %s", self.output.kind, self.output.target, exc)
                c.error = f"{type(exc).__name__}: {exc}"[:80]
                self._stop.wait(0.05)
                continue
            self.counts.sent += 1
            self.counts.send_ms = (time.perf_counter() - t0) * 1000.0
            self.counts.error = ""


class OutputFeed:
    """Every output of the show: opened with the picture size and rate, fed from the GL thread."""

    def __init__(self, outputs: list[VideoOutput]) -> None:
        self.outputs = outputs
        self.workers: list[OutputWorker] = []
        self.readback: Readback | None = None
        self.read_ms: deque[float] = deque(maxlen=20000)  # the GL thread's share of each frame (ms)

    def __bool__(self) -> bool:
        return bool(self.outputs)

    def open(self, ctx, size: tuple[int, int], fps: float) -> None:
        self.readback = Readback(ctx)
        for out in self.outputs:
            out.open(size, fps)
            self.workers.append(OutputWorker(out).start())

    def offer(self, fbo, size: tuple[int, int], audio_time: float, index: int) -> None:
        """From the GL thread, right after the picture is drawn (before the HUD)."""
        t0 = time.perf_counter()
        got = self.readback(fbo, size, (audio_time, index, time.monotonic()))
        if got is not None:
            data, sz, (t, i, shown) = got
            frame = OutFrame(data, sz, t, i, shown)
            for w in self.workers:
                w.slot.put(frame)
        self.read_ms.append((time.perf_counter() - t0) * 1000.0)

    def status(self) -> list[str]:
        lines = []
        for w in self.workers:
            c, out = w.counts, w.output
            text = f"{out.kind.upper()} {out.target} {c.sent} SENT {w.slot.dropped} DROPPED"
            extra = out.detail()
            lines.append(text + (f"  {extra}" if extra else "") + (f"  {c.error}" if c.error else ""))
        return lines

    def summary(self) -> dict:
        out: dict = {f"{w.output.kind}": {"target": w.output.target, "sent": w.counts.sent, "dropped": w.slot.dropped,
                                          "errors": w.counts.errors} for w in self.workers}
        if self.read_ms:  # what the outputs add to the display thread: the read back and the hand-over
            out["display_ms_p50"] = float(np.percentile(self.read_ms, 50))
            out["display_ms_p99"] = float(np.percentile(self.read_ms, 99))
        return out

    def close(self) -> None:
        for w in self.workers:
            w.stop()
        for out in self.outputs:
            try:
                out.close()
            except Exception as exc:  # closing must not hide the show's own result
                log.warning("%s %s: close failed (%s)", out.kind, out.target, exc)
        if self.readback is not None:
            self.readback.release()


def build_outputs(stream: str | None = None, ndi: str | None = None,
                  virtual_camera: str | None = None) -> list[VideoOutput]:
    """The outputs the options ask for, each checked now (module, device, URL)."""
    outputs: list[VideoOutput] = []
    if stream:
        from .stream import StreamOutput  # noqa: PLC0415

        outputs.append(StreamOutput(stream))
    if ndi is not None:
        from .ndi import NdiOutput  # noqa: PLC0415

        outputs.append(NdiOutput(ndi))
    if virtual_camera is not None:
        from .virtual_camera import VirtualCameraOutput  # noqa: PLC0415

        outputs.append(VirtualCameraOutput(virtual_camera or None))
    return outputs
