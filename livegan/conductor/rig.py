"""The latent rig: the model-specific half of the conductor.

A ``Groove`` (performance.py) -> ``GeneratorInputs`` for one generator. The rig holds
no time state, only latent material derived from the generator and the seed (keyframes,
harmony latents, push directions, the mappings' targets), so it is a pure function of the
groove: a hot model swap builds a new rig and the music carries on.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from ..models.base import Bend, Generator, NoiseSpec, make_transform
from .inputs import GeneratorInputs
from .mappings import MappingSpec, MappingTargets
from .performance import Groove

MOTION_TERMS = 3  # sinusoids per latent dimension in the random walk
KEYFRAME_POOL = 64  # enough for the largest latent/keyframes; a loop uses the first K


@dataclass(frozen=True)
class LatentMaterial:
    """Everything a seed gives one generator."""

    seed: int
    w_avg: torch.Tensor
    keyframes: torch.Tensor  # [KEYFRAME_POOL, w_dim]
    harmony: torch.Tensor  # [12, w_dim], one latent per pitch class
    spread_norm: float  # norm of the per-dimension spread of w
    dir_pulse: torch.Tensor
    dir_coarse: torch.Tensor
    dir_middle: torch.Tensor
    dir_fine: torch.Tensor
    motion_freq: torch.Tensor  # [MOTION_TERMS, w_dim]
    motion_phase0: torch.Tensor
    motion_scale: torch.Tensor  # [w_dim]


class LatentRig:
    """Turns grooves into one generator's inputs."""

    def __init__(self, generator: Generator) -> None:
        self.generator = generator
        self.num_ws = generator.num_ws
        self.w_dim = generator.w_dim
        self.groups = generator.layer_groups()
        layers = list(generator.layers)
        self.coarse_layer = layers[min(1, len(layers) - 1)].name
        self.middle_layer = layers[len(layers) // 2].name
        self._material: LatentMaterial | None = None
        self._targets: tuple[int, tuple[MappingSpec, ...], MappingTargets] | None = None

    # ---- latent material -------------------------------------------------------------
    def _map(self, z: np.ndarray) -> torch.Tensor:
        """w of each z ([N, z_dim]) through the generator's mapping, on the CPU."""
        g = self.generator
        c = None
        if g.c_dim:
            c = torch.zeros(len(z), g.c_dim)
            c[:, 0] = 1.0
        dev = g.w_avg.device
        with torch.inference_mode():
            return g.mapping(torch.from_numpy(z).to(dev), None if c is None else c.to(dev))[:, 0].float().cpu()

    def latent(self, seed: int) -> torch.Tensor:
        """The w of a seed's z (for snap and mix targets)."""
        z = np.random.RandomState(seed % 2**32).randn(1, self.generator.z_dim).astype(np.float32)
        return self._map(z)[0]

    def material(self, seed: int) -> LatentMaterial:
        """Keyframes, harmony latents and push directions, all from ``seed`` (cached)."""
        m = self._material
        if m is not None and m.seed == seed:
            return m
        g = self.generator
        rng = np.random.RandomState(seed % 2**32)
        w = self._map(rng.randn(KEYFRAME_POOL + 12, g.z_dim).astype(np.float32))
        w_avg = g.w_avg.detach().float().cpu()
        spread = (w - w_avg).std(dim=0)  # per-dimension scale of the w distribution
        dirs = torch.from_numpy(rng.randn(5, g.w_dim).astype(np.float32))
        dirs = dirs / dirs.norm(dim=1, keepdim=True) * spread.norm()
        freq = torch.from_numpy(rng.uniform(0.2, 1.0, (MOTION_TERMS, g.w_dim)).astype(np.float32))
        phase0 = torch.from_numpy(rng.uniform(0, 2 * np.pi, (MOTION_TERMS, g.w_dim)).astype(np.float32))
        m = LatentMaterial(seed, w_avg, w[:KEYFRAME_POOL], w[KEYFRAME_POOL:], float(spread.norm()),
                           dirs[0], dirs[1], dirs[2], dirs[3], freq, phase0, spread * 0.6 / math.sqrt(MOTION_TERMS))
        self._material = m
        return m

    def _mapping_targets(self, seed: int, specs: tuple[MappingSpec, ...], m: LatentMaterial) -> MappingTargets:
        cached = self._targets
        if cached is not None and cached[0] == seed and cached[1] is specs:
            return cached[2]
        targets = MappingTargets(specs, self.generator, self.latent, m.spread_norm, seed)
        self._targets = (seed, specs, targets)
        return targets

    # ---- one frame -------------------------------------------------------------------
    def inputs(self, g: Groove) -> GeneratorInputs:
        m = self.material(g.seed)
        k = g.keyframes
        i0 = int(math.floor(g.position)) % k
        frac = g.position - math.floor(g.position)
        ease = 0.5 - 0.5 * math.cos(math.pi * frac)  # motion breathes through each keyframe
        w = m.keyframes[i0] * (1 - ease) + m.keyframes[(i0 + 1) % k] * ease

        # Harmony: chroma-weighted blend of 12 pitch-class latents.
        chroma = np.asarray(g.chroma, dtype=np.float64)
        csum = float(chroma.sum())
        if g.chroma_amount > 0 and csum > 1e-6:
            wc = torch.from_numpy((chroma / csum).astype(np.float32)) @ m.harmony
            w = w + g.chroma_amount * min(1.0, csum) * (wc - w)

        # Random walk: a sum of slow sinusoids, so it is smooth and frame-rate independent.
        walk = torch.sin(m.motion_freq * g.motion_phase + m.motion_phase0).sum(0) * m.motion_scale
        w = w + g.motion * walk

        ws = w.unsqueeze(0).repeat(self.num_ws, 1)
        # The kick pulse moves the structure (coarse and middle), leaving colour and texture.
        pulse_idx = self.groups.get("coarse", []) + self.groups.get("middle", [])
        ws[pulse_idx or list(range(self.num_ws))] += g.pulse_amount * g.pulse * m.dir_pulse
        for group, push, direction in zip(("coarse", "middle", "fine"), g.layer_push,
                                          (m.dir_coarse, m.dir_middle, m.dir_fine)):
            idx = self.groups.get(group, [])
            if idx:
                ws[idx] += push * direction
        self._ganspace(ws, g.ganspace)

        levels = g.mappings
        extra = self._mapping_targets(g.seed, levels.specs, m).apply(ws, levels) if levels.specs else None

        psi = g.psi + (extra.psi if extra else 0.0)
        ws = m.w_avg + psi * (ws - m.w_avg)

        strength = g.noise_strength * (extra.noise_gain if extra else 1.0)
        noise_seed = (g.seed * 1_000_003 + g.noise_steps) % (2**31) if g.noise_mode == "random" else None
        noise = NoiseSpec(mode=g.noise_mode, strength=float(strength), seed=noise_seed)

        rot = g.rotate + (extra.rotate if extra else 0.0)
        tx = g.translate[0] + (extra.translate[0] if extra else 0.0)
        ty = g.translate[1] + (extra.translate[1] if extra else 0.0)
        transform = make_transform((tx, ty), rot) if (rot or tx or ty) else None

        bends: list[Bend] = []
        if g.zoom > 0 and g.pulse > 1e-3:
            bends.append(Bend(self.middle_layer, "scale", 1.0 + g.zoom * g.pulse))
        if abs(g.bend_rotate) > 1e-6:
            bends.append(Bend(self.coarse_layer, "rotate", g.bend_rotate))
        if extra is not None:
            bends.extend(extra.bends)

        return GeneratorInputs(
            ws=ws.contiguous(), noise=noise, bends=tuple(bends), transform=transform, time=g.time,
            sample_pos=g.sample_pos, frame_index=g.frame_index,
            flash=min(1.0, max(g.flash, extra.flash if extra else 0.0)),
            blackout=g.blackout, master=g.master, world=g.world,
        )

    def _ganspace(self, ws: torch.Tensor, amounts: tuple[float, ...]) -> None:
        """``ganspace/<k>`` moves every ws along the model's k-th principal direction (in sds)."""
        if not any(abs(a) > 1e-6 for a in amounts):
            return
        from .ganspace import directions

        dirs = directions(self.generator)
        for k, a in enumerate(amounts):
            if abs(a) > 1e-6 and k < len(dirs.stds):
                ws += a * float(dirs.stds[k]) * dirs.components[k]
