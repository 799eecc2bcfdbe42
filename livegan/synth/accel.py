"""The fast path for synthesis on CUDA: precision, memory format, CUDA graphs, torch.compile.

At 1024x1024 a StyleGAN2 frame is a few milliseconds of GPU work split over hundreds of
kernels, so launch overhead matters as much as arithmetic. A captured CUDA graph replays
all of them with one launch. Graphs need static shapes and buffers, so every per-frame
value that varies (ws, per-sample noise strength, the input transform) lives in a
static input buffer that is copied into before each replay. Anything a graph cannot
hold (bends, 'given' noise maps, another batch size) runs eagerly.

On the CPU every option is a no-op except ``precision`` and ``compile``, and the result
equals plain ``generator.synthesis``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch

from ..models.base import Generator, NoiseSpec


@dataclass(frozen=True)
class AccelOptions:
    precision: str = "auto"  # auto (checkpoint's fp16 layers on CUDA), fp32, fp16, bf16
    cuda_graph: bool = True
    compile: bool = False  # torch.compile the synthesis (inductor); slow first call, cached on disk
    compile_mode: str = "max-autotune-no-cudagraphs"
    channels_last: bool = False


def _graphable(noise: NoiseSpec | None, bends) -> bool:
    return not bends and (noise is None or (noise.mode in ("const", "none") and not noise.maps))


class _Graph:
    """One captured synthesis call with static inputs."""

    def __init__(self, fn: Callable, batch: int, num_ws: int, w_dim: int, mode: str, with_transform: bool,
                 device: torch.device) -> None:
        self.ws = torch.zeros(batch, num_ws, w_dim, device=device)
        self.strength = torch.ones(batch, device=device)
        self.transform = torch.eye(3, device=device, dtype=torch.float64).repeat(batch, 1, 1) if with_transform else None
        self.mode = mode
        self.graph = torch.cuda.CUDAGraph()
        s = torch.cuda.Stream(device)
        s.wait_stream(torch.cuda.current_stream(device))
        with torch.cuda.stream(s):
            for _ in range(3):  # warm-up: cuDNN autotuning and lazy allocations happen outside the capture
                self._call(fn)
        torch.cuda.current_stream(device).wait_stream(s)
        with torch.cuda.graph(self.graph):
            self.out = self._call(fn)

    def _call(self, fn: Callable) -> torch.Tensor:
        return fn(self.ws, noise=NoiseSpec(mode=self.mode, strength=self.strength), bends=(), transform=self.transform)

    def run(self, ws: torch.Tensor, strength: torch.Tensor, transform: torch.Tensor | None) -> torch.Tensor:
        self.ws.copy_(ws, non_blocking=True)
        self.strength.copy_(strength, non_blocking=True)
        if self.transform is not None and transform is not None:
            self.transform.copy_(transform, non_blocking=True)
        self.graph.replay()
        return self.out


class FastSynthesis:
    """``generator.synthesis`` with the accelerations that apply on its device."""

    def __init__(self, generator: Generator, options: AccelOptions | None = None) -> None:
        self.generator = generator
        self.options = options or AccelOptions()
        self.device = generator.w_avg.device
        if hasattr(generator, "set_precision"):
            generator.set_precision(self.options.precision)
        if self.options.channels_last and self.device.type == "cuda":
            generator.to(memory_format=torch.channels_last)
        self._fn: Callable = generator.synthesis
        if self.options.compile:
            self._fn = torch.compile(generator.synthesis, mode=self.options.compile_mode, dynamic=False)
        self._graphs: dict[tuple, _Graph] = {}
        self.graph_failures = 0

    @property
    def use_graphs(self) -> bool:
        return self.options.cuda_graph and self.device.type == "cuda" and self.graph_failures < 3

    @torch.inference_mode()
    def __call__(self, ws: torch.Tensor, noise: NoiseSpec | None = None, bends=(),
                 transform: torch.Tensor | None = None) -> torch.Tensor:
        if not (self.use_graphs and _graphable(noise, bends)):
            return self._fn(ws, noise=noise, bends=bends, transform=transform)
        mode = noise.mode if noise is not None else "const"
        batch = ws.shape[0]
        key = (batch, mode, transform is not None)
        graph = self._graphs.get(key)
        if graph is None:
            try:
                graph = _Graph(self._fn, batch, ws.shape[1], ws.shape[2], mode, transform is not None, self.device)
            except Exception:  # a model the graph cannot hold: run it eagerly from now on
                self.graph_failures += 1
                return self._fn(ws, noise=noise, bends=bends, transform=transform)
            self._graphs[key] = graph
        s = 1.0 if noise is None else noise.strength
        strength = s.to(self.device) if isinstance(s, torch.Tensor) else torch.full((batch,), float(s), device=self.device)
        t = transform.to(self.device, torch.float64) if transform is not None else None
        if t is not None and t.ndim == 2:
            t = t.expand(batch, 3, 3)
        return graph.run(ws, strength, t)
