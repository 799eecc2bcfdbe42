"""opart: black-and-white op-art. Two sets of hard stripes (rings about a wandering
centre, and straight bands at a turning angle) on a gently bulging view, laid over each
other as an exclusive-or: moire, vibration, Bridget Riley and Vasarely."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

from .parts import ModConv, Ramp, Seeded, aa_step, fwidth, hex_ramp, param
from .world import CANVAS_CH, CPPN_A, CPPN_B, LAYERS, PALETTE, WARP, CanvasLook, World


class OpArt(World):
    name = "opart"
    description = "op-art: hard black-and-white rings and bands crossing into moire"
    look = CanvasLook(in_freq=(0.3, 1.0), ksmooth=0.9, noise=(0.2, 0.08, 0.02))
    max_render = 112
    standardise = (2,)
    sharp = (0, 1)

    def build(self, rng: Seeded, w_dim: int) -> None:
        self.warp = ModConv(rng, w_dim, CANVAS_CH, 2, 1, LAYERS[WARP].style)
        self.mod = ModConv(rng, w_dim, CANVAS_CH, 3, 1, LAYERS[CPPN_A].style)
        self.geo = param(rng.randn(5, w_dim, std=1.0 / math.sqrt(w_dim)))  # centre, angle, two frequencies
        self.geo0 = param(torch.cat([rng.uniform(2, lo=-0.2, hi=0.2), rng.uniform(1, hi=2 * math.pi),
                                     rng.uniform(2, lo=-0.2, hi=0.2)]))
        self.ramp = Ramp(rng, w_dim, torch.stack([
            hex_ramp("#000000", "#101010", "#808080", "#f0f0f0", "#ffffff"),  # black, white
            hex_ramp("#000000", "#1a0000", "#b01020", "#f4e4d0", "#ffffff"),  # with a red
        ]), reach=0.0)

    def fine(self, g, x: Tensor, ws: Tensor, run) -> Tensor:
        u = self.warped_view(g, self.warp(x, ws[:, WARP]), ws, run, 0.05)
        m = g.bend(torch.tanh(self.mod(g.bend(g.sample(x, u, run), WARP, run), ws[:, CPPN_A])), CPPN_A, run)
        geo = self.geo0 + F.linear(ws[:, CPPN_B], self.geo) * torch.tensor([0.06, 0.06, 0.12, 0.05, 0.05])
        centre = geo[:, None, None, 0:2]
        angle = geo[:, 2]
        rings = (u - centre).norm(dim=-1)[:, None] * (9.0 * torch.exp(geo[:, 3]))[:, None, None, None]
        axis = torch.stack([torch.cos(angle), torch.sin(angle)], dim=-1)[:, None, None, :]
        bands = (u * axis).sum(-1)[:, None] * (13.0 * torch.exp(geo[:, 4]))[:, None, None, None]
        fields = torch.cat([rings + 0.45 * m[:, 0:1], bands + 0.45 * m[:, 1:2], m[:, 2:3]], dim=1)
        return g.bend(fields, CPPN_B, run)

    def develop(self, g, f: Tensor, ws: Tensor, run) -> Tensor:
        s = torch.sin(2 * math.pi * f[:, 0:2])
        stripes = aa_step(s, fwidth(s), 1.0)
        a, b = stripes[:, 0:1], stripes[:, 1:2]
        xor = a + b - 2.0 * a * b
        mix = torch.sigmoid(3.0 * f[:, 2:3])
        tone = torch.lerp(a, xor, mix)
        return self.ramp(tone, (mix - 0.5).clamp(0.0, 0.5) * 2.0, ws[:, PALETTE])
