"""Benchmark: the analyzer's cost per hop (live budget: well under 1 ms on one core).

Usage: python tools/bench_analyzer.py   (writes bench/results/analyzer-cpu-<date>.json)
"""

from __future__ import annotations

import argparse
import json
import os
import time

import numpy as np

from livegan.audio.analyzer import Analyzer
from livegan.audio.demo import demo_track
from livegan.benchinfo import write_result


def time_per_hop(samples: np.ndarray, sample_rate: int, block: int, repeats: int = 3) -> dict[str, float]:
    """Best-of-``repeats`` and median microseconds per hop, feeding blocks of ``block`` frames."""
    runs, cpu = [], []
    for _ in range(repeats):
        analyzer = Analyzer(sample_rate)
        frames = 0
        start, start_cpu = time.perf_counter(), time.process_time()
        for pos in range(0, samples.shape[0], block):
            frames += len(analyzer.process(samples[pos : pos + block]))
        runs.append((time.perf_counter() - start) / frames * 1e6)
        cpu.append((time.process_time() - start_cpu) / frames * 1e6)
    # CPU time as well: on a shared, loaded machine wall time mostly measures the others.
    return {"best_us_per_hop": round(min(runs), 2), "median_us_per_hop": round(float(np.median(runs)), 2),
            "best_cpu_us_per_hop": round(min(cpu), 2), "hops": frames}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30.0)
    args = parser.parse_args()
    results = []
    for sr in (44100, 48000):
        clip = demo_track(duration=args.seconds, sample_rate=sr)
        for block in (256, 512, 1024, clip.num_samples):
            row = {"sample_rate": sr, "block": block, "hop": Analyzer(sr).hop, **time_per_hop(clip.samples, sr, block)}
            row["realtime_factor"] = round(1e6 * row["hop"] / sr / row["best_us_per_hop"], 1)
            results.append(row)
            print(json.dumps(row))
    path = write_result("analyzer", {"benchmark": "analyzer us/hop (one thread)", "load_average": os.getloadavg(),
                                     "results": results}, tag="cpu")
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
