"""Soak test: live mode headless for a long time, with everything a set throws at it.

    .venv/bin/python tools/soak.py --minutes 60 --size 256 --out bench/results/soak-DATE.json

Runs the real live app (EGL surface, file audio on its own clock, looped; analysis,
conductor, builtin model, effect chain, HUD) with the real OSC server on loopback, and
drives it the way a VJ would: a stream of parameter changes, some garbage datagrams and
an occasional flood, a preset change every ``--preset-every`` seconds, a model swap every
``--swap-every`` seconds, a preset morph, a preset save and a quantize toggle now and then,
all through OSC and the app's own control actions (as ``livegan live --osc-port``). It
records resident memory, every display frame interval, every garbage collection and every
exception, and writes one JSON file (rewritten each minute with ``"complete": false`` so a
killed soak still leaves data).

Pass/fail (the issue's bar): RSS growth under 2 % after warm-up (the least-squares trend from
the end of warm-up to the end), no display frame gap over 100 ms, zero unhandled exceptions.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from livegan.live import app as app_module  # noqa: E402
from livegan.live.audio_input import FileInput  # noqa: E402


class LoopingFileInput(FileInput):
    """The song again and again on the file clock, so an hour needs only a short file."""

    def _feed(self, pos: int, n: int, arrival: float) -> None:
        idx = (np.arange(pos, pos + n) % len(self.samples))
        self.ring.write(self.samples[idx], arrival)
        self.pos = pos + n


class ErrorCounter(logging.Handler):
    """Counts log records at ERROR and above (handled faults the program reported)."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.count = 0
        self.samples: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.count += 1
        if len(self.samples) < 20:
            self.samples.append(record.getMessage()[:200])


class OscTraffic:
    """A controller in its own process (as a real one is): parameter changes, garbage, floods.

    Its counts come back on stdout as JSON when it is stopped.
    """

    PARAMS = [("/livegan/latent/speed", 0.0, 2.0), ("/livegan/truncation/psi", 0.3, 1.0),
              ("/livegan/noise/strength", 0.0, 1.0), ("/livegan/audio/gain", 0.5, 2.0)]

    def __init__(self, port: int, rate_hz: float, flood_every_s: float, flood_n: int) -> None:
        self.cmd = [sys.executable, str(Path(__file__).resolve()), "--traffic-child", str(port),
                    "--osc-rate", str(rate_hz), "--flood-every", str(flood_every_s), "--flood-n", str(flood_n)]
        self.proc: subprocess.Popen | None = None
        self.counts = {"sent": 0, "garbage": 0, "flooded": 0}
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)  # actions from the soak itself
        self.dest = ("127.0.0.1", port)

    def start(self) -> None:
        self.proc = subprocess.Popen(self.cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)

    def send(self, address: str, args: list) -> None:
        from livegan.control.osc_packet import encode_message

        self.sock.sendto(encode_message(address, args), self.dest)

    def stop(self) -> None:
        if self.proc is not None:
            try:
                out, _ = self.proc.communicate("stop\n", timeout=10)
                self.counts = json.loads(out.strip().splitlines()[-1])
            except (subprocess.TimeoutExpired, ValueError, IndexError):
                self.proc.kill()
                self.proc.wait()
        self.sock.close()

    @staticmethod
    def child(port: int, rate_hz: float, flood_every_s: float, flood_n: int, seed: int = 0) -> int:
        from livegan.control.osc_packet import encode_message

        rng = random.Random(seed)
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        dest = ("127.0.0.1", port)
        stop = threading.Event()
        threading.Thread(target=lambda: (sys.stdin.readline(), stop.set()), daemon=True).start()
        counts = {"sent": 0, "garbage": 0, "flooded": 0}
        next_flood = time.monotonic() + flood_every_s
        junk = [encode_message("/livegan/latent/speed", ["fast"]), encode_message("/livegan/no/such/thing", [1.0]),
                b"/livegan/truncation/psi\x00,f\x00\x00", b"#bundle\x00" + b"\xff" * 12]
        while not stop.wait(1.0 / rate_hz):
            addr, lo, hi = rng.choice(OscTraffic.PARAMS)
            sock.sendto(encode_message(addr, [rng.uniform(lo, hi)]), dest)
            counts["sent"] += 1
            if rng.random() < 0.05:  # garbage: random bytes, a bad type, an unknown address, a broken bundle
                bad = rng.choice(junk + [bytes(rng.getrandbits(8) for _ in range(rng.randrange(1, 64)))])
                sock.sendto(bad, dest)
                counts["garbage"] += 1
            if time.monotonic() >= next_flood:
                msg = encode_message("/livegan/latent/speed", [1.0])
                for _ in range(flood_n):
                    sock.sendto(msg, dest)
                counts["flooded"] += flood_n
                next_flood = time.monotonic() + flood_every_s
        print(json.dumps(counts), flush=True)
        return 0


def rss_trend(samples, warmup: float) -> dict:
    """The least-squares line through the RSS samples after warm-up: its rise over the run in
    percent of its start (the pass rule) and in MB an hour, and the first and last thirds' means."""
    pts = np.asarray([(t, m) for t, m in samples if t >= warmup], np.float64).reshape(-1, 2)
    if len(pts) < 3:
        return {"pct": None, "mb_per_hour": None, "thirds": None}
    slope, icpt = np.polyfit(pts[:, 0], pts[:, 1], 1)
    start = slope * pts[0, 0] + icpt
    k = len(pts) // 3
    return {"pct": round(float(100.0 * slope * (pts[-1, 0] - pts[0, 0]) / start), 3),
            "mb_per_hour": round(float(slope) * 3600.0, 2),
            "thirds": [round(float(pts[:k, 1].mean()), 1), round(float(pts[-k:, 1].mean()), 1)]}


def percentile(values, q: float) -> float:
    return float(np.percentile(np.asarray(values, np.float64), q)) if len(values) else 0.0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--minutes", type=float, default=60.0)
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--fps", type=float, default=30.0, help="display rate of the headless surface")
    ap.add_argument("--threads", type=int, default=None,
                    help="torch threads (default: livegan's policy, as `livegan live`: livegan/threads.py)")
    ap.add_argument("--warmup-s", type=float, default=None, help="default: 10%% of the run, at most 300 s")
    ap.add_argument("--preset-every", type=float, default=30.0)
    ap.add_argument("--swap-every", type=float, default=300.0)
    ap.add_argument("--morph-every", type=float, default=75.0, help="a 2 s morph to a preset over OSC")
    ap.add_argument("--save-every", type=float, default=600.0, help="/livegan/preset/save into a temp folder")
    ap.add_argument("--quantize-every", type=float, default=300.0, help="toggle show/quantize off / bar")
    ap.add_argument("--osc-rate", type=float, default=40.0, help="controller messages per second")
    ap.add_argument("--flood-every", type=float, default=120.0)
    ap.add_argument("--flood-n", type=int, default=2000)
    ap.add_argument("--out", default=None, help="JSON path (default bench/results/soak-DATE.json)")
    ap.add_argument("--rss-rule", choices=("trend", "minutes"), default="trend",
                    help="RSS pass rule: least-squares trend after warm-up (hour-long runs), or first vs "
                         "last minute after warm-up (runs too short for a trend)")
    ap.add_argument("--traffic-child", type=int, default=None, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.traffic_child is not None:
        return OscTraffic.child(args.traffic_child, args.osc_rate, args.flood_every, args.flood_n)

    os.environ.setdefault("EGL_PLATFORM", "surfaceless")
    from livegan.oom import limit_malloc_arenas, resident_mb

    limit_malloc_arenas()  # as `livegan live` does first: before the OSC server's threads
    from livegan import threads as thread_policy

    thread_policy.prepare_process()  # OpenMP's wait policy, before torch loads (as livegan's cli does)
    policy = thread_policy.choose(args.threads, "live")
    import torch

    thread_policy.apply(policy)
    from livegan.audio.demo import demo_track
    from livegan.conductor.preset import list_presets
    from livegan.control.osc_server import OscServer
    from livegan.control.triggers import ControlActions
    from livegan.params.definitions import declare_actions
    from livegan.live.gc_pause import GcPauses
    from livegan.live.stats import write_json
    from livegan.params.definitions import make_registry

    import soundfile as sf

    duration = args.minutes * 60.0
    warmup = args.warmup_s if args.warmup_s is not None else min(300.0, 0.1 * duration)
    date = datetime.now(timezone.utc).strftime("%Y-%m-%d")
    out = Path(args.out) if args.out else ROOT / "bench" / "results" / f"soak-{date}.json"

    logging.basicConfig(level=logging.WARNING, format="soak: %(name)s: %(message)s", stream=sys.stderr)
    errors = ErrorCounter()
    logging.getLogger().addHandler(errors)
    unhandled: list[str] = []
    prev_hook = threading.excepthook

    def thread_hook(a) -> None:
        unhandled.append("".join(traceback.format_exception(a.exc_type, a.exc_value, a.exc_traceback))[-2000:])
        prev_hook(a)

    threading.excepthook = thread_hook

    tmp = Path(tempfile.mkdtemp(prefix="livegan-soak-"))
    os.environ["LIVEGAN_PRESETS"] = str(tmp / "presets")  # where /livegan/preset/save writes
    song = tmp / "demo.wav"
    clip = demo_track(30.0)
    sf.write(str(song), clip.samples, clip.sample_rate)

    app_module.FileInput = LoopingFileInput  # the tool's looping song; nothing else changes
    registry = make_registry()
    declare_actions(registry)
    cfg = app_module.LiveConfig(file=str(song), play=False, size=args.size, headless=True, duration=duration,
                                refresh_hz=args.fps, device="cpu", hud=True)
    app = app_module.LiveApp(cfg, registry=registry)
    own = app.control_actions()  # what `livegan live --osc-port` serves

    def logged(kind: str, hook):
        def call(*args):
            t = round(time.perf_counter() - state["t0"], 1) if state["t0"] else 0.0
            try:
                hook(*args)
            except Exception as exc:  # refused: the OSC server reports it; the soak notes it
                rec["events"].append([t, kind + "-refused", f"{args[0]}: {exc}"[:200]])
                raise
            rec["events"].append([t, kind, str(args[0])])
        return call

    actions = ControlActions(load_preset=logged("preset", own.load_preset), save_preset=logged("save", own.save_preset),
                             morph_preset=logged("morph", own.morph_preset), load_model=logged("model", own.load_model))
    osc = OscServer(registry, port=0, actions=actions, isolate=True).start()
    app.osc_activity = osc.stats
    traffic = OscTraffic(osc.port, args.osc_rate, args.flood_every, args.flood_n)
    gc_pauses = GcPauses()  # every collection in the show timed: a long one is a frame gap
    rec: dict = {"rss": [], "events": [], "inference_errors": []}
    state = {"swapper": None, "next_preset": args.preset_every, "next_swap": min(60.0, args.swap_every),
             "next_morph": args.morph_every, "next_save": args.save_every, "next_quantize": args.quantize_every,
             "next_sample": 0.0, "next_dump": 60.0, "seed": 0, "t0": None, "last_inf_error": None}
    presets = list_presets()

    def summary(complete: bool) -> dict:
        frame_ms = app.stats.frame_ms
        trend = rss_trend(rec["rss"], warmup)
        t0 = state["t0"] or time.perf_counter()
        n_warm = sum(1 for t, _ in rec["rss"] if t < warmup)
        post = [m for t, m in rec["rss"] if t >= warmup]
        base = float(np.median(post[:6])) if post else 0.0  # the first minute after warm-up
        last = float(np.median(post[-6:])) if post else 0.0  # the last minute
        # Frame gaps after the first second (start-up: shader compile, first model frame).
        skip = int(args.fps)
        gaps = frame_ms[skip:]
        osc_stats = osc.stats()
        times = np.cumsum(np.asarray(frame_ms, np.float64)) / 1000.0
        slow = [[round(float(times[skip + i]), 2), round(g, 1)] for i, g in enumerate(gaps) if g > 50.0]
        res = {
            "complete": complete,
            "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "settings": {"minutes": args.minutes, "size": args.size, "display_fps": args.fps,
                         "torch_threads": policy.threads, "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY"),
                         "device": "cpu", "model": "builtin (swapped builtin:N)",
                         "audio": "demo track (30 s, looped) on the file clock", "warmup_s": warmup,
                         "preset_every_s": args.preset_every, "swap_every_s": args.swap_every,
                         "morph_every_s": args.morph_every, "save_every_s": args.save_every,
                         "quantize_every_s": args.quantize_every,
                         "osc_rate_hz": args.osc_rate, "flood_every_s": args.flood_every, "flood_n": args.flood_n,
                         "cpu_count": os.cpu_count(), "torch": torch.__version__},
            "elapsed_s": round(time.perf_counter() - t0, 1),
            "frames": len(frame_ms) + 1,
            "model_frames": app.stats.model_frames,
            "frame_ms_p50": round(percentile(gaps, 50), 2),
            "frame_ms_p99": round(percentile(gaps, 99), 2),
            "frame_ms_p999": round(percentile(gaps, 99.9), 2),
            "max_frame_gap_ms": round(max(gaps), 2) if gaps else 0.0,
            "frame_gaps_over_100ms": int(sum(1 for g in gaps if g > 100.0)),
            "frame_gaps_over_50ms": len(slow),
            "slow_frames_t_s_ms": slow[:100],  # when (s after the first frame) and how long
            "inference_ms_p50": round(percentile(app.stats.inference_ms, 50), 1),
            "rss_mb_start": round(rec["rss"][0][1], 1) if rec["rss"] else 0.0,
            "rss_mb_after_warmup": round(base, 1),
            "rss_mb_end": round(last, 1),
            "rss_mb_max": round(max((m for _, m in rec["rss"]), default=0.0), 1),
            # Growth = the least-squares line through every sample after warm-up, from its start to
            # its end. A model swap can land the heap 20-40 MB higher or lower until the next swap
            # (docs/faults.md); a first-vs-last-minute comparison measures that luck, not a leak.
            "rss_growth_pct_after_warmup": trend["pct"],
            "rss_growth_pct_first_vs_last_minute": round(100.0 * (last - base) / base, 3) if base else None,
            "rss_samples_in_warmup": n_warm,
            # Trend after warm-up, less sensitive to where single samples fall: a least-squares
            # slope, and the means of the first and last thirds.
            "rss_mb_per_hour_after_warmup": trend["mb_per_hour"],
            "rss_mb_mean_first_last_third": trend["thirds"],
            "rss_timeline": [[round(t, 1), round(m, 1)] for t, m in rec["rss"]],
            "gc": gc_pauses.to_dict(),  # collections per generation, longest pause
            "unhandled_exceptions": len(unhandled),
            "unhandled_samples": unhandled[:5],
            "logged_errors": errors.count,
            "logged_error_samples": errors.samples,
            "inference_errors": rec["inference_errors"][:20],
            "osc": {"sent": traffic.counts["sent"], "garbage_sent": traffic.counts["garbage"],
                    "flood_sent": traffic.counts["flooded"],
                    "received": osc_stats.received, "applied": osc_stats.applied,
                    "refused": dict(osc_stats.errors), "coalesced": osc_stats.coalesced},
            "preset_changes": sum(1 for e in rec["events"] if e[1] == "preset"),
            "morphs": sum(1 for e in rec["events"] if e[1] == "morph"),
            "saves": sum(1 for e in rec["events"] if e[1] == "save"),
            "refused_actions": [e for e in rec["events"] if e[1].endswith("-refused")][:20],
            "model_swaps": [{"spec": r.spec, "ok": r.ok, "seconds": round(r.seconds, 2), "message": r.message}
                            for r in (state["swapper"].results if state["swapper"] else [])],
            "events": rec["events"][-200:],
        }
        res["rss_rule"] = args.rss_rule
        growth = res["rss_growth_pct_after_warmup" if args.rss_rule == "trend"
                     else "rss_growth_pct_first_vs_last_minute"]
        res["pass"] = {
            "rss_growth_under_2pct": growth is not None and growth < 2.0,
            "no_gap_over_100ms": res["frame_gaps_over_100ms"] == 0,
            "zero_unhandled_exceptions": res["unhandled_exceptions"] == 0,
        }
        return res

    def on_frame(live, n: int) -> None:
        now = time.perf_counter()
        if state["t0"] is None:
            state["t0"] = now
            state["swapper"] = live.swapper
            gc_pauses.install()  # after the app's start-up collection, which is not a frame gap
            traffic.start()
        t = now - state["t0"]
        err = live.watchdog.thread.error
        if err and err != state["last_inf_error"]:
            rec["inference_errors"].append([round(t, 1), err[:200]])
            state["last_inf_error"] = err
        if t >= state["next_sample"]:
            rec["rss"].append((t, resident_mb()))
            state["next_sample"] += 10.0
        if t >= state["next_preset"] and presets:
            name = presets[int(t // args.preset_every) % len(presets)]
            traffic.send("/livegan/preset/load", [name])
            state["next_preset"] += args.preset_every
        if t >= state["next_swap"]:
            state["seed"] += 1
            traffic.send("/livegan/model/load", [f"builtin:{state['seed'] % 3}", 1.0])
            state["next_swap"] += args.swap_every
        if t >= state["next_morph"] and presets:
            traffic.send("/livegan/preset/morph", [presets[int(t) % len(presets)], 2.0])
            state["next_morph"] += args.morph_every
        if t >= state["next_save"]:
            traffic.send("/livegan/preset/save", [f"soak-{int(t)}"])
            state["next_save"] += args.save_every
        if t >= state["next_quantize"]:  # preset changes alternate between immediate and on the bar
            traffic.send("/livegan/show/quantize", ["off" if registry.get("show/quantize") == "bar" else "bar"])
            state["next_quantize"] += args.quantize_every
        if t >= state["next_dump"]:
            # Written off the display thread: summarising an hour of frame times takes tens of ms.
            dump = threading.Thread(target=lambda: write_json(out, summary(False)), name="soak-dump", daemon=True)
            dump.start()
            state["dump"] = dump
            state["next_dump"] += 60.0

    app.on_frame = on_frame
    # SIGTERM ends the run early but cleanly: the loop stops and the JSON is still written.
    signal.signal(signal.SIGTERM, lambda *_: setattr(app, "_quit", True))
    crashed = None
    try:
        app.run()
    except BaseException as exc:  # recorded, then the JSON is still written
        crashed = "".join(traceback.format_exception(exc))[-2000:]
        unhandled.append(crashed)
    finally:
        traffic.stop()
        if state["swapper"] is not None:
            state["swapper"].wait(30.0)
        osc.stop()
    if state.get("dump") is not None:
        state["dump"].join(30.0)  # a late minute's dump must not overwrite the final result
    gc_pauses.remove()
    res = summary(True)
    write_json(out, res)
    print(json.dumps({k: res[k] for k in ("elapsed_s", "frames", "max_frame_gap_ms", "frame_gaps_over_100ms",
                                          "rss_rule", "rss_growth_pct_after_warmup", "unhandled_exceptions", "pass")}))
    print(f"wrote {out}")
    return 0 if all(res["pass"].values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
