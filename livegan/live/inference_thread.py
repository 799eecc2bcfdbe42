"""The inference thread: newest features + a parameter snapshot -> performance -> model -> frame.

It owns the performance (every tick steps it, frozen or not, so a tap or a reseed sent
during a freeze counts) and renders through whatever model path the slot holds (a hot
swap replaces it between ticks). It waits on new features only (never on the display)
and publishes each picture, and the beat clock, to latest-wins slots.
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass
from typing import Callable, Protocol

import numpy as np
import torch

from ..audio.features import Clock, FeatureFrame
from ..clock.external import ExternalTempo
from ..conductor.performance import Groove, Performance
from ..params.registry import ParamRegistry, Snapshot
from .latest import Latest
from .worker import Worker


@dataclass(frozen=True)
class RenderedFrame:
    """One model picture and where in the audio it came from."""

    pixels: np.ndarray  # [H, W, 3] uint8, host memory
    sample_pos: int  # newest audio sample its features had heard (ring position)
    time: float
    features: FeatureFrame
    inference_ms: float
    index: int  # unique over the show (a recorded set's display records name it)


class Renderer(Protocol):
    """What the inference thread renders with: a ``ModelPath``, or a test double."""

    spec: str  # the model spec, as a recorded set keeps it
    name: str  # for the HUD and the log

    def render(self, groove: Groove) -> torch.Tensor | np.ndarray:
        """A uint8 [H, W, 3] (or [1, H, W, 3]) picture on any device."""


class RendererSlot(Protocol):
    """Holds the live renderer (a hot swap assigns ``renderer``) and runs it (the watchdog's guard)."""

    renderer: Renderer

    def render(self, renderer: Renderer, groove: Groove) -> torch.Tensor | np.ndarray: ...


# (snapshot, audio time, newest sample, model frame index or -1, model spec when it changed,
#  the external clock reading the performance followed or None)
TickHook = Callable[[Snapshot, float, int, int, "str | None", "ExternalTempo | None"], None]


class HostCopier:
    """Device frames -> host numpy. From CUDA: asynchronous copies into pinned buffers.

    A small pool of pinned buffers is rotated so the display can still be reading the
    previous picture while the next one is copied.
    """

    def __init__(self, pool: int = 3) -> None:
        self.pool = pool
        self._bufs: list[torch.Tensor] = []
        self._i = 0

    def __call__(self, img: torch.Tensor | np.ndarray) -> np.ndarray:
        if isinstance(img, np.ndarray):
            arr = img
        elif img.device.type == "cuda":
            img = img.reshape(img.shape[-3:])
            if not self._bufs or self._bufs[0].shape != img.shape:
                self._bufs = [torch.empty(img.shape, dtype=img.dtype, pin_memory=True) for _ in range(self.pool)]
            buf = self._bufs[self._i]
            self._i = (self._i + 1) % self.pool
            buf.copy_(img, non_blocking=True)
            event = torch.cuda.Event()
            event.record()
            event.synchronize()  # waits in this thread only; the display never blocks on CUDA
            arr = buf.numpy()
        else:
            arr = img.detach().numpy()
        arr = arr.reshape(arr.shape[-3:])
        return np.ascontiguousarray(arr, dtype=np.uint8)


class InferenceThread(Worker):
    join_timeout_s = 10.0

    def __init__(self, features: Latest[FeatureFrame], registry: ParamRegistry, performance: Performance,
                 slot: RendererSlot, out: Latest[RenderedFrame], clock_out: Latest[Clock],
                 frame_ids: "itertools.count[int]", idle_s: float = 0.1, max_fps: float | None = None,
                 on_tick: TickHook | None = None) -> None:
        self.features = features
        self.registry = registry
        self.performance = performance
        self.slot = slot
        self.out = out
        self.clock_out = clock_out
        self.frame_ids = frame_ids  # shared with a replacement thread: indices stay unique
        self.on_tick = on_tick  # set recording
        self.idle_s = idle_s
        # Frames faster than the display can show are wasted work that starves the GL thread
        # on a CPU; this caps the rate (it never waits for the display itself).
        self.min_interval = 1.0 / max_fps if max_fps else 0.0
        self.copy = HostCopier()
        self.error: str | None = None  # last failure, for the HUD (the thread keeps going)
        self.model_spec: str | None = None  # the model the last tick rendered with
        # OpenMP's thread count is per thread: a new thread would start at the machine's
        # default, not the count the show chose (and a replay, on the main thread, uses).
        self.threads = torch.get_num_threads()
        super().__init__("inference")

    def _run(self) -> None:
        torch.set_num_threads(self.threads)
        version = 0
        last_start = 0.0
        while not self._stop.is_set():
            wait = last_start + self.min_interval - time.perf_counter()
            if wait > 0:
                self._stop.wait(wait)
            feat, v = self.features.wait_newer(version, self.idle_s)
            if v == version or feat is None:
                continue
            version = v
            snap = self.registry.snapshot()
            groove = self.performance.step(feat, snap, feat.time)
            self.clock_out.put(groove.clock)
            hold = groove.frozen and self.out.version > 0  # the display keeps showing the picture
            renderer = self.slot.renderer
            index = -1 if hold else next(self.frame_ids)
            changed = renderer.spec if renderer.spec != self.model_spec else None
            self.model_spec = renderer.spec
            if self.on_tick is not None:
                self.on_tick(snap, feat.time, feat.sample_pos, index, changed, self.performance.external)
            if hold:
                continue
            t0 = last_start = time.perf_counter()
            try:
                with torch.inference_mode():
                    pixels = self.copy(self.slot.render(renderer, groove))
            except Exception as exc:  # a model failure must not stop the show: keep the last picture
                self.error = f"{type(exc).__name__}: {exc}"
                continue
            ms = (time.perf_counter() - t0) * 1000.0
            self.out.put(RenderedFrame(pixels, feat.sample_pos, feat.time, feat, ms, index))
