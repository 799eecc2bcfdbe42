"""Reactivity measurement: does the picture follow the music?

The audio goes through the same Analyzer and Conductor as a render; frames are
generated small and the *visual change* of frame ``i`` is the mean absolute difference
to frame ``i - 1`` (0..1). Against it we measure:

* ``onset_visual_correlation``: Pearson correlation between the onset envelope (the
  strongest beat-clock onset signal in each frame's interval) and the visual change;
* ``silence_visual_change``: mean visual change inside silence (after a short settle),
  and ``music_visual_change`` for comparison;
* ``on_onset_visual_change`` / ``between_onsets_visual_change``: median change on the
  frames with the strongest onsets and on those with the weakest (punch vs. calm);
* ``response_latency_s``: the lag (0..0.3 s) at which onset and change correlate best;
* tempo (median over the second half), beat times, drops, sections (with confidence),
  the beat clock over time (``tempo_curve``: time, BPM, confidence, locked), the bar grid
  (``bars``: downbeat times), breakdowns and the build-up peak, and with a known truth
  the tempo lock time (from when on the estimate stays within 1 BPM).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from ..audio.analyzer import analyze
from ..audio.beat import beat_strength
from ..audio.features import FeatureFrame
from ..render.offline import conduct

SILENCE_SETTLE_S = 0.5  # the release of a hit may still move the picture this long


@dataclass
class Reactivity:
    """Per-frame series and the summary numbers (``summary()`` is the JSON report)."""

    fps: int
    duration: float
    times: np.ndarray  # video frame times (s)
    visual_change: np.ndarray  # per frame, 0..1 (frame 0: 0)
    onset_env: np.ndarray  # per frame
    frames: list[FeatureFrame] = field(repr=False, default_factory=list)  # every analysis hop
    silences: list[tuple[float, float]] = field(default_factory=list)
    numbers: dict = field(default_factory=dict)

    def summary(self) -> dict:
        return dict(self.numbers)


def find_silences(frames: list[FeatureFrame], min_len: float = 1.0, level: float = 1e-3) -> list[tuple[float, float]]:
    """Stretches (start, end) of at least ``min_len`` s where the analyzer hears nothing."""
    out: list[tuple[float, float]] = []
    start = None
    for f in frames:
        quiet = f.rms <= level
        if quiet and start is None:
            start = f.time
        elif not quiet and start is not None:
            if f.time - start >= min_len:
                out.append((start, f.time))
            start = None
    if start is not None and frames and frames[-1].time - start >= min_len:
        out.append((start, frames[-1].time))
    return out


def tempo_lock_time(times: np.ndarray, tempo: np.ndarray, bpm: float, tol: float = 1.0) -> float | None:
    """The first time from which the tempo estimate stays within ``tol`` BPM of ``bpm``."""
    bad = np.abs(tempo - bpm) > tol
    if not bad.any():
        return float(times[0]) if len(times) else None
    last = int(np.nonzero(bad)[0][-1])
    return float(times[last + 1]) if last + 1 < len(times) else None


def _pearson(a: np.ndarray, b: np.ndarray) -> float:
    if len(a) < 3 or a.std() < 1e-12 or b.std() < 1e-12:
        return 0.0
    return float(np.corrcoef(a, b)[0, 1])


def measure(clip, session, fps: int = 30, size: int = 64, batch: int = 16, true_bpm: float | None = None,
            silences: list[tuple[float, float]] | None = None) -> Reactivity:
    """Analyse ``clip``, run the session's conductor and model on it, and measure the picture."""
    samples, sr = clip.samples, int(clip.sample_rate)
    duration = len(samples) / sr
    frames = analyze(samples, sr)
    model = session.model.resized((size, size), apply_show=False)
    n = int(round(duration * fps))
    change = np.zeros(n)
    prev: torch.Tensor | None = None
    pending = []
    k = 0

    def flush() -> None:
        nonlocal prev, k
        imgs = model.render_batch(pending).float() / 255.0
        for img in imgs:
            if prev is not None:
                change[k] = float((img - prev).abs().mean())
            prev = img
            k += 1
        pending.clear()

    for job in conduct(session, frames, sr, n, fps):
        pending.append(job.inputs)
        if len(pending) == batch:
            flush()
    if pending:
        flush()

    times = np.arange(n) / fps
    hop_times = np.array([f.time for f in frames])
    strength = np.array([beat_strength(f.flux, f.band_onsets) for f in frames])
    onset_env = np.zeros(n)
    for i in range(1, n):
        a, b = np.searchsorted(hop_times, [times[i - 1], times[i]], side="right")
        if b > a:
            onset_env[i] = strength[a:b].max()
    result = Reactivity(fps, duration, times, change, onset_env, frames,
                        silences if silences is not None else find_silences(frames))
    result.numbers = _numbers(result, true_bpm)
    return result


def _numbers(r: Reactivity, true_bpm: float | None) -> dict:
    frames = r.frames
    hop_times = np.array([f.time for f in frames])
    tempo = np.array([f.tempo_bpm for f in frames])
    second_half = tempo[hop_times >= r.duration / 2]
    quiet = np.zeros(len(r.times), dtype=bool)
    for a, b in r.silences:
        quiet |= (r.times >= a + SILENCE_SETTLE_S) & (r.times < b)
    loud = np.ones(len(r.times), dtype=bool)
    for a, b in r.silences:
        loud &= ~((r.times >= a) & (r.times < b + SILENCE_SETTLE_S))
    loud[0] = False
    fps = r.fps
    lags = range(0, max(1, int(round(0.3 * fps))) + 1)
    corr = [(_pearson(r.onset_env[loud][: len(r.onset_env[loud]) - lag] if lag else r.onset_env[loud],
                      r.visual_change[loud][lag:]), lag) for lag in lags]
    best_corr, best_lag = max(corr)
    numbers = {
        "duration_s": round(r.duration, 3),
        "fps": fps,
        "tempo_bpm": round(float(np.median(second_half)), 2) if len(second_half) else 0.0,
        "beats": [round(float(t), 3) for t, f in zip(hop_times, frames) if f.beat],
        "drops": [round(float(t), 3) for t, f in zip(hop_times, frames) if f.drop],
        "sections": [round(float(t), 3) for t, f in zip(hop_times, frames) if f.section],
        "section_confidence": [round(f.section_confidence, 3) for f in frames if f.section],
        **beat_clock_numbers(frames),
        "silences": [[round(a, 3), round(b, 3)] for a, b in r.silences],
        "onset_visual_correlation": round(corr[0][0], 4),
        "best_onset_visual_correlation": round(best_corr, 4),
        "response_latency_s": round(best_lag / fps, 4),
        "silence_visual_change": round(float(r.visual_change[quiet].mean()), 6) if quiet.any() else None,
        "music_visual_change": round(float(r.visual_change[loud].mean()), 6) if loud.any() else None,
        "music_visual_change_p95": round(float(np.percentile(r.visual_change[loud], 95)), 6) if loud.any() else None,
        # Punch vs. calm: change on the strongest onset frames and between onsets (the
        # picture should jump on hits and stay coherent in between).
        **_punch(r.onset_env[loud], r.visual_change[loud]),
    }
    if true_bpm:
        lock = tempo_lock_time(hop_times, tempo, true_bpm)
        numbers["true_bpm"] = true_bpm
        numbers["tempo_lock_s"] = None if lock is None else round(lock, 3)
        numbers["tempo_error_bpm"] = round(abs(numbers["tempo_bpm"] - true_bpm), 3)
    return numbers


def beat_clock_numbers(frames: list[FeatureFrame], step_s: float = 0.5) -> dict:
    """The clock over time: tempo curve with confidence, bar grid, lock, breakdowns, build."""
    if not frames:
        return {"tempo_curve": [], "bars": [], "tempo_confidence": 0.0, "tempo_locked_from_s": None,
                "breakdowns": [], "build_peak": 0.0}
    times = np.array([f.time for f in frames])
    marks = np.searchsorted(times, np.arange(times[0], times[-1] + 1e-9, step_s))
    curve = [[round(float(frames[i].time), 3), round(frames[i].tempo_bpm, 2), round(frames[i].tempo_confidence, 3),
              bool(frames[i].tempo_locked)] for i in marks if i < len(frames)]
    heard = [f.tempo_confidence for f in frames if f.tempo_bpm > 0]
    locked = next((f.time for f in frames if f.tempo_locked), None)
    spans, start = [], None
    for f in frames:
        if f.breakdown and start is None:
            start = f.time
        elif not f.breakdown and start is not None:
            spans.append([round(start, 3), round(f.time, 3)])
            start = None
    if start is not None:
        spans.append([round(start, 3), round(frames[-1].time, 3)])
    return {
        "tempo_curve": curve,  # [time s, BPM, confidence 0..1, locked] every step_s
        "bars": [round(float(f.time), 3) for f in frames if f.downbeat],
        "tempo_confidence": round(float(np.median(heard)), 3) if heard else 0.0,
        "tempo_locked_from_s": None if locked is None else round(float(locked), 3),
        "breakdowns": spans,
        "build_peak": round(max(f.build for f in frames), 3),
    }


def _punch(onsets: np.ndarray, change: np.ndarray) -> dict:
    if len(onsets) < 10:
        return {"on_onset_visual_change": None, "between_onsets_visual_change": None}
    hits = onsets >= np.percentile(onsets, 90)
    calm = onsets <= np.percentile(onsets, 50)
    return {"on_onset_visual_change": round(float(np.median(change[hits])), 6),
            "between_onsets_visual_change": round(float(np.median(change[calm])), 6)}
