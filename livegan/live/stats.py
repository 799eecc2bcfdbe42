"""Live timing figures: frame intervals, inference time and audio-to-photon latency."""

from __future__ import annotations

import json
import time
from array import array
from collections import deque
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np


def _pct(values, q: float) -> float:
    return float(np.percentile(np.asarray(values, dtype=np.float64), q)) if len(values) else 0.0


@dataclass(frozen=True)
class StatsSummary:
    frames: int
    seconds: float
    fps: float
    frame_ms_p50: float
    frame_ms_p99: float
    latency_ms_p50: float
    latency_ms_p99: float
    inference_ms_p50: float
    inference_ms_p99: float
    draw_ms_p50: float  # display thread's work per frame (upload, effects, HUD), before the swap
    draw_ms_p99: float
    model_frames: int
    model_fps: float
    dropped_model_frames: int
    latency_samples: int

    def to_dict(self) -> dict:
        return {k: (round(v, 3) if isinstance(v, float) else v) for k, v in asdict(self).items()}


class LiveStats:
    """Collects per-swap figures for the HUD (recent window) and the summary (whole run)."""

    def __init__(self, window: int = 240) -> None:
        # Whole-run series as packed doubles: 8 bytes a frame, ~5 MB for three hours at 60 fps.
        self.frame_ms = array("d")
        self.latency_ms = array("d")
        self.inference_ms = array("d")
        self.draw_ms = array("d")
        self.model_frames = 0
        self.dropped_model_frames = 0
        self._last_swap: float | None = None
        self._first_swap: float | None = None
        self._recent_frame = deque(maxlen=window)
        self._recent_latency = deque(maxlen=window)
        self._recent_infer = deque(maxlen=window)

    def on_swap(self, t: float | None = None) -> None:
        t = time.perf_counter() if t is None else t
        if self._last_swap is not None:
            dt = (t - self._last_swap) * 1000.0
            self.frame_ms.append(dt)
            self._recent_frame.append(dt)
        else:
            self._first_swap = t
        self._last_swap = t

    def on_new_model_frame(self, latency_ms: float | None, inference_ms: float) -> None:
        self.model_frames += 1
        self.inference_ms.append(inference_ms)
        self._recent_infer.append(inference_ms)
        if latency_ms is not None:
            self.latency_ms.append(latency_ms)
            self._recent_latency.append(latency_ms)

    def recent(self) -> dict[str, float]:
        """Short-window figures for the HUD."""
        fr = list(self._recent_frame)
        mean = float(np.mean(fr)) if fr else 0.0
        return {
            "fps": 1000.0 / mean if mean > 0 else 0.0,
            "frame_p50": _pct(fr, 50),
            "frame_p99": _pct(fr, 99),
            "latency_p50": _pct(self._recent_latency, 50),
            "latency_p99": _pct(self._recent_latency, 99),
            "inference": _pct(self._recent_infer, 50),
        }

    def summary(self) -> StatsSummary:
        seconds = (self._last_swap - self._first_swap) if self._first_swap is not None else 0.0
        frames = len(self.frame_ms) + (1 if self._first_swap is not None else 0)
        return StatsSummary(
            frames=frames,
            seconds=seconds,
            fps=(len(self.frame_ms) / seconds) if seconds > 0 else 0.0,
            frame_ms_p50=_pct(self.frame_ms, 50),
            frame_ms_p99=_pct(self.frame_ms, 99),
            latency_ms_p50=_pct(self.latency_ms, 50),
            latency_ms_p99=_pct(self.latency_ms, 99),
            inference_ms_p50=_pct(self.inference_ms, 50),
            inference_ms_p99=_pct(self.inference_ms, 99),
            draw_ms_p50=_pct(self.draw_ms, 50),
            draw_ms_p99=_pct(self.draw_ms, 99),
            model_frames=self.model_frames,
            model_fps=(self.model_frames / seconds) if seconds > 0 else 0.0,
            dropped_model_frames=self.dropped_model_frames,
            latency_samples=len(self.latency_ms),
        )



def write_json(path: str | Path, data: dict) -> None:
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(json.dumps(data, indent=2) + "\n")
