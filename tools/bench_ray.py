#!/usr/bin/env python3
"""Benchmark the Ray cluster render on this machine and model its speed-up on GPU clusters.

Writes bench/results/ray-<date>.json with:

* ``driver``: the costs the driver pays once per render: audio analysis per second of audio,
  stepping the performance per frame (no model) and the size of a chunk's cues, against
  what it would cost if every worker stepped the performance from frame 0 to its chunk;
* ``object_store``: ``ray.put`` once and a worker's ``ray.get`` of the model weights (the
  embedded model's, and zero tensors the size of SG2-1024 and SG3-T-1024);
* ``per_chunk``: scheduling overhead of one chunk (the three worker calls minus the work
  they report) and the driver's join (remux) per chunk;
* ``throughput``: the same demo render on one machine, on 1 worker and on 2 workers
  (this machine has 2 cores shared with other engineers: the load average is recorded);
* ``x264_reproducibility``: how many different bitstreams x264 makes from the same frames
  in repeated encodes (why the tests compare lossless renders);
* ``cost_model``: T(W) = fixed + max(frames x t_frame / W + chunks x o_chunk / W, driver)
  + chunks x t_join, with t_frame from bench/results/gpu-h200-2026-11-26.json and ``driver``
  the driver's analysis and stepping (made while the workers render), predicting the speed-up
  at 8 and 64 GPUs for SG2-1024 and SG3-T-1024 (a 2-hour set at 60 fps, 1024x1024).

    RAY_TMPDIR=/tmp/lgray .venv/bin/python tools/bench_ray.py [--duration 16] [--size 128]
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import io
import json
import os
import pickle
import statistics
import tempfile
import time
from fractions import Fraction
from pathlib import Path

import numpy as np

from livegan.benchinfo import RESULTS_DIR, machine_info
from livegan.cluster.connect import ClusterOptions, cluster, import_ray

ray = import_ray(local=True)  # before torch and livegan's Session: loopback, no usage stats

import av  # noqa: E402
import torch  # noqa: E402

from livegan.audio.analyzer import analyze  # noqa: E402
from livegan.audio.demo import demo_track  # noqa: E402
from livegan.cluster.driver import render_on_cluster  # noqa: E402
from livegan.cluster.plan import chunk_plans, feedback_effects  # noqa: E402
from livegan.cluster.worker import ChunkWorker, WorkerSetup  # noqa: E402
from livegan.models.load import ModelWeights  # noqa: E402
from livegan.render.chunks import chunk_ranges  # noqa: E402
from livegan.render.encoder import Encoding, join_chunks  # noqa: E402
from livegan.render.offline import perform, render, slice_clip  # noqa: E402
from livegan.session import Session, SessionSpec  # noqa: E402

GPU_FILE = RESULTS_DIR / "gpu-h200-2026-11-26.json"
ANALYZER_FILE = RESULTS_DIR / "analyzer-cpu-2026-11-26.json"
MODELS = {"SG2-1024": "sg2-f-1024", "SG3-T-1024": "sg3t-1024"}
SET_FRAMES = 2 * 3600 * 60  # the two-hour set at 60 fps
CHUNK_FRAMES = 184  # 3 s at 60 fps in whole batches of 8
GPUS = (1, 8, 64)
ASSUMED_GPU_DRAW_MS = 1.0  # effects + readback of one 1024x1024 frame on a GPU's EGL (not measured here)


def load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def session(size: int, sr: int) -> Session:
    return Session(SessionSpec(model_size=size, device="cpu", sample_rate=sr))


def driver_costs(clip, fps: int, size: int) -> dict:
    """Analysis and stepping once on the driver, vs every worker stepping from frame 0."""
    sr = int(clip.sample_rate)
    t0 = time.perf_counter()
    features = analyze(clip.samples, sr)
    analysis_s = time.perf_counter() - t0
    s = Session(SessionSpec(model_size=size, device="cpu", sample_rate=sr), load_model=False)
    n = int(round(len(clip.samples) / sr * fps))
    t0 = time.perf_counter()
    cues = list(perform(s, features, sr, n, fps))
    step_s = (time.perf_counter() - t0) / n
    ranges = chunk_ranges(n, 3 * fps)
    plans = list(chunk_plans(iter(cues), ranges, feedback_effects(None)))
    plan_bytes = statistics.median(len(pickle.dumps(p)) for p in plans)
    chunks_2h = SET_FRAMES // CHUNK_FRAMES
    return {
        "analysis_s_per_audio_s": analysis_s / (len(clip.samples) / sr),
        "step_ms_per_frame": step_s * 1e3,
        "plan_bytes_per_chunk": plan_bytes,
        "plan_frames_per_chunk": len(plans[0].cues),
        "two_hour_set_60fps": {
            "driver_steps_once_s": SET_FRAMES * step_s,
            # A worker stepping from frame 0 to its chunk repeats on average half the set, per chunk.
            "every_worker_steps_from_0_s": chunks_2h * (SET_FRAMES / 2) * step_s,
            "driver_analysis_s": 7200 * analysis_s / (len(clip.samples) / sr),
        },
    }


@ray.remote(num_cpus=0)
def _fetch(refs: list) -> float:
    t0 = time.perf_counter()
    ray.get(refs[0])
    return time.perf_counter() - t0


def object_store(builtin: ModelWeights) -> dict:
    out = {}
    shapes = {"builtin-64": builtin}
    for name, key in MODELS.items():
        params = json.loads(GPU_FILE.read_text())["models"][key]["params"]
        shapes[name] = ModelWeights(builtin={"w": torch.zeros(params, dtype=torch.float32)})
    ray.get(_fetch.remote([ray.put(0)]))  # a worker process up first: its start is not the transfer
    for name, w in shapes.items():
        t0 = time.perf_counter()
        ref = ray.put(w)
        put_s = time.perf_counter() - t0
        get_s = ray.get(_fetch.remote([ref]))
        out[name] = {"bytes": w.nbytes, "put_s": put_s, "worker_get_s": get_s,
                     "put_MB_per_s": w.nbytes / put_s / 1e6, "get_MB_per_s": w.nbytes / get_s / 1e6}
        del ref
    return out


def per_chunk(clip, fps: int, size: int, reps: int = 5) -> dict:
    """One worker: wall time of a chunk's three calls minus the work the worker reports."""
    sr = int(clip.sample_rate)
    s = session(size, sr)
    features = analyze(clip.samples, sr)
    n = 3 * fps
    plans = list(chunk_plans(perform(s, features, sr, n, fps), chunk_ranges(n, 1), feedback_effects(None)))
    setup = WorkerSetup(s.spec, (size, size), fps, 8, True, Encoding(), torch.get_num_threads())
    ref = ray.put(s.model_weights())
    w = ray.remote(ChunkWorker).options(num_cpus=1).remote()
    ray.get(w.start.remote(setup, [ref]))
    rows = []
    for plan in plans[:reps + 1]:
        t0 = time.perf_counter()
        model_s = ray.get(w.generate.remote(plan))
        drawn = ray.get(w.draw.remote(plan.index, {} if plan.stateful else None))
        enc = ray.get(w.encoded.remote(plan.index))
        wall = time.perf_counter() - t0
        rows.append({"wall_s": wall, "work_s": model_s + drawn.draw_s + enc.encode_s,
                     "bytes": len(enc.data), "data": enc.data})
    rows = rows[1:]  # the first carries the GL context and the rig's first latents
    overhead = statistics.median(r["wall_s"] - r["work_s"] for r in rows)
    with tempfile.TemporaryDirectory() as d:
        paths = []
        for i in range(40):
            p = Path(d) / f"c{i}.mp4"
            p.write_bytes(rows[i % len(rows)]["data"])
            paths.append(p)
        t0 = time.perf_counter()
        join_chunks(paths, Path(d) / "joined.mp4", fps, audio=None)
        join_s = (time.perf_counter() - t0) / len(paths)
    ray.kill(w)
    return {"frames_per_chunk": 1, "scheduling_overhead_s": overhead, "join_s_per_chunk": join_s,
            "calls": reps, "encoded_chunk_bytes": statistics.median(r["bytes"] for r in rows)}


def throughput(clip, fps: int, size: int) -> dict:
    out = {}
    with tempfile.TemporaryDirectory() as d:
        t0 = time.perf_counter()
        res = render(clip, Path(d) / "one.mp4", session(size, clip.sample_rate), size=(size, size), fps=fps,
                     progress=False)
        out["one_machine"] = {"wall_s": time.perf_counter() - t0, "frames": res.frames,
                              "fps": res.frames / (time.perf_counter() - t0), "load_avg": load()}
        for workers in (1, 2):
            t0 = time.perf_counter()
            res = render_on_cluster(clip, Path(d) / f"w{workers}.mp4",
                                    Session(SessionSpec(model_size=size, device="cpu", sample_rate=clip.sample_rate),
                                            load_model=False), ClusterOptions(workers),
                                    size=(size, size), fps=fps, progress=False)
            wall = time.perf_counter() - t0
            t = res.timings
            out[f"{workers}_workers"] = {
                "wall_s": wall, "fps": res.frames / wall, "frames": res.frames, "load_avg": load(),
                "render_s": t["render_s"], "render_fps": res.frames / t["render_s"],
                "fixed_s": {k: t[k] for k in ("weights_read_s", "cluster_start_s", "weights_put_s",
                                              "worker_startup_s", "encode_tail_s")},
                "model_s": t["model_s"], "draw_s": t["draw_s"], "encode_s": t["encode_s"],
                "chunks": t["chunks"], "stateful_chunks": t["stateful_chunks"],
                "same_file_as_one_machine": (Path(d) / f"w{workers}.mp4").read_bytes()
                == (Path(d) / "one.mp4").read_bytes(),
            }
    return out


def x264_variants(sizes=(64, 192, 512), runs=12) -> dict:
    """Distinct bitstreams from encoding the same frames ``runs`` times (auto threads and one).

    The frames are a lossless render of the demo (the pictures livegan makes), scaled up with a
    little seeded noise for the larger sizes."""
    with tempfile.TemporaryDirectory() as d:
        clip = slice_clip(demo_track(), 0.0, 6.0)
        render(clip, Path(d) / "ll.mp4", session(64, clip.sample_rate), size=(64, 64), fps=8, progress=False,
               encoding=Encoding(lossless=True))
        with av.open(str(Path(d) / "ll.mp4")) as c:
            source = [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]
    rng = np.random.default_rng(1)
    out = {}
    for size in sizes:
        k = size // 64
        frames = [np.clip(np.kron(f, np.ones((k, k, 1), np.uint8)).astype(np.int16)
                          + (rng.integers(-8, 8, (size, size, 3)) if k > 1 else 0), 0, 255).astype(np.uint8)
                  for f in source]
        for threads in (0, 1):
            hashes = set()
            for _ in range(runs if size < 512 else max(3, runs // 4)):
                buf = io.BytesIO()
                c = av.open(buf, "w", format="mp4")
                v = c.add_stream("libx264", rate=8)
                v.width = v.height = size
                v.pix_fmt = "yuv420p"
                v.codec_context.time_base = Fraction(1, 8)
                v.options = {"crf": "18", "preset": "veryfast"}
                v.thread_type = "AUTO"
                v.codec_context.thread_count = threads
                for i, f in enumerate(frames):
                    vf = av.VideoFrame.from_ndarray(f, format="rgb24").reformat(format="yuv420p")
                    vf.pts = i
                    for pkt in v.encode(vf):
                        c.mux(pkt)
                for pkt in v.encode(None):
                    c.mux(pkt)
                c.close()
                with av.open(io.BytesIO(buf.getvalue())) as r:
                    hashes.add(hashlib.sha1(b"".join(bytes(x) for x in r.demux(video=0) if x.size)).hexdigest())
            out[f"{size}px_threads_{threads or 'auto'}"] = {"runs": runs if size < 512 else max(3, runs // 4),
                                                             "distinct_bitstreams": len(hashes)}
    return out


def quiet_analysis_s_per_audio_s() -> float:
    """The analyzer's cost on this CPU when it was quiet (bench/results/analyzer-cpu-*.json, 48 kHz)."""
    rows = json.loads(ANALYZER_FILE.read_text())["results"]
    return 1.0 / max(r["realtime_factor"] for r in rows if r["sample_rate"] == 48000)


def cost_model(measured: dict) -> dict:
    """T(W) = fixed + max(frames * t_frame / W + chunks * o_chunk / W, driver) + chunks * t_join.

    ``driver``: analysis and stepping as measured in this run (on a loaded machine), and
    ``quiet_driver``: the same with the analyzer's figure from a quiet run of this CPU."""
    out = {"scenario": {"frames": SET_FRAMES, "fps": 60, "size": "1024x1024", "chunks": SET_FRAMES // CHUNK_FRAMES,
                        "chunk_frames": CHUNK_FRAMES, "note": "2-hour set; per-frame GPU times from " + GPU_FILE.name}}
    out["models"] = _cost_model(measured, measured["driver"]["two_hour_set_60fps"]["driver_analysis_s"])
    quiet = 7200 * quiet_analysis_s_per_audio_s()
    out["quiet_driver"] = {"analysis_s": quiet, "source": ANALYZER_FILE.name,
                           "models": _cost_model(measured, quiet)}
    return out


def _cost_model(measured: dict, analysis_s: float) -> dict:
    gpu = json.loads(GPU_FILE.read_text())["models"]
    chunks = SET_FRAMES // CHUNK_FRAMES
    drv, store, pc = measured["driver"], measured["object_store"], measured["per_chunk"]
    w2 = measured["throughput"]["2_workers"]["fixed_s"]
    out = {}
    for name, key in MODELS.items():
        m = gpu[key]
        for prec in ("eager_fp32", "eager_fp16"):
            t_frame = 1.0 / m[prec]["images_per_s_b8"]  # the render's batch of 8
            fixed = (w2["cluster_start_s"] + w2["worker_startup_s"] + store[name]["put_s"]
                     + store[name]["worker_get_s"])
            join = chunks * pc["join_s_per_chunk"]
            # The driver analyses and steps the performance while the workers render (the chunks'
            # plans are made as workers need them): its rate bounds the cluster's.
            step_bound = analysis_s + SET_FRAMES * drv["step_ms_per_frame"] / 1e3

            def t(w: int) -> float:
                work = SET_FRAMES * t_frame / w + chunks * pc["scheduling_overhead_s"] / w
                return fixed + max(work, step_bound) + join

            one = SET_FRAMES * t_frame + analysis_s  # one machine: analysis, then the frames
            # With trails (feedback) on, each chunk's effect pass waits for the one before: the
            # render goes no faster than one worker draws. Not measurable here (no GPU): shown for
            # an assumed 1 ms per 1024x1024 frame (a few fragment passes and a readback).
            chain_s = SET_FRAMES * ASSUMED_GPU_DRAW_MS / 1e3
            out[f"{name} {prec}"] = {
                "t_frame_ms": t_frame * 1e3, "fixed_s": fixed, "join_s": join, "driver_bound_s": step_bound,
                "hours": {str(w): t(w) / 3600 for w in GPUS},
                "speedup_vs_one_machine": {str(w): one / t(w) for w in GPUS},
                "efficiency": {str(w): one / t(w) / w for w in GPUS},
                "with_trails": {
                    "assumed_draw_ms_per_frame": ASSUMED_GPU_DRAW_MS,
                    "speedup_vs_one_machine": {str(w): one / max(t(w), fixed + chain_s + join) for w in GPUS},
                },
            }
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--duration", type=float, default=16.0)
    ap.add_argument("--size", type=int, default=128)
    ap.add_argument("--fps", type=int, default=8)
    ap.add_argument("--model-only", metavar="JSON", help="recompute the cost model of an earlier result file")
    args = ap.parse_args()
    if args.model_only:
        path = Path(args.model_only)
        result = json.loads(path.read_text())
        result["cost_model"] = cost_model(result)
        path.write_text(json.dumps(result, indent=2) + "\n")
        print(json.dumps(result["cost_model"], indent=1))
        return
    clip = slice_clip(demo_track(), 0.0, args.duration)
    result: dict = {"load_avg_start": load(), "settings": vars(args)}
    result["driver"] = driver_costs(slice_clip(demo_track(), 0.0, 30.0), 30, args.size)
    print("driver", json.dumps(result["driver"]))
    result["x264_reproducibility"] = x264_variants()
    print("x264", result["x264_reproducibility"])
    with cluster(ClusterOptions(1), False, 400 * 2**20):
        builtin = session(args.size, clip.sample_rate).model_weights()
        result["object_store"] = object_store(builtin)
        print("object store", json.dumps(result["object_store"]))
        result["per_chunk"] = per_chunk(clip, args.fps, args.size)
        print("per chunk", json.dumps(result["per_chunk"]))
    result["throughput"] = throughput(clip, args.fps, args.size)
    print("throughput", json.dumps(result["throughput"], indent=1))
    result["cost_model"] = cost_model(result)
    print("cost model", json.dumps(result["cost_model"], indent=1))
    result["load_avg_end"] = load()
    result["ray"] = ray.__version__
    path = RESULTS_DIR / f"ray-{dt.date.today().isoformat()}.json"
    path.write_text(json.dumps({"machine": machine_info(), **result}, indent=2) + "\n")
    print(path)


if __name__ == "__main__":
    main()
