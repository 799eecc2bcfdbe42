"""livegan's native model format: safetensors weights + JSON config in the metadata.

The header's ``__metadata__`` holds one key, ``livegan``: a JSON object with the
format name/version, the builder (``official``), the official ``kwargs`` and
per-module ``attrs`` — everything ``build_from_official`` needs besides the tensors.
Tensors keep their official flat names. Loading is memory-mapped (safetensors), so a
converted file opens much faster than re-parsing a pickle, and it holds no pickle at all.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch
from safetensors import safe_open
from safetensors.torch import save_file

from ...errors import LiveganError
from .nvpkl import OfficialNetwork

META_KEY = "livegan"
FORMAT_NAME = "livegan-native"
FORMAT_VERSION = 1
BUILDERS = ("official",)


def save_native(path: str | Path, net: OfficialNetwork, extra: dict[str, Any] | None = None) -> Path:
    """Write ``net`` to ``path`` (atomically: a partial file never appears under that name)."""
    path = Path(path)
    config = {
        "format": FORMAT_NAME,
        "version": FORMAT_VERSION,
        "builder": "official",
        "kwargs": net.kwargs,
        "attrs": net.attrs,
        "tensor_order": list(net.state_dict),  # safetensors sorts names; keep state_dict order
        **(extra or {}),
    }
    tensors = {name: t.detach().to("cpu").contiguous() for name, t in net.state_dict.items()}
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        save_file(tensors, str(tmp), metadata={META_KEY: json.dumps(config, allow_nan=False)})
        os.replace(tmp, path)
    except (OSError, ValueError) as exc:
        tmp.unlink(missing_ok=True)
        raise LiveganError(f"{path}: cannot write ({exc})") from None
    return path


def _config(path: Path, metadata: dict[str, str] | None) -> dict:
    raw = (metadata or {}).get(META_KEY)
    if raw is None:
        raise LiveganError(f"{path}: safetensors file has no '{META_KEY}' config (not written by `livegan convert`)")
    try:
        config = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise LiveganError(f"{path}: '{META_KEY}' metadata is not valid JSON ({exc.msg})") from None
    if not isinstance(config, dict) or config.get("format") != FORMAT_NAME:
        raise LiveganError(f"{path}: '{META_KEY}' metadata is not a {FORMAT_NAME} config")
    if config.get("version") != FORMAT_VERSION:
        raise LiveganError(f"{path}: unsupported {FORMAT_NAME} version {config.get('version')!r} (this livegan reads {FORMAT_VERSION})")
    if config.get("builder") not in BUILDERS:
        raise LiveganError(f"{path}: unknown builder {config.get('builder')!r}")
    for key in ("kwargs", "attrs"):
        if not isinstance(config.get(key), dict):
            raise LiveganError(f"{path}: config field '{key}' is missing or not an object")
    return config


def read_native(path: str | Path) -> OfficialNetwork:
    """Read a native file (memory-mapped); errors name the file."""
    path = Path(path)
    try:
        with safe_open(str(path), framework="pt", device="cpu") as f:  # memory-mapped
            config = _config(path, f.metadata())
            tensors: dict[str, torch.Tensor] = {name: f.get_tensor(name) for name in f.keys()}
    except LiveganError:
        raise
    except FileNotFoundError:
        raise LiveganError(f"{path}: no such file") from None
    except Exception as exc:  # noqa: BLE001 - SafetensorError, OSError, bad dtypes...: all mean a bad file
        raise LiveganError(f"{path}: not a valid safetensors file ({' '.join(str(exc).split())})") from None
    order = config.get("tensor_order")
    if isinstance(order, list) and set(order) == set(tensors):
        tensors = {name: tensors[name] for name in order}
    return OfficialNetwork(
        kwargs=config["kwargs"],
        state_dict=tensors,
        attrs=config["attrs"],
        source=str(path),
        extra={k: v for k, v in config.items() if k not in ("kwargs", "attrs", "tensor_order")},
    )
