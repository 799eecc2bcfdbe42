"""livegan's native model format: safetensors weights + JSON config in the metadata.

The header's ``__metadata__`` holds one key, ``livegan``: a JSON object with the
format name/version, the builder (``official``), the official ``kwargs`` and
per-module ``attrs`` — everything ``build_from_official`` needs besides the tensors.
Tensors keep their official flat names. Loading is memory-mapped (safetensors), so a
converted file opens much faster than re-parsing a pickle, and it holds no pickle at all.
"""

from __future__ import annotations

import json
import math
import os
import struct
from pathlib import Path
from typing import Any

import torch
from safetensors import safe_open
from safetensors.torch import save_file

from ...errors import LiveganError
from .architecture import check_shapes
from .nvpkl import OfficialNetwork

META_KEY = "livegan"
FORMAT_NAME = "livegan-native"
FORMAT_VERSION = 1
BUILDERS = ("official",)
# A 1024 px StyleGAN header (a few hundred tensors plus the config) is under 200 kB.
MAX_HEADER_BYTES = 4 << 20
MAX_CONFIG_CHARS = 2 << 20
MAX_TENSORS = 10_000
MAX_DIMS = 16
# safetensors dtype -> bytes per element (the types a weights file may hold)
ITEMSIZE = {"F64": 8, "F32": 4, "F16": 2, "BF16": 2, "I64": 8, "I32": 4, "I16": 2, "I8": 1, "U8": 1, "BOOL": 1}


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
    if not isinstance(raw, str) or len(raw) > MAX_CONFIG_CHARS:
        size = len(raw) if isinstance(raw, str) else type(raw).__name__
        raise LiveganError(f"{path}: '{META_KEY}' metadata is {size} characters (limit {MAX_CONFIG_CHARS})")
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


def _tensor_entry(path: Path, name: str, entry: Any, data_bytes: int) -> tuple[tuple[int, ...], int, int]:
    """(shape, begin, end) of one header entry, checked against the bytes the file holds."""
    where = f"{path}: tensor '{name[:100]}'"
    if not isinstance(entry, dict):
        raise LiveganError(f"{where}: header entry is not an object")
    dtype, shape, offsets = entry.get("dtype"), entry.get("shape"), entry.get("data_offsets")
    if dtype not in ITEMSIZE:
        raise LiveganError(f"{where}: dtype {str(dtype)[:20]!r} is not a weights type ({', '.join(ITEMSIZE)})")
    if (not isinstance(shape, list) or len(shape) > MAX_DIMS
            or not all(type(d) is int and d >= 0 for d in shape)):
        raise LiveganError(f"{where}: shape {str(shape)[:60]} is not a list of at most {MAX_DIMS} sizes")
    if not (isinstance(offsets, list) and len(offsets) == 2 and all(type(o) is int for o in offsets)
            and 0 <= offsets[0] <= offsets[1]):
        raise LiveganError(f"{where}: data_offsets {str(offsets)[:60]} are not [begin, end]")
    begin, end = offsets
    need = math.prod(shape) * ITEMSIZE[dtype]
    if end - begin != need:
        raise LiveganError(f"{where}: shape {shape} {dtype} needs {need} bytes but data_offsets span {end - begin}")
    if end > data_bytes:
        raise LiveganError(f"{where}: data ends at byte {end} but the file holds {data_bytes} data bytes")
    return tuple(shape), begin, end


def read_header(path: Path) -> tuple[dict[str, tuple[int, ...]], dict]:
    """Tensor shapes and metadata from a safetensors header, checked before anything is loaded.

    The safetensors library checks the same, but its messages do not name the tensor;
    and its own limit on the header (100 MB) is far above what a model needs.
    """
    try:
        with open(path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            head = f.read(8)
            if len(head) < 8:
                raise LiveganError(f"{path}: not a valid safetensors file (shorter than its 8-byte header length)")
            n = struct.unpack("<Q", head)[0]
            if n > min(MAX_HEADER_BYTES, size - 8):
                raise LiveganError(f"{path}: not a valid safetensors file (header claims {n} bytes; limit "
                                   f"{MAX_HEADER_BYTES}, the file holds {size - 8})")
            raw = f.read(n)
    except OSError as exc:
        raise LiveganError(f"{path}: cannot read ({exc.strerror or exc})") from None
    try:
        header = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise LiveganError(f"{path}: not a valid safetensors file (header is not JSON: {exc})") from None
    if not isinstance(header, dict):
        raise LiveganError(f"{path}: not a valid safetensors file (header is not a JSON object)")
    metadata = header.pop("__metadata__", None) or {}
    if not isinstance(metadata, dict):
        raise LiveganError(f"{path}: safetensors __metadata__ is not an object")
    if len(header) > MAX_TENSORS:
        raise LiveganError(f"{path}: header lists {len(header)} tensors (limit {MAX_TENSORS})")
    data_bytes = size - 8 - n
    shapes, spans = {}, []
    for name, entry in header.items():
        shape, begin, end = _tensor_entry(path, name, entry, data_bytes)
        shapes[name] = shape
        spans.append((begin, end, name))
    spans.sort()
    for (b0, e0, first), (b1, _, second) in zip(spans, spans[1:]):
        if b1 < e0:
            raise LiveganError(f"{path}: tensor '{second[:100]}' overlaps the data of tensor '{first[:100]}'")
    return shapes, metadata


def read_native(path: str | Path) -> OfficialNetwork:
    """Read a native file (memory-mapped); errors name the file, and the tensor or field.

    Header, config and every shape (against the architecture the config describes) are
    checked before any tensor is loaded.
    """
    path = Path(path)
    if not path.is_file():
        raise LiveganError(f"{path}: no such file")
    shapes, metadata = read_header(path)
    config = _config(path, metadata)
    order = config.get("tensor_order")
    if isinstance(order, list) and set(order) == set(shapes):  # state_dict order, as the pickle had it
        shapes = {name: shapes[name] for name in order}
    try:
        check_shapes(config["kwargs"], config["attrs"], shapes, "config kwargs", "config attrs")
    except LiveganError as exc:
        raise LiveganError(f"{path}: {exc}") from None
    try:
        with safe_open(str(path), framework="pt", device="cpu") as f:  # memory-mapped
            tensors: dict[str, torch.Tensor] = {name: f.get_tensor(name) for name in f.keys()}
    except Exception as exc:  # noqa: BLE001 - SafetensorError, OSError, bad dtypes...: all mean a bad file
        raise LiveganError(f"{path}: not a valid safetensors file ({' '.join(str(exc).split())})") from None
    tensors = {name: tensors[name] for name in shapes}
    return OfficialNetwork(
        kwargs=config["kwargs"],
        state_dict=tensors,
        attrs=config["attrs"],
        source=str(path),
        extra={k: v for k, v in config.items() if k not in ("kwargs", "attrs", "tensor_order")},
    )
