"""Hostile model files: each is refused with one clear line (exit 2) and its payload never runs."""

from __future__ import annotations

import json
import os
import re
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from livegan import cli
from livegan.errors import LiveganError
from livegan.models.loading.nvpkl import network_from_record, read_network_pickle
from livegan.models.loading.safe_pickle import rebuild_tensor, safe_load
from livegan.models.loading.torch_blob import Storage, UnsafePickleError, parse_storage_blob
from livegan.testing.hostile_models import (
    NATIVE_CASES,
    PICKLE_CASES,
    HostileCase,
    measure_cli,
    write_corpus,
)
from livegan.testing.nvpkl_writer import (
    LEGACY_MAGIC,
    GlobalRef,
    Reduce,
    dumps,
    fixtures_dir,
    mini_network,
    storage_blob,
    storage_ref,
    tensor_ref,
    write_malicious,
    write_nvpkl,
    WriteOptions,
)

pytestmark = pytest.mark.skipif(not (fixtures_dir() / "sg2_tiny.json").exists(), reason="fixtures not found")
REPO = Path(__file__).resolve().parents[1]

MEASURE = [sys.executable, "-m", "livegan"]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> dict[str, HostileCase]:
    d = tmp_path_factory.mktemp("hostile")
    return {c.name: c for c in write_corpus(d, d / "pwned")}


@pytest.mark.parametrize("kind", sorted(PICKLE_CASES) + sorted(NATIVE_CASES))
def test_hostile_file_is_refused_by_livegan_info(corpus, capsys, kind):
    case = corpus[kind]
    assert cli.main(["info", str(case.path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"livegan: error: {case.path}: "), err
    assert case.fragment in err, err
    assert not (case.path.parent / "pwned").exists()


def test_hostile_files_cost_bounded_memory(tmp_path):
    """Every case refused in a fresh process; the peak memory each refusal adds is measured
    (VmHWM). The bombs claim 1-8 GB: a few MB means nothing was allocated from the claims."""
    proc = subprocess.run([sys.executable, "-m", "livegan.testing.hostile_models", str(tmp_path)],
                          capture_output=True, text=True, env=dict(os.environ, PYTHONPATH=str(REPO)), timeout=300)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    rows = {r["case"]: r for r in result["rows"]}
    assert set(rows) == set(PICKLE_CASES) | set(NATIVE_CASES)
    for name, row in rows.items():
        assert row["exit"] == 2 and row["stderr"].count("\n") == 1, row
        assert row["added_mb"] < 64, row  # generous: the allocator's own slack, never a claimed tensor
    assert not result["marker_exists"]


@pytest.mark.parametrize("kind", ["stride_bomb", "st_shape_bomb"])
def test_bomb_through_the_cli_process(corpus, kind):
    """The 3 MB file whose tensor claims 2**31 elements (8.6 GB), as a user would meet it."""
    (row,) = measure_cli([corpus[kind]], MEASURE)
    assert row["exit"] == 2
    assert row["stderr"].splitlines() == [f"livegan: error: {corpus[kind].path}: {corpus[kind].fragment}"]
    assert row["peak_rss_mb"] < 1024, row  # python + torch is ~250 MB; the claim alone would be 8600


def test_convert_refuses_a_bomb_and_writes_nothing(corpus, tmp_path, capsys):
    out = tmp_path / "out.safetensors"
    assert cli.main(["convert", str(corpus["stride_bomb"].path), str(out)]) == 2
    assert corpus["stride_bomb"].fragment in capsys.readouterr().err
    assert not out.exists() and not list(tmp_path.iterdir())


def test_module_src_is_never_executed(tmp_path, capsys):
    marker = tmp_path / "pwned"
    path = write_malicious(tmp_path / "src.pkl", "module_src", marker)
    top = safe_load(path.read_bytes())
    assert top["G_ema"].module_src_chars == len(f"open({str(marker)!r}, 'w').close()\n")
    net = read_network_pickle(path)  # a valid file otherwise: loads, but its code never runs
    assert "mapping.fc0.weight" in net.state_dict
    assert cli.main(["info", str(path)]) == 0
    assert "stylegan2" in capsys.readouterr().out
    assert not marker.exists()


def test_payloads_are_real(tmp_path):
    """Positive controls: the same bytes DO run code under a plain unpickler / torch's blob loader."""
    marker = tmp_path / "pwned"
    path = write_malicious(tmp_path / "eval.pkl", "eval", marker)
    with pytest.raises(ModuleNotFoundError):  # runs the payload first, then trips on NVIDIA's module
        pickle.loads(path.read_bytes())
    assert marker.exists()
    marker.unlink()
    payload = Reduce(GlobalRef("builtins", "eval"), (f"open({str(marker)!r}, 'w').close() or {LEGACY_MAGIC}",))
    blob = storage_blob(np.zeros(2, np.float32), magic=payload)
    torch.storage._load_from_bytes(blob)  # NVIDIA's own path: torch.load(weights_only=False)
    assert marker.exists()
    marker.unlink()
    with pytest.raises(UnsafePickleError, match="builtins.eval"):
        parse_storage_blob(blob)
    assert not marker.exists()


def test_cli_process_exits_2_with_one_line(tmp_path):
    marker = tmp_path / "pwned"
    path = write_malicious(tmp_path / "popen.pkl", "subprocess_popen", marker)
    env = dict(os.environ, PYTHONPATH=str(REPO))
    proc = subprocess.run([sys.executable, "-m", "livegan", "info", str(path)], capture_output=True, text=True,
                          env=env, timeout=120)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [f"livegan: error: {path}: {PICKLE_CASES['subprocess_popen']} "
                                                "(not a tensor, array or StyleGAN record)"]
    assert not marker.exists()


# ---- unit-level refusals -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "obj, fragment",
    [
        (os.system, "posix.system"),
        (getattr, "builtins.getattr"),
        (np.array([1, "a"], dtype=object), "refused numpy dtype"),
        (np.dtype("O"), "refused numpy dtype dtype('O')"),
        (torch.nn.Linear, "torch.nn.modules.linear.Linear"),
        (torch.Size([1, 2]), "torch.Size"),
    ],
    ids=["os.system", "getattr", "object_array", "object_dtype", "torch_module", "torch_size"],
)
def test_standard_pickles_of_dangerous_things_are_refused(obj, fragment):
    with pytest.raises(UnsafePickleError, match=re.escape(fragment)):
        safe_load(pickle.dumps({"G_ema": obj}, protocol=4))


def _read_mini(top: dict) -> None:
    network_from_record(safe_load(dumps(top))["G_ema"])


def test_blob_claiming_more_elements_than_present():
    blob = storage_blob(np.zeros(4, np.float32), numel=2**40)
    with pytest.raises(UnsafePickleError, match=re.escape(
            "tensor 'w': its storage declares 1099511627776 elements (4398046511104 bytes) but the file holds "
            "only 16 of those bytes")):
        _read_mini(mini_network({"w": tensor_ref(np.zeros(4, np.float32), True, blob=blob)}))


def test_blob_with_missing_data_bytes():
    blob = storage_blob(np.zeros(8, np.float32))[:-4]
    with pytest.raises(UnsafePickleError, match=re.escape(
            "tensor 'w': its storage declares 8 elements (32 bytes) but the file holds only 28 of those bytes")):
        _read_mini(mini_network({"w": tensor_ref(np.zeros(8, np.float32), True, blob=blob)}))


@pytest.mark.parametrize(
    "offset, size, stride, fragment",
    [(0, (3, 3), (3, 1), "outside its storage"), (1, (8,), (1,), "outside its storage"),
     (9, (0,), (1,), "outside its storage"), (0, (2, 2), (0, 8), "zero or negative strides"),
     (0, (2,), (-1,), "zero or negative strides"), (0, (2, 3), (1, 1), "elements overlap"),
     (0, (3, 2), (2, 3), "elements overlap")],
    ids=["too_big", "offset_past_end", "empty_past_end", "zero_stride", "negative_stride", "overlap",
         "interleaved"],
)
def test_views_no_weights_file_holds_are_refused(offset, size, stride, fragment):
    value = np.zeros(8, np.float32)
    ref = tensor_ref(value, False, offset=offset, size=size, stride=stride)
    with pytest.raises(UnsafePickleError, match=f"tensor 'w': .*{fragment}"):
        _read_mini(mini_network({"w": ref}))


def test_views_sharing_one_storage_cannot_multiply_it():
    """Each view is a valid layout inside the storage, but together they hold more than the file."""
    blob = storage_blob(np.arange(6, dtype=np.float32))
    shared = storage_ref(blob)
    refs = {f"w{i}": tensor_ref(np.zeros(6, np.float32), False, storage=shared) for i in range(3)}
    with pytest.raises(UnsafePickleError, match="the tensors hold 18 elements but their storages only 6"):
        _read_mini(mini_network(refs))


def test_persistent_ids_and_non_record_modules_are_refused():
    class WithPid(pickle.Pickler):
        def persistent_id(self, obj):  # noqa: ANN001, ANN201
            return "x" if obj == "secret" else None

    import io

    buf = io.BytesIO()
    WithPid(buf, protocol=4).dump({"G_ema": "secret"})
    with pytest.raises(UnsafePickleError, match="unexpected persistent id"):
        safe_load(buf.getvalue())
    top = mini_network()
    top["G_ema"].args[0]["state"]["_modules"] = {"evil": {"not": "a record"}}
    with pytest.raises(UnsafePickleError, match="sub-module 'evil' is not a StyleGAN record"):
        _read_mini(top)


def test_fuzzed_files_only_ever_raise_livegan_error(tmp_path):
    """Corrupted bytes must give a LiveganError (or load), never another exception or a hang."""
    base = write_nvpkl(tmp_path / "base.pkl", "sg3r_tiny", WriteOptions(only_g_ema=True)).read_bytes()
    rng = np.random.default_rng(1234)
    path = tmp_path / "fuzz.pkl"
    outcomes = {"ok": 0, "refused": 0}
    for _ in range(300):
        data = bytearray(base)
        for pos in rng.integers(0, len(data), size=int(rng.integers(1, 4))):
            data[pos] = int(rng.integers(0, 256))
        if rng.random() < 0.2:
            data = data[: int(rng.integers(1, len(data)))]
        path.write_bytes(bytes(data))
        try:
            read_network_pickle(path)
            outcomes["ok"] += 1
        except LiveganError as exc:
            assert "\n" not in str(exc) and str(path) in str(exc)
            outcomes["refused"] += 1
    assert outcomes["refused"] > 0 and outcomes["ok"] > 0


def test_dtype_state_cannot_smuggle_fields_or_touch_numpy_globals():
    # numpy.dtype('f8') followed by a BUILD that adds an object field
    evil_dtype = Reduce(GlobalRef("numpy", "dtype"), ("f8", False, True),
                        (3, "<", None, ("a",), {"a": (np.dtype("f8"), 0)}, 8, 1, 0))
    scalar = Reduce(GlobalRef("numpy.core.multiarray", "scalar"), (evil_dtype, b"\0" * 8))
    with pytest.raises(UnsafePickleError, match="refused numpy dtype"):
        safe_load(dumps({"G_ema": scalar}))
    assert np.dtype("f8").names is None and np.dtype("f8").fields is None


def _nested(size: tuple[int, ...], stride: tuple[int, ...]) -> bool:
    """Dims of size > 1 taken by increasing stride: each stride clears the extent of the smaller ones."""
    reach = 1
    for st, s in sorted((st, s) for s, st in zip(size, stride) if s > 1):
        if st < reach:
            return False
        reach = st * s
    return True


@settings(max_examples=150, deadline=None)
@given(
    numel=st.integers(0, 24),
    offset=st.integers(0, 30),
    dims=st.lists(st.tuples(st.integers(0, 5), st.integers(0, 9)), max_size=3),
)
def test_view_check_matches_brute_force(numel, offset, dims):
    """Accepted exactly when every element lies in the storage, once, in a nested layout
    (what torch writes); the values are those indexed by hand."""
    storage = Storage(np.arange(numel, dtype=np.float32), torch.float32)
    size, stride = tuple(d[0] for d in dims), tuple(d[1] for d in dims)
    indices = [offset + sum(i * s for i, s in zip(idx, stride)) for idx in np.ndindex(*size)]
    inside = all(i < numel for i in indices) and offset <= numel
    valid = inside and len(set(indices)) == len(indices) and _nested(size, stride)
    view = rebuild_tensor(storage, offset, size, stride)
    try:
        tensor = view.materialize()
    except UnsafePickleError:
        assert not valid
        return
    assert valid
    assert tensor.reshape(-1).tolist() == [float(i) for i in indices]


def test_build_cannot_rewrite_a_checked_view():
    """A BUILD opcode after _rebuild_tensor_v2 must not move the view outside its storage."""
    ref = tensor_ref(np.zeros(4, np.float32), False)
    evil = Reduce(ref.func, ref.args, state={"offset": 10**12, "shape": (10**6,)})
    with pytest.raises(UnsafePickleError, match="tried to modify a TensorView"):
        _read_mini(mini_network({"w": evil}))
