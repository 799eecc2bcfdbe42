"""grain: an old film print. Soft, out-of-focus light (blooming highlights, deep
shadows) in silver or sepia, under heavy grain: the grain is the model's noise, so
``noise/mode random`` makes it crawl and ``none`` takes it away."""

from __future__ import annotations

import torch
from torch import Tensor

from .parts import ModConv, Ramp, Seeded, hex_ramp, resize
from .world import CANVAS_CH, CPPN_A, CPPN_B, LAYERS, PALETTE, WARP, CanvasLook, World

_GRAIN_SIDE = 256  # grain cells across the picture at most (2 px grains at 512)


class Grain(World):
    name = "grain"
    description = "old film: soft blooming light in silver or sepia under crawling grain"
    look = CanvasLook(in_freq=(0.2, 1.0), ksmooth=0.95, noise=(0.2, 0.08, 0.03))
    max_render = 96
    standardise = (0, 1)
    sharp = ()

    def build(self, rng: Seeded, w_dim: int) -> None:
        self.warp = ModConv(rng, w_dim, CANVAS_CH, 2, 1, LAYERS[WARP].style)
        self.cppn_a = ModConv(rng, w_dim, CANVAS_CH, 16, 1, LAYERS[CPPN_A].style)
        self.cppn_b = ModConv(rng, w_dim, 16, 2, 1, LAYERS[CPPN_B].style)
        self.register_buffer("grain", rng.randn(1, 1, _GRAIN_SIDE, _GRAIN_SIDE))
        self.ramp = Ramp(rng, w_dim, torch.stack([
            hex_ramp("#000000", "#241b14", "#6e5a45", "#cbb596", "#fff4e2"),  # sepia
            hex_ramp("#000000", "#161a1c", "#59646a", "#bcc6c9", "#f6fbff"),  # silver
        ]), reach=0.03)

    def fine(self, g, x: Tensor, ws: Tensor, run) -> Tensor:
        u = self.warped_view(g, self.warp(x, ws[:, WARP]), ws, run, 0.08)
        x = g.bend(g.sample(x, u, run), WARP, run)
        x = g.bend(torch.tanh(self.cppn_a(x, ws[:, CPPN_A])), CPPN_A, run)
        return g.bend(self.cppn_b(x, ws[:, CPPN_B]), CPPN_B, run)  # light, silver or sepia

    def develop(self, g, f: Tensor, ws: Tensor, run) -> Tensor:
        light, pick = f[:, 0:1], f[:, 1:2]
        tone = torch.sigmoid(1.8 * light)
        tone = tone + 0.35 * torch.relu(light - 1.3)  # highlights bloom
        n = self._grain(f, run)
        if n is not None:
            # Grain is strongest in the mids, as in a print (none in pure black or white).
            tone = tone + n * (tone * (1.0 - tone)).clamp_min(0.0) * 0.5
        return self.ramp(tone.clamp(0.0, 1.0), torch.sigmoid(4.0 * pick), ws[:, PALETTE])

    def _grain(self, f: Tensor, run) -> Tensor | None:
        spec = run.spec
        if spec.mode == "none":
            return None
        strength = spec.strength_for("conv64b")
        if isinstance(strength, float) and strength == 0.0:
            return None
        side = min(f.shape[-1], _GRAIN_SIDE)
        if spec.mode == "random":
            n = torch.randn(f.shape[0], 1, side, side, generator=run.gen).to(f.device, f.dtype)
        else:
            n = self.grain[..., :side, :side].to(f.dtype)
        if isinstance(strength, Tensor):
            strength = strength.to(f.device, f.dtype)
        return resize(n, f.shape[-1]) * strength
