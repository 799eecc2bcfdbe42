"""``livegan render --replay SET``: a recorded show re-rendered at the instants the audience saw.

The conductor steps exactly at the live ticks, on the same features and snapshots (the
recorded changes applied before each tick); the model renders the frames the display
showed; the compositor draws every displayed frame again, in order, with the uniforms and
registry values it was drawn with live. So the pictures equal the live ones up to float
rounding, which ``check`` measures against the thumbnails the live show kept.

The video is sampled from the displayed frames like a screen capture: output frame ``i``
shows the newest frame displayed at or before ``i / fps`` (default: the live display rate).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np

from ..audio.features import FeatureFrame
from ..conductor.inputs import GeneratorInputs
from ..errors import LiveganError
from ..gl.effects import FrameUniforms
from ..record.replay import SetReplayer, ValuesBySeq, replay_features, tick_features
from ..record.setfile import RecordedSet
from ..session import Session
from .encoder import Encoding, VideoEncoder
from .offline import BatchRunner, ChunkedOutput, RenderResult, render_identity
from .picture import OffscreenPicture

log = logging.getLogger("livegan.render")
CHECK_LIMIT = 2  # levels of 255: a replayed picture may differ from the live one by float rounding only


@dataclass
class CheckFigures:
    frames: int = 0
    max_diff: int = 0
    total: float = 0.0
    skipped: int = 0  # thumbnails at another size than the replay draws

    def add(self, live: np.ndarray, replayed: np.ndarray) -> None:
        d = np.abs(live.astype(np.int16) - replayed.astype(np.int16))
        self.frames += 1
        self.max_diff = max(self.max_diff, int(d.max()))
        self.total += float(d.mean())

    def summary(self) -> dict:
        mean = self.total / self.frames if self.frames else 0.0
        return {"frames": self.frames, "max_diff": self.max_diff, "mean_diff": mean, "skipped": self.skipped,
                "line": f"replay check: {self.frames} frames, max diff {self.max_diff}/255, mean {mean:.3f}/255"}


class TickFrames:
    """The conductor at the live ticks; the model frames the display needs, in batches."""

    def __init__(self, recorded: RecordedSet, session: Session, runner: BatchRunner, needed: set[int]) -> None:
        self.session = session
        self.runner = runner
        self.needed = needed
        self.frames: dict[int, np.ndarray] = {}
        self._models = dict(recorded.models)
        self._ticks = self._steps(recorded)

    def _steps(self, recorded: RecordedSet) -> Iterator[tuple[int, GeneratorInputs | None]]:
        features = replay_features(recorded)
        positions = [f.sample_pos for f in features]
        replayer = SetReplayer(recorded, self.session.registry)
        registry, performance = self.session.registry, self.session.performance
        sr = recorded.sample_rate
        for k, (tick, hops) in enumerate(zip(recorded.ticks, tick_features(features, positions, recorded.ticks))):
            t = float(tick["t"])
            replayer.advance(t)
            registry.clock = lambda t=t: t
            if k in self._models and k > 0:  # a hot swap went live at this tick
                self.session.model = self.session.load_model(self._models[k])
                self.runner.model = self.session.model
            snap = registry.snapshot()
            groove = performance.step(hops or [FeatureFrame.rest(int(tick["pos"]), sr)], snap, t)
            fid = int(tick["frame"])
            yield fid, (self.session.model.rig.inputs(groove) if fid in self.needed else None)

    def get(self, fid: int) -> np.ndarray:
        """Model frame ``fid``, rendering the next batch of needed frames when it is not there yet."""
        while fid not in self.frames:
            batch: list[tuple[int, GeneratorInputs]] = []
            for tid, inputs in self._ticks:
                if inputs is not None:
                    batch.append((tid, inputs))
                    if len(batch) >= self.runner.batch:
                        break
            if not batch:
                raise LiveganError(f"the set names model frame {fid}, which no recorded tick rendered")
            pixels = self.runner.run([inp for _, inp in batch])
            self.frames.update({tid: px for (tid, _), px in zip(batch, pixels)})
        return self.frames[fid]

    def forget_before(self, fid: int) -> None:
        for k in [k for k in self.frames if k < fid]:
            del self.frames[k]


def _uniforms(rec) -> FrameUniforms:
    return FrameUniforms(time=float(rec["time"]), onset=float(rec["onset"]), rms=float(rec["rms"]),
                         flux=float(rec["flux"]), bands=tuple(float(b) for b in rec["bands"]),
                         beat_phase=float(rec["beat_phase"]), frame_mix=float(rec["mix"]))


def render_replay(recorded: RecordedSet, out: Path | None, session: Session, size: tuple[int, int], fps: int,
                  batch: int = 8, progress: bool = True, encoding: Encoding = Encoding(),
                  resume: bool = False, check: bool = False, identity: dict | None = None) -> RenderResult:
    """Re-render a set at its live display instants; ``check`` compares with its thumbnails."""
    t_all = time.perf_counter()
    display = recorded.display
    if not len(display):
        raise LiveganError(f"--replay {recorded.path}: the set has no displayed frames (recorded by an older "
                           f"livegan?): give --fps N to render it at a new rate")
    sr = recorded.sample_rate
    samples = recorded.audio.samples
    duration = len(samples) / sr
    n_out = int(round(duration * fps)) if out is not None else 0
    rec_t = display["pos"] / sr
    # Output frame i shows the newest record displayed at or before i / fps.
    show_of = np.searchsorted(rec_t, np.arange(n_out) / fps, side="right") - 1
    runner = BatchRunner(session.model, batch)
    figures = CheckFigures()
    picture = OffscreenPicture(session, size)
    values = ValuesBySeq(recorded)
    state = {"j": 0}  # the next display record to draw
    needed = {int(x) for x in np.concatenate([display["cur"], display["prev"]]) if x >= 0}
    frames = TickFrames(recorded, session, runner, needed)
    black = np.zeros((size[1], size[0], 3), np.uint8)
    timings: dict[str, float] = {}

    def draw_until(j_end: int, emit) -> None:
        """Draw records up to ``j_end`` (exclusive), in order; ``emit(j)`` after each."""
        while state["j"] < j_end:
            j = state["j"]
            rec = display[j]
            cur, prev = int(rec["cur"]), int(rec["prev"])
            if cur >= 0:
                picture.show((cur, frames.get(cur)), (prev, frames.get(prev)) if prev >= 0 else None)
                frames.forget_before(min(cur, prev) if prev >= 0 else cur)
            picture.draw(_uniforms(rec), values.at(int(rec["seq"])))
            if check:
                live = recorded.thumbnail(rec)
                if live is not None:
                    if (int(rec["w"]), int(rec["h"])) == tuple(size):
                        figures.add(live, picture.thumbnail())
                    else:
                        figures.skipped += 1
            emit(j)
            state["j"] = j + 1

    if out is None:  # --check alone: draw every record, write nothing
        draw_until(len(display), lambda j: None)
        picture.release()
        timings["total_s"] = time.perf_counter() - t_all
        return RenderResult(None, 0, duration, fps, size, timings, check=figures.summary())

    meta = {"format": 2, "replay": "exact", "frames": n_out, "fps": fps, "size": list(size), "batch": batch,
            **encoding.meta(), **render_identity(recorded.audio, session, identity)}
    chunk_frames = max(1, int(round(3.0 * fps)))
    output = ChunkedOutput(out, size, fps, n_out, chunk_frames, meta, resume, progress, encoding,
                           stateful=False)

    def skip(k: int, a: int, b: int) -> None:
        # A resumed replay keeps the encoded chunks but draws their records again: the
        # effects' trails and the crossfade depend on every frame before.
        j = int(show_of[b - 1])
        draw_until(j + 1, lambda _: None)

    def chunk(k: int, a: int, b: int, enc: VideoEncoder) -> None:
        for i in range(a, b):
            j = int(show_of[i])
            if j < 0:
                enc.put(black)
                continue
            draw_until(j + 1, lambda _: None)
            enc.put(picture.pixels())

    try:
        timings["encode_tail_s"] = output.run(chunk, skip, None, samples, sr)
        if check:
            draw_until(len(display), lambda j: None)  # records after the last output frame
    finally:
        picture.release()
    timings["total_s"] = time.perf_counter() - t_all
    timings["fps"] = n_out / timings["total_s"]
    return RenderResult(out, n_out, duration, fps, size, timings, check=figures.summary() if check else None)
