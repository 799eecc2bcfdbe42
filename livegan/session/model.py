"""A model path: one generator, its latent rig and the engine that runs it.

This is the unit a hot model swap replaces; the performance (groove, beat clock) is not
part of it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import torch

from ..conductor.inputs import GeneratorInputs
from ..conductor.performance import Groove
from ..conductor.rig import LatentRig
from ..synth.engine import Engine


@dataclass(frozen=True)
class ModelPath:
    rig: LatentRig
    engine: Engine
    name: str  # for the HUD and the log, e.g. "builtin 512px"
    spec: str  # what was asked for (a recorded set keeps it)

    def resized(self, size: tuple[int, int], apply_show: bool = True) -> "ModelPath":
        """The same generator and rig, its frames scaled to ``size`` (W, H) by the engine (fill);
        ``apply_show=False`` leaves out flash, master and blackout (measurements)."""
        from ..synth.engine import Engine  # noqa: PLC0415

        engine = Engine(self.engine.generator, self.engine.device, size=size, apply_show=apply_show)
        return ModelPath(self.rig, engine, self.name, self.spec)

    @property
    def device(self) -> torch.device:
        return self.engine.device

    def inputs(self, groove: Groove) -> GeneratorInputs:
        return self.rig.inputs(groove)

    def render(self, groove: Groove) -> torch.Tensor:
        """One uint8 [H, W, 3] frame on the engine's device."""
        return self.engine.generate([self.rig.inputs(groove)])[0]

    def render_batch(self, inputs: Sequence[GeneratorInputs]) -> torch.Tensor:
        """uint8 [B, H, W, 3] frames."""
        return self.engine.generate(inputs)
