"""Offline render: audio file -> features -> conductor -> batched engine -> H.264 + original audio.

The same Analyzer and Conductor as live mode, on a virtual clock: frame ``i`` is shown
at ``i / fps`` seconds and sees the newest FeatureFrame whose audio lies before that
instant, exactly as a live frame would.
"""

from __future__ import annotations

import bisect
import hashlib
import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from ..audio.features import FeatureFrame
from ..conductor.conductor import Conductor, GeneratorInputs
from ..conductor.preset import DEFAULT_PRESET, apply_preset, find_preset, load_preset
from ..errors import LiveganError
from ..oom import free_device_memory, is_out_of_memory
from ..params.definitions import make_registry
from ..params.registry import ParamRegistry
from .chunks import ChunkStore, chunk_ranges
from .engine import Engine
from .encoder import VideoEncoder, join_chunks

log = logging.getLogger("livegan.render")

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
    resumed_chunks: int = 0  # chunks kept from an interrupted render


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
    prev = -1
    for i in range(n_frames):
        t = i / fps
        if on_time is not None:
            on_time(t)
        registry.clock = lambda t=t: t
        k = bisect.bisect_right(positions, int(round(t * sample_rate))) - 1
        # Every hop since the previous frame, so onsets and beats between frames count.
        pos = int(round(t * sample_rate))
        feat = features[prev + 1:k + 1] if k > prev else [features_at(features, positions, pos)]
        prev = max(prev, k)
        yield conductor.step(feat, registry.snapshot(), t)


def setup_conductor(generator, preset_name: str, seed: int, sample_rate: int,
                    registry: ParamRegistry | None = None) -> tuple[Conductor, ParamRegistry]:
    registry = registry or make_registry()
    preset = load_preset(preset_name, registry)
    apply_preset(registry, preset)
    registry.set("latent/seed", int(seed), source="cli")
    conductor = Conductor(generator, seed=int(seed), sample_rate=sample_rate)
    conductor.taus = {s.name: s.smoothing for s in registry.specs()}
    conductor.set_mappings(preset.mappings, where=str(preset.path or preset.name))
    return conductor, registry


CHUNK_SECONDS = 3.0  # video per chunk: what a crash can cost, and what --resume skips


class BatchRunner:
    """Engine calls in batches; out of memory halves the batch (down to 1) instead of failing."""

    def __init__(self, engine: Engine, batch: int) -> None:
        self.engine = engine
        self.batch = batch

    def run(self, inputs: list[GeneratorInputs]) -> np.ndarray:
        out = []
        i = 0
        while i < len(inputs):
            part = inputs[i:i + self.batch]
            try:
                out.append(self.engine.generate(part).cpu().numpy())
            except Exception as exc:
                if not is_out_of_memory(exc):
                    raise
                free_device_memory()
                if self.batch == 1:
                    raise LiveganError("out of memory at batch 1: try a smaller --size or --device cpu") from None
                self.batch = max(1, self.batch // 2)
                log.warning("out of memory: continuing with --batch %d", self.batch)
                continue
            i += len(part)
        return np.concatenate(out)


def render_identity(audio, preset: str, generator, extra: dict | None) -> dict:
    """What makes two renders the same render (for --resume): content hashes, not paths."""
    h = hashlib.sha1(np.ascontiguousarray(audio.samples).tobytes()).hexdigest()
    preset_path = find_preset(preset)
    ident = {"audio_sha1": h, "sample_rate": int(audio.sample_rate), "preset": preset,
             "preset_sha1": hashlib.sha1(preset_path.read_bytes()).hexdigest() if preset_path.is_file() else "",
             "generator": type(generator).__name__}
    ident.update(extra or {})
    return ident


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
    resume: bool = False,
    chunk_seconds: float = CHUNK_SECONDS,
    identity: dict | None = None,
) -> RenderResult:
    """Render ``audio`` (already sliced to what should be rendered) to ``out``.

    Video is written in chunks (see ``chunks``); ``resume`` continues an interrupted
    render of the same settings from its last complete chunk. ``identity`` adds what the
    caller knows makes this render distinct (the model file, a replayed set).
    """
    from ..audio.analyzer import analyze

    timings: dict[str, float] = {}
    t_all = time.perf_counter()
    out = Path(out)
    samples = audio.samples
    sr = int(audio.sample_rate)
    duration = len(samples) / sr
    n_frames = int(round(duration * fps))
    if n_frames < 1:
        raise LiveganError(f"{audio.path or 'audio'}: too short to render a single frame at {fps} fps")
    chunk_frames = max(1, int(round(chunk_seconds * fps)))
    chunk_frames = -(-chunk_frames // batch) * batch  # whole batches, so a resumed chunk batches alike
    ranges = chunk_ranges(n_frames, chunk_frames)
    meta = {"format": 1, "frames": n_frames, "fps": fps, "size": list(size), "seed": int(seed), "batch": batch,
            "crf": crf, "x264_preset": x264_preset, "chunk_frames": chunk_frames,
            **render_identity(audio, preset, generator, identity)}
    store = ChunkStore(out, meta, ranges, resume)
    first = store.prepare()

    t0 = time.perf_counter()
    features = analyze(samples, sr)
    timings["analysis_s"] = time.perf_counter() - t0

    conductor, registry = setup_conductor(generator, preset, seed, sr, registry)
    runner = BatchRunner(Engine(generator, device=device, size=size), batch) if first < len(ranges) else None

    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=n_frames, unit="frame", desc=f"render {out.name}", dynamic_ncols=True)
    gen_s = enc_s = 0.0
    steps = conduct(conductor, registry, features, sr, n_frames, fps, on_time)
    try:
        for k, (a, b) in enumerate(ranges):
            if k < first:  # done before: replay the (cheap, deterministic) conductor only
                for _ in range(b - a):
                    next(steps)
                if bar:
                    bar.update(b - a)
                continue
            try:
                with VideoEncoder(store.path(k), size[0], size[1], fps, crf=crf, preset=x264_preset) as enc:
                    for start in range(a, b, batch):
                        t_gen = time.perf_counter()
                        inputs = [next(steps) for _ in range(min(batch, b - start))]
                        frames = runner.run(inputs)
                        gen_s += time.perf_counter() - t_gen
                        enc.put(frames)
                        if bar:
                            bar.update(len(inputs))
                enc_s += enc.stats.seconds
            except LiveganError as exc:
                raise LiveganError(f"{exc}; {k} finished chunks are kept: run again with --resume") from None
        t_fin = time.perf_counter()
        try:
            join_chunks(store.paths(), out, fps, audio=samples, sample_rate=sr)
        except LiveganError as exc:
            raise LiveganError(f"{exc}; the finished chunks are kept: run again with --resume") from None
        store.clear()
        timings["encode_tail_s"] = time.perf_counter() - t_fin
        timings["encoding_s"] = enc_s
    finally:
        if bar:
            bar.close()
    timings["generation_s"] = gen_s
    timings["total_s"] = time.perf_counter() - t_all
    timings["fps"] = n_frames / timings["total_s"]
    return RenderResult(out, n_frames, duration, fps, size, timings, resumed_chunks=first)


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
