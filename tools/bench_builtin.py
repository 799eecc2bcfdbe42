"""Benchmark: the builtin generator's synthesis frame rate (ws given, mapping not timed).

The machine may be shared: ``fps`` is from the median call, ``fps_best`` from the fastest,
and ``cpu_ms_per_frame`` (process CPU time, all threads) shows the work itself.

Usage: python tools/bench_builtin.py [--threads 2] [--device cpu] [--render 128 192]
(prints one JSON line per case and writes bench/results/builtin-<cpu-Nt|gpu>-<date>.json)

Live goal on a 2-core CPU: 512x512 at >= 30 fps, batch 1.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time

import torch

from livegan.benchinfo import write_result
from livegan.models.builtin import BuiltinGenerator


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_case(
    resolution: int, batch: int, render: int | None, device: torch.device, seconds: float, dtype: torch.dtype
) -> dict:
    """Frames per second of ``synthesis`` for one configuration (median of timed calls)."""
    G = BuiltinGenerator(seed=0, resolution=resolution, render_resolution=render).to(device=device, dtype=dtype)
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
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    dtype = torch.float16 if args.half else torch.float32
    cases = [(res, batch, None) for res in (256, 512) for batch in (1, 8)]
    cases += [(512, 1, r) for r in args.render]
    results = []
    for res, batch, render in cases:
        row = time_case(res, batch, render, device, args.seconds, dtype)
        results.append(row)
        print(json.dumps(row), flush=True)
    payload = {
        "benchmark": "builtin synthesis fps (ws given)",
        "threads": args.threads,
        "load_average": [round(v, 2) for v in os.getloadavg()],  # other work on a shared machine
        "results": results,
    }
    tag = f"gpu{'-fp16' if args.half else ''}" if device.type == "cuda" else f"cpu-{args.threads}t"
    path = write_result("builtin", payload, tag=tag)
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
