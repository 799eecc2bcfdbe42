"""The embedded default generator (family ``builtin``): no weight files, weights from a seed.

A StyleGAN-shaped network built so that *random* weights already make pictures worth
projecting, in one of several **worlds** (structural looks: ink, crystal, cells, nebula,
op-art, grain, marble; see ``catalogue.py``). Coordinates are in image widths, the
visible picture spanning [-0.5, 0.5].

* **mapping**: normalised ``z`` -> leaky-ReLU MLP -> ``w`` (rescaled to unit spread
  around a seeded ``w_avg``, so truncation pulls toward a typical picture), broadcast to
  ``num_ws`` entries. The mapping depends on the seed only, not on the world: every
  world of a seed shares one w space, so switching worlds keeps the conductor's
  keyframes, directions and snaps meaningful.
* **canvas, fine, develop**: see ``world.py``. Layers (``ws`` index, side at the
  defaults): input 0 (24 px), conv16 1 (24), conv32a/b 2-3 (48), conv64a/b 4-5 (96),
  warp 6, cppn_a/b 7-8, palette 9 (render resolution; the palette layer's output is
  the RGB picture in [-1, 1] at ``resolution``). Every layer is styled by its own ``ws``
  entry and offers a bend point; the five canvas convs take per-layer noise.

``transform`` (the forward 3x3 of ``make_transform``) acts where the view samples the
canvas, so it is exact up to interpolation: +tx moves the picture right by tx image
widths, +ty down, a positive angle turns it counter-clockwise on screen. The canvas
follows large translations in whole canvas pixels (its const noise maps roll with it),
so the view can pan forever.
"""

from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from livegan.errors import LiveganError
from livegan.models.base import Bend, Generator, LayerInfo, NoiseSpec
from livegan.models.bends import apply_bends

from .catalogue import DEFAULT_WORLD, world_class
from .parts import Mapping, ModConv, Seeded, param, resize
from .world import CANVAS, CELLS, INDEX, LAYERS, Run, World

__all__ = ["BuiltinGenerator", "Run"]

_MIN_RENDER = 96  # fine layers are never coarser than the finest canvas layer (layer_groups)
_CALIBRATION_RENDER = 96  # gains and field statistics are fixed at this render size (any size looks alike)


class BuiltinGenerator(Generator):
    """Seeded, file-free generator; see the module docstring for its structure.

    ``world`` picks the look (``catalogue.WORLDS``). ``render_resolution`` is the side the
    fine layers run at (default ``resolution`` clipped to the world's 96..128, fast on a
    CPU); the develop stage runs at ``resolution``. The fine layers are coordinate
    networks, so a larger ``render_resolution`` (e.g. for an offline GPU render) gives the
    same picture with more detail. ``with_world`` gives the same seed in another world.
    """

    family = "builtin"

    def __init__(
        self,
        seed: int = 0,
        resolution: int = 512,
        render_resolution: int | None = None,
        world: str | None = None,
        z_dim: int = 256,
        w_dim: int = 256,
        mapping_layers: int = 4,
        _sibling_of: "BuiltinGenerator | None" = None,
    ) -> None:
        super().__init__()
        cls = world_class(world or DEFAULT_WORLD)
        self.world = cls.name
        self.seed = int(seed)
        self.z_dim, self.w_dim, self.c_dim = int(z_dim), int(w_dim), 0
        self.mapping_layers = int(mapping_layers)
        self.resolution = int(resolution)
        self.render_resolution = int(render_resolution or min(max(self.resolution, _MIN_RENDER), cls.max_render))
        if self.resolution < 16 or self.render_resolution < _MIN_RENDER:
            raise LiveganError(
                f"builtin model: resolution must be >= 16 and render_resolution >= {_MIN_RENDER},"
                f" not {resolution} and {render_resolution}"
            )
        self.num_ws = len(LAYERS)
        rng = Seeded(self.seed)
        if _sibling_of is None:
            self.mapping_net = Mapping(rng, self.z_dim, self.w_dim, mapping_layers)
            self._init_w_stats(rng)
        else:  # another world of the same seed: the same mapping, drawn once
            self.mapping_net = _sibling_of.mapping_net
            for name in ("w_shift", "w_scale", "w_avg"):
                self.register_buffer(name, getattr(_sibling_of, name).detach().clone().cpu())

        sides = [round(CANVAS * cfg.scale) if cfg.scale else self.render_resolution for cfg in LAYERS]
        self._layers = tuple(
            LayerInfo(cfg.name, side, cfg.out_ch, i, cfg.noise) for i, (cfg, side) in enumerate(zip(LAYERS, sides))
        )
        self.net: World = cls(Seeded(self.seed, cls.name), self.w_dim)
        # Per-layer noise strengths (StyleGAN's learned ones; here chosen per world) and const maps.
        self.noise_strength = param(torch.tensor(self.net.noise_strengths()))
        noise_rng = Seeded(self.seed, "noise")
        for info in self._layers:
            if info.has_noise:
                name = f"noise_const_{info.name}"
                self.register_buffer(name, noise_rng.randn(1, 1, info.resolution, info.resolution)
                                     if _sibling_of is None else getattr(_sibling_of, name).detach().clone().cpu())
        self._grid_cache: dict[tuple, Tensor] = {}
        self._siblings: dict[str, BuiltinGenerator] = {self.world: self}
        self._calibrate(Seeded(self.seed, "calibration"))

    # ---- shape facts ------------------------------------------------------------------

    @property
    def layers(self) -> Sequence[LayerInfo]:
        return self._layers

    def describe(self) -> dict:
        return {**super().describe(), "world": self.world}

    def set_precision(self, mode: str) -> None:
        """Accepts the loader's modes, but the builtin model always computes in float32:
        its sharp edges and sin bands amplify rounding (float16 drifts into a different
        picture), and it is small enough that float32 costs little. The output takes the
        dtype of ``ws``."""
        if mode not in ("auto", "fp32", "fp16", "bf16"):
            raise LiveganError(f"precision must be one of auto, fp32, fp16, bf16, not {mode!r}")
        self.precision = mode

    def _apply(self, fn, recurse=True):  # type: ignore[override]
        # Cached grids belong to one device and dtype; drop them when the module moves.
        self._grid_cache = {}
        return super()._apply(fn, recurse)

    def with_world(self, world: str) -> "BuiltinGenerator":
        """This seed and size in ``world`` (built once, then kept): the same mapping and
        w space, so it can take the place of this generator between two frames."""
        name = world_class(world).name
        sib = self._siblings.get(name)
        if sib is None:
            sib = BuiltinGenerator(self.seed, self.resolution, self.render_resolution, name, self.z_dim,
                                   self.w_dim, self.mapping_layers, _sibling_of=self)
            sib = sib.to(self.w_avg.device).eval().requires_grad_(False)
            sib.set_precision(getattr(self, "precision", "auto"))
            sib._siblings = self._siblings
            self._siblings[name] = sib
        return sib

    # ---- mapping ----------------------------------------------------------------------

    @torch.no_grad()
    def _init_w_stats(self, rng: Seeded, samples: int = 2048) -> None:
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
    def _calibrate(self, rng: Seeded, samples: int = 6) -> None:
        """Fix every modulated layer's output gain for unit RMS on typical ws, and the
        world's field statistics."""
        ws = self.mapping(rng.randn(samples, self.z_dim))
        convs = [m for m in self.net.modules() if isinstance(m, ModConv)]
        for conv in convs:
            conv.calibrating = True
        render, self.render_resolution = self.render_resolution, _CALIBRATION_RENDER
        try:
            run = self._plan(ws, NoiseSpec("none"), (), None)
            self.net.fields(self, ws, run, calibrate=True)
        finally:
            self.render_resolution = render
            for conv in convs:
                conv.calibrating = False

    # ---- helpers the worlds use ---------------------------------------------------------

    def grid(self, res: int, extent: float, device: torch.device, dtype: torch.dtype) -> Tensor:
        """Pixel-centre coordinates ``[res, res, 2]`` (x, y) spanning ``extent`` image widths."""
        key = (res, extent, device, dtype)
        g = self._grid_cache.get(key)
        if g is None:
            t = ((torch.arange(res, dtype=torch.float64) + 0.5) / res - 0.5) * extent
            g = torch.stack(torch.meshgrid(t, t, indexing="xy"), dim=-1).to(device, dtype)
            self._grid_cache[key] = g
        return g

    def view(self, run: Run, res: int, device: torch.device, dtype: torch.dtype) -> Tensor:
        """The image points ``[b, res, res, 2]`` the screen's pixel centres show."""
        screen = self.grid(res, 1.0, device, dtype)
        m = run.m
        return screen[None] if m is None else screen @ m[:, None, :, :2].transpose(-1, -2) + m[:, None, None, :, 2]

    def sample(self, feat: Tensor, pts: Tensor, run: Run) -> Tensor:
        """Canvas features ``[B, C, S, S]`` at image points ``[b, H, W, 2]`` -> ``[B, C, H, W]``."""
        grid = ((pts - run.offset) * (2.0 / CANVAS)).expand(feat.shape[0], -1, -1, -1)
        return F.grid_sample(feat, grid, mode="bilinear", padding_mode="reflection", align_corners=False)

    def bend(self, x: Tensor, i: int, run: Run) -> Tensor:
        bends = run.bends.get(LAYERS[i].name)
        return apply_bends(x, bends) if bends else x

    def noise(self, i: int, run: Run, x: Tensor) -> Tensor | None:
        """The scaled noise term for layer ``i`` (output ``x``), or None."""
        info = self._layers[i]
        spec = run.spec
        if not info.has_noise or spec.mode == "none":
            return None
        strength = spec.strength_for(info.name)
        if isinstance(strength, float) and strength == 0.0:
            return None
        batch, res = x.shape[0], info.resolution
        if spec.mode == "random":
            noise = torch.randn(batch, 1, res, res, generator=run.gen).to(x.device, x.dtype)
        elif spec.mode == "given" and info.name in spec.maps:
            noise = spec.maps[info.name]
            if noise.dim() != 4 or tuple(noise.shape[1:]) != (1, res, res) or noise.shape[0] not in (1, batch):
                want = f"[1 or {batch}, 1, {res}, {res}]"
                raise LiveganError(f"noise map for layer {info.name!r} must be {want}, got {list(noise.shape)}")
            noise = noise.to(x.device, x.dtype)
        else:
            noise = self._const_noise(info, run.cells).to(x.dtype)
        if isinstance(strength, Tensor):
            strength = strength.to(x.device, x.dtype)
        return noise * (self.noise_strength[i] * strength)

    def _const_noise(self, info: LayerInfo, cells: Tensor) -> Tensor:
        """The layer's const map, rolled so it stays fixed to the picture as the canvas moves."""
        base = getattr(self, f"noise_const_{info.name}")
        per_cell = LAYERS[info.w_index].scale // CELLS
        shifts = [(-int(cy) * per_cell, -int(cx) * per_cell) for cx, cy in cells.tolist()]
        if all(s == (0, 0) for s in shifts):
            return base
        return torch.cat([torch.roll(base, s, dims=(2, 3)) for s in shifts], dim=0)

    # ---- synthesis --------------------------------------------------------------------

    @staticmethod
    def _inverse_transform(transform: Tensor | None) -> Tensor | None:
        """``[b, 2, 3]`` float64 (b = 1 or B): screen point -> image point it shows."""
        if transform is None:
            return None
        t = torch.as_tensor(transform).detach().to("cpu", torch.float64)
        if t.shape[-2:] != (3, 3) or t.dim() not in (2, 3):
            raise ValueError(f"transform must be [3, 3] or [B, 3, 3], got {tuple(t.shape)}")
        return torch.linalg.inv(t.reshape(-1, 3, 3))[:, :2, :]

    def _check_names(self, names: Sequence[str], what: str) -> None:
        for name in names:
            if name not in INDEX:
                raise LiveganError(f"{what}: builtin model has no layer {name!r} (layers: {', '.join(INDEX)})")

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
        fields = self.net.fields(self, ws, run)
        rgb = self.net.develop(self, resize(fields, self.resolution, self.net.sharp), ws, run)
        return self.bend(rgb * 2.0 - 1.0, 9, run).clamp_(-1.0, 1.0).to(out_dtype)

    def _plan(self, ws: Tensor, spec: NoiseSpec, bends: Sequence[Bend], transform: Tensor | None) -> Run:
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
            cells, m = torch.round(m64[:, :, 2] * CELLS).to(torch.int64), m64.to(dev, dtype)
        offset = (cells.to(torch.float64) / CELLS).to(dev, dtype)[:, None, None, :]  # [b,1,1,2]
        return Run(spec, by_layer, gen, cells, m, offset)
