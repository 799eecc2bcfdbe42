#!/usr/bin/env python3
"""How well offline renders batch: synthesis calls and generation speed per preset.

Runs the demo's first ``--duration`` seconds through the analyzer and conductor with each
preset, then times ``BatchRunner`` over the frames (builtin model, CPU), counting the
synthesis calls the engine makes. Presets whose bends move with the music (a kick's zoom,
a spinning bend) used to run one frame per call.

    .venv/bin/python tools/bench_batching.py [--duration 10] [--size 256] [--batch 8] [--tag after]
"""

from __future__ import annotations

import argparse
import time

import torch

from livegan.audio.analyzer import analyze
from livegan.audio.demo import demo_track
from livegan.benchinfo import write_result
from livegan.render.offline import BatchRunner, conduct, slice_clip
from livegan.session import Session, SessionSpec


def bench_preset(preset: str, size: int, features, sr: int, n_frames: int, fps: int, batch: int) -> dict:
    session = Session(SessionSpec(model_size=size, preset=preset, seed=0, device="cpu", sample_rate=sr))
    inputs = [job.inputs for job in conduct(session, features, sr, n_frames, fps)]
    engine = session.model.engine
    calls: list[int] = []
    real = engine.fast

    def counting(ws, **kw):
        calls.append(int(ws.shape[0]))
        return real(ws, **kw)

    engine.fast = counting
    runner = BatchRunner(session.model, batch)
    runner.run(inputs[:batch])  # warm-up
    calls.clear()
    t0 = time.perf_counter()
    runner.run(inputs)
    wall = time.perf_counter() - t0
    bent = sum(1 for x in inputs if x.bends)
    return {"preset": preset, "frames": len(inputs), "frames_with_bends": bent, "synthesis_calls": len(calls),
            "mean_batch": len(inputs) / max(len(calls), 1), "generation_s": wall, "fps": len(inputs) / wall}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--duration", type=float, default=10.0)
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--fps", type=int, default=30)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--presets", default="pulse,storm,breaks,drift")
    ap.add_argument("--tag", default="", help="added to the result name (e.g. before / after)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    clip = slice_clip(demo_track(), 0.0, args.duration)
    features = analyze(clip.samples, clip.sample_rate)
    n = int(round(args.duration * args.fps))
    rows = []
    for p in args.presets.split(","):
        r = bench_preset(p, args.size, features, clip.sample_rate, n, args.fps, args.batch)
        rows.append(r)
        print(f"{p:8s} {r['frames']} frames ({r['frames_with_bends']} bent): {r['synthesis_calls']} calls, "
              f"mean batch {r['mean_batch']:.2f}, {r['fps']:.1f} fps")
    print(write_result("batching", {"settings": vars(args), "presets": rows},
                       tag="cpu" + (f"-{args.tag}" if args.tag else "")))


if __name__ == "__main__":
    main()
