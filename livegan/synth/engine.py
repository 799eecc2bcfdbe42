"""The engine: batches of GeneratorInputs -> uint8 RGB frames, on CUDA or the CPU.

Frames that can share one synthesis call (the same bends up to their amounts, same noise
mode, transform present or not) are batched; per-sample values (ws, noise strength,
transform, bend amounts) ride along as batch dimensions.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Sequence

import torch

from ..conductor.inputs import GeneratorInputs
from ..models.base import Bend, Generator, NoiseSpec, PerSample
from .accel import AccelOptions, FastSynthesis
from .resample import fill_resize

__all__ = ["Engine", "fill_resize", "pick_device"]


def pick_device(requested: str | None = None) -> torch.device:
    """``cuda`` when present (or asked for), else the CPU."""
    if requested and requested != "auto":
        return torch.device(requested)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def _batch_key(inp: GeneratorInputs) -> tuple:
    # Seeded random noise is drawn per call: frames with their own seeds run alone, so a
    # frame's picture never depends on which batch it landed in.
    seed = inp.noise.seed if inp.noise.mode == "random" else None
    bends = tuple((b.layer, b.op, b.channels) for b in inp.bends)  # amounts may differ (PerSample)
    return (bends, inp.noise.mode, inp.transform is None, seed, inp.world)


def _merged_bends(group: Sequence[GeneratorInputs]) -> tuple[Bend, ...]:
    """The group's bends, an amount that moves across the group given per sample."""
    out = []
    for k, bend in enumerate(group[0].bends):
        amounts = [g.bends[k].amount for g in group]
        same = all(a == amounts[0] for a in amounts)
        out.append(bend if same else replace(bend, amount=PerSample(amounts)))
    return tuple(out)


class Engine:
    """Runs a generator on inputs from the conductor.

    ``size`` (W, H) is the output size: the square model image is scaled to cover it and
    centre-cropped (fill) with the GL output scaler's filter (``resample.fill_resize``).
    """

    def __init__(self, generator: Generator, device: str | torch.device | None = None,
                 size: tuple[int, int] | None = None, apply_show: bool = True,
                 accel: AccelOptions | None = None) -> None:
        self.device = pick_device(str(device) if device is not None else None)
        self.generator = generator.to(self.device).eval()
        self.size = size
        self.apply_show = apply_show
        # The fast path's outputs may be static graph buffers: to_uint8 copies them at once.
        self.accel = accel
        self.fast = FastSynthesis(self.generator, accel)
        self._worlds: dict[str, FastSynthesis] = {}

    def _synthesis_for(self, world: str) -> FastSynthesis:
        """The generator in ``world`` (the same seed and w space); ``auto``: as it was loaded."""
        if world == "auto":
            return self.fast
        fast = self._worlds.get(world)
        if fast is None:
            gen = self.generator.with_world(world)
            fast = self.fast if gen is self.generator else FastSynthesis(gen.to(self.device).eval(), self.accel)
            self._worlds[world] = fast
        return fast

    @torch.inference_mode()
    def synthesize(self, inputs: Sequence[GeneratorInputs]) -> torch.Tensor:
        """Float images ``[B, 3, H, W]`` in [-1, 1] at the model's resolution, in input order."""
        out: list[torch.Tensor | None] = [None] * len(inputs)
        i = 0
        while i < len(inputs):
            j = i + 1
            while j < len(inputs) and _batch_key(inputs[j]) == _batch_key(inputs[i]):
                j += 1
            group = inputs[i:j]
            ws = torch.stack([g.ws for g in group]).to(self.device, non_blocking=True)
            first = group[0].noise
            strengths = [float(g.noise.strength) for g in group]
            strength: float | torch.Tensor = strengths[0]
            if any(s != strengths[0] for s in strengths):
                strength = torch.tensor(strengths, device=self.device)
            noise = NoiseSpec(mode=first.mode, strength=strength, layer_strength=first.layer_strength,
                              maps=first.maps, seed=first.seed)
            transform = None
            if group[0].transform is not None:
                transform = torch.stack([g.transform for g in group]).to(self.device)
            synth = self._synthesis_for(group[0].world)
            img = synth(ws, noise=noise, bends=_merged_bends(group), transform=transform)
            for k, im in enumerate(img):
                out[i + k] = im
            i = j
        return torch.stack(out)  # type: ignore[arg-type]

    @torch.inference_mode()
    def to_uint8(self, img: torch.Tensor, inputs: Sequence[GeneratorInputs] | None = None) -> torch.Tensor:
        """[-1, 1] NCHW -> uint8 NHWC at the output size, with flash / master / blackout applied."""
        x = (img.float() + 1.0) * 0.5
        if self.size is not None:
            x = fill_resize(x, self.size)
        if self.apply_show and inputs is not None:
            flash = torch.tensor([g.flash for g in inputs], device=x.device).view(-1, 1, 1, 1)
            master = torch.tensor([0.0 if g.blackout else g.master for g in inputs], device=x.device).view(-1, 1, 1, 1)
            x = (x + (1.0 - x) * flash) * master
        return (x.clamp(0, 1) * 255.0 + 0.5).to(torch.uint8).permute(0, 2, 3, 1).contiguous()

    def generate(self, inputs: Sequence[GeneratorInputs]) -> torch.Tensor:
        """uint8 ``[B, H, W, 3]`` frames on the engine's device."""
        return self.to_uint8(self.synthesize(inputs), inputs)
