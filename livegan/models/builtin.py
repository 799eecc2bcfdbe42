"""The embedded default generator (family ``builtin``): no weight files, weights from a seed.

A StyleGAN-shaped network built so that *random* weights already make pictures worth
projecting. Coordinates are in image widths, the visible picture spanning [-0.5, 0.5].

* **mapping**: normalised ``z`` -> leaky-ReLU MLP -> ``w`` (rescaled to unit spread
  around a seeded ``w_avg``, so truncation pulls toward a typical picture), broadcast to
  ``num_ws`` entries.
* **canvas** (coarse and middle layers): modulated convs on a square *canvas* 1.5 image
  widths wide, so the view can be moved and turned without running off it:
  Fourier features of the canvas coordinates (24 px) -> 3x3 conv -> upsample -> two
  3x3 convs (48 px) -> upsample -> two convs (96 px), each with per-layer noise.
  These lay out shapes and the fields that later bend them.
* **fine** (``render_resolution``, 128 px by default): a *domain warp*. The canvas
  features are sampled at the view's coordinates, two channels of them displace the
  coordinates, and the features are sampled again at the displaced points; Fourier
  features of the displaced coordinates join them in two modulated 1x1 layers with
  ``sin`` activations (a CPPN). Blobs become flowing, marbled bands.
* **palette**: a 1x1 layer makes four controls (two palette indices, their mix, a
  shade) for two colour loops (ellipses in RGB through a light colour, its dark
  complement and nearby hues); the last ``ws`` entry turns and tilts them. Then a light
  sharpen and a bilinear resize to ``resolution``.

Layers (``ws`` index, output side at the defaults): input 0 (24 px), conv16 1 (24),
conv32a/b 2-3 (48), conv64a/b 4-5 (96), warp 6, cppn_a/b 7-8, palette 9 (128, its
output is the RGB picture in [-1, 1]). Every layer is styled by its own ``ws`` entry
and offers a bend point (``apply_bends`` on its output); the five canvas convs take
per-layer noise. ``transform`` (the forward 3x3 of
``make_transform``) acts where the view samples the canvas, so it is exact up to
bilinear interpolation: +tx moves the picture right by tx image widths, +ty down, a
positive angle turns it counter-clockwise on screen. The canvas itself follows large
translations in whole canvas pixels (its const noise maps roll with it), so the view
can pan forever.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from livegan.errors import LiveganError
from livegan.models.base import Bend, Generator, LayerInfo, NoiseSpec
from livegan.models.bends import apply_bends

__all__ = ["BuiltinGenerator"]

_SQRT2 = math.sqrt(2.0)
_CANVAS = 1.5  # canvas side in image widths (covers a view turned by any angle)
_CELLS = 16  # coarse canvas pixels per image width; the canvas moves in these steps
_MIN_RENDER = 96  # fine layers are never coarser than the finest canvas layer (layer_groups)


@dataclass(frozen=True)
class _LayerCfg:
    """One synthesis layer. ``scale`` is the canvas pixels per image width (0 = fine layer
    at render resolution); ``k`` the conv kernel (0 = not a conv)."""

    name: str
    scale: int
    in_ch: int
    out_ch: int
    k: int
    noise: bool
    style: float  # spread of its styles: 1 + style * N(0, 1) (the input's: phase, amplitude)


# ``ws[i]`` styles layer i.
_LAYERS: tuple[_LayerCfg, ...] = (
    _LayerCfg("input", _CELLS, 2, 48, 0, False, 0.12),
    _LayerCfg("conv16", _CELLS, 48, 48, 3, True, 0.35),
    _LayerCfg("conv32a", 2 * _CELLS, 48, 48, 3, True, 0.3),
    _LayerCfg("conv32b", 2 * _CELLS, 48, 32, 3, True, 0.25),
    _LayerCfg("conv64a", 4 * _CELLS, 32, 32, 3, True, 0.15),
    _LayerCfg("conv64b", 4 * _CELLS, 32, 32, 3, True, 0.15),
    _LayerCfg("warp", 0, 32, 32, 1, False, 0.1),
    _LayerCfg("cppn_a", 0, 32 + 16, 32, 1, False, 0.1),
    _LayerCfg("cppn_b", 0, 32, 16, 1, False, 0.1),
    _LayerCfg("palette", 0, 16, 3, 1, False, 0.15),
)
_FINE_FOURIER = 16  # Fourier features of the warped coordinates fed to cppn_a

# The look: chosen by eye (see tests/test_builtin.py for the properties they must keep).
_LOOK = dict(
    in_freq=(0.3, 1.5),  # input Fourier frequencies, cycles per image width
    fine_freq=(1.0, 3.0),  # fine Fourier frequencies
    ksmooth=0.8,  # share of a smooth (binomial) profile in 3x3 kernels
    pal_style=0.6,  # how far ws turn the palettes
    warp=0.1,  # largest displacement, image widths
    sin_gain=1.0,  # CPPN activation gain
    pal_gain=1.0,  # palette index gain (more = more colour bands)
    mix_gain=4.0,  # how sharply the two palettes hand over
    shade=2.0,  # shade control gain
    shade_floor=0.35,  # darkest shade (0 = black)
    sharpen=0.5,  # unsharp mask before upscaling
    noise={_CELLS: 0.25, 2 * _CELLS: 0.1, 4 * _CELLS: 0.04},  # per-layer noise strength by scale
)


@dataclass(frozen=True)
class _Run:
    """What one ``synthesis`` call settled before running the layers."""

    spec: NoiseSpec
    bends: dict[str, list[Bend]]  # layer name -> its bends, in order
    gen: torch.Generator | None  # for seeded 'random' noise
    cells: Tensor  # [b, 2] int64: canvas offset in coarse cells
    m: Tensor | None  # [b, 2, 3]: inverse transform (screen -> image), None for identity
    offset: Tensor  # [b, 1, 1, 2]: canvas offset in image widths


class _Seeded:
    """Draws every weight from one ``torch.Generator`` so a seed fixes the network."""

    def __init__(self, seed: int) -> None:
        self.gen = torch.Generator().manual_seed(int(seed))

    def randn(self, *shape: int, std: float = 1.0) -> Tensor:
        return torch.randn(*shape, generator=self.gen) * std

    def uniform(self, *shape: int, lo: float = 0.0, hi: float = 1.0) -> Tensor:
        return lo + (hi - lo) * torch.rand(*shape, generator=self.gen)

    def freqs(self, n: int, lo: float, hi: float) -> Tensor:
        """``n`` 2-D frequencies with uniform directions and radii in [lo, hi]."""
        radius = self.uniform(n, lo=lo, hi=hi)
        angle = self.uniform(n, hi=2 * math.pi)
        return torch.stack([radius * torch.cos(angle), radius * torch.sin(angle)], dim=1)


def _binomial3() -> Tensor:
    """The 3x3 binomial (smoothing) kernel, summing to 1."""
    b = torch.tensor([1.0, 2.0, 1.0])
    return b[:, None] * b[None, :] / 16.0


def _param(t: Tensor) -> nn.Parameter:
    return nn.Parameter(t, requires_grad=False)


class _Mapping(nn.Module):
    """z -> w: pixel-norm then a leaky-ReLU MLP with He scaling."""

    def __init__(self, rng: _Seeded, z_dim: int, w_dim: int, depth: int) -> None:
        super().__init__()
        dims = [z_dim] + [w_dim] * depth
        self.weights = nn.ParameterList(
            [_param(rng.randn(o, i, std=1.0 / math.sqrt(i))) for i, o in zip(dims[:-1], dims[1:])]
        )
        self.biases = nn.ParameterList([_param(rng.randn(o, std=0.1)) for o in dims[1:]])

    def forward(self, z: Tensor) -> Tensor:
        x = z * torch.rsqrt(z.square().mean(dim=1, keepdim=True) + 1e-8)
        for i, (w, b) in enumerate(zip(self.weights, self.biases)):
            x = F.linear(x, w, b)
            if i < len(self.weights) - 1:
                x = F.leaky_relu(x, 0.2) * _SQRT2
        return x


class _ModConv(nn.Module):
    """A modulated, demodulated k x k conv (k = 3: scale -> shared conv -> scale, so a
    batch stays one conv call; k = 1: a batched matmul). Its output gain is fixed once by calibration (as
    StyleGAN3's magnitude EMA): demodulation assumes white inputs, and smooth ones
    would otherwise grow layer after layer."""

    def __init__(self, rng: _Seeded, w_dim: int, in_ch: int, out_ch: int, k: int, style_std: float) -> None:
        super().__init__()
        self.k = k
        weight = rng.randn(out_ch, in_ch, k, k)
        if k == 3:
            # Mostly one smooth kernel per channel pair: stacked convs mix channels
            # without inventing pixel-scale detail; the random rest adds creases.
            smooth = _binomial3() * 4.0  # centre tap 1
            weight = _LOOK["ksmooth"] * rng.randn(out_ch, in_ch, 1, 1) * smooth + (1 - _LOOK["ksmooth"]) * weight
        self.weight = _param(weight)
        self.bias = _param(rng.randn(out_ch, std=0.2))
        self.affine_w = _param(rng.randn(in_ch, w_dim, std=style_std / math.sqrt(w_dim)))
        self.affine_b = _param(torch.ones(in_ch))
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


class _Palette(nn.Module):
    """Two colour loops mixed by a third control and shaded by a fourth.

    A loop is ``centre + cos(phi) e1 + sin(phi) e2`` with ``phi = 2 pi (c t + hue)``:
    an ellipse in RGB space through a run of related colours (the plane of ``e1, e2``
    picks which). ``ws`` turn the hue along the loop, tilt the plane toward a second
    seeded plane (a different colour scheme) and nudge the cycle rate.
    """

    def __init__(self, rng: _Seeded, w_dim: int) -> None:
        super().__init__()
        self.centre = _param(0.5 + rng.randn(2, 3, std=0.06))
        self.axes = _param(self._loop_axes(rng))  # [2, 2, 3]: palette, (e1, e2), RGB
        self.alt_axes = _param(self._loop_axes(rng))
        self.hue = _param(rng.uniform(2))
        self.rate = _param(rng.uniform(2, lo=0.5, hi=1.0))
        # ws -> per palette: hue turn, plane tilt, cycle-rate scale
        self.affine_w = _param(rng.randn(6, w_dim, std=_LOOK["pal_style"] / math.sqrt(w_dim)))
        self.register_buffer("reach", torch.tensor([0.5, 0.5, 0.6, 0.6, 0.2, 0.2]))

    @staticmethod
    def _loop_axes(rng: _Seeded) -> Tensor:
        """Per palette: ``e1`` runs from a light colour to its dark complement, ``e2``
        (shorter) drifts the hue a little, so a loop is a related set of colours with
        depth, not a rainbow. The two palettes' colours lie 60..180 degrees apart."""
        grey = torch.full((3,), 1 / math.sqrt(3))
        c1 = torch.tensor([1.0, -1.0, 0.0]) / math.sqrt(2)
        c2 = torch.tensor([1.0, 1.0, -2.0]) / math.sqrt(6)
        theta = rng.uniform(1, hi=2 * math.pi) + torch.cat([torch.zeros(1), rng.uniform(1, lo=math.pi / 3, hi=math.pi)])
        d1 = torch.cos(theta)[:, None] * c1 + torch.sin(theta)[:, None] * c2  # [2, 3] chroma directions
        d2 = -torch.sin(theta)[:, None] * c1 + torch.cos(theta)[:, None] * c2
        lum = rng.uniform(2, 1, lo=0.15, hi=0.5)  # radians of light/dark in e1
        e1 = torch.cos(lum) * d1 + torch.sin(lum) * grey
        e2 = d2 * rng.uniform(2, 1, lo=0.4, hi=0.8)
        return torch.stack([e1, e2], dim=1) * 0.55

    def forward(self, t: Tensor, w: Tensor) -> Tensor:
        """``t`` [B, 4, H, W] -> RGB [B, 3, H, W] in about [0, 1]."""
        st = F.linear(w, self.affine_w) * self.reach  # [B, 6]
        tilt = st[:, 2:4, None, None]  # [B,2,1,1]
        axes = self.axes * torch.cos(tilt) + self.alt_axes * torch.sin(tilt)  # [B,2,2,3]
        rate = self.rate[:, None, None] * (1 + st[:, 4:6, None, None])  # [B,2,1,1]
        phi = 2 * math.pi * (rate * t[:, :2] + (self.hue + st[:, 0:2])[:, :, None, None])
        cos, sin = torch.cos(phi), torch.sin(phi)  # [B,2,H,W]
        # rgb[b,p,:] = centre + cos e1 + sin e2, as one contraction per term
        rgb = (
            self.centre[None, :, :, None, None]
            + torch.einsum("bphw,bpc->bpchw", cos, axes[:, :, 0])
            + torch.einsum("bphw,bpc->bpchw", sin, axes[:, :, 1])
        )  # [B,2,3,H,W]
        mixed = torch.lerp(rgb[:, 0], rgb[:, 1], torch.sigmoid(_LOOK["mix_gain"] * t[:, 2:3]))
        floor = _LOOK["shade_floor"]
        return mixed * (floor + (1 - floor) * torch.sigmoid(_LOOK["shade"] * t[:, 3:4] + 1.0))


class BuiltinGenerator(Generator):
    """Seeded, file-free generator; see the module docstring for its structure.

    ``render_resolution`` is the side the fine layers run at (default ``resolution``
    clipped to 96..128, fast on a CPU); the picture is then resized (sharpened bilinear,
    antialiased when shrinking) to ``resolution``. The fine layers are coordinate
    networks, so a larger ``render_resolution`` (e.g. ``resolution`` for an offline GPU
    render) gives the same picture with crisper detail.
    """

    family = "builtin"

    def __init__(
        self,
        seed: int = 0,
        resolution: int = 512,
        render_resolution: int | None = None,
        z_dim: int = 256,
        w_dim: int = 256,
        mapping_layers: int = 4,
    ) -> None:
        super().__init__()
        self.seed = int(seed)
        self.z_dim, self.w_dim, self.c_dim = int(z_dim), int(w_dim), 0
        self.resolution = int(resolution)
        self.render_resolution = int(render_resolution or min(max(self.resolution, _MIN_RENDER), 128))
        if self.resolution < 16 or self.render_resolution < _MIN_RENDER:
            raise LiveganError(
                f"builtin model: resolution must be >= 16 and render_resolution >= {_MIN_RENDER},"
                f" not {resolution} and {render_resolution}"
            )
        self.num_ws = len(_LAYERS)
        rng = _Seeded(self.seed)

        self.mapping_net = _Mapping(rng, self.z_dim, self.w_dim, mapping_layers)
        self._init_w_stats(rng)

        sides = [round(_CANVAS * cfg.scale) if cfg.scale else self.render_resolution for cfg in _LAYERS]
        self._layers = tuple(
            LayerInfo(cfg.name, side, cfg.out_ch, i, cfg.noise) for i, (cfg, side) in enumerate(zip(_LAYERS, sides))
        )
        self._index = {cfg.name: i for i, cfg in enumerate(_LAYERS)}

        c0 = _LAYERS[0].out_ch
        self.in_freqs = _param(rng.freqs(c0, *_LOOK["in_freq"]))
        self.in_phases = _param(rng.uniform(c0))
        self.in_affine = _param(rng.randn(2 * c0, self.w_dim, std=_LAYERS[0].style / math.sqrt(self.w_dim)))

        # The warp layer's conv makes a 2-D displacement, the palette layer's the 4 palette controls.
        outs = {"warp": 2, "palette": 4}
        self.convs = nn.ModuleDict(
            {
                cfg.name: _ModConv(rng, self.w_dim, cfg.in_ch, outs.get(cfg.name, cfg.out_ch), cfg.k, cfg.style)
                for cfg in _LAYERS[1:]
            }
        )

        self.fine_freqs = _param(rng.freqs(_FINE_FOURIER, *_LOOK["fine_freq"]))
        self.fine_phases = _param(rng.uniform(_FINE_FOURIER))
        self.palette = _Palette(rng, self.w_dim)

        # Per-layer noise strengths (StyleGAN's learned ones; here chosen) and const maps.
        strengths = [_LOOK["noise"].get(cfg.scale, 0.0) if cfg.noise else 0.0 for cfg in _LAYERS]
        self.noise_strength = _param(torch.tensor(strengths))
        for info in self._layers:
            if info.has_noise:
                self.register_buffer(f"noise_const_{info.name}", rng.randn(1, 1, info.resolution, info.resolution))
        self.register_buffer("_blur", _binomial3().expand(3, 1, 3, 3).clone(), persistent=False)
        self._grid_cache: dict[tuple, Tensor] = {}
        self._calibrate(rng)

    # ---- shape facts ------------------------------------------------------------------

    @property
    def layers(self) -> Sequence[LayerInfo]:
        return self._layers

    def set_precision(self, mode: str) -> None:
        """Accepts the loader's modes, but the builtin model always computes in float32:
        its sin bands amplify rounding (float16 drifts into a different picture, bfloat16
        more so), and it is small enough that float32 costs little. The output takes the
        dtype of ``ws``."""
        if mode not in ("auto", "fp32", "fp16", "bf16"):
            raise LiveganError(f"precision must be one of auto, fp32, fp16, bf16, not {mode!r}")
        self.precision = mode

    def _apply(self, fn, recurse=True):  # type: ignore[override]
        # Cached grids belong to one device and dtype; drop them when the module moves.
        self._grid_cache = {}
        return super()._apply(fn, recurse)

    # ---- mapping ----------------------------------------------------------------------

    @torch.no_grad()
    def _init_w_stats(self, rng: _Seeded, samples: int = 2048) -> None:
        """Rescale the random MLP's output to unit spread per dimension around a seeded
        centre ``w_avg``."""
        raw = self.mapping_net(rng.randn(samples, self.z_dim))
        self.register_buffer("w_shift", raw.mean(dim=0))
        self.register_buffer("w_scale", 1.0 / (raw.std(dim=0) + 1e-6))
        self.register_buffer("w_avg", rng.randn(self.w_dim, std=0.5))

    def mapping(
        self,
        z: Tensor,
        c: Tensor | None = None,
        truncation_psi: float = 1.0,
        truncation_cutoff: int | None = None,
    ) -> Tensor:
        if z.dim() != 2 or z.shape[1] != self.z_dim:
            raise ValueError(f"z must be [B, {self.z_dim}], got {tuple(z.shape)}")
        w = (self.mapping_net(z.to(self.w_avg.dtype)) - self.w_shift) * self.w_scale + self.w_avg
        ws = w[:, None, :].expand(-1, self.num_ws, -1).clone()
        return self.truncate(ws, truncation_psi, truncation_cutoff)

    @torch.no_grad()
    def _calibrate(self, rng: _Seeded, samples: int = 8) -> None:
        """Fix every modulated layer's output gain for unit RMS on typical ws."""
        ws = self.mapping(rng.randn(samples, self.z_dim))
        for conv in self.convs.values():
            conv.calibrating = True
        try:
            self.synthesis(ws, noise=NoiseSpec("none"))
        finally:
            for conv in self.convs.values():
                conv.calibrating = False

    # ---- synthesis --------------------------------------------------------------------

    def _grid(self, res: int, extent: float, device: torch.device, dtype: torch.dtype) -> Tensor:
        """Pixel-centre coordinates ``[res, res, 2]`` (x, y) spanning ``extent`` image widths."""
        key = (res, extent, device, dtype)
        g = self._grid_cache.get(key)
        if g is None:
            t = ((torch.arange(res, dtype=torch.float64) + 0.5) / res - 0.5) * extent
            g = torch.stack(torch.meshgrid(t, t, indexing="xy"), dim=-1).to(device, dtype)
            self._grid_cache[key] = g
        return g

    @staticmethod
    def _inverse_transform(transform: Tensor | None) -> Tensor | None:
        """``[b, 2, 3]`` float64 (b = 1 or B): screen point -> image point it shows."""
        if transform is None:
            return None
        t = torch.as_tensor(transform).detach().to("cpu", torch.float64)
        if t.shape[-2:] != (3, 3) or t.dim() not in (2, 3):
            raise ValueError(f"transform must be [3, 3] or [B, 3, 3], got {tuple(t.shape)}")
        return torch.linalg.inv(t.reshape(-1, 3, 3))[:, :2, :]

    def _noise_for(
        self, i: int, spec: NoiseSpec, cells: Tensor, gen: torch.Generator | None, x: Tensor
    ) -> Tensor | None:
        """The scaled noise term for layer ``i`` (output ``x``), or None."""
        info = self._layers[i]
        if not info.has_noise or spec.mode == "none":
            return None
        strength = spec.strength_for(info.name)
        if isinstance(strength, float) and strength == 0.0:
            return None
        batch, res = x.shape[0], info.resolution
        if spec.mode == "random":
            noise = torch.randn(batch, 1, res, res, generator=gen).to(x.device, x.dtype)
        elif spec.mode == "given" and info.name in spec.maps:
            noise = spec.maps[info.name]
            if noise.dim() != 4 or tuple(noise.shape[1:]) != (1, res, res) or noise.shape[0] not in (1, batch):
                want = f"[1 or {batch}, 1, {res}, {res}]"
                raise LiveganError(f"noise map for layer {info.name!r} must be {want}, got {list(noise.shape)}")
            noise = noise.to(x.device, x.dtype)
        else:
            noise = self._const_noise(info, cells).to(x.dtype)
        if isinstance(strength, Tensor):
            strength = strength.to(x.device, x.dtype)
        return noise * (self.noise_strength[i] * strength)

    def _const_noise(self, info: LayerInfo, cells: Tensor) -> Tensor:
        """The layer's const map, rolled so it stays fixed to the picture as the canvas moves."""
        base = getattr(self, f"noise_const_{info.name}")
        per_cell = _LAYERS[info.w_index].scale // _CELLS
        shifts = [(-int(cy) * per_cell, -int(cx) * per_cell) for cx, cy in cells.tolist()]
        if all(s == (0, 0) for s in shifts):
            return base
        return torch.cat([torch.roll(base, s, dims=(2, 3)) for s in shifts], dim=0)

    def _check_names(self, names: Sequence[str], what: str) -> None:
        for name in names:
            if name not in self._index:
                raise LiveganError(f"{what}: builtin model has no layer {name!r} (layers: {', '.join(self._index)})")

    def synthesis(
        self,
        ws: Tensor,
        noise: NoiseSpec | None = None,
        bends: Sequence[Bend] = (),
        transform: Tensor | None = None,
    ) -> Tensor:
        if ws.dim() != 3 or tuple(ws.shape[1:]) != (self.num_ws, self.w_dim):
            raise ValueError(f"ws must be [B, {self.num_ws}, {self.w_dim}], got {tuple(ws.shape)}")
        run = self._plan(ws, noise if noise is not None else NoiseSpec(), bends, transform)
        out_dtype = ws.dtype
        ws = ws.to(self.w_avg.dtype)
        img = self._fine(self._canvas(ws, run), ws, run)
        return self._resize(img).clamp_(-1.0, 1.0).to(out_dtype)

    def _plan(self, ws: Tensor, spec: NoiseSpec, bends: Sequence[Bend], transform: Tensor | None) -> _Run:
        """Check names and settle the view: the inverse transform, and the canvas offset
        (whole coarse cells) that keeps the view near the canvas centre."""
        self._check_names([b.layer for b in bends], "bend")
        self._check_names(list(spec.layer_strength), "noise layer_strength")
        self._check_names(list(spec.maps) if spec.mode == "given" else [], "noise map")
        by_layer: dict[str, list[Bend]] = {}
        for b in bends:
            by_layer.setdefault(b.layer, []).append(b)
        gen = torch.Generator().manual_seed(int(spec.seed)) if spec.mode == "random" and spec.seed is not None else None
        dev, dtype = ws.device, self.w_avg.dtype
        m64 = self._inverse_transform(transform)
        if m64 is None:
            cells, m = torch.zeros(1, 2, dtype=torch.int64), None
        else:
            cells, m = torch.round(m64[:, :, 2] * _CELLS).to(torch.int64), m64.to(dev, dtype)
        offset = (cells.to(torch.float64) / _CELLS).to(dev, dtype)[:, None, None, :]  # [b,1,1,2]
        return _Run(spec, by_layer, gen, cells, m, offset)

    def _bend(self, x: Tensor, i: int, run: _Run) -> Tensor:
        bends = run.bends.get(_LAYERS[i].name)
        return apply_bends(x, bends) if bends else x

    def _canvas(self, ws: Tensor, run: _Run) -> Tensor:
        """Coarse and middle layers on the canvas -> features ``[B, C, 96, 96]``."""
        dev, dtype = ws.device, ws.dtype
        # Input: Fourier features of the canvas coordinates, phase and amplitude styled by ws[0].
        p = self._grid(self._layers[0].resolution, _CANVAS, dev, dtype) + run.offset  # [b,S,S,2]
        c0 = self.in_freqs.shape[0]
        style = F.linear(ws[:, 0], self.in_affine)  # [B, 2*c0]
        arg = (p @ self.in_freqs.t() + self.in_phases).permute(0, 3, 1, 2)  # [b,c0,S,S]
        x = torch.sin(2 * math.pi * (arg + style[:, c0:, None, None])) * (1.0 + style[:, :c0, None, None])
        x = self._bend(x, 0, run)
        # Modulated 3x3 convs, doubling the size where the scale steps up.
        for i in range(1, 6):
            cfg = _LAYERS[i]
            if cfg.scale != _LAYERS[i - 1].scale:
                x = F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)
            x = self.convs[cfg.name](x, ws[:, i])
            n = self._noise_for(i, run.spec, run.cells, run.gen, x)
            if n is not None:
                x = x + n
            x = self._bend(F.leaky_relu(x, 0.2) * _SQRT2, i, run)
        return x

    def _fine(self, x: Tensor, ws: Tensor, run: _Run) -> Tensor:
        """Domain warp, CPPN and palette at render resolution -> image in [-1, 1]."""
        batch, res = ws.shape[0], self.render_resolution
        screen = self._grid(res, 1.0, ws.device, ws.dtype)
        m = run.m
        u = screen[None] if m is None else screen @ m[:, None, :, :2].transpose(-1, -2) + m[:, None, None, :, 2]

        def sample(feat: Tensor, pts: Tensor) -> Tensor:
            grid = ((pts - run.offset) * (2.0 / _CANVAS)).expand(batch, -1, -1, -1)
            return F.grid_sample(feat, grid, mode="bilinear", padding_mode="reflection", align_corners=False)

        # Displace the view's points by a field sampled there, then sample the features at
        # the displaced points. (The 1x1 warp conv runs on the canvas: it commutes with
        # bilinear sampling, and only its 2 channels need sampling then.)
        field = self.convs["warp"](x, ws[:, 6])  # [B,2,S,S]
        u = u + torch.tanh(sample(field, u)).permute(0, 2, 3, 1) * _LOOK["warp"]
        x = self._bend(sample(x, u), 6, run)

        ff = torch.sin(2 * math.pi * (u @ self.fine_freqs.t() + self.fine_phases)).permute(0, 3, 1, 2)
        x = torch.cat([x, ff], dim=1)
        for i in (7, 8):
            x = self.convs[_LAYERS[i].name](x, ws[:, i])
            x = self._bend(torch.sin(_LOOK["sin_gain"] * x), i, run)

        t = self.convs["palette"](x, ws[:, 9]) * _LOOK["pal_gain"]
        return self._bend(self.palette(t, ws[:, 9]) * 2.0 - 1.0, 9, run)

    def _resize(self, img: Tensor) -> Tensor:
        """Render resolution -> ``resolution``: a light unsharp mask, then bilinear (as
        sharp as bicubic here at a fraction of the cost; antialiased when shrinking)."""
        size = self.resolution
        if size == img.shape[-1]:
            return img
        if size > img.shape[-1]:
            blur = F.conv2d(F.pad(img, (1, 1, 1, 1), mode="replicate"), self._blur.to(img.dtype), groups=3)
            img = torch.lerp(blur, img, 1.0 + _LOOK["sharpen"])
        # Channels as batch entries: the bilinear kernel is much faster with one channel.
        n, c = img.shape[:2]
        flat = img.reshape(n * c, 1, *img.shape[-2:])
        shrink = size < img.shape[-1]
        out = F.interpolate(flat, size=(size, size), mode="bilinear", align_corners=False, antialias=shrink)
        return out.view(n, c, size, size)
