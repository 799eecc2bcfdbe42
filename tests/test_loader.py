"""Reading NVIDIA network pickles (written by our own writer from the fixtures) and the native format."""

from __future__ import annotations

import importlib.util
import json
import pickle
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file

from livegan import cli
from livegan.errors import LiveganError
from livegan.models.load import load_generator, read_network
from livegan.models.loading.architecture import architecture_shapes, check_kwargs, family_of
from livegan.models.loading.native import read_native, save_native
from livegan.models.loading.nvpkl import network_from_record, read_network_pickle
from livegan.models.loading.safe_pickle import record_globals, safe_load
from livegan.testing.nvpkl_writer import (
    FIXTURE_NAMES,
    WriteOptions,
    dumps,
    fixtures_dir,
    mini_network,
    storage_blob,
    tensor_ref,
    write_nvpkl,
)

FIX = fixtures_dir()
pytestmark = pytest.mark.skipif(not (FIX / "sg2_tiny.json").exists(), reason=f"fixtures not found at {FIX}")
HAVE_OFFICIAL = importlib.util.find_spec("livegan.models.official") is not None

# Fact sheet §3: exactly the globals of an official-format pickle (incl. the blob storage class).
OFFICIAL_GLOBALS = {
    "torch_utils.persistence._reconstruct_persistent_obj",
    "torch._utils._rebuild_parameter",
    "torch._utils._rebuild_tensor_v2",
    "torch.storage._load_from_bytes",
    "torch.FloatStorage",
    "collections.OrderedDict",
    "dnnlib.util.EasyDict",
    "numpy.core.multiarray.scalar",
    "numpy.dtype",
    "numpy.core.multiarray._reconstruct",
    "numpy.ndarray",
}


def _spec(name: str) -> dict:
    return json.loads((FIX / f"{name}.json").read_text())


def _untag(value):
    """Fixture JSON writes arrays as {'__ndarray__': list, 'dtype': ...}; the reader gives plain lists."""
    if isinstance(value, dict):
        return value["__ndarray__"] if "__ndarray__" in value else {k: _untag(v) for k, v in value.items()}
    return value


def expected_attrs(spec: dict) -> dict:
    return {
        ("" if path == "<root>" else path): {"class_name": entry["class_name"], "attributes": _untag(entry["attributes"])}
        for path, entry in spec["pickled_module_attributes"].items()
    }


def assert_matches_fixture(net, name: str) -> None:
    spec = _spec(name)
    ref = load_file(str(FIX / f"{name}.safetensors"))
    assert list(net.state_dict) == [t["name"] for t in spec["tensors"]]  # G_ema.state_dict() order
    for key, want in ref.items():
        got = net.state_dict[key]
        assert got.dtype == want.dtype and got.shape == want.shape, key
        assert torch.equal(got, want), key  # bit for bit
    assert net.kwargs == spec["init_kwargs"]
    assert net.attrs == expected_attrs(spec)


@pytest.fixture(scope="module")
def pickles(tmp_path_factory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("nvpkl")
    return {name: write_nvpkl(d / f"{name}.pkl", name) for name in FIXTURE_NAMES}


@pytest.mark.parametrize("name", FIXTURE_NAMES)
def test_pickle_state_kwargs_attrs_match_fixture(pickles, name):
    net = read_network_pickle(pickles[name])
    assert_matches_fixture(net, name)
    assert net.class_name == "Generator"
    assert net.module_src_chars > 0


def test_writer_emits_the_official_global_set_protocol_4(pickles):
    seen = set()
    for path in pickles.values():
        data = path.read_bytes()
        assert data[:2] == b"\x80\x04"
        seen |= record_globals(data)
    assert seen == OFFICIAL_GLOBALS


def test_g_ema_is_read_not_g(pickles):
    top = safe_load(pickles["sg2_tiny"].read_bytes())
    assert set(top) == {"G", "D", "G_ema", "augment_pipe", "training_set_kwargs"}
    g, g_ema = network_from_record(top["G"]), read_network_pickle(pickles["sg2_tiny"])
    assert g.state_dict.keys() == g_ema.state_dict.keys()
    assert not torch.equal(g.state_dict["mapping.fc0.weight"], g_ema.state_dict["mapping.fc0.weight"])
    assert top["augment_pipe"].class_name == "AugmentPipe"
    assert top["augment_pipe"].state["_buffers"]["p"].shape == ()


@pytest.mark.parametrize(
    "opts, extra_global",
    [
        (WriteOptions(only_g_ema=True), None),
        (WriteOptions(torch1_style=True), None),  # module dicts are OrderedDicts
        (WriteOptions(protocol=3), "builtins.set"),  # Python 3.7 writer
        (WriteOptions(numpy_core="numpy._core"), "numpy._core.multiarray.scalar"),  # numpy >= 2 writer
        (WriteOptions(easydict_module="dnnlib"), "dnnlib.EasyDict"),
    ],
    ids=["only_g_ema", "ordereddict_modules", "protocol3", "numpy2_names", "dnnlib_easydict"],
)
def test_writer_variants_read_the_same(tmp_path, opts, extra_global):
    name = "sg3r_tiny"  # has numpy arrays, numpy scalars, None buffers and EasyDict kwargs
    path = write_nvpkl(tmp_path / "v.pkl", name, opts)
    data = path.read_bytes()
    assert data[1] == opts.protocol
    if extra_global:
        assert extra_global in record_globals(data)
    if opts.only_g_ema:
        assert set(safe_load(data)) == {"G_ema"}
    if opts.torch1_style:
        assert type(safe_load(data)["G_ema"].state["_modules"]).__name__ == "OrderedDict"
    assert_matches_fixture(read_network_pickle(path), name)


def test_view_offset_and_strides_are_honoured():
    storage = np.arange(20, dtype=np.float32)
    blob = storage_blob(storage)
    # a transposed 3x4 view starting at element 2: element [i, j] = storage[2 + i + 3 j]
    ref = tensor_ref(storage, True, blob=blob, offset=2, size=(3, 4), stride=(1, 3))
    zero = tensor_ref(storage, False, blob=blob, offset=20, size=(0, 5), stride=(5, 1))
    net = network_from_record(safe_load(dumps(mini_network({"t": ref, "empty": zero})))["G_ema"])
    want = torch.tensor([[2 + i + 3 * j for j in range(4)] for i in range(3)], dtype=torch.float32)
    assert torch.equal(net.state_dict["t"], want)
    assert net.state_dict["t"].is_contiguous()
    assert net.state_dict["empty"].shape == (0, 5)
    assert net.kwargs == {"z_dim": 3, "mapping_kwargs": {"num_layers": 2}}
    assert type(net.kwargs["mapping_kwargs"]) is dict  # EasyDict stand-in flattened to a plain dict


def test_storage_types_other_than_float(tmp_path):
    half = np.linspace(-2, 2, 7, dtype=np.float16)
    longs = np.array([1, -5, 2**40], dtype=np.int64)
    top = mini_network({"h": tensor_ref(half, False), "l": tensor_ref(longs, False)})
    net = network_from_record(safe_load(dumps(top))["G_ema"])
    assert net.state_dict["h"].dtype == torch.float16 and torch.equal(net.state_dict["h"], torch.from_numpy(half))
    assert net.state_dict["l"].tolist() == longs.tolist()


def test_numpy_attributes_become_plain_python():
    top = mini_network(attributes={"gain": np.float64(0.25), "flag": np.bool_(True), "size": np.array([36, 36])})
    attrs = network_from_record(safe_load(dumps(top))["G_ema"]).attrs[""]["attributes"]
    assert attrs == {"gain": 0.25, "flag": True, "size": [36, 36]}
    assert type(attrs["gain"]) is float and type(attrs["flag"]) is bool and type(attrs["size"][0]) is int


# ---- native format ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["sg2ada_tiny_cond", "sg3t_tiny"])
def test_native_round_trip(pickles, tmp_path, name):
    out = save_native(tmp_path / f"{name}.safetensors", read_network_pickle(pickles[name]))
    back = read_native(out)
    assert_matches_fixture(back, name)
    assert back.extra["format"] == "livegan-native"
    assert not list(tmp_path.glob(".*tmp*"))  # atomic write left nothing behind


def test_native_refuses_foreign_or_broken_files(tmp_path):
    plain = tmp_path / "plain.safetensors"
    save_file({"a": torch.zeros(2)}, str(plain))
    with pytest.raises(LiveganError, match=r"plain\.safetensors: .*no 'livegan' config"):
        read_native(plain)
    bad = tmp_path / "bad.safetensors"
    save_file({"a": torch.zeros(2)}, str(bad), metadata={"livegan": json.dumps({"format": "livegan-native", "version": 99})})
    with pytest.raises(LiveganError, match="unsupported livegan-native version 99"):
        read_native(bad)
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"\xff" * 64)
    with pytest.raises(LiveganError, match=r"junk\.safetensors: not a valid safetensors file"):
        read_native(junk)


# ---- load_generator ----------------------------------------------------------------------------


def test_load_generator_specs_and_errors(tmp_path):
    gen = load_generator("builtin:3")
    assert gen.family == "builtin" and not gen.training
    assert all(not p.requires_grad for p in gen.parameters())
    with pytest.raises(LiveganError, match="seed 'x' is not an integer"):
        load_generator("builtin:x")
    with pytest.raises(LiveganError, match=r"nope\.pkl: no such model file"):
        load_generator(str(tmp_path / "nope.pkl"))
    (tmp_path / "m.onnx").write_bytes(b"x")
    with pytest.raises(LiveganError, match=r"m\.onnx: unknown model file type '\.onnx'"):
        read_network(tmp_path / "m.onnx")
    with pytest.raises(LiveganError, match="precision 'fp8'"):
        load_generator("builtin", precision="fp8")
    with pytest.raises(LiveganError, match="not a valid torch device"):
        load_generator("builtin", device="toaster")


def test_zip_archive_named_pkl_is_refused_clearly(tmp_path):
    path = tmp_path / "model.pkl"
    torch.save({"w": torch.zeros(1)}, path)
    with pytest.raises(LiveganError, match=r"model\.pkl: this is a torch\.save zip archive"):
        read_network_pickle(path)


def test_info_and_convert_cli_on_builtin(capsys):
    assert cli.main(["info", "builtin:2", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["family"] == "builtin" and info["format"] == "builtin"
    assert info["num_ws"] == len(info["layers"]) and info["params"] > 0
    assert cli.main(["info", "builtin:2"]) == 0
    text = capsys.readouterr().out
    assert "num_ws" in text and info["layers"][0]["name"] in text


# ---- end to end through the model code (once it exists) ------------------------------------------


def _reference_image(gen, name: str) -> tuple[torch.Tensor, torch.Tensor]:
    from livegan.models.base import NoiseSpec

    ref = np.load(FIX / f"{name}_reference.npz")
    z = torch.from_numpy(ref["z"])
    c = torch.from_numpy(ref["c"]) if "c" in ref.files else None
    with torch.no_grad():
        img = gen.synthesis(gen.mapping(z, c), noise=NoiseSpec("const"))
    return img, torch.from_numpy(ref["img_psi100_const"])


@pytest.mark.skipif(not HAVE_OFFICIAL, reason="livegan.models.official not written yet")
@pytest.mark.parametrize("name", FIXTURE_NAMES)
def test_images_from_pickle_and_converted_file_match_reference(pickles, tmp_path, name, capsys):
    torch.set_num_threads(1)
    out = tmp_path / f"{name}.safetensors"
    assert cli.main(["convert", str(pickles[name]), str(out)]) == 0
    assert f"wrote {out}" in capsys.readouterr().out
    for spec in (pickles[name], out):
        img, want = _reference_image(load_generator(str(spec)), name)
        assert img.shape == want.shape
        assert (img - want).abs().max().item() <= 1e-4, spec
    assert cli.main(["info", str(out), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["resolution"] == 32 and info["num_ws"] == _spec(name)["derived"]["num_ws"]
    assert info["params"] == _spec(name)["num_parameters"]


def test_convert_refuses_bad_names_without_writing(pickles, tmp_path, capsys):
    out = tmp_path / "o.bin"
    assert cli.main(["convert", str(pickles["sg2_tiny"]), str(out)]) == 2
    assert "must end in .safetensors" in capsys.readouterr().err
    assert not out.exists()
    existing = tmp_path / "x.safetensors"
    existing.write_bytes(b"keep")
    assert cli.main(["convert", str(pickles["sg2_tiny"]), str(existing)]) == 2
    assert "already exists" in capsys.readouterr().err
    assert existing.read_bytes() == b"keep"


def test_plain_pickle_of_our_file_would_need_nvidia_code(pickles):
    # Sanity check that the written file really is in NVIDIA's format: the standard
    # unpickler tries to import NVIDIA's persistence module (absent here).
    with pytest.raises(ModuleNotFoundError, match="torch_utils"):
        pickle.loads(pickles["sg2_tiny"].read_bytes())


# ---- the architecture a file's kwargs describe ------------------------------------------------------


@pytest.mark.parametrize("name", FIXTURE_NAMES)
@pytest.mark.parametrize("with_attrs", [True, False], ids=["attrs", "kwargs_only"])
def test_architecture_shapes_are_the_fixture_shapes(name, with_attrs):
    """The loader's computed shapes (checked before any array exists) are the official ones."""
    spec = _spec(name)
    want = {t["name"]: tuple(t["shape"]) for t in spec["tensors"]}
    family = family_of(want)
    attrs = spec["pickled_module_attributes"] if with_attrs else {}
    assert architecture_shapes(spec["init_kwargs"], attrs, family) == want


@pytest.mark.parametrize("family, kwargs", [
    ("stylegan2", dict(channel_base=512, channel_max=32, c_dim=3)),
    ("stylegan2", dict(channel_base=256, channel_max=16, use_noise=False, mapping_layers=3)),
    ("stylegan3-t", dict(channel_base=512, channel_max=32)),
    ("stylegan3-r", dict(channel_base=1024, channel_max=32, c_dim=2)),
])
def test_architecture_shapes_match_the_model_modules(family, kwargs):
    """The same layout as the model code's own modules, for settings the fixtures lack."""
    from livegan.models.official import model_config, official_state_dict, random_official

    model = random_official(family, 64, z_dim=16, w_dim=16, **kwargs)
    cfg = model_config(model)
    want = {k: tuple(t.shape) for k, t in official_state_dict(model).items()}
    for attrs in (cfg["attrs"], {}):
        assert architecture_shapes(cfg["init_kwargs"], attrs, family_of(want)) == want


@pytest.mark.parametrize("field, value, message", [
    ("img_resolution", 48, "G_ema._init_kwargs.img_resolution = 48 is out of range (a power of two from 4 to 4096)"),
    ("img_resolution", 8192, "img_resolution = 8192 is out of range"),
    ("w_dim", 5000, "G_ema._init_kwargs.w_dim = 5000 is out of range (1 to 4096)"),
    ("z_dim", "512", "G_ema._init_kwargs.z_dim = '512' is not an integer"),
    ("c_dim", 100_001, "c_dim = 100001 is out of range (0 to 100000)"),
    ("channel_max", 0, "channel_max = 0 is out of range (1 to 4096)"),
    ("conv_clamp", float("inf"), "conv_clamp = inf is not a finite number"),
    ("mapping_kwargs", {"num_layers": 65}, "G_ema._init_kwargs.mapping_kwargs.num_layers = 65 is out of range (1 to 64)"),
    ("mapping_kwargs", {"layer_features": 8192}, "mapping_kwargs.layer_features = 8192 is out of range (1 to 4096)"),
    ("synthesis_kwargs", {"channel_max": 1 << 13}, "synthesis_kwargs.channel_max = 8192 is out of range"),
])
def test_kwargs_beyond_what_trainers_write_are_refused(field, value, message):
    kwargs = dict(_spec("sg2_tiny")["init_kwargs"], **{field: value})
    with pytest.raises(LiveganError, match=re.escape(message)):
        check_kwargs(kwargs, "G_ema._init_kwargs")
