"""Writes NVIDIA-format StyleGAN network pickles from the pure-data fixtures.

NVIDIA's training code (``torch_utils``, ``dnnlib``, ``training``) is not importable
here and must not be, so the byte stream is produced by our own small pickler: stand-in
objects reference globals by module + name (:class:`GlobalRef`) without importing them.
The result has the structure of a real snapshot (fact sheet §1–§3): a dict of
persistence records whose tensors are ``_rebuild_tensor_v2(_load_from_bytes(blob), ...)``
with legacy ``torch.save`` blobs, and a placeholder ``module_src`` (no NVIDIA code).

:func:`write_nvpkl` writes a fixture (with :class:`WriteOptions` for the variants seen in
the wild), :func:`mini_network` / :func:`flat_snapshot` build small or full-size test
snapshots, and :func:`write_malicious` the hostile variants the security tests feed the loader.
"""

from __future__ import annotations

import collections
import io
import json
import os
import pickle
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from safetensors.numpy import load_file

PLACEHOLDER_SRC = "# placeholder module source written by livegan.testing.nvpkl_writer; never executed\n"
LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
HOOK_KEYS_NONE = ("_is_full_backward_hook",)  # torch stores None here, every other hook slot is an OrderedDict


def fixtures_dir() -> Path:
    """``$LIVEGAN_FIXTURES`` or ``<repo>/../shared/fixtures/stylegan``."""
    env = os.environ.get("LIVEGAN_FIXTURES")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[2].parent / "shared" / "fixtures" / "stylegan"


FIXTURE_NAMES = ("sg2_tiny", "sg2_tiny_cond", "sg3t_tiny", "sg3r_tiny", "sg2ada_tiny_cond")


# ---- stand-ins the pickler knows how to write ------------------------------------------


class GlobalRef:
    """A global referenced by name only; written as GLOBAL / STACK_GLOBAL."""

    _cache: dict[tuple[str, str], "GlobalRef"] = {}

    def __new__(cls, module: str, name: str) -> "GlobalRef":
        key = (module, name)
        if key not in cls._cache:  # one object per name, so the pickle memo shares it
            obj = super().__new__(cls)
            obj.module, obj.qualname = module, name
            cls._cache[key] = obj
        return cls._cache[key]

    def __call__(self, *args: Any, **kwargs: Any) -> Any:  # save_reduce requires a callable
        raise TypeError(f"{self.module}.{self.qualname} is only a reference")


@dataclass(eq=False)
class Reduce:
    """An object pickled as ``func(*args)`` followed by an optional BUILD ``state``."""

    func: GlobalRef
    args: tuple
    state: Any = None


class EasyDictStandIn(dict):
    """A dict written as ``<module>.EasyDict`` via NEWOBJ + SETITEMS, like the real one."""

    module = "dnnlib.util"


@dataclass(eq=False)
class _StoragePid:
    """The storage object inside a legacy blob, written as a persistent id."""

    storage_class: str
    numel: int


class NvPickler(pickle._Pickler):  # the pure-Python pickler lets us emit opcodes directly
    def save(self, obj: Any, save_persistent_id: bool = True) -> None:
        if isinstance(obj, GlobalRef):
            return self._save_ref(obj)
        if isinstance(obj, EasyDictStandIn):
            return self._save_easydict(obj)
        return super().save(obj, save_persistent_id)

    def persistent_id(self, obj: Any) -> Any:
        if isinstance(obj, _StoragePid):
            return ("storage", GlobalRef("torch", obj.storage_class), "0", "cpu", obj.numel, None)
        return None

    def reducer_override(self, obj: Any) -> Any:
        if isinstance(obj, Reduce):
            return (obj.func, obj.args) if obj.state is None else (obj.func, obj.args, obj.state)
        return NotImplemented

    def _memo_get(self, obj: Any) -> bool:
        hit = self.memo.get(id(obj))
        if hit is not None:
            self.write(self.get(hit[0]))
            return True
        return False

    def _save_ref(self, ref: GlobalRef) -> None:
        if self._memo_get(ref):
            return
        if self.proto >= 4:
            self.save(ref.module)
            self.save(ref.qualname)
            self.write(pickle.STACK_GLOBAL)
        else:
            self.write(pickle.GLOBAL + f"{ref.module}\n{ref.qualname}\n".encode("utf-8"))
        self.memoize(ref)

    def _save_easydict(self, obj: EasyDictStandIn) -> None:
        if self._memo_get(obj):
            return
        self.save(GlobalRef(obj.module, "EasyDict"))
        self.write(pickle.EMPTY_TUPLE + pickle.NEWOBJ)
        self.memoize(obj)
        self._batch_setitems(iter(obj.items()))


def dumps(obj: Any, protocol: int = 4) -> bytes:
    buf = io.BytesIO()
    NvPickler(buf, protocol).dump(obj)
    return buf.getvalue()


# ---- tensors ---------------------------------------------------------------------------

_STORAGE_CLASS = {"float32": "FloatStorage", "float64": "DoubleStorage", "float16": "HalfStorage", "int64": "LongStorage"}


def storage_blob(flat: np.ndarray, magic: Any = LEGACY_MAGIC, numel: int | None = None) -> bytes:
    """A legacy ``torch.save`` stream of one storage holding ``flat`` (1-D)."""
    flat = np.asarray(flat, order="C").reshape(-1)
    n = flat.size if numel is None else numel
    head = b"".join(
        dumps(part, protocol=2)
        for part in (
            magic,
            1001,
            {"protocol_version": 1001, "little_endian": True, "type_sizes": {"short": 2, "int": 4, "long": 4}},
            _StoragePid(_STORAGE_CLASS[flat.dtype.name], n),
            ["0"],
        )
    )
    return head + np.int64(n).astype("<i8").tobytes() + flat.astype(flat.dtype.newbyteorder("<")).tobytes()


def storage_ref(blob: bytes) -> Reduce:
    """``torch.storage._load_from_bytes(blob)``; one object pickles once and is shared through the memo."""
    return Reduce(GlobalRef("torch.storage", "_load_from_bytes"), (blob,))


def tensor_ref(
    value: np.ndarray,
    parameter: bool,
    blob: bytes | None = None,
    offset: int = 0,
    size: tuple[int, ...] | None = None,
    stride: tuple[int, ...] | None = None,
    storage: Reduce | None = None,
) -> Reduce:
    """``_rebuild_tensor_v2(_load_from_bytes(blob), offset, size, stride, ...)``, wrapped in a Parameter if asked.

    ``storage`` (a :func:`storage_ref`) makes several tensors share one storage.
    """
    value = np.asarray(value, order="C")  # (ascontiguousarray would turn 0-dim into 1-dim)
    if size is None:
        size = tuple(int(s) for s in value.shape)
    if stride is None:
        stride = tuple(int(s) // value.itemsize for s in value.strides)
    if storage is None:
        storage = storage_ref(blob if blob is not None else storage_blob(value))
    hooks = collections.OrderedDict()
    tensor = Reduce(GlobalRef("torch._utils", "_rebuild_tensor_v2"), (storage, offset, size, stride, False, hooks))
    if not parameter:
        return tensor
    return Reduce(GlobalRef("torch._utils", "_rebuild_parameter"), (tensor, False, collections.OrderedDict()))


# ---- module trees ----------------------------------------------------------------------


@dataclass
class WriteOptions:
    """Variants seen in the wild (fact sheet §10.7)."""

    protocol: int = 4  # 3 = Python 3.7 writer (builtins.set appears)
    torch1_style: bool = False  # module dicts as OrderedDict
    numpy_core: str = "numpy.core"  # "numpy._core" = numpy >= 2 writer
    easydict_module: str = "dnnlib.util"
    only_g_ema: bool = False
    module_src: str = PLACEHOLDER_SRC
    extra_top_level: dict[str, Any] = field(default_factory=dict)
    # For hostile variants: G/G_ema kwargs merged over the fixture's (one level into nested
    # dicts), and per-module attributes ('' = G_ema) set over the fixture's.
    kwargs_update: dict[str, Any] = field(default_factory=dict)
    attr_update: dict[str, dict[str, Any]] = field(default_factory=dict)


class _Tree:
    """Builds persistence records from a fixture's JSON + tensors."""

    def __init__(self, spec: dict, tensors: dict[str, np.ndarray], opts: WriteOptions, tensor_hook=None) -> None:
        self.spec, self.tensors, self.opts = spec, tensors, opts
        self.tensor_hook = tensor_hook  # (name, value, parameter) -> Reduce | None; for hostile variants
        self.kinds = {t["name"]: t["kind"] for t in spec["tensors"]}
        self.none_buffers = set(spec.get("none_valued_params_or_buffers", []))
        self.modules = spec["modules"]
        self.attrs = spec["pickled_module_attributes"]

    def _container(self) -> dict:
        return collections.OrderedDict() if self.opts.torch1_style else {}

    def numpy_value(self, value: Any, type_name: str) -> Any:
        core = self.opts.numpy_core
        if type_name == "numpy.ndarray":
            arr = np.asarray(value["__ndarray__"], dtype=value["dtype"])
            state = (1, arr.shape, arr.dtype, False, arr.tobytes())
            return Reduce(GlobalRef(f"{core}.multiarray", "_reconstruct"), (GlobalRef("numpy", "ndarray"), (0,), b"b"), state)
        dtype = {"numpy.float64": np.dtype("float64"), "numpy.bool_": np.dtype("bool"), "numpy.int64": np.dtype("int64")}[type_name]
        return Reduce(GlobalRef(f"{core}.multiarray", "scalar"), (dtype, np.asarray(value, dtype=dtype).tobytes()))

    def kwargs_value(self, value: Any, types: Any) -> Any:
        if isinstance(types, dict) and isinstance(value, dict):
            items = types.get("items", {})
            out = EasyDictStandIn() if types.get("__type__", "").endswith(".EasyDict") else {}
            if isinstance(out, EasyDictStandIn):
                out.module = self.opts.easydict_module
            for k, v in value.items():
                out[k] = self.kwargs_value(v, items.get(k))
            return out
        return value

    def record(self, path: str, perturb: bool = False) -> Reduce:
        key = path or "<root>"
        mod, attrs = self.modules[key], self.attrs[key]
        prefix = f"{path}." if path else ""
        params, buffers, children = self._container(), self._container(), self._container()
        for name in self.spec_tensor_names(prefix):
            leaf = name[len(prefix):]
            value = self.tensors[name]
            parameter = self.kinds[name] == "parameter"
            if perturb and parameter:
                value = (value * np.float32(1.1) + np.float32(0.01)).astype(value.dtype)
            ref = self.tensor_hook(name, value, parameter) if self.tensor_hook else None
            (params if parameter else buffers)[leaf] = ref or tensor_ref(value, parameter)
        for name in sorted(n for n in self.none_buffers if n.startswith(prefix) and "." not in n[len(prefix):]):
            buffers[name[len(prefix):]] = None
        for child in self.modules:
            if child != "<root>" and child.startswith(prefix) and "." not in child[len(prefix):]:
                children[child[len(prefix):]] = self.record(child, perturb)
        state: dict[str, Any] = {}
        for bk in attrs["torch_bookkeeping_keys"]:
            state[bk] = None if bk in HOOK_KEYS_NONE else collections.OrderedDict()
        state.update(training=False, _parameters=params, _buffers=buffers, _modules=children)
        state["_non_persistent_buffers_set"] = set()
        types = attrs["attribute_python_types"]
        for name, value in attrs["attributes"].items():
            type_name = types.get(name, "")
            if type_name.startswith("numpy."):
                value = self.numpy_value(value, type_name)
            elif type_name == "builtins.tuple":
                value = tuple(value)
            state[name] = value
        state.update(self.opts.attr_update.get(path, {}))
        state["_init_args"] = tuple(mod["init_args"])
        init_types = self.spec.get("init_kwargs_python_types") if not path else None
        init_kwargs = dict(mod["init_kwargs"])
        if not path:
            for key, value in self.opts.kwargs_update.items():
                old = init_kwargs.get(key)
                init_kwargs[key] = {**old, **value} if isinstance(old, dict) and isinstance(value, dict) else value
        state["_init_kwargs"] = self.kwargs_value(init_kwargs, init_types) if init_types else init_kwargs
        return persistent_record(attrs["class_name"], state, self.opts.module_src)

    def spec_tensor_names(self, prefix: str) -> list[str]:
        return [t["name"] for t in self.spec["tensors"] if t["name"].startswith(prefix) and "." not in t["name"][len(prefix):]]


def persistent_record(class_name: str, state: dict, module_src: str) -> Reduce:
    meta = {"type": "class", "version": 6, "module_src": module_src, "class_name": class_name, "state": state}
    return Reduce(GlobalRef("torch_utils.persistence", "_reconstruct_persistent_obj"), (meta,))


def _simple_record(class_name: str, tensors: dict[str, tuple[np.ndarray, bool]], src: str) -> Reduce:
    """A flat record (D, AugmentPipe): only the training-irrelevant parts a snapshot carries."""
    params, buffers = {}, {}
    for name, (value, parameter) in tensors.items():
        (params if parameter else buffers)[name] = tensor_ref(value, parameter)
    state = {"training": False, "_parameters": params, "_buffers": buffers, "_modules": {},
             "_non_persistent_buffers_set": set(), "_forward_hooks": collections.OrderedDict(),
             "_init_args": (), "_init_kwargs": {}}
    return persistent_record(class_name, state, src)


def mini_network(tensors: dict[str, Reduce] | None = None, attributes: dict[str, Any] | None = None) -> dict:
    """A tiny one-module ``{'G_ema': record}`` snapshot for unit tests of the reader."""
    if tensors is None:
        tensors = {
            "weight": tensor_ref(np.arange(6, dtype=np.float32).reshape(2, 3), True),
            "w_avg": tensor_ref(np.ones(3, dtype=np.float32), False),
        }
    state = {"training": False, "_parameters": {}, "_buffers": {}, "_modules": {},
             "_non_persistent_buffers_set": set(), "_init_args": (),
             "_init_kwargs": {"z_dim": 3, "mapping_kwargs": EasyDictStandIn(num_layers=2)}}
    for name, ref in tensors.items():
        parameter = ref.func.qualname == "_rebuild_parameter"
        state["_parameters" if parameter else "_buffers"][name] = ref
    state.update(attributes or {})
    return {"G_ema": persistent_record("Generator", state, PLACEHOLDER_SRC)}


def flat_snapshot(kwargs: dict, state_dict: dict[str, np.ndarray], attrs: dict[str, dict] | None = None,
                  d_params: int = 0) -> dict:
    """A snapshot whose G and G_ema hold ``state_dict`` flat (dotted names) in one record.

    The reader does not care where in the module tree a tensor sits, so this is enough
    to produce full-size files (benchmarks) from any model's official state dict. ``attrs``
    of the root ('' key) become the root's attributes. ``d_params``: size of a fake D.
    """
    def record(perturb: bool) -> Reduce:
        params = {}
        for name, value in state_dict.items():
            params[name] = tensor_ref(value * np.float32(1.01) if perturb else value, True)
        root = dict((attrs or {}).get("", {}).get("attributes", {}))
        state = {"training": False, "_parameters": params, "_buffers": {}, "_modules": {},
                 "_non_persistent_buffers_set": set(), "_init_args": (),
                 "_init_kwargs": {k: EasyDictStandIn(v) if isinstance(v, dict) else v for k, v in kwargs.items()},
                 **root}
        return persistent_record("Generator", state, PLACEHOLDER_SRC)

    top: dict[str, Any] = {"G": record(True), "G_ema": record(False)}
    if d_params:
        d = np.random.default_rng(0).standard_normal(d_params, dtype=np.float32)
        top["D"] = _simple_record("Discriminator", {"flat.weight": (d, True)}, PLACEHOLDER_SRC)
    top["augment_pipe"], top["training_set_kwargs"] = None, {"resolution": 0}
    return top


def load_fixture(name: str, directory: Path | None = None) -> tuple[dict, dict[str, np.ndarray]]:
    base = directory or fixtures_dir()
    spec = json.loads((base / f"{name}.json").read_text())
    return spec, load_file(str(base / f"{name}.safetensors"))


def snapshot(name: str, opts: WriteOptions | None = None, tensor_hook=None, directory: Path | None = None) -> dict:
    """The top-level dict of a snapshot for fixture ``name`` (stand-ins, ready for :func:`dumps`)."""
    opts = opts or WriteOptions()
    spec, tensors = load_fixture(name, directory)
    tree = _Tree(spec, tensors, opts, tensor_hook)
    rng = np.random.default_rng(0)
    parts: dict[str, Any] = {
        "G": tree.record("", perturb=True),
        "D": _simple_record("Discriminator", {
            "b32.fromrgb.weight": (rng.standard_normal((8, 3, 1, 1), dtype=np.float32), True),
            "b4.out.bias": (rng.standard_normal(1, dtype=np.float32), True),
        }, PLACEHOLDER_SRC + "# discriminator\n"),
        "G_ema": tree.record(""),
        "augment_pipe": None,
        "training_set_kwargs": dict(spec["training_set_kwargs"]),
    }
    if spec["pickle_top_level_types"].get("augment_pipe"):
        parts["augment_pipe"] = _simple_record("AugmentPipe", {
            "p": (np.zeros((), np.float32), False),
            "Hz_geom": (rng.standard_normal(12, dtype=np.float32), False),
            "Hz_fbank": (rng.standard_normal((4, 16), dtype=np.float32), False),
        }, PLACEHOLDER_SRC + "# augment\n")
    if opts.only_g_ema:
        return {"G_ema": parts["G_ema"], **opts.extra_top_level}
    out = {**opts.extra_top_level}
    out.update((k, parts[k]) for k in spec["pickle_top_level_keys"])
    return out


def write_nvpkl(path: Path | str, name: str, opts: WriteOptions | None = None, directory: Path | None = None) -> Path:
    """Write fixture ``name`` as an NVIDIA-format network pickle at ``path``."""
    opts = opts or WriteOptions()
    data = dumps(snapshot(name, opts, directory=directory), opts.protocol)
    Path(path).write_bytes(data)
    return Path(path)


# ---- hostile variants --------------------------------------------------------------------

MALICIOUS_KINDS = (
    "os_system", "subprocess_popen", "eval", "exec", "module_src", "nested_blob",
    "view_oob", "absurd_size", "truncated", "not_pickle", "no_g_ema",
    # resource bombs: small files whose records claim gigabytes
    "stride_bomb", "overlap_bomb", "storage_short", "shared_storage", "shape_mismatch",
    "kwargs_huge", "kwargs_resolution", "kwargs_channels", "kwargs_zdim", "kwargs_mapping", "kwargs_classes",
    "layer_names_bomb", "attr_text_bomb",
)
BOMB_SHAPE = (32768, 65536)  # 2**31 float32 elements: 8.6 GB if anything ever copied the view
BOMB_STORAGE = 196_608  # 768 kB of float32 really present (the whole file: 3 MB)
# Constructor kwargs out of what NVIDIA's trainers write (or in range, but huge), per kind.
KWARGS_KINDS: dict[str, dict[str, Any]] = {
    "kwargs_huge": {"img_resolution": 4096, "channel_base": 1 << 20, "channel_max": 4096},
    "kwargs_resolution": {"img_resolution": 3000},
    "kwargs_channels": {"channel_max": 1 << 16},
    "kwargs_zdim": {"z_dim": 1 << 20},
    "kwargs_mapping": {"mapping_kwargs": {"num_layers": 10**6}},
    "kwargs_classes": {"c_dim": 10**9},
}


def _payload(kind: str, marker: str) -> Reduce:
    create = f"open({marker!r}, 'w').close()"
    return {
        "os_system": Reduce(GlobalRef("posix", "system"), (f"touch '{marker}'",)),
        "subprocess_popen": Reduce(GlobalRef("subprocess", "Popen"), (["touch", marker],)),
        "eval": Reduce(GlobalRef("builtins", "eval"), (create,)),
        "exec": Reduce(GlobalRef("builtins", "exec"), (create,)),
    }[kind]


def write_malicious(path: Path | str, kind: str, marker: Path | str, name: str = "sg2_tiny") -> Path:
    """Write a hostile pickle of ``kind`` (see MALICIOUS_KINDS); its payload would create ``marker``."""
    path, marker = Path(path), str(marker)
    first_tensor: list[str] = []

    def once(tensor_name: str) -> bool:  # tamper with the first tensor only
        if first_tensor:
            return tensor_name == first_tensor[0]
        first_tensor.append(tensor_name)
        return True

    hook = None
    opts = WriteOptions()
    if kind in ("os_system", "subprocess_popen", "eval", "exec"):
        # First in the stream, so a plain pickle.load would run it before failing elsewhere.
        opts.extra_top_level = {"metadata": {"note": _payload(kind, marker)}}
    elif kind == "module_src":
        opts.module_src = f"open({marker!r}, 'w').close()\n"
    elif kind == "nested_blob":
        magic = Reduce(GlobalRef("builtins", "eval"), (f"open({marker!r}, 'w').close() or {LEGACY_MAGIC}",))

        def hook(n, value, parameter):  # noqa: ANN001, ANN202
            return tensor_ref(value, parameter, blob=storage_blob(value, magic=magic)) if once(n) else None
    elif kind == "view_oob":
        def hook(n, value, parameter):  # noqa: ANN001, ANN202
            return tensor_ref(value, parameter, offset=value.size) if once(n) else None
    elif kind == "absurd_size":
        def hook(n, value, parameter):  # noqa: ANN001, ANN202
            return tensor_ref(value, parameter, size=(2**20, 2**20, 4), stride=(0, 0, 0)) if once(n) else None
    elif kind in ("stride_bomb", "overlap_bomb"):
        big = storage_blob(np.zeros(BOMB_STORAGE, np.float32))
        stride = (0, 0) if kind == "stride_bomb" else (1, 1)

        def hook(n, value, parameter):  # noqa: ANN001, ANN202
            return tensor_ref(value, parameter, blob=big, size=BOMB_SHAPE, stride=stride) if once(n) else None
    elif kind == "storage_short":
        def hook(n, value, parameter):  # noqa: ANN001, ANN202 - claims 1 GiB, holds the real bytes only
            return tensor_ref(value, parameter, blob=storage_blob(value, numel=2**28)) if once(n) else None
    elif kind == "shared_storage":
        shared = storage_ref(storage_blob(np.zeros(65_536, np.float32)))

        def hook(n, value, parameter):  # noqa: ANN001, ANN202 - every tensor a view of one storage
            return tensor_ref(value, parameter, storage=shared)
    elif kind == "shape_mismatch":
        def hook(n, value, parameter):  # noqa: ANN001, ANN202 - a valid view, but not the shape the net needs
            return tensor_ref(value, parameter, size=(value.size // 2, 2), stride=(2, 1)) if once(n) else None
    elif kind in KWARGS_KINDS:
        opts.kwargs_update = KWARGS_KINDS[kind]
        if kind == "kwargs_huge":  # attributes agree with the kwargs: only the tensors give it away
            opts.attr_update = {"": {"num_ws": 22}}
    elif kind == "layer_names_bomb":
        opts.attr_update = {"synthesis": {"layer_names": [f"L{i}" for i in range(100_000)]}}
    elif kind == "attr_text_bomb":
        opts.attr_update = {"": {"note": ["x" * 1_000_000] * 64}}  # one string, 64 references
    elif kind == "not_pickle":
        path.write_text("this is a text file, not a network pickle\n")
        return path
    elif kind not in ("truncated", "no_g_ema"):
        raise ValueError(f"unknown malicious kind {kind!r}")
    top = snapshot(name, opts, tensor_hook=hook)
    if kind == "no_g_ema":
        top.pop("G_ema")
    data = dumps(top, opts.protocol)
    if kind == "truncated":
        data = data[: len(data) // 2]
    path.write_bytes(data)
    return path
