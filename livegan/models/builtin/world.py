"""What every world of the builtin generator shares: the layer table and the canvas.

A world is one structural look. All worlds run the same skeleton, so the conductor's
layer groups, bend points and noise layers hold whatever world is on screen:

* **canvas** (ws 0-5): Fourier features of the canvas coordinates -> five modulated
  3x3 convs with per-layer noise (24, 48, 96 px on a canvas 1.5 image widths wide).
  These lay out the shapes; each world tunes their frequencies and smoothness.
* **fine** (ws 6-8, at ``render_resolution``): the world's own renderer, sampling the
  canvas at the view's points (so the input transform is exact) and returning a few
  smooth *fields*.
* **develop** (ws 9, at the output resolution): the fields, resized bicubically, become
  edges, lines and colours. Nonlinear steps (thresholds, stripes, cell walls) happen
  here, at the output size, antialiased by screen-space derivatives: a 128 px render
  upscaled to 512 px has crisp edges, not blocks.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from collections.abc import Sequence
from typing import ClassVar, Protocol

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from livegan.models.base import Bend, LayerInfo, NoiseSpec

from .parts import SQRT2, ModConv, Seeded, param

CANVAS = 1.5  # canvas side in image widths (covers a view turned by any angle)
CELLS = 16  # coarse canvas pixels per image width; the canvas moves in these steps
CANVAS_CH = 32  # channels the canvas hands to the fine layers


@dataclass(frozen=True)
class Run:
    """What one ``synthesis`` call settled before running the layers."""

    spec: NoiseSpec
    bends: dict[str, list[Bend]]  # layer name -> its bends, in order
    gen: torch.Generator | None  # for seeded 'random' noise
    cells: Tensor  # [b, 2] int64: canvas offset in coarse cells
    m: Tensor | None  # [b, 2, 3]: inverse transform (screen -> image), None for identity
    offset: Tensor  # [b, 1, 1, 2]: canvas offset in image widths


class Host(Protocol):
    """What a world calls on the generator that runs it (``BuiltinGenerator``). A protocol,
    so the worlds never import the generator that picks them."""

    layers: Sequence[LayerInfo]
    render_resolution: int

    def grid(self, res: int, extent: float, device: torch.device, dtype: torch.dtype) -> Tensor: ...

    def view(self, run: Run, res: int, device: torch.device, dtype: torch.dtype) -> Tensor: ...

    def sample(self, feat: Tensor, pts: Tensor, run: Run) -> Tensor: ...

    def bend(self, x: Tensor, i: int, run: Run) -> Tensor: ...

    def noise(self, i: int, run: Run, x: Tensor) -> Tensor | None: ...


@dataclass(frozen=True)
class LayerCfg:
    """One synthesis layer. ``scale`` is the canvas pixels per image width (0 = fine layer
    at render resolution); ``k`` the conv kernel (0 = not a conv)."""

    name: str
    scale: int
    in_ch: int
    out_ch: int
    k: int
    noise: bool
    style: float  # spread of its styles: 1 + style * N(0, 1) (the input's: phase, amplitude)


# ``ws[i]`` styles layer i. The names are the bend points every world offers.
LAYERS: tuple[LayerCfg, ...] = (
    LayerCfg("input", CELLS, 2, 48, 0, False, 0.12),
    LayerCfg("conv16", CELLS, 48, 48, 3, True, 0.35),
    LayerCfg("conv32a", 2 * CELLS, 48, 48, 3, True, 0.3),
    LayerCfg("conv32b", 2 * CELLS, 48, 32, 3, True, 0.25),
    LayerCfg("conv64a", 4 * CELLS, 32, 32, 3, True, 0.15),
    LayerCfg("conv64b", 4 * CELLS, 32, CANVAS_CH, 3, True, 0.15),
    LayerCfg("warp", 0, CANVAS_CH, 32, 1, False, 0.1),
    LayerCfg("cppn_a", 0, CANVAS_CH + 16, 32, 1, False, 0.1),
    LayerCfg("cppn_b", 0, 32, 16, 1, False, 0.1),
    LayerCfg("palette", 0, 16, 3, 1, False, 0.15),
)
INDEX = {cfg.name: i for i, cfg in enumerate(LAYERS)}
WARP, CPPN_A, CPPN_B, PALETTE = 6, 7, 8, 9
FOURIER = 16  # sine features of the view that the CPPN worlds add to the canvas


@dataclass(frozen=True)
class CanvasLook:
    """How a world's canvas is tuned."""

    in_freq: tuple[float, float] = (0.3, 1.5)  # input Fourier frequencies, cycles per image width
    ksmooth: float = 0.8  # share of a smooth profile in the 3x3 kernels
    noise: tuple[float, float, float] = (0.25, 0.1, 0.04)  # noise strength at 24, 48, 96 px


class World(nn.Module):
    """One look of the builtin generator. Subclasses set ``name``, ``description``,
    ``look`` and implement ``build`` (their own weights), ``fine`` and ``develop``."""

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    look: ClassVar[CanvasLook] = CanvasLook()
    max_render: ClassVar[int] = 128  # default render resolution cap (CPU speed)
    standardise: ClassVar[tuple[int, ...]] = ()  # field channels set to zero mean, unit spread
    sharp: ClassVar[tuple[int, ...] | None] = None  # field channels resized bicubically (None: all)

    def __init__(self, rng: Seeded, w_dim: int) -> None:
        super().__init__()
        c0 = LAYERS[0].out_ch
        self.in_freqs = param(rng.freqs(c0, *self.look.in_freq))
        self.in_phases = param(rng.uniform(c0))
        self.in_affine = param(rng.randn(2 * c0, w_dim, std=LAYERS[0].style / math.sqrt(w_dim)))
        self.convs = nn.ModuleDict(
            {cfg.name: ModConv(rng, w_dim, cfg.in_ch, cfg.out_ch, cfg.k, cfg.style, self.look.ksmooth)
             for cfg in LAYERS[1:6]}
        )
        self.build(rng, w_dim)
        k = len(self.standardise)
        self.register_buffer("field_shift", torch.zeros(k))
        self.register_buffer("field_scale", torch.ones(k))

    def fields(self, g: Host, ws: Tensor, run: Run, calibrate: bool = False) -> Tensor:
        """Canvas and fine layers: the fields at render resolution, the ``standardise``
        channels shifted and scaled by statistics fixed once at calibration (so a world's
        thresholds mean the same share of the picture for every seed)."""
        f = self.fine(g, self.canvas(g, ws, run), ws, run)
        idx = list(self.standardise)
        if not idx:
            return f
        if calibrate:
            sel = f[:, idx].transpose(0, 1).flatten(1)
            self.field_shift.copy_(sel.mean(dim=1))
            self.field_scale.copy_(1.0 / (sel.std(dim=1) + 1e-6))
        f = f.clone()
        f[:, idx] = (f[:, idx] - self.field_shift[:, None, None].to(f.dtype)) * self.field_scale[:, None, None].to(f.dtype)
        return f

    def noise_strengths(self) -> list[float]:
        by_scale = dict(zip((CELLS, 2 * CELLS, 4 * CELLS), self.look.noise))
        return [by_scale.get(cfg.scale, 0.0) if cfg.noise else 0.0 for cfg in LAYERS]

    # ---- for the CPPN worlds (ink, nebula, marble) -------------------------------------

    def build_cppn(self, rng: Seeded, w_dim: int, hidden: tuple[int, int], out: int,
                   freqs: tuple[float, float]) -> None:
        """The fine stack those worlds share: a 1x1 warp of the canvas, two 1x1 layers over the
        sampled canvas and ``FOURIER`` sine features of the view (``freqs``: their range),
        and a head with ``out`` fields."""
        self.warp = ModConv(rng, w_dim, CANVAS_CH, 2, 1, LAYERS[WARP].style)
        self.cppn_a = ModConv(rng, w_dim, CANVAS_CH + FOURIER, hidden[0], 1, LAYERS[CPPN_A].style)
        self.cppn_b = ModConv(rng, w_dim, hidden[0], hidden[1], 1, LAYERS[CPPN_B].style)
        self.head = ModConv(rng, w_dim, hidden[1], out, 1, LAYERS[PALETTE].style)
        self.fine_freqs = param(rng.freqs(FOURIER, *freqs))
        self.fine_phases = param(rng.uniform(FOURIER))

    # ---- to implement -------------------------------------------------------------------

    def build(self, rng: Seeded, w_dim: int) -> None:
        raise NotImplementedError

    def fine(self, g: Host, x: Tensor, ws: Tensor, run: Run) -> Tensor:
        """Canvas features ``[B, 32, 96, 96]`` -> fields ``[B, F, R, R]`` at render resolution."""
        raise NotImplementedError

    def develop(self, g: Host, f: Tensor, ws: Tensor, run: Run) -> Tensor:
        """Fields at the output size -> RGB ``[B, 3, S, S]`` in 0..1."""
        raise NotImplementedError

    # ---- shared steps -------------------------------------------------------------------

    @staticmethod
    def warped_view(g: Host, field: Tensor, ws: Tensor, run: Run, amount: float,
                    steps: int = 1) -> Tensor:
        """The view's image points ``[B, R, R, 2]`` at render resolution, displaced ``steps``
        times by the canvas ``field`` (2 channels, at most ``amount`` image widths a step)."""
        u = g.view(run, g.render_resolution, ws.device, ws.dtype)
        for _ in range(steps):
            u = u + torch.tanh(g.sample(field, u, run)).permute(0, 2, 3, 1) * amount
        return u

    # ---- the shared canvas --------------------------------------------------------------

    def canvas(self, g: Host, ws: Tensor, run: Run) -> Tensor:
        """Coarse and middle layers on the canvas -> features ``[B, 32, 96, 96]``."""
        dev, dtype = ws.device, ws.dtype
        # Input: Fourier features of the canvas coordinates, phase and amplitude styled by ws[0].
        p = g.grid(g.layers[0].resolution, CANVAS, dev, dtype) + run.offset  # [b,S,S,2]
        c0 = self.in_freqs.shape[0]
        style = F.linear(ws[:, 0], self.in_affine)  # [B, 2*c0]
        arg = (p @ self.in_freqs.t() + self.in_phases).permute(0, 3, 1, 2)  # [b,c0,S,S]
        x = torch.sin(2 * math.pi * (arg + style[:, c0:, None, None])) * (1.0 + style[:, :c0, None, None])
        x = g.bend(x, 0, run)
        for i in range(1, 6):
            cfg = LAYERS[i]
            if cfg.scale != LAYERS[i - 1].scale:
                x = F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)
            x = self.convs[cfg.name](x, ws[:, i])
            n = g.noise(i, run, x)
            if n is not None:
                x = x + n
            x = g.bend(F.leaky_relu(x, 0.2) * SQRT2, i, run)
        return x
