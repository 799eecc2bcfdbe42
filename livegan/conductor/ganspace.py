"""GANSpace-style latent directions: principal components of a model's w space.

Computed once per model from a few thousand mapped random z, then cached in memory and
on disk (``$XDG_CACHE_HOME/livegan/ganspace/``, keyed by a fingerprint of the mapping's
output, so a changed model never reuses stale directions).
"""

from __future__ import annotations

import hashlib
import os
import weakref
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..models.base import Generator

N_SAMPLES = 4096
N_COMPONENTS = 16


@dataclass(frozen=True)
class Directions:
    components: torch.Tensor  # [k, w_dim], unit rows, strongest first
    stds: torch.Tensor  # [k]: the spread of w along each component


_memory: "weakref.WeakKeyDictionary[Generator, Directions]" = weakref.WeakKeyDictionary()


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "livegan" / "ganspace"


def _z(generator: Generator, n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor | None]:
    rng = np.random.RandomState(seed)
    z = torch.from_numpy(rng.randn(n, generator.z_dim).astype(np.float32))
    c = None
    if generator.c_dim:
        c = torch.zeros(n, generator.c_dim)
        c[:, 0] = 1.0
    return z, c


@torch.inference_mode()
def _map(generator: Generator, z: torch.Tensor, c: torch.Tensor | None) -> torch.Tensor:
    dev = generator.w_avg.device
    out = [generator.mapping(z[i:i + 512].to(dev), None if c is None else c[i:i + 512].to(dev))[:, 0].float().cpu()
           for i in range(0, len(z), 512)]
    return torch.cat(out)


def fingerprint(generator: Generator) -> str:
    """A short hash of what the mapping network does (its output on fixed z)."""
    z, c = _z(generator, 4, 12345)
    w = _map(generator, z, c)
    h = hashlib.sha1(f"{generator.family}:{generator.z_dim}:{generator.w_dim}:{N_SAMPLES}".encode())
    h.update(np.round(w.numpy(), 4).tobytes())
    return h.hexdigest()[:16]


def directions(generator: Generator, use_disk: bool = True) -> Directions:
    """The model's top principal directions in w (cached)."""
    hit = _memory.get(generator)
    if hit is not None:
        return hit
    path = cache_dir() / f"{fingerprint(generator)}.npz" if use_disk else None
    if path is not None and path.is_file():
        try:
            with np.load(path) as data:
                found = Directions(torch.from_numpy(data["components"]), torch.from_numpy(data["stds"]))
            _memory[generator] = found
            return found
        except (OSError, KeyError, ValueError):
            pass  # a damaged cache file is recomputed and overwritten
    z, c = _z(generator, N_SAMPLES, 0)
    w = _map(generator, z, c).double()
    w = w - w.mean(dim=0)
    _, s, vh = torch.linalg.svd(w, full_matrices=False)
    k = min(N_COMPONENTS, vh.shape[0])
    found = Directions(vh[:k].float().contiguous(), (s[:k] / (len(w) - 1) ** 0.5).float())
    _memory[generator] = found
    if path is not None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(".tmp.npz")
            np.savez(tmp, components=found.components.numpy(), stds=found.stds.numpy())
            os.replace(tmp, path)
        except OSError:
            pass  # a read-only cache only costs the recomputation next time
    return found
