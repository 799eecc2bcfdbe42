"""A render worker: one Ray actor per GPU (or CPU slot), holding one pipeline.

It builds its Session from the driver's spec and the model from the weights the driver put
in the object store once (never from a file of its own). A chunk goes through it in three
calls, so the one sequential part (effects with memory) never waits for the model:

* ``generate(plan)``: the model's frames for the chunk's cues, kept here (the expensive part);
* ``draw(k, state)``: the effect chain over them, starting from ``state`` when the chunk
  continues the previous one's trails; returns the chain's state at its end as soon as the
  last frame is drawn, while x264 goes on encoding on its own thread;
* ``encoded(k)``: the chunk's finished MP4 bytes.

The calls run concurrently (an async actor): the model on one thread, GL on another (an EGL
context belongs to one thread), encoders on their own.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import tempfile
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from ..render.encoder import Encoding, VideoEncoder
from ..render.offline import BatchRunner, draw_frames
from ..render.picture import OffscreenPicture
from ..session import Session, SessionSpec
from .plan import ChunkPlan, shaders_digest


@dataclass(frozen=True)
class WorkerSetup:
    spec: SessionSpec
    size: tuple[int, int]
    fps: int
    batch: int
    effects: bool
    encoding: Encoding
    torch_threads: int  # the driver's: float sums run in the same order as a render there


@dataclass(frozen=True)
class WorkerInfo:
    pid: int
    host: str
    cpus: int  # what x264 counts to choose its threads (its bits depend on them)
    device: str
    shaders: str  # shaders_digest
    startup_s: float  # session + model from the object store


@dataclass(frozen=True)
class Drawn:
    state: dict[str, np.ndarray] | None  # the effect chain's state after the chunk (stateful chunks)
    model_s: float
    draw_s: float


@dataclass(frozen=True)
class Encoded:
    data: bytes
    encode_s: float  # from the last frame drawn to the file closed


class NotStarted(RuntimeError):
    """A call reached a worker Ray restarted after it died, before the driver started it again."""


class ChunkWorker:
    """Built empty; ``start`` builds the pipeline (Ray restarts a killed worker empty, and the
    driver starts it again)."""

    def __init__(self) -> None:
        self.setup: WorkerSetup | None = None
        self.info_: WorkerInfo | None = None
        self._held: dict[int, tuple[ChunkPlan, np.ndarray, float]] = {}
        self._encoding: dict[int, Future] = {}
        self._tmp = Path(tempfile.mkdtemp(prefix="livegan-worker-"))

    def start(self, setup: WorkerSetup, weights_ref: list) -> WorkerInfo:
        """Build the pipeline from ``setup`` and the weights the driver put in the object store
        once (``weights_ref`` is ``[ObjectRef]``); forget chunks held from before."""
        self._held.clear()
        self._encoding.clear()
        if self.setup == setup and self.info_ is not None:
            return self.info_
        import ray  # noqa: PLC0415
        import torch  # noqa: PLC0415

        t0 = time.perf_counter()
        weights = ray.get(weights_ref[0])
        torch.set_num_threads(setup.torch_threads)
        self.setup = setup
        # No preset here: the driver's cues carry every value the effects draw with.
        self.session = Session(replace(setup.spec, preset=None), load_model=False)
        self.session.model = self.session.load_model(setup.spec.model, weights=weights)
        model = self.session.model if setup.effects else self.session.model.resized(setup.size)
        self.runner = BatchRunner(model, setup.batch)
        self._model_thread = ThreadPoolExecutor(1, thread_name_prefix="model")
        self._gl_thread = ThreadPoolExecutor(1, thread_name_prefix="gl")
        self._encoders = ThreadPoolExecutor(2, thread_name_prefix="encode")
        self._picture: OffscreenPicture | None = None
        self.info_ = WorkerInfo(os.getpid(), socket.gethostname(), len(os.sched_getaffinity(0)),
                                str(self.session.model.device), shaders_digest(setup.spec.shader_dir),
                                time.perf_counter() - t0)
        return self.info_

    # ---- the three calls ------------------------------------------------------------
    def _started(self) -> None:
        if self.setup is None:
            raise NotStarted(f"worker pid {os.getpid()} was restarted")

    async def generate(self, plan: ChunkPlan) -> float:
        self._started()
        t0 = time.perf_counter()
        frames = await asyncio.get_running_loop().run_in_executor(self._model_thread, self._generate, plan)
        model_s = time.perf_counter() - t0
        self._held[plan.index] = (plan, frames, model_s)
        return model_s

    async def draw(self, k: int, state: dict[str, np.ndarray] | None) -> Drawn:
        self._started()
        plan, frames, model_s = self._held.pop(k)
        t0 = time.perf_counter()
        out_state, fut = await asyncio.get_running_loop().run_in_executor(
            self._gl_thread, self._draw, plan, frames, state)
        self._encoding[k] = fut
        return Drawn(out_state, model_s, time.perf_counter() - t0)

    async def encoded(self, k: int) -> Encoded:
        self._started()
        return await asyncio.wrap_future(self._encoding.pop(k))

    # ---- the work -------------------------------------------------------------------
    def _generate(self, plan: ChunkPlan) -> np.ndarray:
        rig = self.session.model.rig
        # The same batches as a single-machine render: from the chunk's start, ``batch`` at a time.
        return self.runner.run([rig.inputs(c.groove) for c in plan.cues])

    def _draw(self, plan: ChunkPlan, frames: np.ndarray, state) -> tuple[dict | None, Future]:
        s = self.setup
        path = self._tmp / f"chunk-{plan.index:05d}.mp4"
        # Room for the whole chunk: drawing never waits for x264, so the chain moves on.
        enc = VideoEncoder(path, s.size[0], s.size[1], s.fps, encoding=s.encoding,
                           queue_size=len(plan.cues) // max(1, s.batch) + 2)
        enc.__enter__()
        try:
            out_state = None
            if s.effects:
                if self._picture is None:
                    self._picture = OffscreenPicture(self.session, s.size)
                if plan.stateful:
                    self._picture.restore(state or {})
                for i in range(0, len(plan.cues), s.batch):
                    enc.put(draw_frames(self._picture, plan.start + i, frames[i:i + s.batch],
                                        plan.cues[i:i + s.batch]))
                if plan.stateful:
                    out_state = self._picture.state()
            else:
                for i in range(0, len(plan.cues), s.batch):
                    enc.put(frames[i:i + s.batch])
        except BaseException as exc:
            enc.__exit__(type(exc), exc, None)
            raise
        t_drawn = time.perf_counter()
        return out_state, self._encoders.submit(self._finish, enc, path, t_drawn)

    @staticmethod
    def _finish(enc: VideoEncoder, path: Path, t_drawn: float) -> Encoded:
        try:
            enc.finish()  # flushes x264 and renames the file into place
        except BaseException as exc:
            enc.__exit__(type(exc), exc, None)
            raise
        try:
            return Encoded(path.read_bytes(), time.perf_counter() - t_drawn)
        finally:
            path.unlink(missing_ok=True)

    def __del__(self) -> None:
        shutil.rmtree(getattr(self, "_tmp", "/nonexistent"), ignore_errors=True)
