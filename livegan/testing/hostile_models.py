"""The hostile and broken model files livegan must refuse cheaply, one line each.

:func:`write_corpus` writes every case into a folder: NVIDIA-style pickles built by
:mod:`nvpkl_writer` (code payloads, stride/shape/storage bombs, kwargs beyond what
NVIDIA's trainers write) and livegan ``.safetensors`` files with doctored headers. The
security tests run ``livegan info`` on each in a subprocess and bound its peak memory;
``tools/bench_hostile.py`` times them for the table in ``bench/results``.
"""

from __future__ import annotations

import contextlib
import io
import json
import struct
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from .nvpkl_writer import BOMB_SHAPE, write_malicious, write_nvpkl

# pickle kind -> a fragment of its one-line refusal
PICKLE_CASES: dict[str, str] = {
    "os_system": "refused to load global 'posix.system' (not a tensor, array or StyleGAN record)",
    "subprocess_popen": "refused to load global 'subprocess.Popen'",
    "eval": "refused to load global 'builtins.eval'",
    "exec": "refused to load global 'builtins.exec'",
    "nested_blob": "tensor blob: refused to load global 'builtins.eval'",
    "view_oob": "tensor 'synthesis.b4.const': view (offset 1024, shape [64, 4, 4], strides [16, 4, 1]) reaches outside "
                "its storage of 1024 elements",
    "absurd_size": "tensor 'synthesis.b4.const': shape [1048576, 1048576, 4] has 4398046511104 elements "
                   "(limit 2147483648)",
    "truncated": "not a valid network pickle (truncated or corrupt",
    "not_pickle": "not a network pickle",
    "no_g_ema": "no 'G_ema' generator in the pickle",
    "stride_bomb": f"tensor 'synthesis.b4.const': shape {list(BOMB_SHAPE)} with strides [0, 0]: zero or negative "
                   "strides are not allowed",
    "overlap_bomb": f"tensor 'synthesis.b4.const': shape {list(BOMB_SHAPE)} with strides [1, 1]: elements overlap "
                    "(not a dense layout)",
    "storage_short": "tensor 'synthesis.b4.const': its storage declares 268435456 elements (1073741824 bytes) but "
                     "the file holds only 4096 of those bytes",
    "shared_storage": "elements but their storages only 65536 (tensors share their data)",
    "shape_mismatch": "tensor 'synthesis.b4.const' has shape [512, 2] but the stylegan2 network of "
                      "G_ema._init_kwargs needs [64, 4, 4]",
    "kwargs_huge": "tensor 'synthesis.b4.const' has shape [64, 4, 4] but the stylegan2 network of "
                   "G_ema._init_kwargs needs [4096, 4, 4]",
    "kwargs_resolution": "G_ema._init_kwargs.img_resolution = 3000 is out of range (a power of two from 4 to 4096)",
    "kwargs_channels": "G_ema._init_kwargs.channel_max = 65536 is out of range (1 to 4096)",
    "kwargs_zdim": "G_ema._init_kwargs.z_dim = 1048576 is out of range (0 to 4096)",
    "kwargs_mapping": "G_ema._init_kwargs.mapping_kwargs.num_layers = 1000000 is out of range (1 to 64)",
    "kwargs_classes": "G_ema._init_kwargs.c_dim = 1000000000 is out of range (0 to 100000)",
    "layer_names_bomb": "G_ema.synthesis.layer_names has 100000 entries (limit 65)",
    "attr_text_bomb": "G_ema.note: attribute text too long (limit 16000000 characters)",
}
SG3_KINDS = ("layer_names_bomb",)

# safetensors case -> a fragment of its one-line refusal
NATIVE_CASES: dict[str, str] = {
    "st_header_bomb": "not a valid safetensors file (header claims 1099511627776 bytes; limit 4194304",
    "st_shape_bomb": f"tensor 'mapping.fc0.weight': shape {list(BOMB_SHAPE)} F32 needs 8589934592 bytes but "
                     "data_offsets span 16384",
    "st_past_end": "tensor 'mapping.w_avg': data ends at byte 1099511661056 but the file holds",
    "st_overlap": "overlaps the data of tensor",
    "st_kwargs": "config kwargs.channel_max = 65536 is out of range (1 to 4096)",
    "st_kwargs_huge": "tensor 'synthesis.b4.const' has shape [64, 4, 4] but the stylegan2 network of config kwargs "
                      "needs [4096, 4, 4]",
    "st_config_bomb": "'livegan' metadata is 3000000 characters (limit 2097152)",
}


@dataclass(frozen=True)
class HostileCase:
    name: str
    path: Path
    fragment: str  # what the one-line refusal must contain


def _native_parts(path: Path) -> tuple[dict, bytes]:
    raw = path.read_bytes()
    n = struct.unpack("<Q", raw[:8])[0]
    return json.loads(raw[8:8 + n]), raw[8 + n:]


def _write_native(path: Path, header: dict, data: bytes, header_len: int | None = None) -> Path:
    text = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(text) if header_len is None else header_len) + text + data)
    return path


def _native_case(kind: str, good: Path, out: Path) -> Path:
    header, data = _native_parts(good)
    config = json.loads(header["__metadata__"]["livegan"])
    if kind == "st_header_bomb":
        return _write_native(out, header, data, header_len=1 << 40)
    if kind == "st_shape_bomb":
        header["mapping.fc0.weight"]["shape"] = list(BOMB_SHAPE)
    elif kind == "st_past_end":
        begin = header["mapping.w_avg"]["data_offsets"][0]
        header["mapping.w_avg"].update(shape=[1 << 38], data_offsets=[begin, begin + (1 << 40)])
    elif kind == "st_overlap":
        header["mapping.fc0.bias"]["data_offsets"] = list(header["mapping.fc1.bias"]["data_offsets"])
    elif kind == "st_kwargs":
        config["kwargs"]["channel_max"] = 1 << 16
    elif kind == "st_kwargs_huge":
        config["kwargs"].update(img_resolution=4096, channel_base=1 << 20, channel_max=4096)
        config["attrs"][""]["attributes"]["num_ws"] = 22
    elif kind != "st_config_bomb":
        raise ValueError(f"unknown native case {kind!r}")
    header["__metadata__"]["livegan"] = json.dumps(config)
    if kind == "st_config_bomb":  # still valid JSON: trailing blanks
        header["__metadata__"]["livegan"] = header["__metadata__"]["livegan"].ljust(3_000_000)
    return _write_native(out, header, data)


def write_corpus(directory: Path, marker: Path) -> list[HostileCase]:
    """Write every hostile case into ``directory``; a payload that ran would create ``marker``."""
    from ..models.loading.native import save_native  # noqa: PLC0415 - torch; only when building files
    from ..models.loading.nvpkl import read_network_pickle  # noqa: PLC0415

    directory.mkdir(parents=True, exist_ok=True)
    cases = []
    for kind, fragment in PICKLE_CASES.items():
        name = "sg3t_tiny" if kind in SG3_KINDS else "sg2_tiny"
        path = write_malicious(directory / f"{kind}.pkl", kind, marker, name=name)
        cases.append(HostileCase(kind, path, fragment))
    good = save_native(directory / "good.safetensors",
                       read_network_pickle(write_nvpkl(directory / "good.pkl", "sg2_tiny")))
    for kind, fragment in NATIVE_CASES.items():
        cases.append(HostileCase(kind, _native_case(kind, good, directory / f"{kind}.safetensors"), fragment))
    return cases


# ---- measuring refusals -------------------------------------------------------------------


def _peak_kb() -> int:
    """This process's peak resident memory since the last :func:`_reset_peak` (Linux VmHWM)."""
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmHWM:"))


def _reset_peak() -> None:
    with open("/proc/self/clear_refs", "w") as f:  # "5": reset the peak RSS to the current RSS
        f.write("5")


def measure_in_process(cases: list[HostileCase], warm_up: Path | None = None) -> list[dict]:
    """``livegan info`` on each case inside this process: exit code, stderr, wall time, and
    the peak resident memory the refusal added to the process (``peak_mb - base_mb``)."""
    from .. import cli  # noqa: PLC0415

    if warm_up is not None:  # a good file first, so lazily imported model code is not billed to a case
        with contextlib.redirect_stdout(io.StringIO()):
            cli.main(["info", str(warm_up)])
    rows = []
    for case in cases:
        _reset_peak()
        base = _peak_kb()
        err = io.StringIO()
        t0 = time.perf_counter()
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            code = cli.main(["info", str(case.path)])
        wall = time.perf_counter() - t0
        peak = _peak_kb()
        rows.append({"case": case.name, "exit": code, "wall_s": round(wall, 4), "base_mb": round(base / 1024, 1),
                     "peak_mb": round(peak / 1024, 1), "added_mb": round((peak - base) / 1024, 1),
                     "stderr": err.getvalue()})
    return rows


# Runs a command and reports its own peak RSS. Linux carries a process's peak RSS across fork and
# exec, so a child of a large process (pytest, a benchmark holding models) would report at least
# its parent's size; started from this small launcher, the child's figure is its own.
_LAUNCHER = """
import json, os, sys, time
t0 = time.perf_counter()
pid = os.fork()
if pid == 0:
    os.execvp(sys.argv[1], sys.argv[1:])
_, status, usage = os.wait4(pid, 0)
print(json.dumps({"exit": os.waitstatus_to_exitcode(status), "wall_s": time.perf_counter() - t0,
                  "peak_rss_kb": usage.ru_maxrss}))
"""


def measure_cli(cases: list[HostileCase], command: list[str]) -> list[dict]:
    """``command + ['info', path]`` as a new process per case: exit code, stderr, wall time, peak RSS."""
    rows = []
    for case in cases:
        proc = subprocess.run([sys.executable, "-c", _LAUNCHER, *command, "info", str(case.path)],
                              capture_output=True, text=True, timeout=300)
        got = json.loads(proc.stdout.strip().splitlines()[-1])
        rows.append({"case": case.name, "exit": got["exit"], "wall_s": round(got["wall_s"], 3),
                     "peak_rss_mb": round(got["peak_rss_kb"] / 1024, 1), "stderr": proc.stderr})
    return rows


def main(argv: list[str]) -> int:
    """``python -m livegan.testing.hostile_models DIR``: write the corpus, refuse each, print JSON rows."""
    directory = Path(argv[0])
    cases = write_corpus(directory, directory / "pwned")
    rows = measure_in_process(cases, warm_up=directory / "good.safetensors")
    print(json.dumps({"rows": rows, "marker_exists": (directory / "pwned").exists()}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
