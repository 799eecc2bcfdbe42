"""``GeneratorInputs``: the message from the conductor to the engine, one per frame."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ..models.base import Bend, NoiseSpec


@dataclass(frozen=True)
class GeneratorInputs:
    """Everything the engine needs for one frame (one sample of a batch)."""

    ws: torch.Tensor  # [num_ws, w_dim] float32, on the CPU
    noise: NoiseSpec
    bends: tuple[Bend, ...] = ()
    transform: torch.Tensor | None = None  # forward [3, 3]
    time: float = 0.0  # audio time of the frame (s)
    sample_pos: int = 0  # newest audio sample the features had heard
    frame_index: int = 0
    flash: float = 0.0  # 0..1 white flash amount for the display / encoder
    blackout: bool = False
    master: float = 1.0
    world: str = "auto"  # the embedded model's world (``look/world``); other models have one
