"""A restricted unpickler for NVIDIA StyleGAN network pickles.

Only the globals a weights file needs are resolved (fact sheet §3), each to a
harmless stand-in: persistence records become :class:`PersistentRecord` (their
``module_src`` is kept as text, never compiled), tensors become
bound-checked views (:class:`TensorView`) of storages decoded by :mod:`torch_blob`, numpy values go
through wrappers that refuse object dtypes. Anything else raises
:class:`UnsafePickleError` naming the global.
"""

from __future__ import annotations

import collections
import io
import math
import pickle
from dataclasses import dataclass, field
from typing import Any, BinaryIO

import numpy as np
import torch

from .torch_blob import NoBuild, Storage, UnsafePickleError, parse_storage_blob, refuse_global

try:  # numpy >= 2
    from numpy._core import multiarray as _np_multiarray
except ImportError:  # pragma: no cover - numpy 1.x
    from numpy.core import multiarray as _np_multiarray  # type: ignore[no-redef]

MAX_TENSOR_ELEMENTS = 2**31
MAX_TOTAL_ELEMENTS = 2**31
MAX_DIMS = 16
PERSISTENCE_VERSION = 6

# Module names under which the training code's EasyDict has been pickled.
EASYDICT_MODULES = ("dnnlib.util", "dnnlib", "dnnlib.tflib", "torch_utils.misc")
# Numeric dtypes a pickled numpy attribute may have (no objects, no structured records).
_SAFE_DTYPE_KINDS = set("biufc")


class EasyDict(dict):
    """Stand-in for ``dnnlib.util.EasyDict``: a dict with attribute access."""

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):  # never let a key pose as a protocol method (e.g. __setstate__)
            raise AttributeError(name)
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None


@dataclass
class PersistentRecord(NoBuild):
    """What ``torch_utils.persistence`` stored for one module, without running it."""

    class_name: str
    state: dict
    version: int
    module_src_chars: int


@dataclass
class _Budget:
    """Element counters shared by every tensor of one file."""

    max_total: int = MAX_TOTAL_ELEMENTS
    total: int = 0
    globals_seen: set[str] = field(default_factory=set)


class _NdarrayToken(NoBuild):
    """Stand-in for ``numpy.ndarray`` as an argument: not callable, so it cannot allocate."""

    __slots__ = ()


NDARRAY_TOKEN = _NdarrayToken()


def _checked_dtype(dtype: Any) -> np.dtype:
    if (not isinstance(dtype, np.dtype) or dtype.kind not in _SAFE_DTYPE_KINDS or dtype.fields is not None
            or dtype.hasobject or dtype.subdtype is not None):
        raise UnsafePickleError(f"refused numpy dtype {dtype!r} (only plain numeric dtypes are allowed)")
    return dtype


def _np_dtype(spec: Any, align: Any = False, copy: Any = True) -> np.dtype:
    if not isinstance(spec, str):
        raise UnsafePickleError(f"refused numpy dtype spec {spec!r}")
    try:
        # A private copy: the BUILD step that follows must not touch numpy's shared descriptors.
        return _checked_dtype(np.dtype(np.dtype(spec), copy=True))
    except TypeError as exc:
        raise UnsafePickleError(f"refused numpy dtype spec {spec!r} ({exc})") from None


def _np_scalar(dtype: Any, raw: Any = None) -> Any:
    _checked_dtype(dtype)
    if not isinstance(raw, bytes) or len(raw) != dtype.itemsize:
        raise UnsafePickleError("numpy scalar has malformed data")
    return _np_multiarray.scalar(dtype, raw)


class SafeArray(np.ndarray):
    """Target of ``numpy ... _reconstruct``: checks the dtype before numpy fills the array."""

    def __setstate__(self, state: Any) -> None:
        if not isinstance(state, tuple) or len(state) != 5:
            raise UnsafePickleError("numpy array state is malformed")
        _checked_dtype(state[2])
        super().__setstate__(state)


def _np_reconstruct(subtype: Any, shape: Any, typecode: Any) -> np.ndarray:
    if subtype is not NDARRAY_TOKEN:
        raise UnsafePickleError("numpy array reconstruction of a non-ndarray type")
    # An empty array; BUILD (SafeArray.__setstate__) fills it and numpy checks the byte count.
    return SafeArray((0,), dtype=np.uint8)


def _int_tuple(value: Any, what: str) -> tuple[int, ...]:
    if not isinstance(value, (tuple, list)) or len(value) > MAX_DIMS:
        raise UnsafePickleError(f"tensor {what} is not a short tuple of ints: {value!r}")
    if not all(type(v) is int for v in value):
        raise UnsafePickleError(f"tensor {what} has a non-int entry: {list(value)!r}")
    return tuple(value)


@dataclass(frozen=True)
class TensorView(NoBuild):
    """A tensor record: where its elements lie in a storage. No array exists until ``materialize``.

    :meth:`check` is run by the reader, which knows the tensor's name, before any array
    is made; snapshots also hold ``G`` and ``D``, whose views are never copied at all.
    """

    storage: Storage
    offset: int
    shape: tuple[int, ...]
    stride: tuple[int, ...]

    @property
    def numel(self) -> int:
        return math.prod(self.shape)

    def check(self) -> None:
        """Refuse what no weights file holds; raises UnsafePickleError (without the tensor's name)."""
        size, stride, offset, storage = list(self.shape), list(self.stride), self.offset, self.storage
        if any(s < 0 for s in size):
            raise UnsafePickleError(f"shape {size} has a negative size")
        n = self.numel
        if n > MAX_TENSOR_ELEMENTS:
            raise UnsafePickleError(f"shape {size} has {n} elements (limit {MAX_TENSOR_ELEMENTS})")
        # Zero or negative strides repeat or reverse elements; torch writes neither into a file.
        if n and any(st < 1 for s, st in zip(size, stride) if s > 1):
            raise UnsafePickleError(f"shape {size} with strides {stride}: zero or negative strides are not allowed")
        # Nested layout: taken by increasing stride, each stride clears the whole extent of the
        # smaller ones. Contiguous, transposed and channels-last views are nested; a view that
        # is not could read one element many times (a small storage posing as a huge tensor).
        reach = 1
        for st, s in sorted((st, s) for s, st in zip(size, stride) if s > 1):
            if st < reach:
                raise UnsafePickleError(f"shape {size} with strides {stride}: elements overlap (not a dense layout)")
            reach = st * s
        short = storage.shortfall()
        if short:
            raise UnsafePickleError(short)
        last = offset + sum((s - 1) * st for s, st in zip(size, stride)) if n else offset - 1
        if offset > storage.numel or last >= storage.numel:
            raise UnsafePickleError(
                f"view (offset {offset}, shape {size}, strides {stride}) reaches outside its storage of "
                f"{storage.numel} elements"
            )

    def materialize(self) -> torch.Tensor:
        self.check()  # again: cheap, and defence in depth
        data, n = self.storage.data, self.numel
        view = np.lib.stride_tricks.as_strided(
            data[self.offset:] if n else data[:0],
            shape=self.shape,
            strides=tuple(st * data.itemsize for st in self.stride),
            writeable=False,
        )
        tensor = torch.from_numpy(np.array(view, copy=True, order="C"))
        return tensor.view(torch.bfloat16) if self.storage.torch_dtype == torch.bfloat16 else tensor


def rebuild_tensor(storage: Any, offset: Any, size: Any, stride: Any, *_: Any) -> TensorView:
    """``torch._utils._rebuild_tensor_v2``: a view record, checked by its reader (TensorView.check)."""
    size_t, stride_t = _int_tuple(size, "size"), _int_tuple(stride, "stride")
    if not isinstance(storage, Storage):
        raise UnsafePickleError("tensor storage is not a decoded storage blob")
    if len(size_t) != len(stride_t):
        raise UnsafePickleError(f"tensor size {list(size_t)} and stride {list(stride_t)} differ in length")
    if type(offset) is not int or offset < 0:
        raise UnsafePickleError(f"tensor storage offset {offset!r} is invalid")
    return TensorView(storage, offset, size_t, stride_t)


def _rebuild_parameter(data: Any, requires_grad: Any = False, hooks: Any = None, state: Any = None) -> TensorView:
    if not isinstance(data, TensorView):
        raise UnsafePickleError("parameter data is not a tensor")
    return data


def _reconstruct_persistent(meta: Any) -> PersistentRecord:
    if not isinstance(meta, dict):
        raise UnsafePickleError("persistence record meta is not a dict")
    if meta.get("type") != "class":
        raise UnsafePickleError(f"persistence record type {meta.get('type')!r} is not 'class'")
    if meta.get("version") != PERSISTENCE_VERSION:
        raise UnsafePickleError(f"persistence record version {meta.get('version')!r} is not {PERSISTENCE_VERSION}")
    class_name, state, src = meta.get("class_name"), meta.get("state"), meta.get("module_src")
    if not isinstance(class_name, str) or not isinstance(state, dict):
        raise UnsafePickleError("persistence record lacks class_name or state")
    # module_src is only measured, never compiled or executed.
    return PersistentRecord(class_name, state, PERSISTENCE_VERSION, len(src) if isinstance(src, str) else 0)


class SafeUnpickler(pickle.Unpickler):
    """Unpickler for network pickles; resolves only the allow-listed globals."""

    def __init__(self, file: BinaryIO, budget: _Budget | None = None) -> None:
        super().__init__(file)
        self.budget = budget or _Budget()
        self._allowed: dict[tuple[str, str], Any] = {
            ("torch_utils.persistence", "_reconstruct_persistent_obj"): _reconstruct_persistent,
            ("torch._utils", "_rebuild_tensor_v2"): rebuild_tensor,
            ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
            ("torch._utils", "_rebuild_parameter_with_state"): _rebuild_parameter,
            ("torch.storage", "_load_from_bytes"): self._load_storage,
            ("collections", "OrderedDict"): collections.OrderedDict,
            ("builtins", "set"): set,
            ("numpy", "dtype"): _np_dtype,
            ("numpy", "ndarray"): NDARRAY_TOKEN,
        }
        for core in ("numpy.core.multiarray", "numpy._core.multiarray"):
            self._allowed[(core, "scalar")] = _np_scalar
            self._allowed[(core, "_reconstruct")] = _np_reconstruct
        for mod in EASYDICT_MODULES:
            self._allowed[(mod, "EasyDict")] = EasyDict

    def find_class(self, module: str, name: str) -> Any:
        target = self._allowed.get((module, name))
        if target is None:
            raise refuse_global(module, name)
        self.budget.globals_seen.add(f"{module}.{name}")
        return target

    def persistent_load(self, pid: Any) -> Any:
        raise UnsafePickleError("unexpected persistent id in a network pickle")

    def _load_storage(self, blob: Any) -> Storage:
        budget = self.budget
        storage = parse_storage_blob(blob, budget.globals_seen)
        budget.total += storage.present
        if budget.total > budget.max_total:
            raise UnsafePickleError(f"file holds more than {budget.max_total} tensor elements")
        return storage


def safe_load(file: BinaryIO | bytes, budget: _Budget | None = None) -> Any:
    """Unpickle ``file`` with the allow-list; raise :class:`UnsafePickleError` on anything else."""
    stream = io.BytesIO(file) if isinstance(file, (bytes, bytearray)) else file
    return SafeUnpickler(stream, budget).load()


def record_globals(file: BinaryIO | bytes) -> set[str]:
    """The allow-listed globals a file uses, including the storage classes inside tensor blobs."""
    budget = _Budget()
    safe_load(file, budget)
    return set(budget.globals_seen)

