"""Parser for the legacy (non-zip) ``torch.save`` stream of a single storage.

NVIDIA pickles store every tensor storage as ``torch.storage._load_from_bytes(blob)``
where ``blob`` is such a stream: five small pickles (magic number, protocol version,
system info, the storage as a persistent id, the key list) followed by raw data.
``torch.load`` would unpickle those with every global allowed, so we read them
ourselves: each inner pickle gets an unpickler that resolves no globals at all,
except the storage class inside the persistent id of the fourth one.
"""

from __future__ import annotations

import io
import pickle
from dataclasses import dataclass

import numpy as np
import torch

LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
LEGACY_PROTOCOL = 1001

# Storage class name -> (numpy dtype of the raw little-endian data, torch dtype).
# bfloat16 has no numpy dtype: its bits travel as uint16 and torch reinterprets them.
STORAGE_DTYPES: dict[str, tuple[str, torch.dtype]] = {
    "FloatStorage": ("<f4", torch.float32),
    "DoubleStorage": ("<f8", torch.float64),
    "HalfStorage": ("<f2", torch.float16),
    "BFloat16Storage": ("<u2", torch.bfloat16),
    "LongStorage": ("<i8", torch.int64),
    "IntStorage": ("<i4", torch.int32),
    "ShortStorage": ("<i2", torch.int16),
    "CharStorage": ("i1", torch.int8),
    "ByteStorage": ("u1", torch.uint8),
    "BoolStorage": ("?", torch.bool),
}


class UnsafePickleError(Exception):
    """The stream asks for something a weights file never needs (message: one line)."""


class NoBuild:
    """Mixin for objects the loader creates: a pickle BUILD step must not rewrite them.

    Without it, BUILD could replace the fields of an already bound-checked view.
    """

    __slots__ = ()

    def __setstate__(self, state: object) -> None:
        raise UnsafePickleError(f"pickle tried to modify a {type(self).__name__} after construction")


@dataclass(frozen=True)
class StorageType(NoBuild):
    """Stand-in for ``torch.<Name>Storage``: only a dtype, never callable."""

    name: str

    @property
    def numpy_dtype(self) -> np.dtype:
        return np.dtype(STORAGE_DTYPES[self.name][0])

    @property
    def torch_dtype(self) -> torch.dtype:
        return STORAGE_DTYPES[self.name][1]


@dataclass(frozen=True)
class Storage(NoBuild):
    """A decoded storage: flat read-only little-endian array plus its torch dtype.

    ``declared`` is the element count the file claims; ``data`` holds only the elements
    whose bytes are really present. A shortfall is reported by the tensor that uses the
    storage (its name is known there), and nothing is ever allocated from the claim.
    """

    data: np.ndarray
    torch_dtype: torch.dtype
    declared: int = -1  # -1: as many as ``data`` holds

    @property
    def numel(self) -> int:
        """Elements the storage claims to hold."""
        return int(self.data.shape[0]) if self.declared < 0 else self.declared

    @property
    def present(self) -> int:
        """Elements whose bytes are in the file."""
        return int(self.data.shape[0])

    def shortfall(self) -> str | None:
        """Why the storage cannot be read (declared bytes missing from the file), or None."""
        if self.present >= self.numel:
            return None
        size = self.data.itemsize
        return (f"its storage declares {self.numel} elements ({self.numel * size} bytes) but the file holds "
                f"only {self.present * size} of those bytes")


def refuse_global(module: str, name: str) -> UnsafePickleError:
    full = f"{module}.{name}"
    if len(full) > 120:  # names come from the file: keep the one-line message short
        full = full[:117] + "..."
    return UnsafePickleError(f"refused to load global '{full}' (not a tensor, array or StyleGAN record)")


@dataclass(frozen=True)
class _PendingStorage(NoBuild):
    key: str
    kind: StorageType
    numel: int


class _InnerUnpickler(pickle.Unpickler):
    """No globals; optionally the storage class, but only inside a persistent id."""

    def __init__(self, file: io.BytesIO, storage_pid: bool, seen: set[str] | None) -> None:
        super().__init__(file)
        self._storage_pid = storage_pid
        self._seen = seen

    def find_class(self, module: str, name: str):  # noqa: ANN201 - pickle API
        if self._storage_pid and module == "torch" and name in STORAGE_DTYPES:
            if self._seen is not None:
                self._seen.add(f"torch.{name}")
            return StorageType(name)
        raise UnsafePickleError(f"tensor blob: {refuse_global(module, name)}")

    def persistent_load(self, pid):  # noqa: ANN001, ANN201 - pickle API
        if not self._storage_pid:
            raise UnsafePickleError("unexpected persistent id in a tensor blob header")
        if not (isinstance(pid, tuple) and len(pid) == 6 and pid[0] == "storage"):
            raise UnsafePickleError("tensor blob: storage reference is not a legacy storage tuple")
        _, kind, key, location, numel, view = pid
        if not isinstance(kind, StorageType):
            raise UnsafePickleError("tensor blob: storage class is not a torch storage type")
        if not isinstance(key, str) or not isinstance(location, str):
            raise UnsafePickleError("tensor blob: malformed storage key or location")
        # Only a number: nothing is allocated from it, and the tensor using the storage
        # reports a claim beyond the bytes present (Storage.shortfall).
        if type(numel) is not int or not 0 <= numel < 2**63:
            raise UnsafePickleError(f"tensor blob: storage claims {numel!r} elements")
        if view is not None:
            raise UnsafePickleError("tensor blob: legacy storage views are not supported")
        return _PendingStorage(key, kind, numel)


def _load_one(f: io.BytesIO, storage_pid: bool = False, seen: set[str] | None = None):  # noqa: ANN202
    try:
        return _InnerUnpickler(f, storage_pid, seen).load()
    except UnsafePickleError:
        raise
    except Exception as exc:  # any malformed inner pickle
        raise UnsafePickleError(f"tensor blob is corrupt ({type(exc).__name__}: {exc})") from None


def parse_storage_blob(blob: bytes, seen: set[str] | None = None) -> Storage:
    """Decode one legacy ``torch.save`` stream holding a single storage.

    ``seen`` (optional) collects the storage class names the blob used.
    """
    if not isinstance(blob, (bytes, bytearray)):
        raise UnsafePickleError("tensor blob is not a bytes object")
    f = io.BytesIO(blob)
    if _load_one(f) != LEGACY_MAGIC:
        raise UnsafePickleError("tensor blob has a wrong magic number")
    if _load_one(f) != LEGACY_PROTOCOL:
        raise UnsafePickleError("tensor blob has an unsupported protocol version")
    info = _load_one(f)
    if not isinstance(info, dict) or info.get("little_endian") is not True:
        raise UnsafePickleError("tensor blob is not little-endian or lacks its system info")
    pending = _load_one(f, storage_pid=True, seen=seen)
    if not isinstance(pending, _PendingStorage):
        raise UnsafePickleError("tensor blob does not hold a storage")
    keys = _load_one(f)
    if keys != [pending.key]:
        raise UnsafePickleError("tensor blob key list does not match its storage")
    header = f.read(8)
    if len(header) != 8:
        raise UnsafePickleError("tensor blob is truncated (no element count)")
    count = int(np.frombuffer(header, dtype="<i8")[0])
    if count != pending.numel:
        raise UnsafePickleError(f"tensor blob element count {count} does not match the storage size {pending.numel}")
    dtype = pending.kind.numpy_dtype
    start = f.tell()
    present = min(count, (len(blob) - start) // dtype.itemsize)  # never more than the bytes there
    data = np.frombuffer(blob, dtype=dtype, count=present, offset=start)
    return Storage(data, pending.kind.torch_dtype, declared=count)
