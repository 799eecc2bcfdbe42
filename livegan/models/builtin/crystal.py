"""crystal: faceted shards. Jittered points, nudged by the canvas, cut the view into
Voronoi facets; each facet is a flat plane of light (its level and slope read from the
canvas at its point) with a bright glinting rim, like cut glass or quartz."""

from __future__ import annotations

import torch
from torch import Tensor

from .parts import Lattice, ModConv, Ramp, Seeded, aa_step, fwidth, hex_ramp, per_cell
from .world import CANVAS, CANVAS_CH, CPPN_A, CPPN_B, LAYERS, PALETTE, WARP, CanvasLook, World


class Crystal(World):
    name = "crystal"
    description = "cut-glass facets: flat planes of light with glinting rims"
    look = CanvasLook(in_freq=(0.3, 1.2), ksmooth=0.9, noise=(0.3, 0.1, 0.03))
    max_render = 128
    standardise = (0, 2)
    sharp = (1,)
    per_width = 7

    def build(self, rng: Seeded, w_dim: int) -> None:
        self.lattice = Lattice(self.per_width, 0.42, CANVAS)
        self.warp = ModConv(rng, w_dim, CANVAS_CH, 2, 1, LAYERS[WARP].style)
        self.cell_a = ModConv(rng, w_dim, CANVAS_CH, 16, 1, LAYERS[CPPN_A].style)
        self.cell_b = ModConv(rng, w_dim, 16, 4, 1, LAYERS[CPPN_B].style)
        self.ramp = Ramp(rng, w_dim, torch.stack([
            hex_ramp("#000000", "#06121f", "#1d4a6b", "#8fd0e8", "#f4fbff"),  # ice
            hex_ramp("#000000", "#140a22", "#4b2a6e", "#c79be8", "#fff4ff"),  # amethyst
        ]), reach=0.12)

    def fine(self, g, x: Tensor, ws: Tensor, run) -> Tensor:
        u = g.view(run, g.render_resolution, ws.device, ws.dtype)
        origin, pts = self.lattice.base(run.offset)
        # The canvas moves each point a little (smoothly with ws and noise) and styles its facet.
        move = torch.tanh(g.sample(self.warp(x, ws[:, WARP]), pts, run)).permute(0, 2, 3, 1)
        pts = pts + move * (0.45 / self.per_width)
        feat = g.bend(g.sample(x, pts, run), WARP, run)
        feat = g.bend(torch.tanh(self.cell_a(feat, ws[:, CPPN_A])), CPPN_A, run)
        facet = g.bend(self.cell_b(feat, ws[:, CPPN_B]), CPPN_B, run)  # level, slope x, slope y, hue pick
        d1, d2, cell, pos = self.lattice.nearest(u, pts, origin)
        f = per_cell(facet, cell)
        rel = (u - pos).permute(0, 3, 1, 2) * self.per_width  # [B, 2, H, W] within the facet
        level = f[:, 0:1] * 0.6 + (f[:, 1:3] * rel).sum(1, keepdim=True) * 1.4
        edge = (d2 - d1)[:, None] * self.per_width  # 0 on a facet wall
        return torch.cat([level, edge, f[:, 3:4]], dim=1)

    def develop(self, g, f: Tensor, ws: Tensor, run) -> Tensor:
        level, edge, pick = f[:, 0:1], f[:, 1:2], f[:, 2:3]
        rim = 1.0 - aa_step(edge - 0.05, fwidth(edge), 1.0)
        glow = torch.exp(-edge * 6.0)
        tone = torch.sigmoid(1.6 * level - 0.6) * 0.8 + 0.2 * glow
        tone = torch.lerp(tone, torch.ones_like(tone) * 0.97, rim * 0.85)
        return self.ramp(tone.clamp(0.0, 1.0), torch.sigmoid(2.5 * pick), ws[:, PALETTE])
