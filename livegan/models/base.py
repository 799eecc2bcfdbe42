"""The generator interface every model family implements.

A generator is a ``torch.nn.Module`` with two stages, as in StyleGAN:

* ``mapping(z, c, truncation_psi, truncation_cutoff) -> ws``  ``[B, num_ws, w_dim]``
* ``synthesis(ws, noise=..., bends=..., transform=...) -> img``  ``[B, 3, H, W]`` in about [-1, 1]

Everything the conductor and the UI need to know about a model's shape comes from
``layers`` (the synthesis layer table), so coarse / middle / fine groups, noise maps
and bend points are never hard-coded per family.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Mapping, Sequence

import torch
from torch import nn

NOISE_MODES = ("const", "random", "none", "given")


@dataclass(frozen=True)
class LayerInfo:
    """One synthesis layer: where styles, noise and bends can act.

    ``w_index`` is the entry of ``ws`` that drives the layer's style. ``resolution``
    is the side of its output feature map in pixels. ``has_noise`` says whether a
    noise map can be injected (StyleGAN3 has none).
    """

    name: str
    resolution: int
    channels: int
    w_index: int
    has_noise: bool = False


@dataclass
class NoiseSpec:
    """Per-layer noise control for ``synthesis``.

    * ``mode``: ``const`` (the model's fixed maps), ``random`` (fresh N(0,1) maps,
      reproducible when ``seed`` is set), ``none``, or ``given`` (``maps``).
    * ``strength``: multiplier on every layer's learned noise strength (1 = as trained);
      a float, or a tensor ``[B]`` with one multiplier per sample (batched renders), so
      implementations must multiply with ``strength_for(layer)`` broadcastably.
    * ``layer_strength``: per-layer multiplier overriding ``strength`` (layer name -> float).
    * ``maps``: for ``given``: layer name -> tensor ``[B or 1, 1, H, W]`` at that layer's
      resolution; layers without a map fall back to ``const``.
    """

    mode: str = "const"
    strength: float | torch.Tensor = 1.0
    layer_strength: Mapping[str, float] = field(default_factory=dict)
    maps: Mapping[str, torch.Tensor] = field(default_factory=dict)
    seed: int | None = None

    def __post_init__(self) -> None:
        if self.mode not in NOISE_MODES:
            raise ValueError(f"noise mode must be one of {', '.join(NOISE_MODES)}, not {self.mode!r}")

    def strength_for(self, layer: str) -> float | torch.Tensor:
        """This layer's multiplier: a float, or a ``[B, 1, 1, 1]`` tensor for per-sample strengths."""
        s = self.layer_strength.get(layer, self.strength)
        if isinstance(s, torch.Tensor):
            return s.reshape(-1, 1, 1, 1)
        return float(s)


BEND_OPS = (
    "translate",  # amount = (dx, dy) in fractions of the map size
    "rotate",  # amount = degrees
    "scale",  # amount = zoom factor (>1 zooms in)
    "flip",  # amount = 'h' / 'v' / 'hv' (or 0/1 floats: >0.5 flips horizontally)
    "erode",  # amount = kernel radius in pixels (min filter)
    "dilate",  # amount = kernel radius in pixels (max filter)
    "multiply",  # amount = factor
    "threshold",  # amount = level; keeps values above it, zeroes the rest
    "invert",  # amount = mix 0..1 between x and -x
    "ablate",  # amount = fraction of channels zeroed
)


class PerSample(tuple):
    """A bend amount given per batch sample (frames whose bends differ only in amount batch)."""


@dataclass(frozen=True)
class Bend:
    """A feature-map transform inserted after a synthesis layer (network bending).

    ``channels`` is the fraction of the layer's channels it acts on (the first ones),
    so bends can touch part of a layer and leave the rest coherent.
    """

    layer: str
    op: str
    amount: float | tuple[float, float] | str | PerSample = 0.0  # PerSample: one amount per batch sample
    channels: float = 1.0

    def __post_init__(self) -> None:
        if self.op not in BEND_OPS:
            raise ValueError(f"bend op must be one of {', '.join(BEND_OPS)}, not {self.op!r}")


def make_transform(translate: tuple[float, float] = (0.0, 0.0), rotate_deg: float = 0.0) -> torch.Tensor:
    """The forward input transform (as NVIDIA's gen_images.py ``--translate/--rotate``).

    Returns a float64 ``[3, 3]`` matrix; ``synthesis(transform=...)`` takes this forward
    matrix (models that need the inverse invert it themselves).
    """
    a = math.radians(rotate_deg)
    return torch.tensor(
        [
            [math.cos(a), math.sin(a), translate[0]],
            [-math.sin(a), math.cos(a), translate[1]],
            [0.0, 0.0, 1.0],
        ],
        dtype=torch.float64,
    )


class Generator(nn.Module):
    """Base class of every model family (builtin, stylegan2, stylegan3).

    Subclasses set the shape facts in ``__init__``, register a ``w_avg`` buffer
    ``[w_dim]``, and implement ``mapping`` and ``synthesis``.
    """

    family: str = "abstract"
    z_dim: int
    w_dim: int
    c_dim: int
    num_ws: int
    resolution: int
    img_channels: int = 3
    w_avg: torch.Tensor

    @property
    def layers(self) -> Sequence[LayerInfo]:
        """The synthesis layers in forward order."""
        raise NotImplementedError

    def mapping(
        self,
        z: torch.Tensor,
        c: torch.Tensor | None = None,
        truncation_psi: float = 1.0,
        truncation_cutoff: int | None = None,
    ) -> torch.Tensor:
        raise NotImplementedError

    def synthesis(
        self,
        ws: torch.Tensor,
        noise: NoiseSpec | None = None,
        bends: Sequence[Bend] = (),
        transform: torch.Tensor | None = None,
    ) -> torch.Tensor:
        raise NotImplementedError

    def forward(
        self,
        z: torch.Tensor,
        c: torch.Tensor | None = None,
        truncation_psi: float = 1.0,
        truncation_cutoff: int | None = None,
        noise: NoiseSpec | None = None,
    ) -> torch.Tensor:
        return self.synthesis(self.mapping(z, c, truncation_psi, truncation_cutoff), noise=noise)

    # ---- helpers shared by every family -------------------------------------------

    def truncate(self, ws: torch.Tensor, psi: float, cutoff: int | None = None) -> torch.Tensor:
        """``w_avg + psi (ws - w_avg)`` on the first ``cutoff`` ws (all when None)."""
        if psi == 1.0:
            return ws
        out = ws.clone()
        n = self.num_ws if cutoff is None else min(int(cutoff), self.num_ws)
        avg = self.w_avg.to(ws.dtype)
        out[:, :n] = avg + psi * (ws[:, :n] - avg)
        return out

    def layer_groups(self) -> dict[str, list[int]]:
        """``ws`` indices of the coarse / middle / fine layers, from the layer table.

        Split by output resolution in log2 thirds, the usual StyleGAN reading:
        coarse layers shape pose and layout, middle ones features, fine ones colour
        and texture.
        """
        res = [max(layer.resolution, 1) for layer in self.layers]
        lo, hi = math.log2(min(res)), math.log2(max(res))
        span = max(hi - lo, 1e-6)
        groups: dict[str, list[int]] = {"coarse": [], "middle": [], "fine": []}
        for layer in self.layers:
            t = (math.log2(max(layer.resolution, 1)) - lo) / span
            name = "coarse" if t < 1 / 3 else ("middle" if t < 2 / 3 else "fine")
            if layer.w_index not in groups[name]:
                groups[name].append(layer.w_index)
        # Every ws index belongs to exactly one group: a ws shared by two layers goes to the coarser.
        seen: set[int] = set()
        for name in ("coarse", "middle", "fine"):
            groups[name] = [i for i in groups[name] if not (i in seen or seen.add(i))]
        covered = set().union(*groups.values())
        for i in range(self.num_ws):
            if i not in covered:
                groups["fine"].append(i)
        return groups

    def with_world(self, world: str) -> "Generator":
        """This generator drawn in another world (``look/world``). Only the embedded model has
        worlds; every other family is its own and only world."""
        return self

    def describe(self) -> dict:
        """Shape facts for ``livegan info`` and the HUD."""
        return {
            "family": self.family,
            "resolution": self.resolution,
            "z_dim": self.z_dim,
            "w_dim": self.w_dim,
            "c_dim": self.c_dim,
            "num_ws": self.num_ws,
            "params": sum(p.numel() for p in self.parameters()),
            "layers": [asdict(layer) for layer in self.layers],
        }
