"""Building blocks shared by the builtin generator and its worlds.

Seeded weights, the mapping MLP, modulated convs, the per-world colour ramp and the
screen-space antialiasing helpers the worlds draw their edges with.
"""

from __future__ import annotations

import math
import zlib

import torch
import torch.nn.functional as F
from torch import Tensor, nn

SQRT2 = math.sqrt(2.0)


class Seeded:
    """Draws every weight from one ``torch.Generator`` so a seed fixes the network.

    ``stream`` names an independent sequence for the same seed (each world draws its own,
    so adding a world never changes another one's weights)."""

    def __init__(self, seed: int, stream: str = "") -> None:
        mixed = int(seed) if not stream else (int(seed) * 1_000_003 + zlib.crc32(stream.encode())) % 2**63
        self.gen = torch.Generator().manual_seed(mixed)

    def randn(self, *shape: int, std: float = 1.0) -> Tensor:
        return torch.randn(*shape, generator=self.gen) * std

    def uniform(self, *shape: int, lo: float = 0.0, hi: float = 1.0) -> Tensor:
        return lo + (hi - lo) * torch.rand(*shape, generator=self.gen)

    def freqs(self, n: int, lo: float, hi: float) -> Tensor:
        """``n`` 2-D frequencies with uniform directions and radii in [lo, hi]."""
        radius = self.uniform(n, lo=lo, hi=hi)
        angle = self.uniform(n, hi=2 * math.pi)
        return torch.stack([radius * torch.cos(angle), radius * torch.sin(angle)], dim=1)


def binomial3() -> Tensor:
    """The 3x3 binomial (smoothing) kernel, summing to 1."""
    b = torch.tensor([1.0, 2.0, 1.0])
    return b[:, None] * b[None, :] / 16.0


def param(t: Tensor) -> nn.Parameter:
    return nn.Parameter(t, requires_grad=False)


class Mapping(nn.Module):
    """z -> w: pixel-norm then a leaky-ReLU MLP with He scaling."""

    def __init__(self, rng: Seeded, z_dim: int, w_dim: int, depth: int) -> None:
        super().__init__()
        dims = [z_dim] + [w_dim] * depth
        self.weights = nn.ParameterList(
            [param(rng.randn(o, i, std=1.0 / math.sqrt(i))) for i, o in zip(dims[:-1], dims[1:])]
        )
        self.biases = nn.ParameterList([param(rng.randn(o, std=0.1)) for o in dims[1:]])

    def forward(self, z: Tensor) -> Tensor:
        x = z * torch.rsqrt(z.square().mean(dim=1, keepdim=True) + 1e-8)
        for i, (w, b) in enumerate(zip(self.weights, self.biases)):
            x = F.linear(x, w, b)
            if i < len(self.weights) - 1:
                x = F.leaky_relu(x, 0.2) * SQRT2
        return x


class ModConv(nn.Module):
    """A modulated, demodulated k x k conv (k = 3: scale -> shared conv -> scale, so a
    batch stays one conv call; k = 1: a batched matmul). Its output gain is fixed once by
    calibration (as StyleGAN3's magnitude EMA): demodulation assumes white inputs, and
    smooth ones would otherwise grow layer after layer. ``ksmooth`` is the share of a
    smooth (binomial) profile in 3x3 kernels: stacked convs then mix channels without
    inventing pixel-scale detail."""

    def __init__(self, rng: Seeded, w_dim: int, in_ch: int, out_ch: int, k: int, style_std: float,
                 ksmooth: float = 0.8) -> None:
        super().__init__()
        self.k = k
        weight = rng.randn(out_ch, in_ch, k, k)
        if k == 3:
            smooth = binomial3() * 4.0  # centre tap 1
            weight = ksmooth * rng.randn(out_ch, in_ch, 1, 1) * smooth + (1 - ksmooth) * weight
        self.weight = param(weight)
        self.bias = param(rng.randn(out_ch, std=0.2))
        self.affine_w = param(rng.randn(in_ch, w_dim, std=style_std / math.sqrt(w_dim)))
        self.affine_b = param(torch.ones(in_ch))
        self.register_buffer("gain", torch.ones(()))
        self.register_buffer("wsq", weight.square().sum(dim=(2, 3)).t().contiguous())  # [in, out]
        self.calibrating = False

    def forward(self, x: Tensor, w: Tensor) -> Tensor:
        if self.calibrating:
            self.gain.fill_(1.0)
            unit = self._run(x, w) - self.bias[None, :, None, None]
            self.gain.copy_(torch.rsqrt(unit.square().mean() + 1e-8))
        return self._run(x, w)

    def _run(self, x: Tensor, w: Tensor) -> Tensor:
        s = F.linear(w, self.affine_w, self.affine_b)  # [B, in]
        scale = torch.rsqrt(s.square() @ self.wsq + 1e-8) * self.gain  # [B, out]: gain / |W s|
        if self.k == 1:
            # Fold style and scale into per-sample weights: one batched matmul, no passes
            # over the (large) input or output for the modulation.
            n, (h, wd) = s.shape[0], x.shape[-2:]
            wb = self.weight[:, :, 0, 0] * s[:, None, :] * scale[:, :, None]  # [B, out, in]
            flat = x.expand(n, -1, -1, -1).reshape(n, x.shape[1], h * wd)
            return torch.baddbmm(self.bias[None, :, None], wb, flat).view(n, -1, h, wd)
        pad = self.k // 2
        x = F.pad(x * s[:, :, None, None], (pad, pad, pad, pad), mode="replicate")
        return torch.addcmul(self.bias[None, :, None, None], F.conv2d(x, self.weight), scale[:, :, None, None])


def hex_ramp(*colours: str) -> Tensor:
    """``"#rrggbb"`` stops -> ``[K, 3]`` in 0..1."""
    return torch.tensor([[int(c[i:i + 2], 16) / 255.0 for i in (1, 3, 5)] for c in colours])


def _hue_turn(angle: Tensor) -> Tensor:
    """``[B]`` radians -> ``[B, 3, 3]`` rotations of RGB about the grey axis (keeps luma roughly)."""
    c, s = torch.cos(angle), torch.sin(angle)
    k = 1.0 / 3.0
    q = math.sqrt(1.0 / 3.0)
    # Rodrigues' formula for the unit axis (1, 1, 1) / sqrt(3).
    a = c + (1 - c) * k
    b = (1 - c) * k - q * s
    d = (1 - c) * k + q * s
    return torch.stack([torch.stack([a, b, d], -1), torch.stack([d, a, b], -1), torch.stack([b, d, a], -1)], -2)


class Ramp(nn.Module):
    """A world's own colours: two dark-to-light ramps of ``K`` stops, the second field picks
    between them. ``ws`` turn both about the grey axis a little (how far: ``reach``, in
    turns) and swap their order, so the fine layers move the colours without leaving the
    world's scheme. Black stays black: a stop at 0 stays 0 under a turn."""

    def __init__(self, rng: Seeded, w_dim: int, ramps: Tensor, reach: float) -> None:
        super().__init__()
        self.register_buffer("ramps", ramps.float())  # [2, K, 3]
        self.affine_w = param(rng.randn(1, w_dim, std=1.0 / math.sqrt(w_dim)))
        self.turn0 = param(rng.uniform(1, lo=-0.5, hi=0.5) * reach)
        self.reach = reach

    def lut(self, w: Tensor) -> Tensor:
        """``[B, 3, 2, K]``: the per-sample colour table for ``grid_sample``."""
        angle = 2 * math.pi * (self.turn0 + torch.tanh(F.linear(w, self.affine_w))[:, 0] * self.reach)
        rot = _hue_turn(angle)  # [B, 3, 3]
        rgb = torch.einsum("bij,pkj->bipk", rot, self.ramps)
        return rgb.clamp(0.0, 1.0)

    def forward(self, tone: Tensor, pick: Tensor, w: Tensor) -> Tensor:
        """``tone`` (0 dark .. 1 light) and ``pick`` (0 first ramp .. 1 second), ``[B, 1, H, W]``
        -> RGB ``[B, 3, H, W]`` in 0..1, linear between neighbouring stops."""
        grid = torch.cat([tone, pick], dim=1).permute(0, 2, 3, 1) * 2.0 - 1.0
        return F.grid_sample(self.lut(w).to(tone.dtype), grid, mode="bilinear", padding_mode="border",
                             align_corners=True)


def fwidth(f: Tensor) -> Tensor:
    """How much ``f`` changes per output pixel (``|df/dx| + |df/dy|`` by central
    differences), as GLSL's ``fwidth``: the width of a one-pixel antialiased edge."""
    p = F.pad(f, (1, 1, 1, 1), mode="replicate")
    dx = p[..., 1:-1, 2:] - p[..., 1:-1, :-2]
    dy = p[..., 2:, 1:-1] - p[..., :-2, 1:-1]
    return (dx.abs() + dy.abs()) * 0.5


def aa_step(f: Tensor, width: Tensor, soft: float = 1.0) -> Tensor:
    """0 where ``f < 0``, 1 where ``f > 0``, with a ramp ``soft`` output pixels wide across the
    edge: sharp at any output size, never a staircase."""
    return (f / (width * soft + 1e-6) + 0.5).clamp_(0.0, 1.0)


def resize(x: Tensor, size: int, sharp: tuple[int, ...] | None = None) -> Tensor:
    """Square fields to ``size``: the ``sharp`` channels (all when None: the ones that
    later become edges) bicubic up, so contours drawn from them have no polygon kinks; the
    rest bilinear up (smooth tones, a quarter of the cost); antialiased bilinear down."""
    if x.shape[-1] == size:
        return x
    n, c = x.shape[:2]
    if size < x.shape[-1]:
        flat = x.reshape(n * c, 1, *x.shape[-2:])  # channels as batch: the kernels are faster with one channel
        return F.interpolate(flat, size=(size, size), mode="bilinear", align_corners=False,
                             antialias=True).view(n, c, size, size)
    sharp = tuple(range(c)) if sharp is None else sharp
    out = torch.empty(n, c, size, size, dtype=x.dtype, device=x.device)
    for mode, idx in (("bicubic", list(sharp)), ("bilinear", [i for i in range(c) if i not in sharp])):
        if idx:
            flat = x[:, idx].reshape(n * len(idx), 1, *x.shape[-2:])
            up = F.interpolate(flat, size=(size, size), mode=mode, align_corners=False)
            out[:, idx] = up.view(n, len(idx), size, size)
    return out


def fourier(u: Tensor, freqs: Tensor, phases: Tensor) -> Tensor:
    """``sin`` features of image points ``[b, H, W, 2]`` -> ``[b, n, H, W]``."""
    return torch.sin(2 * math.pi * (u @ freqs.t() + phases)).permute(0, 3, 1, 2)


def _hash01(ix: Tensor, iy: Tensor, salt: int) -> Tensor:
    """An integer hash of lattice indices -> [0, 1): exact on every CPU (no float rounding)."""
    h = (ix * 73856093) ^ (iy * 19349663) ^ (salt * 83492791)
    h = (h ^ (h >> 13)) * 1274126177
    h = h ^ (h >> 16)
    return (h & 0xFFFF).to(torch.float32) / 65536.0


class Lattice:
    """Jittered points, ``per_width`` per image width, in a table covering the canvas
    (fixed to the picture: panning far meets the same points again)."""

    def __init__(self, per_width: int, jitter: float, canvas: float) -> None:
        self.g = per_width
        self.jitter = jitter
        self.n = int(math.ceil(canvas * per_width)) + 4
        self.half = canvas / 2

    def base(self, offset: Tensor) -> tuple[Tensor, Tensor]:
        """Per view ``b``: the table's first cell ``[b, 2]`` (int64) and its points
        ``[b, n, n, 2]`` in image widths, for the canvas at ``offset`` ``[b, 1, 1, 2]``."""
        origin = torch.floor((offset[:, 0, 0].double() - self.half) * self.g).long() - 2
        k = torch.arange(self.n, device=offset.device)
        iy, ix = torch.meshgrid(k, k, indexing="ij")
        ix = ix[None] + origin[:, 0, None, None]
        iy = iy[None] + origin[:, 1, None, None]
        jx = (_hash01(ix, iy, 1) - 0.5) * 2 * self.jitter
        jy = (_hash01(ix, iy, 2) - 0.5) * 2 * self.jitter
        pts = torch.stack([(ix + 0.5 + jx.double()) / self.g, (iy + 0.5 + jy.double()) / self.g], dim=-1)
        return origin, pts.to(offset.dtype)

    def nearest(self, u: Tensor, pts: Tensor, origin: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """For image points ``u`` ``[b, H, W, 2]`` and (moved) points ``[B, n, n, 2]``:
        the distances to the nearest and second nearest point ``[B, H, W]``, the nearest
        one's table index ``[B, H, W]`` and its position ``[B, H, W, 2]``."""
        B, n = pts.shape[0], self.n
        c = torch.floor(u * self.g).long() - origin[:, None, None, :]
        offs = torch.tensor([(dx, dy) for dy in (-1, 0, 1) for dx in (-1, 0, 1)], device=u.device)
        idx = (c[..., None, :] + offs).clamp(0, n - 1)  # [b, H, W, 9, 2]
        flat = (idx[..., 1] * n + idx[..., 0]).expand(B, -1, -1, -1)  # [B, H, W, 9]
        H, W = u.shape[1:3]
        cand = torch.gather(pts.reshape(B, n * n, 2), 1, flat.reshape(B, -1, 1).expand(-1, -1, 2)).view(B, H, W, 9, 2)
        d2 = (cand - u[..., None, :]).square().sum(-1)
        best = d2.topk(2, dim=-1, largest=False)
        dist = best.values.clamp_min(0).sqrt()
        which = best.indices[..., :1]
        cell = flat.gather(-1, which)[..., 0]
        pos = cand.gather(-2, which[..., None].expand(-1, -1, -1, -1, 2))[..., 0, :]
        return dist[..., 0], dist[..., 1], cell, pos


def per_cell(values: Tensor, cell: Tensor) -> Tensor:
    """Table values ``[B, C, n, n]`` at each pixel's cell ``[B, H, W]`` -> ``[B, C, H, W]``."""
    B, C = values.shape[:2]
    H, W = cell.shape[1:]
    flat = values.reshape(B, C, -1)
    return torch.gather(flat, 2, cell.reshape(B, 1, H * W).expand(-1, C, -1)).view(B, C, H, W)
