"""The inference thread: newest features + a parameter snapshot -> conductor -> model -> frame.

It waits on new features only (never on the display) and publishes each picture to a
latest-wins slot; a picture the display has not taken yet is simply replaced.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import torch

from ..audio.features import FeatureFrame
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
    index: int


class Renderer(Protocol):
    def render(self, features: FeatureFrame, snap: Snapshot) -> torch.Tensor | np.ndarray:
        """A uint8 [H, W, 3] (or [1, H, W, 3]) picture on any device."""


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


class ModelRenderer:
    """The real path: Conductor.step + Engine.generate."""

    def __init__(self, conductor, engine) -> None:
        self.conductor = conductor
        self.engine = engine

    def render(self, features: FeatureFrame, snap: Snapshot) -> torch.Tensor:
        inputs = self.conductor.step(features, snap, features.time)
        return self.engine.generate([inputs])[0]


class InferenceThread(Worker):
    join_timeout_s = 10.0

    def __init__(self, features: Latest[FeatureFrame], registry: ParamRegistry, renderer: Renderer,
                 out: Latest[RenderedFrame], idle_s: float = 0.1, max_fps: float | None = None,
                 on_snapshot=None) -> None:
        self.on_snapshot = on_snapshot  # (snapshot, audio time) after each frame's snapshot: set recording
        self.features = features
        self.registry = registry
        self.renderer = renderer
        self.out = out
        self.idle_s = idle_s
        # Frames faster than the display can show are wasted work that starves the GL thread
        # on a CPU; this caps the rate (it never waits for the display itself).
        self.min_interval = 1.0 / max_fps if max_fps else 0.0
        self.copy = HostCopier()
        self.error: str | None = None  # last failure, for the HUD (the thread keeps going)
        super().__init__("inference")

    def _run(self) -> None:
        version, index = 0, 0
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
            if self.on_snapshot is not None:
                self.on_snapshot(snap, feat.time)
            if snap.get("show/freeze", False) and self.out.version > 0:
                continue  # hold the picture; the display keeps showing it
            t0 = last_start = time.perf_counter()
            try:
                with torch.inference_mode():
                    pixels = self.copy(self.renderer.render(feat, snap))
            except Exception as exc:  # a model failure must not stop the show: keep the last picture
                self.error = f"{type(exc).__name__}: {exc}"
                continue
            ms = (time.perf_counter() - t0) * 1000.0
            index += 1
            self.out.put(RenderedFrame(pixels, feat.sample_pos, feat.time, feat, ms, index))
