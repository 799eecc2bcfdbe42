"""Offline render: audio file -> features -> conductor -> batched engine -> H.264 + original audio.

The same Analyzer and Conductor as live mode, on a virtual clock: frame ``i`` is shown
at ``i / fps`` seconds and sees the newest FeatureFrame whose audio lies before that
instant, exactly as a live frame would.
"""

from __future__ import annotations

import bisect
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from ..audio.features import FeatureFrame
from ..conductor.conductor import Conductor, GeneratorInputs
from ..conductor.preset import DEFAULT_PRESET, apply_preset, load_preset
from ..errors import LiveganError
from ..params.definitions import make_registry
from ..params.registry import ParamRegistry
from .engine import Engine
from .encoder import VideoEncoder

MAX_SIDE = 8192


def parse_size(text: str) -> tuple[int, int]:
    """'WxH' (or a single number for a square) -> (W, H); even sides for H.264."""
    try:
        parts = text.lower().split("x")
        w, h = (int(parts[0]), int(parts[0])) if len(parts) == 1 else (int(parts[0]), int(parts[1]))
        if len(parts) > 2:
            raise ValueError
    except ValueError:
        raise LiveganError(f"--size {text!r}: expected WIDTHxHEIGHT, e.g. 512x512") from None
    if not (16 <= w <= MAX_SIDE and 16 <= h <= MAX_SIDE):
        raise LiveganError(f"--size {text!r}: each side must be between 16 and {MAX_SIDE}")
    if w % 2 or h % 2:
        raise LiveganError(f"--size {text!r}: width and height must be even (H.264 4:2:0)")
    return w, h


def check_fps(fps: float) -> int:
    if not float(fps).is_integer() or not 1 <= fps <= 240:
        raise LiveganError(f"--fps {fps}: expected a whole number of frames per second from 1 to 240")
    return int(fps)


@dataclass
class RenderResult:
    path: Path
    frames: int
    duration: float
    fps: int
    size: tuple[int, int]
    timings: dict[str, float] = field(default_factory=dict)


def features_at(frames: list[FeatureFrame], positions: list[int], sample_pos: int) -> FeatureFrame:
    """The newest frame whose audio ends at or before ``sample_pos`` (causal lookup)."""
    k = bisect.bisect_right(positions, sample_pos) - 1
    if k < 0:
        return FeatureFrame.rest(0)
    return frames[k]


def conduct(conductor: Conductor, registry: ParamRegistry, features: list[FeatureFrame], sample_rate: int,
            n_frames: int, fps: int, on_time: Callable[[float], None] | None = None):
    """Yield GeneratorInputs for every video frame, in order.

    ``on_time(t)`` runs before each frame's snapshot (a replayed set applies its recorded
    parameter changes there).
    """
    positions = [f.sample_pos for f in features]
    for i in range(n_frames):
        t = i / fps
        if on_time is not None:
            on_time(t)
        registry.clock = lambda t=t: t
        feat = features_at(features, positions, int(round(t * sample_rate)))
        yield conductor.step(feat, registry.snapshot(), t)


def setup_conductor(generator, preset_name: str, seed: int, sample_rate: int,
                    registry: ParamRegistry | None = None) -> tuple[Conductor, ParamRegistry]:
    registry = registry or make_registry()
    apply_preset(registry, load_preset(preset_name, registry))
    registry.set("latent/seed", int(seed), source="cli")
    conductor = Conductor(generator, seed=int(seed), sample_rate=sample_rate)
    conductor.taus = {s.name: s.smoothing for s in registry.specs()}
    return conductor, registry


def render(
    audio,  # livegan.audio.io.AudioClip
    out: str | Path,
    generator,
    preset: str = DEFAULT_PRESET,
    size: tuple[int, int] = (512, 512),
    fps: int = 30,
    seed: int = 0,
    batch: int = 8,
    device: str | None = None,
    progress: bool = True,
    crf: int = 18,
    x264_preset: str = "veryfast",
    registry: ParamRegistry | None = None,
    on_time: Callable[[float], None] | None = None,
) -> RenderResult:
    """Render ``audio`` (already sliced to what should be rendered) to ``out``."""
    from ..audio.analyzer import analyze

    timings: dict[str, float] = {}
    t_all = time.perf_counter()
    samples = audio.samples
    sr = int(audio.sample_rate)
    duration = len(samples) / sr
    n_frames = int(round(duration * fps))
    if n_frames < 1:
        raise LiveganError(f"{audio.path or 'audio'}: too short to render a single frame at {fps} fps")

    t0 = time.perf_counter()
    features = analyze(samples, sr)
    timings["analysis_s"] = time.perf_counter() - t0

    conductor, registry = setup_conductor(generator, preset, seed, sr, registry)
    engine = Engine(generator, device=device, size=size)

    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=n_frames, unit="frame", desc=f"render {Path(out).name}", dynamic_ncols=True)
    gen_s = 0.0
    try:
        with VideoEncoder(out, size[0], size[1], fps, audio=samples, sample_rate=sr, crf=crf,
                          preset=x264_preset) as enc:
            pending: list[GeneratorInputs] = []
            t_gen = time.perf_counter()
            for inputs in conduct(conductor, registry, features, sr, n_frames, fps, on_time):
                pending.append(inputs)
                if len(pending) == batch:
                    frames = engine.generate(pending).cpu().numpy()
                    gen_s += time.perf_counter() - t_gen
                    enc.put(frames)
                    if bar:
                        bar.update(len(pending))
                    pending = []
                    t_gen = time.perf_counter()
            if pending:
                frames = engine.generate(pending).cpu().numpy()
                gen_s += time.perf_counter() - t_gen
                enc.put(frames)
                if bar:
                    bar.update(len(pending))
            t_fin = time.perf_counter()
            enc.finish()
            timings["encode_tail_s"] = time.perf_counter() - t_fin
            timings["encoding_s"] = enc.stats.seconds
    finally:
        if bar:
            bar.close()
    timings["generation_s"] = gen_s
    timings["total_s"] = time.perf_counter() - t_all
    timings["fps"] = n_frames / timings["total_s"]
    return RenderResult(Path(out), n_frames, duration, fps, size, timings)


def slice_clip(clip, start: float = 0.0, duration: float | None = None):
    """The part of ``clip`` from ``start`` for ``duration`` seconds (original rate and channels)."""
    from ..audio.io import AudioClip

    if start < 0:
        raise LiveganError(f"--start {start}: must not be negative")
    if duration is not None and duration <= 0:
        raise LiveganError(f"--duration {duration}: must be positive")
    sr = clip.sample_rate
    a = int(round(start * sr))
    if a >= len(clip.samples):
        raise LiveganError(f"--start {start}: {clip.path or 'audio'} is only {len(clip.samples) / sr:.2f} s long")
    b = len(clip.samples) if duration is None else min(len(clip.samples), a + int(round(duration * sr)))
    return AudioClip(samples=np.ascontiguousarray(clip.samples[a:b]), sample_rate=sr, path=clip.path)


def set_threads(device: str | None) -> None:
    """On a CPU, torch gets every core unless LIVEGAN_THREADS says otherwise."""
    n = os.environ.get("LIVEGAN_THREADS")
    if n:
        torch.set_num_threads(max(1, int(n)))
