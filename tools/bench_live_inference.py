"""Benchmark live mode's audio -> analysis -> inference -> host path, without GL.

Runs the real threads (file clock, analysis thread, inference thread with the
conductor and engine) on CPU or CUDA and measures model fps, inference ms and
audio-to-host-frame latency (a frame's newest audio block arriving to the frame being
in host memory, ready for upload). On CUDA it also checks that the pinned asynchronous
copy returns exactly what ``.cpu()`` returns. Needs no display, GL or sound card, so it
also runs on a GPU box with only torch.

    python tools/bench_live_inference.py --device cuda --size 1024 --seconds 20
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tools"))

from bench_live import song_samples  # noqa: E402

from livegan.audio.analyzer import Analyzer  # noqa: E402
from livegan.live.analysis_thread import AnalysisThread  # noqa: E402
from livegan.live.audio_input import FileInput  # noqa: E402
from livegan.live.inference_thread import HostCopier, InferenceThread  # noqa: E402
from livegan.live.latest import Latest  # noqa: E402
from livegan.live.ringbuffer import AudioRing  # noqa: E402
from livegan.live.stats import write_json  # noqa: E402
from livegan.live.watchdog import StallGuard  # noqa: E402
from livegan.session import Session, SessionSpec  # noqa: E402


def _pct(v, q):
    return round(float(np.percentile(v, q)), 3) if len(v) else 0.0


def copy_check(device: str) -> dict:
    """Pinned async copy == plain copy, and how long it takes at 1024x1024x3."""
    import torch  # noqa: PLC0415

    if not device.startswith("cuda"):
        return {}
    x = torch.randint(0, 256, (1, 1024, 1024, 3), dtype=torch.uint8, device=device)
    copier = HostCopier()
    same = bool(np.array_equal(copier(x), x[0].cpu().numpy()))
    times = []
    for _ in range(50):
        torch.cuda.synchronize()
        t = time.perf_counter()
        copier(x)
        times.append((time.perf_counter() - t) * 1000)
    return {"pinned_copy_equal": same, "pinned_copy_ms_p50": _pct(times, 50), "pinned_copy_ms_p99": _pct(times, 99)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--size", type=int, default=512)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    rate = 48000
    import itertools  # noqa: PLC0415

    import torch  # noqa: PLC0415

    if args.threads:
        torch.set_num_threads(args.threads)
    session = Session(SessionSpec(model_size=args.size, device=args.device, sample_rate=rate))
    registry, model, device = session.registry, session.model.name, str(session.model.device)
    ring = AudioRing(rate * 4, rate)
    feats: Latest = Latest()
    frames: Latest = Latest()
    source = FileInput(ring, "<generated>", song_samples(args.seconds + 5, rate), play=False)
    analysis = AnalysisThread(ring, Analyzer(rate), feats)
    inference = InferenceThread(feats, registry, session.performance, StallGuard(session.model), frames, Latest(),
                                itertools.count(1))
    latencies, infer = [], []
    threads = [inference.start(), analysis.start(), source.start()]
    version, t0 = 0, time.perf_counter()
    warm_until = t0 + 2.0  # first calls allocate and tune kernels
    try:
        while time.perf_counter() - t0 < args.seconds:
            frame, v = frames.wait_newer(version, 0.5)
            if v == version or frame is None:
                continue
            version = v
            now = time.perf_counter()
            arrival = ring.arrival_time(frame.sample_pos)
            if now >= warm_until and arrival is not None:
                latencies.append((now - arrival) * 1000)
                infer.append(frame.inference_ms)
    finally:
        for th in threads:
            th.stop()
    measured = args.seconds - 2.0
    result = {
        "benchmark": "live inference path (no GL)",
        "model": model, "torch_device": device, "size": args.size,
        "model_fps": round(len(infer) / measured, 3),
        "inference_ms_p50": _pct(infer, 50), "inference_ms_p99": _pct(infer, 99),
        "audio_to_host_ms_p50": _pct(latencies, 50), "audio_to_host_ms_p99": _pct(latencies, 99),
        "frames": len(infer), "inference_error": inference.error,
        **copy_check(device),
        "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
    }
    kind = "cuda" if device.startswith("cuda") else "cpu"
    out = Path(args.out) if args.out else ROOT / "bench" / "results" / f"live-inference-{kind}-{dt.date.today().isoformat()}.json"
    write_json(out, result)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
