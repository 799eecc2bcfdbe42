#!/usr/bin/env python3
"""One GPU check-and-benchmark run that fits a single device call (about 8 minutes).

Sections, each time-boxed so a slow or failing one never loses the others' results
(everything is written to the JSON as it completes):

1. fixtures: every StyleGAN fixture on CUDA in fp32 and with the checkpoint's fp16
   layers, against float32 CPU (max |diff|);
2. full-size random-weight StyleGAN2 config-f 1024 (channel_base 32768) and StyleGAN3-T /
   -R 1024: each fast variant (fp16 layers, channels_last, CUDA graph, torch.compile)
   checked against float32 eager (max error, PSNR), then ms per frame at batch 1
   (p50, p99) and batched throughput (batch 8 and 16);
3. the live loop, headless, with StyleGAN2 1024: sustained fps and audio-to-photon latency;
4. an offline render at 1024 (generation vs encoding);
5. NVIDIA's official generator on the same weights (if a checkout is given with --nvidia),
   as a ratio.

    python3 tools/bench_gpu.py --out $OUT/gpu.json [--budget 420] [--nvidia .nvref]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import tempfile
import time
import traceback
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from livegan.models.base import NoiseSpec  # noqa: E402
from livegan.synth.accel import AccelOptions, FastSynthesis  # noqa: E402


class Budget:
    def __init__(self, seconds: float) -> None:
        self.end = time.perf_counter() + seconds

    def left(self) -> float:
        return self.end - time.perf_counter()


def psnr(a: torch.Tensor, ref: torch.Tensor) -> float:
    mse = float(((a.float() - ref.float()) ** 2).mean())
    return float("inf") if mse == 0 else 10 * math.log10(4.0 / mse)  # images span [-1, 1]


def time_calls(fn, n: int, warmup: int = 5) -> dict:
    for _ in range(warmup):
        fn()
    torch.cuda.synchronize()
    times = []
    for _ in range(n):
        a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        a.record()
        fn()
        b.record()
        b.synchronize()
        times.append(a.elapsed_time(b))
    t = np.array(times)
    return {"ms_p50": float(np.median(t)), "ms_p99": float(np.percentile(t, 99)), "ms_mean": float(t.mean()), "n": n}


def set_tf32(on: bool) -> None:
    torch.backends.cudnn.allow_tf32 = on
    torch.backends.cuda.matmul.allow_tf32 = on


def fixtures_section(results: dict, fixtures: Path) -> None:
    from safetensors.torch import load_file

    from livegan.models.official import build_from_official

    out = {}
    set_tf32(False)  # true float32 for the comparison with the CPU
    for js in sorted(fixtures.glob("*_reference.json")):
        name = js.name.replace("_reference.json", "")
        meta = json.loads((fixtures / f"{name}.json").read_text())
        sd = load_file(str(fixtures / f"{name}.safetensors"))
        ref = np.load(fixtures / f"{name}_reference.npz")
        kwargs = meta.get("init_kwargs") or meta.get("G_kwargs")
        attrs = meta.get("pickled_module_attributes")
        G = build_from_official(kwargs, sd, attrs).eval()
        ws = torch.from_numpy(ref["ws_psi100"])
        with torch.inference_mode():
            cpu = G.synthesis(ws, noise=NoiseSpec("const"))
            Gc = G.to("cuda")
            row = {"cpu_vs_reference": float((cpu - torch.from_numpy(ref["img_psi100_const"])).abs().max())}
            for prec in ("fp32", "auto"):
                Gc.set_precision(prec)
                img = Gc.synthesis(ws.cuda(), noise=NoiseSpec("const")).float().cpu()
                row[f"cuda_{prec}_max_abs"] = float((img - cpu).abs().max())
                row[f"cuda_{prec}_psnr"] = psnr(img, cpu)
            row["image_std"] = float(cpu.std())
        out[name] = row
        print(f"fixture {name}: {row}", flush=True)
    results["fixtures"] = out


MODELS = {
    "sg2-f-1024": ("stylegan2", dict(channel_base=32768, channel_max=512)),
    "sg3t-1024": ("stylegan3-t", dict(channel_base=32768, channel_max=512)),
    "sg3r-1024": ("stylegan3-r", dict()),
}

VARIANTS = {
    # name: (precision, channels_last, cuda_graph, compile); "tf32" = fp32 with TF32 matrix units
    "eager_fp32": ("fp32", False, False, False),
    "graph_tf32": ("tf32", False, True, False),
    "eager_fp16": ("auto", False, False, False),
    "eager_fp16_cl": ("auto", True, False, False),
    "graph_fp32": ("fp32", False, True, False),
    "graph_fp16": ("auto", False, True, False),
    "graph_fp16_cl": ("auto", True, True, False),
    "graph_bf16": ("bf16", False, True, False),
    "compile_graph_fp16": ("auto", False, True, True),
}


def model_section(results: dict, key: str, budget: Budget, variants: list[str], batches: tuple[int, ...]) -> None:
    from livegan.models.official import random_official

    family, kw = MODELS[key]
    torch.backends.cudnn.benchmark = True
    G = random_official(family, 1024, seed=0, **kw).cuda().eval()
    z = torch.randn(16, G.z_dim, device="cuda", generator=torch.Generator("cuda").manual_seed(1))
    set_tf32(False)
    with torch.inference_mode():
        ws_all = G.mapping(z, truncation_psi=0.7)
        G.set_precision("fp32")
        ref = G.synthesis(ws_all[:1], noise=NoiseSpec("const")).float()
    out: dict = {"params": sum(p.numel() for p in G.parameters())}
    results.setdefault("models", {})[key] = out
    for name in variants:
        if budget.left() < 20:
            out[name] = {"skipped": "time budget"}
            continue
        prec, cl, graph, comp = VARIANTS[name]
        set_tf32(prec == "tf32")
        prec = "fp32" if prec == "tf32" else prec
        try:
            t0 = time.perf_counter()
            G.to(memory_format=torch.contiguous_format)
            fast = FastSynthesis(G, AccelOptions(precision=prec, cuda_graph=graph, compile=comp, channels_last=cl,
                                                 compile_mode="default"))
            ws1 = ws_all[:1].clone()
            img = fast(ws1, noise=NoiseSpec("const")).float()
            torch.cuda.synchronize()
            row = {"first_call_s": time.perf_counter() - t0,
                   "max_abs_err": float((img - ref).abs().max()), "psnr_db": psnr(img, ref)}
            row.update(time_calls(lambda: fast(ws1, noise=NoiseSpec("const")), 100 if key.startswith("sg2") else 30))
            row["fps_b1"] = 1000.0 / row["ms_p50"]
            for b in batches:
                if budget.left() < 15:
                    break
                wsb = ws_all[:b].clone()
                tb = time_calls(lambda: fast(wsb, noise=NoiseSpec("const")), 10, warmup=2)
                row[f"images_per_s_b{b}"] = b * 1000.0 / tb["ms_p50"]
            out[name] = row
            print(f"{key} {name}: {row}", flush=True)
        except Exception as exc:  # record and go on
            out[name] = {"error": f"{exc.__class__.__name__}: {exc}"[:500]}
            print(f"{key} {name} failed: {exc}", flush=True)
            traceback.print_exc()
        torch.cuda.empty_cache()
    del G
    torch.cuda.empty_cache()


def nvidia_section(results: dict, nvref: Path, budget: Budget) -> None:
    """NVIDIA's official SG2 generator (their CUDA plugins) on our random weights."""
    import types

    if "pkg_resources" not in sys.modules:
        try:
            import pkg_resources  # noqa: F401
        except ImportError:  # their gradfix modules import parse_version from it
            from packaging.version import parse as _parse

            sys.modules["pkg_resources"] = types.SimpleNamespace(parse_version=_parse)  # type: ignore[assignment]
    sys.path.insert(0, str(nvref))
    from training import networks_stylegan2, networks_stylegan3  # type: ignore

    from livegan.models.official import official_state_dict, random_official

    out = results.setdefault("nvidia", {})
    for key, module in (("sg2-f-1024", networks_stylegan2), ("sg3t-1024", networks_stylegan3)):
        if budget.left() < 60:
            out[key] = {"skipped": "time budget"}
            continue
        try:
            family, kw = MODELS[key]
            ours = random_official(family, 1024, seed=0, **kw).cuda().eval()
            init = dict(ours._official["init_kwargs"])  # type: ignore[attr-defined]
            t0 = time.perf_counter()
            G = module.Generator(**init).cuda().eval().requires_grad_(False)
            G.load_state_dict(official_state_dict(ours), strict=False)
            z = torch.randn(1, G.z_dim, device="cuda", generator=torch.Generator("cuda").manual_seed(1))
            with torch.inference_mode():
                ws = G.mapping(z, None, truncation_psi=0.7)
                img = G.synthesis(ws, noise_mode="const", force_fp32=False)
                torch.cuda.synchronize()
                row = {"first_call_s": time.perf_counter() - t0}
                ours.set_precision("auto")
                mine = ours.synthesis(ws, noise=NoiseSpec("const"))
                row["max_abs_vs_ours_fp16"] = float((img.float() - mine.float()).abs().max())
                row["psnr_vs_ours_fp16"] = psnr(mine, img)
                row.update(time_calls(lambda: G.synthesis(ws, noise_mode="const"), 50 if key.startswith("sg2") else 20))
            out[key] = row
            print(f"nvidia {key}: {row}", flush=True)
        except Exception as exc:
            out[key] = {"error": f"{exc.__class__.__name__}: {exc}"[:500]}
            traceback.print_exc()
        torch.cuda.empty_cache()


def profile_section(results: dict, budget: Budget) -> None:
    """Where the time goes: the top CUDA kernels of one eager fp16 frame (batch 1 and 8)."""
    from torch.profiler import ProfilerActivity, profile

    from livegan.models.official import random_official

    out = results.setdefault("profile", {})
    for key, batches in (("sg2-f-1024", (1, 8)), ("sg3t-1024", (1,))):
        if budget.left() < 30:
            break
        family, kw = MODELS[key]
        G = random_official(family, 1024, seed=0, **kw).cuda().eval()
        G.set_precision("auto")
        torch.backends.cudnn.benchmark = True
        for b in batches:
            ws = G.mapping(torch.randn(b, G.z_dim, device="cuda"))
            with torch.inference_mode():
                for _ in range(3):
                    G.synthesis(ws, noise=NoiseSpec("const"))
                torch.cuda.synchronize()
                with profile(activities=[ProfilerActivity.CUDA]) as prof:
                    G.synthesis(ws, noise=NoiseSpec("const"))
                    torch.cuda.synchronize()
            rows = []
            total = 0.0
            for ev in prof.key_averages():
                t = getattr(ev, "device_time_total", None) or getattr(ev, "cuda_time_total", 0.0)
                if t > 0 and ev.key and not ev.key.startswith("cuda"):
                    rows.append((t, ev.key, ev.count))
            rows.sort(reverse=True)
            total = sum(r[0] for r in rows)
            out[f"{key}-b{b}"] = {"kernel_ms_total": total / 1e3, "kernels": len(rows),
                                  "top": [{"ms": t / 1e3, "calls": c, "name": k[:120]} for t, k, c in rows[:12]]}
            print(f"profile {key} b{b}: {total / 1e3:.2f} ms in kernels", flush=True)
        del G
        torch.cuda.empty_cache()


def render_section(results: dict, budget: Budget) -> None:
    from livegan.audio.demo import demo_track
    from livegan.render.offline import render, slice_clip
    from livegan.session import Session, SessionSpec

    clip = slice_clip(demo_track(), 0.0, 10.0)
    with tempfile.TemporaryDirectory() as d:
        model = write_random_model(Path(d) / "sg2-1024.safetensors", "stylegan2", 1024,
                                   channel_base=32768, channel_max=512)
        session = Session(SessionSpec(model=str(model), device="cuda", sample_rate=clip.sample_rate))
        t0 = time.perf_counter()
        r = render(clip, Path(d) / "r.mp4", session, size=(1024, 1024), fps=30, batch=16,
                   progress=False, x264_preset="veryfast")
        wall = time.perf_counter() - t0
    results["render_sg2_1024"] = {"frames": r.frames, "wall_s": wall, "fps": r.frames / wall, **r.timings}
    print("render:", results["render_sg2_1024"], flush=True)


def write_random_model(path: Path, family: str = "stylegan2", resolution: int = 1024, **kw) -> Path:
    """A random-weight full-size model in the native format (what `livegan live --model` loads)."""
    from livegan.models.loading.native import save_native
    from livegan.models.loading.nvpkl import OfficialNetwork
    from livegan.models.official import model_config, official_state_dict, random_official

    G = random_official(family, resolution, seed=0, **kw)
    cfg = model_config(G)
    return save_native(path, OfficialNetwork(cfg["init_kwargs"], official_state_dict(G), cfg["attrs"]))


def live_section(results: dict, budget: Budget, seconds: float) -> None:
    """`livegan live --headless` (EGL on the NVIDIA driver) with SG2 config-f 1024, random weights."""
    import subprocess

    from livegan.audio.demo import demo_track
    from livegan.audio.io import write_wav

    with tempfile.TemporaryDirectory() as d:
        model = write_random_model(Path(d) / "sg2-1024.safetensors", channel_base=32768, channel_max=512)
        song = Path(d) / "demo.wav"
        clip = demo_track()
        write_wav(song, clip.samples, clip.sample_rate)
        stats = Path(d) / "live.json"
        cmd = [sys.executable, "-m", "livegan", "live", "--headless", "--file", str(song), "--no-playback",
               "--model", str(model), "--size", "1024", "--duration", str(seconds), "--fps", "60",
               "--device", "cuda", "--stats-json", str(stats)]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 120)
        if proc.returncode != 0:
            raise RuntimeError(proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else f"rc {proc.returncode}")
        results["live_sg2_1024"] = json.loads(stats.read_text())
    print("live:", results["live_sg2_1024"], flush=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="gpu.json")
    ap.add_argument("--budget", type=float, default=420.0)
    ap.add_argument("--fixtures", default=os.environ.get("LIVEGAN_FIXTURES", str(ROOT / ".fixtures")))
    ap.add_argument("--nvidia", default=None, help="path to a checkout of NVlabs/stylegan3 (never committed)")
    ap.add_argument("--sections", default="fixtures,sg2,sg3,live,render,nvidia")
    ap.add_argument("--live-seconds", type=float, default=20.0)
    args = ap.parse_args()
    budget = Budget(args.budget)
    results: dict = {"device": torch.cuda.get_device_name(0), "torch": torch.__version__, "cuda": torch.version.cuda,
                     "cudnn": torch.backends.cudnn.version(), "command": " ".join(sys.argv),
                     "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    out = Path(args.out)

    def save() -> None:
        out.write_text(json.dumps(results, indent=2, default=str) + "\n")

    sections = args.sections.split(",")
    plan = [
        ("fixtures", lambda: fixtures_section(results, Path(args.fixtures))),
        ("sg2", lambda: model_section(results, "sg2-f-1024", budget, list(VARIANTS), (8, 16))),
        ("sg3", lambda: model_section(results, "sg3t-1024", budget,
                                      ["eager_fp32", "eager_fp16", "graph_fp16", "graph_fp16_cl"], (8,))),
        ("sg3", lambda: model_section(results, "sg3r-1024", budget, ["eager_fp32", "graph_fp16"], (8,))),
        ("live", lambda: live_section(results, budget, args.live_seconds)),
        ("profile", lambda: profile_section(results, budget)),
        ("render", lambda: render_section(results, budget)),
        ("nvidia", lambda: args.nvidia and nvidia_section(results, Path(args.nvidia), budget)),
    ]
    for name, fn in plan:
        if name not in sections:
            continue
        if budget.left() < 15:
            results.setdefault("skipped", []).append(name)
            continue
        t0 = time.perf_counter()
        try:
            fn()
        except Exception as exc:
            results.setdefault("errors", {})[name] = f"{exc.__class__.__name__}: {exc}"[:1000]
            traceback.print_exc()
        results.setdefault("section_s", {})[name] = results.get("section_s", {}).get(name, 0) + time.perf_counter() - t0
        save()
    save()
    print(json.dumps({k: v for k, v in results.items() if k in ("models", "nvidia", "live_sg2_1024")}, indent=1,
                     default=str)[-6000:])


if __name__ == "__main__":
    main()
