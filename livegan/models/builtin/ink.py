"""ink: ink dropped in water. A twice-applied domain warp drags the canvas into curls and
tendrils; a sharp threshold makes them ink, with a darker core and a thin bleed line
around each shape, on pale paper."""

from __future__ import annotations

import torch
from torch import Tensor

from .parts import Ramp, Seeded, aa_step, fourier, fwidth, hex_ramp
from .world import CPPN_A, CPPN_B, PALETTE, WARP, CanvasLook, World

class Ink(World):
    name = "ink"
    description = "ink curling in water: sharp-edged tendrils with dark cores on pale paper"
    look = CanvasLook(in_freq=(0.4, 1.8), ksmooth=0.85, noise=(0.3, 0.12, 0.05))
    max_render = 128
    standardise = (0, 1, 2)
    sharp = (0,)

    def build(self, rng: Seeded, w_dim: int) -> None:
        self.build_cppn(rng, w_dim, hidden=(24, 8), out=3, freqs=(1.5, 4.0))
        self.ramp = Ramp(rng, w_dim, torch.stack([
            hex_ramp("#000000", "#0b1220", "#24344a", "#b9b2a0", "#efe8d8"),  # sumi ink, paper
            hex_ramp("#000000", "#1d0b12", "#4a1f2a", "#c8b49a", "#f3e6cf"),  # sepia ink
        ]), reach=0.08)

    def fine(self, g, x: Tensor, ws: Tensor, run) -> Tensor:
        # Warp the warped points again: curls, not just bends.
        u = self.warped_view(g, self.warp(x, ws[:, WARP]), ws, run, 0.08, steps=2)
        x = g.bend(g.sample(x, u, run), WARP, run)
        ff = fourier(u, self.fine_freqs, self.fine_phases)
        x = g.bend(torch.tanh(self.cppn_a(torch.cat([x, 0.5 * ff], dim=1), ws[:, CPPN_A])), CPPN_A, run)
        x = g.bend(torch.tanh(self.cppn_b(x, ws[:, CPPN_B])), CPPN_B, run)
        return self.head(x, ws[:, PALETTE])  # density, texture, which ink

    def develop(self, g, f: Tensor, ws: Tensor, run) -> Tensor:
        d, tex, pick = f[:, 0:1], f[:, 1:2], f[:, 2:3]
        w = fwidth(d)
        ink = aa_step(d - 0.8, w, 1.5)
        core = aa_step(d - 1.9, w, 4.0)
        bleed = aa_step((d - 0.55).abs() - 0.05, w, 1.0)  # 0 on a thin line just outside the ink
        paper = 0.93 - 0.05 * torch.tanh(tex)
        wash = 0.5 + 0.12 * torch.tanh(tex) - 0.25 * torch.sigmoid(2.0 * (d - 1.0))
        tone = torch.lerp(paper * (0.7 + 0.3 * bleed), wash, ink)
        tone = torch.lerp(tone, torch.full_like(tone, 0.02), core)
        return self.ramp(tone.clamp(0.0, 1.0), torch.sigmoid(2.0 * pick), ws[:, PALETTE])
