"""``livegan render --workers N`` / ``--ray-address ADDR``: one render split over a Ray cluster.

The driver (this process) analyses the audio and steps the performance once, cuts the
frames into the same chunks a single-machine render writes (each its own MP4 starting
with a keyframe), puts the model's weights in the object store once, and keeps every
worker busy with up to ``WINDOW`` chunks. Workers make the model's frames, draw them
through the effect chain and encode them; the driver writes each finished chunk into the
render's chunk folder, hands the effect state along the chunks that need it (in order),
and at the end joins the chunks without re-encoding and muxes the original audio once.

Same inputs per frame, same batches, same torch thread count, same effect state at every
chunk's start and the same x264 settings: the chunks are the bytes a single-machine render
writes, so the output is too (x264 picks its threads from the CPUs it sees: workers with
another CPU count than the driver encode other, equally good, bits; ``--lossless`` decodes
to the same pixels everywhere).

Faults: a worker that dies loses the chunks it held; they go back to the queue and to the
other workers first (Ray restarts the dead one, which rejoins). A driver that dies leaves
the chunk folder, and ``--resume`` (here or on one machine) keeps every finished chunk.
"""

from __future__ import annotations

import logging
import os
import time
from collections import deque
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable, Iterator

from ..errors import LiveganError
from ..render.chunks import ChunkStore
from ..render.encoder import Encoding, join_chunks
from ..render.offline import CHUNK_SECONDS, FeatureStream, RenderResult, layout, perform
from ..session import Session
from .connect import Cluster, ClusterOptions, cluster
from .plan import ChunkPlan, chunk_plans, feedback_effects, shaders_digest
from .worker import ChunkWorker, Drawn, Encoded, NotStarted, WorkerInfo, WorkerSetup

log = logging.getLogger("livegan.cluster")

WINDOW = 2  # chunks a worker holds: one in the model while another waits for its effect state
MAX_ATTEMPTS = 3  # a chunk lost this many times (workers dying under it) stops the render
MAX_RESTARTS = 2  # Ray restarts a dead worker this often before giving it up


@dataclass
class _Chunk:
    plan: ChunkPlan
    worker: int | None = None
    attempts: int = 0


@dataclass
class _Worker:
    id: int
    handle: object
    ready: bool = False  # True once started (again, after Ray restarted it)
    dead: bool = False
    info: WorkerInfo | None = None
    chunks: set[int] = field(default_factory=set)


class _Chain:
    """The effect state handed along the chunks in order: ``state`` is the chain's state after
    chunk ``pos``; each state is also written as the chunk's ``state-NNNNN.npz`` (what
    ``--resume`` and a redrawn chunk start from)."""

    def __init__(self, store: ChunkStore, effects: bool) -> None:
        self.store, self.effects = store, effects
        self.pos = -1
        self.state: dict = {}

    def before(self, k: int) -> dict:
        if k == self.pos + 1:
            return self.state
        return self.store.load_state(k - 1) if k > 0 else {}

    def advance(self, k: int, state: dict) -> None:
        assert k == self.pos + 1, (k, self.pos)
        self.pos, self.state = k, state
        if self.effects:
            self.store.save_state(k, state)


class _Run:
    """The scheduling loop: events from the workers in, chunk files and states out."""

    def __init__(self, cl: Cluster, store: ChunkStore, done: set[int], setup: WorkerSetup, weights_ref,
                 n_chunks: int, bar, digest: str) -> None:
        """Starts the workers (they build their pipelines while the driver analyses the audio)."""
        self.ray, self.store, self.setup = cl.ray, store, setup
        self.plans: Iterator[ChunkPlan] = iter(())
        self.resumable = done  # chunks an interrupted render finished
        self.n_chunks, self.bar, self.digest = n_chunks, bar, digest
        self.chain = _Chain(store, setup.effects)
        self.stateful: dict[int, bool] = {}
        self.chunks: dict[int, _Chunk] = {}  # taken from the plan stream, not finished
        self.queue: deque[int] = deque()  # to (re)assign, lowest first
        self.generated: set[int] = set()
        self.drawn: set[int] = set()
        self.finished: set[int] = set()
        self.refs: dict = {}  # ObjectRef -> (kind, chunk, worker)
        self.retried = 0
        self.totals = {"model_s": 0.0, "draw_s": 0.0, "encode_s": 0.0}
        self.cpus = len(os.sched_getaffinity(0))
        self._warned_cpus = False
        actor = cl.ray.remote(ChunkWorker).options(
            num_cpus=cl.cpus_per_worker, num_gpus=cl.gpus_per_worker, max_restarts=MAX_RESTARTS,
            max_task_retries=0)
        self.weights_ref = weights_ref
        self.later: list[tuple[float, _Worker]] = []  # workers to start again once Ray restarted them
        self.workers = [_Worker(i, actor.remote()) for i in range(cl.workers)]
        for w in self.workers:
            self._start(w)

    # ---- driving ---------------------------------------------------------------------
    def run(self, plans: Iterator[ChunkPlan]) -> None:
        self.plans = plans
        while len(self.finished) < self.n_chunks:
            self._assign()
            self._advance_chain()
            if len(self.finished) >= self.n_chunks:
                break
            now = time.monotonic()
            for t, w in [x for x in self.later if x[0] <= now]:
                self.later.remove((t, w))
                self._start(w)
            if not self.refs:
                if not self.later:
                    raise LiveganError("the cluster has no live workers left")
                time.sleep(0.2)
                continue
            ready, _ = self.ray.wait(list(self.refs), num_returns=1, timeout=1.0)
            for ref in ready:
                self._event(ref)

    def _call(self, w: _Worker, kind: str, k: int, *args) -> None:
        self.refs[getattr(w.handle, kind).remote(*args)] = (kind, k, w.id)

    def _start(self, w: _Worker) -> None:
        w.ready = False
        self._call(w, "start", -1, self.setup, [self.weights_ref])

    def _take(self) -> int | None:
        """The next chunk to assign: a lost one first, else the next plan (finished ones skipped)."""
        if self.queue:
            return self.queue.popleft()
        for plan in self.plans:
            k = plan.index
            self.stateful[k] = plan.stateful
            # A chunk kept from an interrupted render counts when its effect state was kept too.
            if k in self.resumable and (not plan.stateful or self.store.state_path(k).is_file()):
                self._finish(k, len(plan.cues))
                continue
            self.chunks[k] = _Chunk(plan)
            return k
        return None

    def _assign(self) -> None:
        while True:
            # A lost chunk the effect state waits for may go past a full window (else every
            # window could hold chunks waiting for it).
            window = WINDOW + (1 if self.queue and self.queue[0] == self.chain.pos + 1 else 0)
            free = [w for w in self.workers if w.ready and not w.dead and len(w.chunks) < window]
            if not free:
                return
            k = self._take()
            if k is None:
                return
            w = min(free, key=lambda w: len(w.chunks))
            c = self.chunks[k]
            c.worker = w.id
            w.chunks.add(k)
            self._call(w, "generate", k, c.plan)

    def _advance_chain(self) -> None:
        """Move the effect state past every chunk that does not change it, and start the next
        drawing that needs it."""
        while self.chain.pos + 1 < self.n_chunks:
            k = self.chain.pos + 1
            if k not in self.stateful:
                return  # its plan is not taken yet
            if not self.stateful[k]:
                self.chain.advance(k, self.chain.state)
            elif k in self.finished and k not in self.chunks:  # kept from the interrupted render
                self.chain.advance(k, self.store.load_state(k))
            else:
                if k in self.generated and k not in self.drawn and not self._drawing(k):
                    self._draw(k)
                return

    def _drawing(self, k: int) -> bool:
        return any(kind == "draw" and kk == k for kind, kk, _ in self.refs.values())

    def _draw(self, k: int) -> None:
        c = self.chunks[k]
        w = self.workers[c.worker]
        state = self.chain.before(k) if self.stateful[k] else None
        self._call(w, "draw", k, k, state)

    # ---- events ----------------------------------------------------------------------
    def _event(self, ref) -> None:
        kind, k, wid = self.refs.pop(ref)
        w = self.workers[wid]
        try:
            value = self.ray.get(ref)
        except self.ray.exceptions.RayActorError as exc:
            if kind == "start" and isinstance(exc, self.ray.exceptions.ActorUnavailableError):
                self.later.append((time.monotonic() + 1.0, w))  # still restarting: ask again soon
                return
            self._lost(w, exc)
            return
        except self.ray.exceptions.RayTaskError as exc:
            cause = getattr(exc, "cause", None)
            if isinstance(cause, LiveganError):
                raise LiveganError(str(cause)) from None
            if isinstance(cause, NotStarted):  # Ray restarted it before we saw it die
                self._lost(w, exc)
                return
            if kind == "start":
                raise LiveganError(f"a worker could not start: {type(cause).__name__}: {cause}") from None
            self._retry(k, w, f"{type(cause).__name__ if cause else 'error'}: {cause or exc}")
            return
        getattr(self, f"_on_{kind}")(w, k, value)

    def _on_start(self, w: _Worker, k: int, info: WorkerInfo) -> None:
        if info.shaders != self.digest:
            raise LiveganError(f"worker on {info.host}: its shaders differ from this machine's "
                               f"({self.setup.spec.shader_dir or 'the bundled shaders/'}); install the same "
                               f"livegan and shader folder on every node")
        if info.cpus != self.cpus and not self.setup.encoding.lossless and not self._warned_cpus:
            self._warned_cpus = True
            log.warning("x264 on %s sees %d CPUs, this machine %d: its chunks are encoded to other bits "
                        "than a render here (from the same frames)", info.host, info.cpus, self.cpus)
        if w.info is not None:
            log.warning("worker %d is back (pid %d on %s)", w.id, info.pid, info.host)
        w.info, w.ready = info, True

    def _on_generate(self, w: _Worker, k: int, model_s: float) -> None:
        self.totals["model_s"] += model_s
        self.generated.add(k)
        if not self.stateful[k] or k <= self.chain.pos:
            self._draw(k)  # independent of the chain, or drawn again after a worker was lost
        # else: _advance_chain starts it when the state before it is known

    def _on_draw(self, w: _Worker, k: int, drawn: Drawn) -> None:
        self.totals["draw_s"] += drawn.draw_s
        self.drawn.add(k)
        if self.stateful[k] and k == self.chain.pos + 1:
            self.chain.advance(k, drawn.state)
        self._call(w, "encoded", k, k)

    def _on_encoded(self, w: _Worker, k: int, enc: Encoded) -> None:
        self.totals["encode_s"] += enc.encode_s
        self.store.write_chunk(k, enc.data)
        w.chunks.discard(k)
        plan = self.chunks.pop(k).plan
        self._finish(k, len(plan.cues))

    def _finish(self, k: int, frames: int) -> None:
        self.finished.add(k)
        if self.bar is not None:
            self.bar.update(frames)

    # ---- faults ----------------------------------------------------------------------
    def _lost(self, w: _Worker, exc: BaseException) -> None:
        """A worker died: its chunks go to the others; Ray restarts it and it rejoins."""
        if not w.ready and w.info is None and not _restartable(self.ray, exc):
            raise LiveganError(f"a worker could not start: {_first_line(exc)}")
        where = f"pid {w.info.pid} on {w.info.host}" if w.info else "starting"
        lost = sorted(w.chunks)
        for ref in [r for r, (_, _, wid) in self.refs.items() if wid == w.id]:
            del self.refs[ref]
        w.chunks.clear()
        w.ready = False
        if lost:
            log.warning("worker %d (%s) lost: chunk%s %s go%s to another worker", w.id, where,
                        "s" if len(lost) > 1 else "", ", ".join(map(str, lost)), "" if len(lost) > 1 else "es")
        for k in lost:
            self._requeue(k, f"worker {where} lost")
        if not _restartable(self.ray, exc):
            w.dead = True  # Ray gave it up after MAX_RESTARTS
            log.warning("worker %d is gone for good", w.id)
            if all(x.dead for x in self.workers):
                raise LiveganError("every worker died")
            return
        self.later.append((time.monotonic() + 1.0, w))  # start it again once Ray has restarted it

    def _retry(self, k: int, w: _Worker, why: str) -> None:
        log.warning("chunk %d failed on worker %d (%s): it goes to another worker", k, w.id, why)
        w.chunks.discard(k)
        self._requeue(k, why)

    def _requeue(self, k: int, why: str) -> None:
        c = self.chunks[k]
        c.attempts += 1
        self.retried += 1
        if c.attempts >= MAX_ATTEMPTS:
            raise LiveganError(f"chunk {k} failed {c.attempts} times (last: {why})")
        c.worker = None
        self.generated.discard(k)
        self.drawn.discard(k)
        self.queue.append(k)
        self.queue = deque(sorted(self.queue))


def _restartable(ray, exc: BaseException) -> bool:
    """Ray is restarting the actor (its calls fail as unavailable meanwhile) or has restarted
    it, rather than given it up."""
    return (isinstance(exc, ray.exceptions.ActorUnavailableError)
            or isinstance(getattr(exc, "cause", None), NotStarted))


def _first_line(exc: BaseException) -> str:
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    errors = [ln for ln in lines if "Error" in ln]
    return (errors[-1] if errors else lines[-1] if lines else type(exc).__name__)[:300]


def render_on_cluster(
    audio,
    out: str | Path,
    session: Session,
    options: ClusterOptions,
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
    """``offline.render`` on a Ray cluster: the same arguments, the same output file."""
    import torch  # noqa: PLC0415

    timings: dict[str, float] = {}
    t_all = time.perf_counter()
    out = Path(out)
    samples, sr = audio.samples, int(audio.sample_rate)
    lay = layout(audio, session, size, fps, batch, encoding, chunk_seconds, identity, effects)
    store = ChunkStore(out, lay.meta, lay.ranges, resume, stateful=effects)
    done = store.prepare_any()

    spec = session.spec
    if spec.shader_dir:  # the same folder on every node, named absolutely
        spec = replace(spec, shader_dir=str(Path(spec.shader_dir).resolve()))
    feedback = feedback_effects(spec.shader_dir) if effects else frozenset()
    t0 = time.perf_counter()
    weights = session.model_weights()
    timings["weights_read_s"] = time.perf_counter() - t0
    bar = None
    if progress:
        from tqdm import tqdm  # noqa: PLC0415

        bar = tqdm(total=lay.n_frames, unit="frame", desc=f"render {out.name}", dynamic_ncols=True)
    try:
        t0 = time.perf_counter()
        with cluster(options, spec.device != "cpu", weights.nbytes) as cl:
            timings["cluster_start_s"] = time.perf_counter() - t0
            if bar is not None:
                bar.set_description(f"render {out.name} on {cl.workers} worker{'s' if cl.workers > 1 else ''}")
            t0 = time.perf_counter()
            weights_ref = cl.ray.put(weights)
            timings["weights_put_s"] = time.perf_counter() - t0
            timings["weights_bytes"] = weights.nbytes
            del weights
            # A worker sees only its own GPU (Ray sets CUDA_VISIBLE_DEVICES): "cuda" is that one.
            wspec = replace(spec, device="cuda" if cl.gpus_per_worker else "cpu")
            setup = WorkerSetup(wspec, tuple(size), fps, batch, effects, encoding, torch.get_num_threads())
            run = _Run(cl, store, done, setup, weights_ref, len(lay.ranges), bar, shaders_digest(spec.shader_dir))
            t0 = time.perf_counter()
            # Analysed as the chunks are planned: the first chunks render while later audio is analysed.
            features = FeatureStream(samples, sr)
            run.run(chunk_plans(perform(session, features, sr, lay.n_frames, fps, on_time), lay.ranges, feedback))
            timings["render_s"] = time.perf_counter() - t0
            timings.update(run.totals)
            timings["workers"] = cl.workers
            timings["retried_chunks"] = run.retried
            timings["chunks"] = len(lay.ranges)
            timings["stateful_chunks"] = sum(run.stateful.values())
            timings["worker_startup_s"] = max((w.info.startup_s for w in run.workers if w.info), default=0.0)
    except LiveganError as exc:
        if any(store.dir.glob("chunk-*.mp4")):
            raise LiveganError(f"{exc}; finished chunks are kept in {store.dir}: run again with --resume") from None
        store.clear()
        raise
    finally:
        if bar is not None:
            bar.close()
    t_fin = time.perf_counter()
    try:
        join_chunks(store.paths(), out, fps, audio=samples, sample_rate=sr)
    except LiveganError as exc:
        raise LiveganError(f"{exc}; the finished chunks are kept: run again with --resume") from None
    store.clear()
    timings["encode_tail_s"] = time.perf_counter() - t_fin
    timings["total_s"] = time.perf_counter() - t_all
    timings["fps"] = lay.n_frames / timings["total_s"]
    return RenderResult(out, lay.n_frames, len(samples) / sr, fps, tuple(size), timings,
                        resumed_chunks=len(done))
