"""Resident memory across live model swaps, with glibc capped at one malloc arena or not.

Each configuration runs in its own process, as live mode does it: a loader thread builds the
next builtin model and renders its probe frame, a long-lived inference thread renders frames
with it, the old model is dropped and ``malloc_trim`` runs. RSS is read after every trim; a
flat series means a swap leaves nothing behind. Writes bench/results/swap-memory-cpu-DATE.json.
"""

from __future__ import annotations

import argparse
import json
import queue
import subprocess
import sys
import threading
import time

import numpy as np


def child(arenas: int, swaps: int, frames: int, size: int) -> dict:
    from livegan.oom import limit_malloc_arenas, resident_mb, trim_malloc

    if arenas > 0:
        limit_malloc_arenas(arenas)
    import torch

    from livegan.audio.features import FeatureFrame
    from livegan.conductor.performance import Groove
    from livegan.session import Session, SessionSpec

    torch.set_num_threads(1)
    session = Session(SessionSpec(model_size=size, device="cpu"), load_model=False)
    registry, performance = session.registry, session.performance
    jobs: queue.Queue = queue.Queue()
    done: queue.Queue = queue.Queue()
    render_ms: list[float] = []

    def inference() -> None:
        t = 0.0
        while (renderer := jobs.get()) is not None:
            with torch.inference_mode():
                for _ in range(frames):
                    t += 1 / 30
                    t0 = time.perf_counter()
                    groove = performance.step(FeatureFrame(sample_pos=int(t * 48000), time=t), registry.snapshot(), t)
                    renderer.render(groove)
                    render_ms.append((time.perf_counter() - t0) * 1000.0)
            del renderer  # the old model goes when the next one arrives, as in live mode
            done.put(None)

    worker = threading.Thread(target=inference, name="inference")
    worker.start()
    rss = []
    for i in range(swaps):
        box: dict = {}

        def load(seed: int = i % 3) -> None:
            renderer = session.load_model(f"builtin:{seed}")
            with torch.inference_mode():
                renderer.render(Groove())  # the swapper's probe frame
            box["renderer"] = renderer

        loader = threading.Thread(target=load, name="model-load")
        loader.start()
        loader.join()
        jobs.put(box.pop("renderer"))
        done.get()
        trim_malloc()
        rss.append(round(resident_mb(), 1))
    jobs.put(None)
    worker.join()
    after = rss[1:]  # the first swap includes start-up
    return {"arenas": arenas or "glibc default", "rss_mb_after_each_swap": rss,
            "rss_mb_range_after_first": round(max(after) - min(after), 1),
            "render_ms_p50": round(float(np.median(render_ms)), 2),
            "render_ms_p90": round(float(np.percentile(render_ms, 90)), 2)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--swaps", type=int, default=16)
    ap.add_argument("--frames", type=int, default=20, help="frames rendered with each model")
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--child", type=int, default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child is not None:
        print(json.dumps(child(args.child, args.swaps, args.frames, args.size)))
        return
    rows = []
    # 1: live mode now; 2: live mode before 2026-11-26's fix; 0: glibc's default (8 per core).
    for arenas in (1, 2, 0):
        out = subprocess.run([sys.executable, __file__, "--child", str(arenas), "--swaps", str(args.swaps),
                              "--frames", str(args.frames), "--size", str(args.size)],
                             capture_output=True, text=True, check=True).stdout
        row = json.loads(out.strip().splitlines()[-1])
        rows.append(row)
        print(f"arenas {row['arenas']}: RSS range after the first swap {row['rss_mb_range_after_first']} MB, "
              f"render p50 {row['render_ms_p50']} ms")
    from livegan.benchinfo import write_result

    print(write_result("swap-memory", {"settings": {k: v for k, v in vars(args).items() if k != "child"},
                                       "configs": rows}, tag="cpu"))


if __name__ == "__main__":
    main()
