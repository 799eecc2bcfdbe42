"""nebula: glowing gas. The canvas is swirled once, fine octaves add wisps, and the
density is developed as emission: bright cores fading through dusty colour to true black."""

from __future__ import annotations

import torch
from torch import Tensor

from .parts import Ramp, Seeded, fourier, hex_ramp
from .world import CPPN_A, CPPN_B, PALETTE, WARP, CanvasLook, World

class Nebula(World):
    name = "nebula"
    description = "glowing gas clouds: soft emission fading to true black"
    look = CanvasLook(in_freq=(0.25, 1.2), ksmooth=0.95, noise=(0.2, 0.08, 0.03))
    max_render = 112
    standardise = (0, 1)
    sharp = (0,)

    def build(self, rng: Seeded, w_dim: int) -> None:
        self.build_cppn(rng, w_dim, hidden=(24, 8), out=2, freqs=(1.0, 5.0))
        self.ramp = Ramp(rng, w_dim, torch.stack([
            hex_ramp("#000000", "#1a0630", "#6b1f7a", "#e0508a", "#ffc29a"),  # magenta to coral
            hex_ramp("#000000", "#04162a", "#0e5a8a", "#3fc1c9", "#c8fff0"),  # deep blue to teal
        ]), reach=0.06)

    def fine(self, g, x: Tensor, ws: Tensor, run) -> Tensor:
        u = self.warped_view(g, self.warp(x, ws[:, WARP]), ws, run, 0.18)
        x = g.bend(g.sample(x, u, run), WARP, run)
        ff = fourier(u, self.fine_freqs, self.fine_phases)
        x = g.bend(torch.tanh(self.cppn_a(torch.cat([x, 0.35 * ff], dim=1), ws[:, CPPN_A])), CPPN_A, run)
        x = g.bend(torch.tanh(self.cppn_b(x, ws[:, CPPN_B])), CPPN_B, run)
        return self.head(x, ws[:, PALETTE])  # density, temperature

    def develop(self, g, f: Tensor, ws: Tensor, run) -> Tensor:
        density, temp = f[:, 0:1], f[:, 1:2]
        glow = 1.0 - torch.exp(-torch.exp(1.4 * density - 1.0))  # emission: 0 in the voids
        tone = glow * glow * (3.0 - 2.0 * glow) * 0.93  # the brightest gas keeps its colour
        return self.ramp(tone, torch.sigmoid(1.5 * temp), ws[:, PALETTE])
