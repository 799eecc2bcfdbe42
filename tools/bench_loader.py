"""Benchmark: loading a full-size StyleGAN2 config-f snapshot (.pkl) vs the converted native file.

Usage: python tools/bench_loader.py [--resolution 1024] [--device cuda]
(writes bench/results/loader-<cpu|gpu>-<date>.json)

Builds a random full-size official-format snapshot (G, G_ema and a D of the usual size,
like a training snapshot), then times: the safe pickle read, ``load_generator`` on the
pickle, ``livegan convert``, and ``load_generator`` on the native file.
"""

from __future__ import annotations

import argparse
import json
import resource
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from livegan.benchinfo import write_result
from livegan.models.load import load_generator
from livegan.models.loading.native import save_native
from livegan.models.loading.nvpkl import read_network_pickle
from livegan.models.official import model_config, official_state_dict, random_official
from livegan.testing.nvpkl_writer import dumps, flat_snapshot

D_PARAMS = {1024: 29_000_000, 512: 28_000_000, 256: 24_000_000}


def best_of(fn, repeats: int) -> tuple[float, object]:  # noqa: ANN001
    times, out = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    return min(times), out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--resolution", type=int, default=1024)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", default="cpu", help="where load_generator puts the model")
    args = parser.parse_args()
    torch.set_num_threads(2)
    model = random_official("stylegan2", args.resolution)
    cfg = model_config(model)
    sd = {k: v.numpy() for k, v in official_state_dict(model).items()}
    with tempfile.TemporaryDirectory() as tmp:
        pkl, native = Path(tmp) / "snap.pkl", Path(tmp) / "snap.safetensors"
        pkl.write_bytes(dumps(flat_snapshot(cfg["init_kwargs"], sd, cfg["attrs"], D_PARAMS.get(args.resolution, 0))))
        del sd, model
        rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        t_read, net = best_of(lambda: read_network_pickle(pkl), args.repeats)
        rss1 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        t_pkl, gen = best_of(lambda: load_generator(str(pkl), device=args.device), args.repeats)
        t_save, _ = best_of(lambda: save_native(native, net), 1)
        t_native, gen2 = best_of(lambda: load_generator(str(native), device=args.device), args.repeats)
        same = all(torch.equal(a, b) for a, b in zip(gen.state_dict().values(), gen2.state_dict().values()))
        row = {
            "model": f"stylegan2 config-f {args.resolution} (random), snapshot with G, G_ema, D",
            "load_device": args.device,
            "pkl_mb": round(pkl.stat().st_size / 2**20, 1),
            "native_mb": round(native.stat().st_size / 2**20, 1),
            "g_ema_params": gen.describe()["params"],
            "safe_read_pkl_s": round(t_read, 3),
            "load_generator_pkl_s": round(t_pkl, 3),
            "convert_write_s": round(t_save, 3),
            "load_generator_native_s": round(t_native, 3),
            "maxrss_growth_reading_pkl_mb": round((rss1 - rss0) / 1024, 1),
            "native_equals_pkl": same,
            "repeats": args.repeats,
        }
    print(json.dumps(row, indent=2))
    path = write_result("loader", {"benchmark": "model file loading (best of N, seconds)", "results": [row]}, tag="cpu" if args.device == "cpu" else "gpu")
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
