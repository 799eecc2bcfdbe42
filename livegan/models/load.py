"""``load_generator``: one entry point from a model spec to a ready ``Generator``.

Specs: ``builtin``, ``builtin:SEED``, ``builtin:WORLD`` or ``builtin:WORLD:SEED`` (the
embedded seeded model, in one of its worlds), an NVIDIA
``.pkl`` (read with the restricted unpickler, no code from the file runs), or a
``.safetensors`` file written by ``livegan convert``. Every problem is a one-line
``LiveganError`` naming the file.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import torch

from ..errors import LiveganError
from .base import Generator
from .loading.native import read_native
from .loading.nvpkl import OfficialNetwork, read_network_pickle

PRECISIONS = ("auto", "fp32", "fp16", "bf16")
_DTYPES = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}
BUILTIN_SIZE = 512  # the side the embedded model renders at unless told
SPEC_HELP = "'builtin', 'builtin:SEED', 'builtin:WORLD[:SEED]', an NVIDIA .pkl or a livegan .safetensors file"


@dataclass(frozen=True)
class BuiltinSpec:
    world: str | None  # None: the default world
    seed: int


def parse_builtin(spec: str) -> BuiltinSpec | None:
    """``builtin[:WORLD][:SEED]`` -> its world and seed, or None when ``spec`` names a file."""
    from .builtin import WORLD_NAMES  # noqa: PLC0415 - plain names, no torch model code

    if spec != "builtin" and not spec.startswith("builtin:"):
        return None
    parts = spec.split(":")[1:]
    world = None
    if parts and parts[0] in WORLD_NAMES:
        world = parts.pop(0)
    if len(parts) > 1 or (parts and not parts[0].lstrip("-").isdigit()):
        text = ":".join(parts)
        raise LiveganError(f"model '{spec}': seed {text!r} is not an integer nor a world"
                           f" (worlds: {', '.join(WORLD_NAMES)}; e.g. builtin:7 or builtin:ink:7)")
    return BuiltinSpec(world, int(parts[0]) if parts else 0)


def parse_builtin_seed(spec: str) -> int | None:
    """The seed of a ``builtin[:WORLD][:SEED]`` spec, or None when ``spec`` names a file."""
    parsed = parse_builtin(spec)
    return None if parsed is None else parsed.seed


def read_network(path: str | Path) -> OfficialNetwork:
    """The official kwargs/state/attrs of a .pkl or native .safetensors file."""
    path = Path(path)
    if not path.exists():
        raise LiveganError(f"{path}: no such model file (expected {SPEC_HELP})")
    if path.is_dir():
        raise LiveganError(f"{path}: is a directory, not a model file")
    suffix = path.suffix.lower()
    if suffix == ".pkl":
        return read_network_pickle(path)
    if suffix == ".safetensors":
        return read_native(path)
    raise LiveganError(f"{path}: unknown model file type '{suffix or '(none)'}' (expected {SPEC_HELP})")


def build_network(net: OfficialNetwork) -> Generator:
    """Rebuild the generator through the model code (imported lazily: it is large)."""
    try:
        from .official import build_from_official
    except ModuleNotFoundError as exc:
        if exc.name != f"{__package__}.official":
            raise
        raise LiveganError(f"{net.source}: StyleGAN model code (livegan.models.official) is not available") from None
    try:
        return build_from_official(net.kwargs, net.state_dict, net.attrs)
    except LiveganError as exc:
        raise LiveganError(f"{net.source}: {exc}") from None
    except Exception as exc:  # noqa: BLE001 - a file the model code cannot use: one line, not a traceback
        raise LiveganError(f"{net.source}: cannot build the generator ({type(exc).__name__}: {exc})") from None


def _device(device: str | torch.device) -> torch.device:
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise LiveganError(f"device {device!r} is not a valid torch device ({exc})") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise LiveganError(f"device {device!r}: CUDA is not available on this machine")
    if dev.type == "mps" and not torch.backends.mps.is_available():
        raise LiveganError(f"device {device!r}: MPS is not available on this machine")
    return dev


def apply_precision(gen: Generator, precision: str, device: torch.device) -> Generator:
    """``auto``: the model decides (``set_precision`` if it has one, else float32)."""
    if precision not in PRECISIONS:
        raise LiveganError(f"precision {precision!r} is not one of {', '.join(PRECISIONS)}")
    setter = getattr(gen, "set_precision", None)
    if callable(setter):
        setter(precision)
        return gen
    if precision in ("fp16", "bf16"):
        return gen.to(_DTYPES[precision])
    return gen


@dataclass(frozen=True)
class ModelWeights:
    """A model's weights in memory, to build the same generator in another process (a cluster
    worker) without its file: a file's network as read here, or the embedded model's tensors
    as built here (its calibration sums run in the order of this machine's torch threads, so
    shipping them keeps every worker's weights bit-identical)."""

    network: OfficialNetwork | None = None
    builtin: dict[str, torch.Tensor] | None = None

    @property
    def nbytes(self) -> int:
        tensors = self.network.state_dict if self.network is not None else (self.builtin or {})
        return sum(t.numel() * t.element_size() for t in tensors.values())


def read_weights(spec: str | os.PathLike, size: int | None = None) -> ModelWeights:
    """``spec``'s weights, for :func:`load_generator` elsewhere (the file is read once, here)."""
    text = os.fspath(spec)
    builtin = parse_builtin(text)
    if builtin is None:
        return ModelWeights(network=read_network(text))
    from .builtin import BuiltinGenerator

    gen = BuiltinGenerator(seed=builtin.seed, world=builtin.world, resolution=int(size or BUILTIN_SIZE))
    return ModelWeights(builtin={k: v.detach().clone() for k, v in gen.state_dict().items()})


def load_generator(spec: str | os.PathLike, device: str | torch.device = "cpu", precision: str = "auto",
                   size: int | None = None, weights: ModelWeights | None = None) -> Generator:
    """A ready-to-run generator (eval mode, no grads) from ``spec`` on ``device``.

    The one place a model spec becomes a generator. ``size`` is the side the embedded model
    renders at (it has no native size; default 512); a file's model keeps its own resolution.
    ``weights`` (from :func:`read_weights`) replace reading the file or seeding the weights.
    """
    dev = _device(device)
    text = os.fspath(spec)
    builtin = parse_builtin(text)
    if builtin is not None:
        from .builtin import BuiltinGenerator

        gen: Generator = BuiltinGenerator(seed=builtin.seed, world=builtin.world, resolution=int(size or BUILTIN_SIZE))
        if weights is not None and weights.builtin is not None:
            gen.load_state_dict(weights.builtin)
    elif weights is not None and weights.network is not None:
        gen = build_network(weights.network)
    else:
        gen = build_network(read_network(text))
    gen = gen.eval().requires_grad_(False).to(dev)
    return apply_precision(gen, precision, dev)
