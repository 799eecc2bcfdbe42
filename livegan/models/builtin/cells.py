"""cells: living tissue. The view is warped, then cut into many small Voronoi cells;
each is a soft dome with a dark nucleus, separated by thick wobbling membranes."""

from __future__ import annotations

import torch
from torch import Tensor

from .parts import Lattice, ModConv, Ramp, Seeded, aa_step, fwidth, hex_ramp, per_cell
from .world import CANVAS, CANVAS_CH, CPPN_A, CPPN_B, LAYERS, PALETTE, WARP, CanvasLook, World


class Cells(World):
    name = "cells"
    description = "living tissue: soft domed cells with nuclei and wobbling membranes"
    look = CanvasLook(in_freq=(0.4, 1.6), ksmooth=0.8, noise=(0.3, 0.15, 0.06))
    max_render = 128
    standardise = (2, 3, 4)
    sharp = (0, 1)
    per_width = 11

    def build(self, rng: Seeded, w_dim: int) -> None:
        self.lattice = Lattice(self.per_width, 0.38, CANVAS)
        self.warp = ModConv(rng, w_dim, CANVAS_CH, 4, 1, LAYERS[WARP].style)
        self.cell_a = ModConv(rng, w_dim, CANVAS_CH, 16, 1, LAYERS[CPPN_A].style)
        self.cell_b = ModConv(rng, w_dim, 16, 3, 1, LAYERS[CPPN_B].style)
        self.ramp = Ramp(rng, w_dim, torch.stack([
            hex_ramp("#000000", "#2a0710", "#8c2a3c", "#f09a8c", "#fff0e0"),  # stained tissue
            hex_ramp("#000000", "#08200c", "#2f7a3a", "#b8e07a", "#f8ffe0"),  # algae
        ]), reach=0.1)

    def fine(self, g, x: Tensor, ws: Tensor, run) -> Tensor:
        u = g.view(run, g.render_resolution, ws.device, ws.dtype)
        field = self.warp(x, ws[:, WARP])
        # Wobble the view (membranes bend) and the points (cells crowd and drift).
        u = u + torch.tanh(g.sample(field[:, :2], u, run)).permute(0, 2, 3, 1) * 0.025
        origin, pts = self.lattice.base(run.offset)
        pts = pts + torch.tanh(g.sample(field[:, 2:], pts, run)).permute(0, 2, 3, 1) * (0.4 / self.per_width)
        feat = g.bend(g.sample(x, pts, run), WARP, run)
        feat = g.bend(torch.tanh(self.cell_a(feat, ws[:, CPPN_A])), CPPN_A, run)
        cellv = g.bend(self.cell_b(feat, ws[:, CPPN_B]), CPPN_B, run)  # size, tone, pick
        d1, d2, cell, _ = self.lattice.nearest(u, pts, origin)
        f = per_cell(cellv, cell)
        wall = (d2 - d1)[:, None] * self.per_width
        r = d1[:, None] * self.per_width
        return torch.cat([wall, r, f], dim=1)

    def develop(self, g, f: Tensor, ws: Tensor, run) -> Tensor:
        wall, r, size, level, pick = (f[:, i:i + 1] for i in range(5))
        membrane = aa_step(wall - 0.16, fwidth(wall), 1.5)  # 0 on the membrane
        dome = (1.0 - (r * 1.1).square()).clamp(0.0, 1.0)
        nucleus = 1.0 - aa_step(0.16 + 0.06 * torch.tanh(size) - r, fwidth(r), 1.0)
        tone = (0.45 + 0.5 * torch.sigmoid(level)) * (0.5 + 0.5 * dome)
        tone = tone * (0.35 + 0.65 * nucleus) * membrane + (1.0 - membrane) * 0.08
        return self.ramp(tone.clamp(0.0, 1.0), torch.sigmoid(2.0 * pick), ws[:, PALETTE])
