"""Offline render: audio file -> features -> conductor -> batched engine -> effects -> H.264 + original audio.

The same Session (analyzer, performance, rig, engine, preset, effect chain) as live mode,
on a virtual clock: frame ``i`` is shown at ``i / fps`` seconds and sees every analysis
hop whose audio lies before that instant, exactly as a live frame would. The preset's
effect chain runs through the same GL code as the show (Mesa EGL headless), its
time-dependent effects stepped once per frame; ``effects=False`` skips it (the model's
frames are scaled to the output size by the engine instead).
"""

from __future__ import annotations

import bisect
import hashlib
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping

import numpy as np

from ..audio.features import FeatureFrame
from ..conductor.inputs import GeneratorInputs
from ..conductor.performance import Groove
from ..errors import LiveganError
from ..gl.effects import FrameUniforms
from ..gl.uniforms import frame_uniforms, onset_envelope
from ..oom import free_device_memory, is_out_of_memory
from ..session import ModelPath, Session
from .chunks import ChunkStore, chunk_ranges
from .encoder import Encoding, VideoEncoder, join_chunks
from .picture import OffscreenPicture

log = logging.getLogger("livegan.render")

MAX_SIDE = 8192
CHUNK_SECONDS = 3.0  # video per chunk: what a crash can cost, and what --resume skips


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
    path: Path | None
    frames: int
    duration: float
    fps: int
    size: tuple[int, int]
    timings: dict[str, float] = field(default_factory=dict)
    resumed_chunks: int = 0  # chunks kept from an interrupted render
    check: dict[str, Any] | None = None  # replay --check figures


def features_at(frames: list[FeatureFrame], positions: list[int], sample_pos: int) -> FeatureFrame:
    """The newest frame whose audio ends at or before ``sample_pos`` (causal lookup)."""
    k = bisect.bisect_right(positions, sample_pos) - 1
    if k < 0:
        return FeatureFrame.rest(0)
    return frames[k]


class FeatureStream:
    """Analysis features, computed as the frames reach them: the same frames as ``analyze()``
    (the analyzer is block-wise equal to a whole-file pass), but a render can start before the
    whole song is analysed. A list of features already made works as a finished stream."""

    READ_AHEAD_S = 2.0  # audio analysed per step past what a frame needs

    def __init__(self, samples: np.ndarray | None, sample_rate: int, frames: list[FeatureFrame] | None = None) -> None:
        from ..audio.analyzer import Analyzer  # noqa: PLC0415

        self.samples, self.sample_rate = samples, sample_rate
        self.frames: list[FeatureFrame] = list(frames or [])
        self.positions = [f.sample_pos for f in self.frames]
        self._analyzer = Analyzer(sample_rate) if samples is not None else None
        self._done = 0  # samples analysed

    def until(self, sample_pos: int) -> None:
        """Analyse at least up to ``sample_pos`` (every hop whose audio ends there is in ``frames``)."""
        if self._analyzer is None or self._done >= len(self.samples) or sample_pos < self._done:
            return
        end = min(len(self.samples), max(sample_pos + 1, self._done + int(self.READ_AHEAD_S * self.sample_rate)))
        new = self._analyzer.process(self.samples[self._done:end])
        self._done = end
        self.frames.extend(new)
        self.positions.extend(f.sample_pos for f in new)


@dataclass(frozen=True)
class Cue:
    """One output frame before the model: the performance's groove and how the effects draw it.

    Model-free and small, so a cluster driver steps the performance once and ships these."""

    groove: Groove
    uniforms: FrameUniforms
    values: Mapping[str, Any]  # the registry values of its tick


@dataclass(frozen=True)
class FrameJob:
    """One output frame: what the model makes, and how the effects draw it."""

    inputs: GeneratorInputs
    uniforms: FrameUniforms
    values: Mapping[str, Any]  # the registry values of its tick


def perform(session: Session, features: list[FeatureFrame] | FeatureStream, sample_rate: int, n_frames: int,
            fps: int, on_time: Callable[[float], None] | None = None) -> Iterator[Cue]:
    """Every video frame's cue, in order, on the audio clock (the performance only, no model).

    ``on_time(t)`` runs before each frame's snapshot (a replayed set applies its recorded
    parameter changes there).
    """
    registry, performance = session.registry, session.performance
    stream = features if isinstance(features, FeatureStream) else FeatureStream(None, sample_rate, features)
    features, positions = stream.frames, stream.positions  # grown in place by stream.until
    prev = -1
    onset = 0.0
    for i in range(n_frames):
        t = i / fps
        if on_time is not None:
            on_time(t)
        registry.clock = lambda t=t: t
        pos = int(round(t * sample_rate))
        stream.until(pos)
        k = bisect.bisect_right(positions, pos) - 1
        # Every hop since the previous frame, so onsets and beats between frames count.
        new = features[prev + 1:k + 1] if k > prev else []
        hops = new or [features_at(features, positions, pos)]
        prev = max(prev, k)
        snap = registry.snapshot()
        groove = performance.step(hops, snap, t)
        onset = onset_envelope(onset, any(h.onset for h in new), 1.0 / fps if i else 0.0)
        yield Cue(groove, frame_uniforms(hops[-1], onset), snap.values)


def conduct(session: Session, features: list[FeatureFrame], sample_rate: int, n_frames: int, fps: int,
            on_time: Callable[[float], None] | None = None) -> Iterator[FrameJob]:
    """Every video frame's job, in order: :func:`perform` and the current model's latent rig."""
    rig = session.model.rig
    for cue in perform(session, features, sample_rate, n_frames, fps, on_time):
        yield FrameJob(rig.inputs(cue.groove), cue.uniforms, cue.values)


class BatchRunner:
    """Engine calls in batches; out of memory halves the batch (down to 1) instead of failing."""

    def __init__(self, model: ModelPath, batch: int) -> None:
        self.model = model
        self.batch = batch

    def run(self, inputs: list[GeneratorInputs]) -> np.ndarray:
        out = []
        i = 0
        while i < len(inputs):
            part = inputs[i:i + self.batch]
            try:
                out.append(self.model.render_batch(part).cpu().numpy())
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


def render_identity(audio, session: Session, extra: dict | None) -> dict:
    """What makes two renders the same render (for --resume): content hashes, not paths."""
    h = hashlib.sha1(np.ascontiguousarray(audio.samples).tobytes()).hexdigest()
    preset = session.preset
    text = preset.path.read_bytes() if preset is not None and preset.path is not None and preset.path.is_file() else b""
    ident = {"audio_sha1": h, "sample_rate": int(audio.sample_rate), "preset": preset.name if preset else "",
             "preset_sha1": hashlib.sha1(text).hexdigest(), "model": session.spec.model,
             "model_size": session.spec.model_size, "seed": session.spec.seed}
    ident.update(extra or {})
    return ident


@dataclass(frozen=True)
class Layout:
    """How a render is cut into chunks, and the settings ``--resume`` must find unchanged.

    Single-machine and cluster renders share it, so both write the same chunks to the same
    folder: either can resume the other's interrupted render."""

    n_frames: int
    chunk_frames: int
    meta: dict

    @property
    def ranges(self) -> list[tuple[int, int]]:
        return chunk_ranges(self.n_frames, self.chunk_frames)


def layout(audio, session: Session, size: tuple[int, int], fps: int, batch: int, encoding: Encoding,
           chunk_seconds: float = CHUNK_SECONDS, identity: dict | None = None, effects: bool = True) -> Layout:
    n_frames = int(round(len(audio.samples) / int(audio.sample_rate) * fps))
    if n_frames < 1:
        raise LiveganError(f"{audio.path or 'audio'}: too short to render a single frame at {fps} fps")
    chunk_frames = max(1, int(round(chunk_seconds * fps)))
    chunk_frames = -(-chunk_frames // batch) * batch  # whole batches, so a resumed chunk batches alike
    meta = {"format": 2, "frames": n_frames, "fps": fps, "size": list(size), "batch": batch, **encoding.meta(),
            "chunk_frames": chunk_frames, "effects": effects,
            **render_identity(audio, session, identity)}
    return Layout(n_frames, chunk_frames, meta)


def draw_frames(picture: OffscreenPicture, start: int, frames: np.ndarray, cues) -> np.ndarray:
    """Model frames (numbered from ``start``) through the effect chain, each with its cue's
    uniforms and values: the pictures the encoder takes."""
    drawn = []
    for n, (cue, frame) in enumerate(zip(cues, frames)):
        picture.show((start + n, frame))
        picture.draw(cue.uniforms, cue.values)
        drawn.append(picture.pixels())
    return np.stack(drawn)


class ChunkedOutput:
    """The chunk loop every render shares: encode chunk after chunk, keep the effects' state
    at each boundary, join with the original audio at the end, with a progress bar."""

    def __init__(self, out: Path, size: tuple[int, int], fps: int, n_frames: int, chunk_frames: int,
                 meta: dict, resume: bool, progress: bool, encoding: Encoding, stateful: bool) -> None:
        self.out, self.size, self.fps, self.encoding = out, size, fps, encoding
        self.ranges = chunk_ranges(n_frames, chunk_frames)
        self.store = ChunkStore(out, meta, self.ranges, resume, stateful=stateful)
        self.first = self.store.prepare()
        self.progress = progress
        self.n_frames = n_frames
        self.enc_s = 0.0

    def run(self, chunk: Callable[[int, int, int, VideoEncoder], None], skip: Callable[[int, int, int], None],
            picture_state: Callable[[], dict] | None, audio: np.ndarray, sample_rate: int) -> float:
        """``skip(k, a, b)`` replays a finished chunk cheaply; ``chunk(k, a, b, enc)`` renders one."""
        bar = None
        if self.progress:
            from tqdm import tqdm  # noqa: PLC0415

            bar = tqdm(total=self.n_frames, unit="frame", desc=f"render {self.out.name}", dynamic_ncols=True)
        try:
            for k, (a, b) in enumerate(self.ranges):
                if k < self.first:  # done before: replay the (cheap, deterministic) conductor only
                    skip(k, a, b)
                    if bar:
                        bar.update(b - a)
                    continue
                try:
                    with VideoEncoder(self.store.path(k), self.size[0], self.size[1], self.fps,
                                      encoding=self.encoding) as enc:
                        chunk(k, a, b, enc)
                        # The state before the chunk's file appears (renamed into place as the
                        # encoder closes): a kill between the two never leaves a chunk --resume
                        # must throw away for want of its state.
                        if picture_state is not None:
                            self.store.save_state(k, picture_state())
                    self.enc_s += enc.stats.seconds
                except LiveganError as exc:
                    raise LiveganError(f"{exc}; {k} finished chunks are kept: run again with --resume") from None
                if bar:
                    bar.update(b - a)
            t_fin = time.perf_counter()
            try:
                join_chunks(self.store.paths(), self.out, self.fps, audio=audio, sample_rate=sample_rate)
            except LiveganError as exc:
                raise LiveganError(f"{exc}; the finished chunks are kept: run again with --resume") from None
            self.store.clear()
            return time.perf_counter() - t_fin
        finally:
            if bar:
                bar.close()


def render(
    audio,  # livegan.audio.io.AudioClip
    out: str | Path,
    session: Session,
    size: tuple[int, int] = (512, 512),
    fps: int = 30,
    batch: int = 8,
    progress: bool = True,
    encoding: Encoding = Encoding(),
    on_time: Callable[[float], None] | None = None,
    resume: bool = False,
    chunk_seconds: float = CHUNK_SECONDS,
    identity: dict | None = None,
    effects: bool = True,
) -> RenderResult:
    """Render ``audio`` (already sliced to what should be rendered) to ``out``.

    Video is written in chunks (see ``chunks``); ``resume`` continues an interrupted
    render of the same settings from its last complete chunk. ``identity`` adds what the
    caller knows makes this render distinct (the model file, a replayed set).
    """
    from ..audio.analyzer import analyze  # noqa: PLC0415

    timings: dict[str, float] = {}
    t_all = time.perf_counter()
    out = Path(out)
    samples, sr = audio.samples, int(audio.sample_rate)
    duration = len(samples) / sr
    lay = layout(audio, session, size, fps, batch, encoding, chunk_seconds, identity, effects)
    n_frames, chunk_frames, meta = lay.n_frames, lay.chunk_frames, lay.meta
    output = ChunkedOutput(out, size, fps, n_frames, chunk_frames, meta, resume, progress, encoding,
                           stateful=effects)

    t0 = time.perf_counter()
    features = analyze(samples, sr)
    timings["analysis_s"] = time.perf_counter() - t0
    model = session.model if effects else session.model.resized(size)
    runner = BatchRunner(model, batch)
    picture = OffscreenPicture(session, size) if effects and output.first < len(output.ranges) else None
    jobs = conduct(session, features, sr, n_frames, fps, on_time)
    gen_s = 0.0

    def skip(k: int, a: int, b: int) -> None:
        for _ in range(b - a):
            next(jobs)
        if picture is not None and k == output.first - 1:
            picture.restore(output.store.load_state(k))

    def chunk(k: int, a: int, b: int, enc: VideoEncoder) -> None:
        nonlocal gen_s
        for start in range(a, b, batch):
            t_gen = time.perf_counter()
            part = [next(jobs) for _ in range(min(batch, b - start))]
            frames = runner.run([j.inputs for j in part])
            if picture is not None:
                frames = draw_frames(picture, start, frames, part)
            gen_s += time.perf_counter() - t_gen
            enc.put(frames)

    try:
        timings["encode_tail_s"] = output.run(chunk, skip, picture.state if picture else None, samples, sr)
    finally:
        if picture is not None:
            picture.release()
    timings["encoding_s"] = output.enc_s
    timings["generation_s"] = gen_s
    timings["total_s"] = time.perf_counter() - t_all
    timings["fps"] = n_frames / timings["total_s"]
    return RenderResult(out, n_frames, duration, fps, size, timings, resumed_chunks=output.first)


def slice_clip(clip, start: float = 0.0, duration: float | None = None):
    """The part of ``clip`` from ``start`` for ``duration`` seconds (original rate and channels)."""
    from ..audio.io import AudioClip  # noqa: PLC0415

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
