"""Benchmark: our StyleGAN2 / StyleGAN3-T generators on the CPU (full-size random weights).

Times the whole forward (mapping + synthesis, psi 1, const noise) at batch 1 in float32
and bfloat16 (bf16 on the layers NVIDIA's checkpoints mark for fp16), and reports the
bf16 error against float32. Also times fused vs non-fused modulated convolution at
batch 1 and 4 (the data behind ``ops.modulated_conv2d``'s automatic choice), and one
StyleGAN3 filtered leaky ReLU (ours, chunked and in one piece, vs the zero-stuffing form).

The machine may be shared: every case records wall-clock median / p90 / best and the
process CPU time, plus the load average before and after.

Usage: python tools/bench_models.py [--threads 2] [--runs 7] [--models sg2-256 sg3t-256]
       [--nvidia PATH_TO_NVLABS_STYLEGAN3_CHECKOUT]
(writes bench/results/models-cpu-<date>.json)

Goals (2 cores, fp32, batch 1): StyleGAN2 256 (cbase 16384) <= 230 ms, StyleGAN3-T 256
(cbase 16384) <= 2.0 s.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from typing import Callable

import torch
import torch.nn.functional as F

from livegan.benchinfo import write_result
from livegan.models import ops
from livegan.models.official import official_state_dict, random_official

MODELS = {
    "sg2-256": ("stylegan2", 256, dict(channel_base=16384, channel_max=512, mapping_layers=8)),
    "sg3t-256": ("stylegan3-t", 256, dict(channel_base=16384, channel_max=512)),
    "sg3r-256": ("stylegan3-r", 256, dict(channel_base=32768, channel_max=1024)),
    "sg2-512": ("stylegan2", 512, dict(channel_base=16384, channel_max=512, mapping_layers=8)),
}
GOALS_MS = {"sg2-256": 230.0, "sg3t-256": 2000.0}


def timed(fn: Callable[[], torch.Tensor], runs: int, warmup: int) -> dict:
    for _ in range(warmup):
        fn()
    wall, cpu = [], []
    for _ in range(runs):
        c0, t0 = time.process_time(), time.perf_counter()
        fn()
        wall.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    wall.sort()
    return {
        "runs": runs,
        "median_ms": round(statistics.median(wall) * 1e3, 1),
        "p90_ms": round(wall[min(len(wall) - 1, int(round(0.9 * (len(wall) - 1))))] * 1e3, 1),
        "best_ms": round(wall[0] * 1e3, 1),
        "cpu_ms_median": round(statistics.median(cpu) * 1e3, 1),
    }


def bench_model(key: str, runs: int, warmup: int) -> dict:
    family, res, kw = MODELS[key]
    G = random_official(family, res, seed=0, **kw)
    z = torch.randn(1, G.z_dim, generator=torch.Generator().manual_seed(1))
    row: dict = {"model": key, "family": family, "resolution": res, "kwargs": kw, "batch": 1,
                 "params_M": round(sum(p.numel() for p in G.parameters()) / 1e6, 2)}
    with torch.inference_mode():
        G.set_precision("fp32")
        ref = G(z)
        row["fp32"] = timed(lambda: G(z), runs, warmup)
        threads = torch.get_num_threads()
        if threads > 1:  # one core's worth: less sensitive to other work on a shared machine
            torch.set_num_threads(1)
            row["fp32_1thread"] = timed(lambda: G(z), max(3, runs // 2), 1)
            torch.set_num_threads(threads)
        G.set_precision("bf16")
        img = G(z)
        row["bf16"] = timed(lambda: G(z), runs, warmup)
        G.set_precision("auto")
    row["bf16"]["max_abs_err_vs_fp32"] = float((img - ref).abs().max())
    row["bf16"]["mean_abs_err_vs_fp32"] = float((img - ref).abs().mean())
    row["image_std_fp32"] = float(ref.std())
    if key in GOALS_MS:
        row["goal_ms"] = GOALS_MS[key]
        row["meets_goal_median"] = row["fp32"]["median_ms"] <= GOALS_MS[key]
    return row


def _naive_flrelu(x: torch.Tensor, b: torch.Tensor, fu: torch.Tensor, fd: torch.Tensor,
                  spec: ops.FilteredLReLU) -> torch.Tensor:
    """The textbook form: zero-stuff, pad, 2-D filter every output, lrelu, filter, decimate."""
    n, c, h, w = x.shape
    z = torch.zeros(n, c, h * spec.up, w * spec.up)
    z[:, :, ::spec.up, ::spec.up] = x + b.view(1, -1, 1, 1)
    z = F.pad(z, list(spec.padding))
    f2 = (fu[:, None] * fu[None, :] * spec.up ** 2).expand(c, 1, fu.numel(), fu.numel())
    y = F.conv2d(z, f2.flip(2, 3).contiguous(), groups=c)  # flipped: true convolution
    y = (F.leaky_relu(y, spec.slope) * spec.gain).clamp(-spec.clamp, spec.clamp)
    g2 = (fd[:, None] * fd[None, :]).expand(c, 1, fd.numel(), fd.numel())
    return F.conv2d(y, g2.flip(2, 3).contiguous(), groups=c)[:, :, ::spec.down, ::spec.down]


def bench_flrelu(runs: int, warmup: int) -> dict:
    """One StyleGAN3-T-256 non-linearity (128 channels at 150 px, 2x up/down, 12 taps)."""
    x = torch.randn(1, 128, 150, 150).contiguous(memory_format=torch.channels_last)
    b, fu, fd = torch.randn(128), torch.rand(12), torch.rand(12)
    fu, fd = fu / fu.sum(), fd / fd.sum()  # unit DC gain, like the designed filters
    spec = ops.FilteredLReLU(up=2, down=2, padding=(9, 8, 9, 8), gain=2 ** 0.5, slope=0.2, clamp=256.0)
    with torch.inference_mode():
        err = float((ops.filtered_lrelu(x, b, fu, fd, spec) - _naive_flrelu(x, b, fu, fd, spec)).abs().max())
        row = {"shape": [1, 128, 150, 150], "max_abs_diff_vs_zero_stuffing": err,
               "ours_chunked": timed(lambda: ops.filtered_lrelu(x, b, fu, fd, spec), runs, warmup),
               "ours_one_chunk": timed(lambda: ops.filtered_lrelu(x, b, fu, fd, spec, chunk_bytes=1 << 40),
                                       runs, warmup),
               "zero_stuffing_2d_filters": timed(lambda: _naive_flrelu(x, b, fu, fd, spec), max(2, runs // 2), 1)}
    print(json.dumps(row), flush=True)
    return row


def bench_modconv(runs: int, warmup: int) -> list[dict]:
    """StyleGAN2-256 synthesis with fused / non-fused / automatic modulated convolutions.

    The three modes alternate run by run, so a busy machine slows them alike.
    """
    family, res, kw = MODELS["sg2-256"]
    G = random_official(family, res, seed=0, **kw)
    modes = {"fused": True, "non-fused": False, "auto": None}
    out = []
    with torch.inference_mode():
        for batch in (1, 4):
            ws = G.mapping(torch.randn(batch, G.z_dim, generator=torch.Generator().manual_seed(2)))
            wall: dict[str, list[float]] = {m: [] for m in modes}
            cpu: dict[str, list[float]] = {m: [] for m in modes}
            try:
                for i in range(warmup + runs):
                    for name, mode in modes.items():
                        ops.FORCE_FUSED = mode
                        c0, t0 = time.process_time(), time.perf_counter()
                        G.synthesis(ws)
                        if i >= warmup:
                            wall[name].append(time.perf_counter() - t0)
                            cpu[name].append(time.process_time() - c0)
            finally:
                ops.FORCE_FUSED = None
            for name in modes:
                med = statistics.median(wall[name])
                out.append({"batch": batch, "modconv": name, "runs": runs, "median_ms": round(med * 1e3, 1),
                            "best_ms": round(min(wall[name]) * 1e3, 1),
                            "cpu_ms_median": round(statistics.median(cpu[name]) * 1e3, 1),
                            "ms_per_frame_median": round(med * 1e3 / batch, 1)})
                print(json.dumps(out[-1]), flush=True)
    return out


def _import_nvidia(path: str):
    """NVIDIA's network modules from a checkout (never vendored; see the module docstring)."""
    try:
        import pkg_resources  # noqa: F401  (NVIDIA's custom-op helpers import it; setuptools >= 81 lacks it)
    except ImportError:
        import types

        from packaging.version import parse

        sys.modules["pkg_resources"] = types.SimpleNamespace(parse_version=parse)  # type: ignore[assignment]
    sys.path.insert(0, path)
    from training import networks_stylegan2, networks_stylegan3  # type: ignore[import-not-found]

    return networks_stylegan2, networks_stylegan3


def bench_nvidia(path: str, keys: list[str], runs: int, warmup: int) -> list[dict]:
    """NVIDIA's generator (their pure-PyTorch reference ops on CPU) vs ours, same random weights.

    Runs alternate between the two so both see the same machine load; the images are
    compared too (a full-size equality check beyond the tiny fixtures).
    """
    try:
        nv2, nv3 = _import_nvidia(path)
    except ImportError as exc:
        return [{"error": f"cannot import NVIDIA code from {path}: {exc}"}]
    out = []
    for key in keys:
        family, res, kw = MODELS[key]
        ours = random_official(family, res, seed=0, **kw)
        init = dict(ours._official["init_kwargs"])  # type: ignore[attr-defined]
        cls = nv2.Generator if family == "stylegan2" else nv3.Generator
        theirs = cls(**init).eval().requires_grad_(False)
        theirs.load_state_dict(official_state_dict(ours), strict=True)
        z = torch.randn(1, ours.z_dim, generator=torch.Generator().manual_seed(3))
        ours.set_precision("fp32")
        with torch.inference_mode():
            a, b = ours(z), theirs(z, None, noise_mode="const")
            for _ in range(warmup):
                ours(z), theirs(z, None, noise_mode="const")
            t_ours, t_theirs = [], []
            for _ in range(runs):
                t0 = time.perf_counter()
                ours(z)
                t1 = time.perf_counter()
                theirs(z, None, noise_mode="const")
                t_ours.append(t1 - t0)
                t_theirs.append(time.perf_counter() - t1)
        row = {"model": key, "runs": runs, "ours_median_ms": round(statistics.median(t_ours) * 1e3, 1),
               "ours_best_ms": round(min(t_ours) * 1e3, 1),
               "nvidia_median_ms": round(statistics.median(t_theirs) * 1e3, 1),
               "nvidia_best_ms": round(min(t_theirs) * 1e3, 1),
               "speedup_median": round(statistics.median(t_theirs) / statistics.median(t_ours), 2),
               "max_abs_diff_img": float((a - b).abs().max()), "img_std": float(b.std())}
        out.append(row)
        print(json.dumps(row), flush=True)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    parser.add_argument("--runs", type=int, default=7, help="timed runs per case (after warm-up)")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--models", nargs="*", default=["sg2-256", "sg3t-256"], choices=sorted(MODELS))
    parser.add_argument("--no-modconv", action="store_true", help="skip the fused/non-fused comparison")
    parser.add_argument("--nvidia", metavar="PATH",
                        help="also time NVIDIA's code from a NVlabs/stylegan3 checkout (kept outside the repo)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    load_before = os.getloadavg()
    results = []
    for key in args.models:
        row = bench_model(key, args.runs, args.warmup)
        results.append(row)
        print(json.dumps(row), flush=True)
    payload: dict = {"benchmark": "StyleGAN generator forward on CPU (ms per frame)", "threads": args.threads,
                     "results": results}
    if not args.no_modconv:
        payload["modconv_sg2_256"] = bench_modconv(max(3, args.runs // 2), 1)
        payload["filtered_lrelu_sg3t_256_layer"] = bench_flrelu(args.runs, args.warmup)
    if args.nvidia:
        payload["nvidia_vs_ours"] = bench_nvidia(args.nvidia, args.models, max(3, args.runs // 2), 1)
    payload["loadavg_before"] = [round(v, 2) for v in load_before]
    payload["loadavg_after"] = [round(v, 2) for v in os.getloadavg()]
    path = write_result("models", payload)
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
