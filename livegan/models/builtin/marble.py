"""marble: the first builtin look. A domain warp of the canvas and a CPPN of sin layers
make flowing, marbled bands; two colour loops (ellipses in RGB through a light colour
and its dark complement) paint them."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

from .parts import Seeded, fourier, param
from .world import CPPN_A, CPPN_B, PALETTE, WARP, World

class Marble(World):
    name = "marble"
    description = "flowing marbled bands in two related colour runs"
    max_render = 128

    def build(self, rng: Seeded, w_dim: int) -> None:
        self.build_cppn(rng, w_dim, hidden=(32, 16), out=4, freqs=(1.0, 3.0))
        self.centre = param(0.5 + rng.randn(2, 3, std=0.06))
        self.axes = param(self._loop_axes(rng))  # [2, 2, 3]: palette, (e1, e2), RGB
        self.alt_axes = param(self._loop_axes(rng))
        self.hue = param(rng.uniform(2))
        self.rate = param(rng.uniform(2, lo=0.5, hi=1.0))
        self.pal_w = param(rng.randn(6, w_dim, std=0.6 / math.sqrt(w_dim)))
        self.register_buffer("reach", torch.tensor([0.5, 0.5, 0.6, 0.6, 0.2, 0.2]))

    @staticmethod
    def _loop_axes(rng: Seeded) -> Tensor:
        """Per loop: ``e1`` runs from a light colour to its dark complement, ``e2`` drifts
        the hue a little; the two loops' colours lie 60..180 degrees apart."""
        grey = torch.full((3,), 1 / math.sqrt(3))
        c1 = torch.tensor([1.0, -1.0, 0.0]) / math.sqrt(2)
        c2 = torch.tensor([1.0, 1.0, -2.0]) / math.sqrt(6)
        theta = rng.uniform(1, hi=2 * math.pi) + torch.cat([torch.zeros(1), rng.uniform(1, lo=math.pi / 3, hi=math.pi)])
        d1 = torch.cos(theta)[:, None] * c1 + torch.sin(theta)[:, None] * c2
        d2 = -torch.sin(theta)[:, None] * c1 + torch.cos(theta)[:, None] * c2
        lum = rng.uniform(2, 1, lo=0.3, hi=0.7)
        e1 = torch.cos(lum) * d1 + torch.sin(lum) * grey
        e2 = d2 * rng.uniform(2, 1, lo=0.4, hi=0.8)
        return torch.stack([e1, e2], dim=1) * 0.55

    def fine(self, g, x: Tensor, ws: Tensor, run) -> Tensor:
        # The 1x1 warp conv runs on the canvas: it commutes with bilinear sampling.
        u = self.warped_view(g, self.warp(x, ws[:, WARP]), ws, run, 0.1)
        x = g.bend(g.sample(x, u, run), WARP, run)
        ff = fourier(u, self.fine_freqs, self.fine_phases)
        x = g.bend(torch.sin(self.cppn_a(torch.cat([x, ff], dim=1), ws[:, CPPN_A])), CPPN_A, run)
        x = g.bend(torch.sin(self.cppn_b(x, ws[:, CPPN_B])), CPPN_B, run)
        t = self.head(x, ws[:, PALETTE])
        return self._colour(t, ws[:, PALETTE])

    def _colour(self, t: Tensor, w: Tensor) -> Tensor:
        st = F.linear(w, self.pal_w) * self.reach
        tilt = st[:, 2:4, None, None]
        axes = self.axes * torch.cos(tilt) + self.alt_axes * torch.sin(tilt)  # [B,2,2,3]
        rate = self.rate[:, None, None] * (1 + st[:, 4:6, None, None])
        phi = 2 * math.pi * (rate * t[:, :2] + (self.hue + st[:, 0:2])[:, :, None, None])
        rgb = (self.centre[None, :, :, None, None]
               + torch.einsum("bphw,bpc->bpchw", torch.cos(phi), axes[:, :, 0])
               + torch.einsum("bphw,bpc->bpchw", torch.sin(phi), axes[:, :, 1]))
        mixed = torch.lerp(rgb[:, 0], rgb[:, 1], torch.sigmoid(4.0 * t[:, 2:3]))
        return mixed * torch.sigmoid(2.0 * t[:, 3:4] + 0.5)  # shade all the way to black

    def develop(self, g, f: Tensor, ws: Tensor, run) -> Tensor:
        return f.clamp(0.0, 1.0)
