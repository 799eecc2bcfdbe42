"""Benchmark: the builtin generator's synthesis frame rate per world (ws given, mapping not timed).

The machine may be shared: ``fps`` is from the median call, ``fps_best`` from the fastest,
and ``cpu_ms_per_frame`` (process CPU time, all threads) shows the work itself; the load
average before and after is recorded.

Usage: python tools/bench_builtin.py [--threads 2] [--device cpu] [--worlds ink,cells] [--render 128 192]
(prints one JSON line per case and writes bench/results/builtin-<cpu-Nt|gpu>-<date>.json)

Goals on a 2-core CPU, 512x512, batch 1: the default world >= 60 fps, every world >= 30 fps.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time

import torch

from livegan.benchinfo import write_result
from livegan.models.builtin import DEFAULT_WORLD, WORLD_NAMES, BuiltinGenerator


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_case(
    world: str, resolution: int, batch: int, render: int | None, device: torch.device, seconds: float,
    dtype: torch.dtype
) -> dict:
    """Frames per second of ``synthesis`` for one configuration (median of timed calls)."""
    G = BuiltinGenerator(seed=0, resolution=resolution, render_resolution=render, world=world)
    G = G.to(device=device, dtype=dtype)
    gen = torch.Generator().manual_seed(0)
    with torch.inference_mode():
        ws = G.mapping(torch.randn(batch, G.z_dim, generator=gen).to(device, dtype))
        for _ in range(3):  # warm-up (allocator, grid cache, kernels)
            G.synthesis(ws)
        _sync(device)
        times: list[float] = []
        cpu: list[float] = []
        start = time.perf_counter()
        while time.perf_counter() - start < seconds or len(times) < 5:
            t0, c0 = time.perf_counter(), time.process_time()
            G.synthesis(ws)
            _sync(device)
            times.append(time.perf_counter() - t0)
            cpu.append(time.process_time() - c0)
    med = statistics.median(times)
    p99 = sorted(times)[min(len(times) - 1, int(0.99 * len(times)))]
    return {
        "world": world,
        "resolution": resolution,
        "render_resolution": G.render_resolution,
        "batch": batch,
        "dtype": str(dtype).removeprefix("torch."),
        "calls": len(times),
        "best_ms_per_call": round(min(times) * 1e3, 2),
        "median_ms_per_call": round(med * 1e3, 2),
        "p99_ms_per_call": round(p99 * 1e3, 2),
        "fps": round(batch / med, 1),
        "fps_best": round(batch / min(times), 1),
        "cpu_ms_per_frame": round(statistics.median(cpu) * 1e3 / batch, 2),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--seconds", type=float, default=3.0, help="timed seconds per case")
    parser.add_argument("--render", type=int, nargs="*", default=[], help="extra render resolutions to try at 512")
    parser.add_argument("--half", action="store_true", help="float16 (GPU)")
    parser.add_argument("--worlds", default=",".join(WORLD_NAMES), help="comma-separated worlds to time at 512")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    dtype = torch.float16 if args.half else torch.float32
    worlds = [w for w in args.worlds.split(",") if w]
    cases = [(w, 512, 1, None) for w in worlds]
    cases += [(DEFAULT_WORLD, 256, 1, None), (DEFAULT_WORLD, 512, 8, None)]
    cases += [(DEFAULT_WORLD, 512, 1, r) for r in args.render]
    load_before = [round(v, 2) for v in os.getloadavg()]
    results = []
    for world, res, batch, render in cases:
        row = time_case(world, res, batch, render, device, args.seconds, dtype)
        results.append(row)
        print(json.dumps(row), flush=True)
    at512 = {r["world"]: r for r in results[:len(worlds)]}  # each world at 512, batch 1, its own render size
    payload = {
        "benchmark": "builtin synthesis fps per world (ws given)",
        "threads": args.threads,
        "default_world": DEFAULT_WORLD,
        # Other work on a shared machine: before and after the run.
        "load_average": {"before": load_before, "after": [round(v, 2) for v in os.getloadavg()]},
        "results": results,
        "goals": {
            "default_world_512_ge_60fps_median": at512.get(DEFAULT_WORLD, {}).get("fps", 0) >= 60,
            "default_world_512_ge_60fps_best": at512.get(DEFAULT_WORLD, {}).get("fps_best", 0) >= 60,
            "every_world_512_ge_30fps_median": all(r["fps"] >= 30 for r in at512.values()),
            "every_world_512_ge_30fps_best": all(r["fps_best"] >= 30 for r in at512.values()),
        },
    }
    print(json.dumps(payload["goals"]))
    tag = f"gpu{'-fp16' if args.half else ''}" if device.type == "cuda" else f"cpu-{args.threads}t"
    path = write_result("builtin", payload, tag=tag)
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
