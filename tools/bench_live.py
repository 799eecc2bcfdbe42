"""Benchmark live mode: headless EGL, the embedded model, a song on the file clock.

Writes ``bench/results/live-<device>-<date>.json`` with sustained display fps, frame
time p50/p99, inference ms and audio-to-photon latency p50/p99 (from a frame's newest
audio block arriving to the swap that shows it at least half blended in).

    .venv/bin/python tools/bench_live.py --seconds 60 --size 512
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from livegan.live.app import LiveApp, LiveConfig  # noqa: E402


def song_samples(seconds: float, rate: int = 48000) -> np.ndarray:
    """A beat-like test signal: kick every 0.5 s, hats every 0.125 s, a bass line."""
    rng = np.random.default_rng(0)
    t = np.arange(int(seconds * rate)) / rate
    x = 0.15 * np.sin(2 * np.pi * 55 * t) * (0.6 + 0.4 * np.sin(2 * np.pi * 0.25 * t))
    for k in np.arange(0, seconds, 0.5):
        i = int(k * rate)
        n = np.arange(min(int(0.15 * rate), len(t) - i))
        x[i:i + len(n)] += 0.8 * np.sin(2 * np.pi * (50 + 80 * np.exp(-n / 800)) * n / rate) * np.exp(-n / 3000)
    for k in np.arange(0.25, seconds, 0.125):
        i = int(k * rate)
        n = min(int(0.03 * rate), len(t) - i)
        x[i:i + n] += 0.2 * rng.standard_normal(n) * np.exp(-np.arange(n) / 300)
    return (x / np.abs(x).max() * 0.9).astype(np.float32)


def make_song(path: Path, seconds: float, rate: int = 48000) -> Path:
    import soundfile as sf  # noqa: PLC0415

    sf.write(str(path), song_samples(seconds, rate), rate)
    return path


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--size", type=int, default=512)
    ap.add_argument("--fps", type=float, default=30.0, help="headless display rate")
    ap.add_argument("--preset", default="drift")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        song = make_song(Path(tmp) / "bench.wav", args.seconds + 10)
        cfg = LiveConfig(file=str(song), play=False, headless=True, size=args.size, preset=args.preset,
                         duration=args.seconds, refresh_hz=args.fps, device=args.device, threads=args.threads)
        result = LiveApp(cfg).run()
    frame = 1000.0 / args.fps
    result.update({
        "benchmark": "live headless",
        "target_fps": args.fps,
        "goal": {"fps": ">= 30", "frame_ms_p99": "<= 1.5 x p50", "latency_ms_p50": f"<= {2 * frame + 25:.1f}"},
        "goal_met": {
            "fps": result["fps"] >= 30.0,
            "frame_ms_p99": result["frame_ms_p99"] <= 1.5 * result["frame_ms_p50"],
            "latency_ms_p50": result["latency_ms_p50"] <= 2 * frame + 25.0,
        },
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version()},
        "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
    })
    kind = "cuda" if "cuda" in result["torch_device"] else "cpu"
    out = Path(args.out) if args.out else ROOT / "bench" / "results" / f"live-{kind}-{dt.date.today().isoformat()}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({k: result[k] for k in ("fps", "frame_ms_p50", "frame_ms_p99", "inference_ms_p50",
                                              "latency_ms_p50", "latency_ms_p99", "model_fps", "goal_met")}))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
