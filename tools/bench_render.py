#!/usr/bin/env python3
"""Benchmark the offline render and the embedded generator on this machine.

Writes bench/results/render-<device>-<date>.json: the 30 s demo at 512x512 / 30 fps (wall
time and fps, split into analysis, generation and encoding) and the embedded generator's
synthesis fps at 256 and 512 (batch 1 and batch 8).

    .venv/bin/python tools/bench_render.py [--duration 30] [--size 512x512]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import torch

from livegan.audio.demo import demo_track
from livegan.benchinfo import write_result
from livegan.models.builtin import BuiltinGenerator
from livegan.render.offline import parse_size, render, slice_clip
from livegan.session import Session, SessionSpec


def generator_fps(resolution: int, batch: int, seconds: float = 4.0) -> dict:
    G = BuiltinGenerator(seed=0, resolution=resolution).eval()
    with torch.inference_mode():
        z = torch.randn(batch, G.z_dim, generator=torch.Generator().manual_seed(0))
        ws = G.mapping(z)
        for _ in range(3):
            G.synthesis(ws)
        times = []
        t_end = time.perf_counter() + seconds
        while time.perf_counter() < t_end or len(times) < 5:
            t0 = time.perf_counter()
            G.synthesis(ws)
            times.append(time.perf_counter() - t0)
    med = statistics.median(times)
    return {"resolution": resolution, "batch": batch, "ms_per_call_p50": med * 1e3,
            "fps": batch / med, "calls": len(times)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--duration", type=float, default=30.0)
    ap.add_argument("--size", default="512x512")
    ap.add_argument("--fps", type=int, default=30)
    ap.add_argument("--batch", type=int, default=8)
    args = ap.parse_args()

    gen = [generator_fps(r, b) for r in (256, 512) for b in (1, 8)]
    for g in gen:
        print(f"builtin {g['resolution']}px batch {g['batch']}: {g['fps']:.1f} fps")

    clip = slice_clip(demo_track(), 0.0, args.duration)
    with tempfile.TemporaryDirectory() as d:
        out = Path(d) / "bench.mp4"
        t0 = time.perf_counter()
        session = Session(SessionSpec(model_size=max(parse_size(args.size)), sample_rate=clip.sample_rate))
        res = render(clip, out, session, size=parse_size(args.size), fps=args.fps, batch=args.batch, progress=False)
        wall = time.perf_counter() - t0
    t = res.timings
    summary = {
        "demo_render": {
            "duration_s": res.duration, "frames": res.frames, "size": args.size, "fps_target": args.fps,
            "batch": args.batch, "wall_s": wall, "render_fps": res.frames / wall,
            "realtime_factor": res.duration / wall,
            "analysis_s": t["analysis_s"], "generation_s": t["generation_s"],
            "encoding_thread_s": t["encoding_s"], "encode_tail_s": t["encode_tail_s"],
            "generation_fps": res.frames / t["generation_s"],
            "encoding_fps": res.frames / max(t["encoding_s"], 1e-9),
        },
        "builtin_generator": gen,
    }
    print(f"demo render: {res.frames} frames in {wall:.1f} s = {res.frames / wall:.1f} fps "
          f"(analysis {t['analysis_s']:.2f} s, generation {t['generation_s']:.1f} s, "
          f"encoding thread {t['encoding_s']:.1f} s)")
    print(write_result("render", summary))


if __name__ == "__main__":
    main()
