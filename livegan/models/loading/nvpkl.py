"""Read an NVIDIA network pickle into plain data: kwargs, state dict, attributes.

The pickle is decoded by :mod:`safe_pickle`; this module walks the ``G_ema``
persistence record tree and produces exactly what ``build_from_official`` takes:

* ``kwargs``: ``G_ema._init_kwargs`` as plain JSON-able data;
* ``state_dict``: official flat names -> tensors (``G_ema.state_dict()`` order);
* ``attrs``: dotted module path ('' for ``G_ema``) -> ``{'class_name', 'attributes'}``,
  the same shape as the fixture JSON's ``pickled_module_attributes`` entries
  (numpy scalars become Python numbers, arrays plain (nested) lists).
"""

from __future__ import annotations

import mmap
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

from ...errors import LiveganError
from .architecture import pickle_check
from .safe_pickle import PersistentRecord, TensorView, UnsafePickleError, safe_load

MAX_DEPTH = 32  # module nesting; NVIDIA nets are 4 deep
MAX_PLAIN_NODES = 1_000_000  # values converted per file; bounds shared-reference blowups
MAX_PLAIN_CHARS = 16_000_000  # string characters converted per file (one string may be shared many times)

# (kwargs, attrs, {tensor name: shape}) -> None; raises LiveganError. Run before any array exists.
ShapeCheck = Callable[[dict, dict, dict[str, tuple[int, ...]]], None]


@dataclass
class OfficialNetwork:
    """The parts of ``G_ema`` a generator is rebuilt from."""

    kwargs: dict
    state_dict: dict[str, torch.Tensor]
    attrs: dict[str, dict]
    source: str = ""
    module_src_chars: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def class_name(self) -> str:
        return self.attrs.get("", {}).get("class_name", "")


class _Plain:
    """Converts unpickled values to JSON-able data with a node budget."""

    def __init__(self) -> None:
        self.nodes = 0
        self.chars = 0

    def __call__(self, value: Any, where: str) -> Any:
        self.nodes += 1
        if self.nodes > MAX_PLAIN_NODES:
            raise UnsafePickleError(f"too many attribute values (limit {MAX_PLAIN_NODES})")
        if isinstance(value, str):
            self.chars += len(value)
            if self.chars > MAX_PLAIN_CHARS:
                raise UnsafePickleError(f"{where}: attribute text too long (limit {MAX_PLAIN_CHARS} characters)")
            return value
        if value is None or isinstance(value, bool):
            return value
        if isinstance(value, np.generic):
            if value.dtype.kind not in "biuf":
                raise UnsafePickleError(f"{where}: unsupported numpy scalar type {value.dtype}")
            return value.item()
        if isinstance(value, (int, float)):
            return value
        if isinstance(value, np.ndarray):
            self.nodes += value.size
            if self.nodes > MAX_PLAIN_NODES:
                raise UnsafePickleError(f"{where}: attribute array too large")
            if value.dtype.kind not in "biuf":
                raise UnsafePickleError(f"{where}: unsupported numpy array type {value.dtype}")
            return np.asarray(value).tolist()
        if isinstance(value, dict):
            out = {}
            for k, v in value.items():
                if not isinstance(k, str):
                    raise UnsafePickleError(f"{where}: non-string key {k!r}")
                out[k] = self(v, f"{where}.{k}")
            return out
        if isinstance(value, (list, tuple, set, frozenset)):
            return [self(v, where) for v in value]
        raise UnsafePickleError(f"{where}: unsupported attribute value of type {type(value).__name__}")


def _is_bookkeeping(key: str) -> bool:
    # torch's own slots (hooks, _parameters, ...) and the decorator's _init_args/_init_kwargs
    return key.startswith("_") or key == "training"


def _mapping(state: dict, key: str, where: str) -> dict:
    value = state.get(key) or {}
    if not isinstance(value, dict):
        raise UnsafePickleError(f"{where}: {key} is not a dict")
    return value


def _walk(record: PersistentRecord, path: str, found: "_Found", plain: _Plain, stack: tuple[int, ...]) -> None:
    where = path or "G_ema"
    if len(stack) > MAX_DEPTH or id(record) in stack:
        raise UnsafePickleError(f"{where}: module tree is cyclic or deeper than {MAX_DEPTH}")
    state = record.state
    prefix = f"{path}." if path else ""
    skip = state.get("_non_persistent_buffers_set") or set()
    if not isinstance(skip, (set, frozenset, list)):
        raise UnsafePickleError(f"{where}: _non_persistent_buffers_set is not a set")
    for slot in ("_parameters", "_buffers"):
        for name, tensor in _mapping(state, slot, where).items():
            if tensor is None or (slot == "_buffers" and name in skip):
                continue
            if not isinstance(name, str) or not isinstance(tensor, TensorView):
                raise UnsafePickleError(f"{where}: {slot} entry {name!r} is not a tensor")
            try:
                tensor.check()
            except UnsafePickleError as exc:
                raise UnsafePickleError(f"tensor '{prefix + name}': {exc}") from None
            found.views[prefix + name] = tensor
    attributes = {k: plain(v, f"{where}.{k}") for k, v in state.items() if isinstance(k, str) and not _is_bookkeeping(k)}
    found.attrs[path] = {"class_name": record.class_name, "attributes": attributes}
    for name, child in _mapping(state, "_modules", where).items():
        if child is None:
            continue
        if not isinstance(name, str) or not isinstance(child, PersistentRecord):
            raise UnsafePickleError(f"{where}: sub-module {name!r} is not a StyleGAN record")
        _walk(child, prefix + name, found, plain, stack + (id(record),))


@dataclass
class _Found:
    """What the walk collects: checked tensor views (no arrays yet) and plain attributes."""

    views: dict[str, TensorView] = field(default_factory=dict)
    attrs: dict[str, dict] = field(default_factory=dict)

    def check_total(self) -> None:
        """The tensors may not hold more elements than their storages have in the file.

        Each view is already a non-overlapping layout inside its storage; this stops many
        views of one storage from multiplying it.
        """
        storages = {id(v.storage): v.storage.present for v in self.views.values()}
        need, have = sum(v.numel for v in self.views.values()), sum(storages.values())
        if need > have:
            raise UnsafePickleError(f"the tensors hold {need} elements but their storages only {have} "
                                    "(tensors share their data)")


def network_from_record(record: Any, source: str = "", check: ShapeCheck | None = None) -> OfficialNetwork:
    """Flatten a ``G_ema`` persistence record (raises UnsafePickleError when malformed).

    Every tensor record is checked (strides, extent, storage bytes) and, with ``check``,
    the shapes against the architecture, all before the first array is made.
    """
    if not isinstance(record, PersistentRecord):
        raise UnsafePickleError("'G_ema' is not a StyleGAN persistence record")
    plain = _Plain()
    init_args = record.state.get("_init_args", ())
    if init_args:
        raise UnsafePickleError("G_ema was constructed with positional arguments; only keyword kwargs are supported")
    kwargs = plain(record.state.get("_init_kwargs", {}), "G_ema._init_kwargs")
    if not isinstance(kwargs, dict):
        raise UnsafePickleError("G_ema._init_kwargs is not a dict")
    found = _Found()
    _walk(record, "", found, plain, ())
    found.check_total()
    if check is not None:
        check(kwargs, found.attrs, {name: v.shape for name, v in found.views.items()})
    return OfficialNetwork(kwargs=kwargs, state_dict={name: v.materialize() for name, v in found.views.items()},
                           attrs=found.attrs, source=source, module_src_chars=record.module_src_chars)


def _sniff(path: Path, head: bytes) -> None:
    if not head:
        raise LiveganError(f"{path}: file is empty")
    if head.startswith(b"PK"):
        raise LiveganError(f"{path}: this is a torch.save zip archive, not an NVIDIA network pickle")
    if head[:1] != b"\x80":
        raise LiveganError(f"{path}: not a network pickle (does not start with a pickle protocol header)")


class _MappedReader:
    """File interface over a read-only mmap.

    A read never returns (or allocates) more than the file holds, even when a corrupt
    length field asks for gigabytes, and the file is not copied into memory first.
    """

    def __init__(self, mapped: mmap.mmap) -> None:
        self._m = mapped

    def read(self, n: int = -1) -> bytes:
        return self._m.read(n)

    def readline(self) -> bytes:
        return self._m.readline()

    def readinto(self, buf) -> int:  # noqa: ANN001 - any writable buffer
        view = memoryview(buf).cast("B")
        chunk = self._m.read(len(view))
        view[: len(chunk)] = chunk
        return len(chunk)


def read_network_pickle(path: str | Path) -> OfficialNetwork:
    """Safely read ``G_ema`` from an NVIDIA StyleGAN2/2-ADA/3 pickle; errors name the file."""
    path = Path(path)
    try:
        with open(path, "rb") as f:
            _sniff(path, f.read(2))
            with mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as mapped:
                top = safe_load(_MappedReader(mapped))
    except LiveganError:
        raise
    except OSError as exc:
        raise LiveganError(f"{path}: cannot read ({exc.strerror or exc})") from None
    except UnsafePickleError as exc:
        raise LiveganError(f"{path}: {exc}") from None
    except Exception as exc:  # noqa: BLE001 - nothing from the file ran; any other failure means bad data
        raise LiveganError(f"{path}: not a valid network pickle (truncated or corrupt: {type(exc).__name__}: {exc})") from None
    if not isinstance(top, dict):
        raise LiveganError(f"{path}: not a StyleGAN network pickle (top level is {type(top).__name__}, expected a dict)")
    if "G_ema" not in top:
        keys = ", ".join(repr(k) for k in list(top)[:8] if isinstance(k, str)) or "none"
        raise LiveganError(f"{path}: no 'G_ema' generator in the pickle (keys: {keys})")
    try:
        return network_from_record(top["G_ema"], source=str(path), check=pickle_check)
    except LiveganError as exc:
        raise LiveganError(f"{path}: {exc}") from None
    except UnsafePickleError as exc:
        raise LiveganError(f"{path}: {exc}") from None
    except Exception as exc:  # noqa: BLE001 - odd values in the record (e.g. an array where a flag belongs)
        raise LiveganError(f"{path}: malformed G_ema record ({type(exc).__name__}: {exc})") from None
