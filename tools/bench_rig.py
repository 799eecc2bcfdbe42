#!/usr/bin/env python3
"""Benchmark livegan in the rig: Link, MIDI clock, stream and NDI outputs.

Writes bench/results/rig-<date>.json:

* ``link``: a real Link peer (aalink, another process) and ``livegan live --link`` in a network
  namespace with only ``lo``: the phase error of livegan's Link readings and of its beat clock
  (the follow rule applied to them) against the peer (p50/p99 ms), and how long after the peer
  changed the tempo livegan's readings had it;
* ``midi_clock``: a drum-machine process sending 125 BPM over JACK MIDI into ``MidiClockIn``:
  the tempo's jitter and the position's error against the sender's own beat;
* ``stream`` / ``ndi`` at 512x512 and 1920x1080: frames sent and received per second, what the
  output adds to the display thread (the read back and hand-over, measured in the run), the
  display's draw time with and without the output (separate runs: noisy on a shared machine),
  and glass-to-glass latency (an OSC blackout sent -> the first black frame decoded by the
  receiver; NDI: the sender's submit stamp -> received).

Needs root (network namespaces), jackd, the extras link, ndi, midi.

    .venv/bin/python tools/bench_rig.py [--seconds 10]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))  # the peers and receivers the tests use, and the namespace helper

from conftest import jack_running, start_jackd, stop_process  # noqa: E402
from live_helpers import click_track  # noqa: E402
from netns import Netns, livegan, python  # noqa: E402

from livegan.benchinfo import machine_info  # noqa: E402
from livegan.record.setfile import load_set  # noqa: E402


def pct(x, q) -> float:
    return round(float(np.percentile(np.asarray(x, float), q)), 3) if len(x) else float("nan")


def wrap4(x):
    return (np.asarray(x) + 2.0) % 4.0 - 2.0


def live_args(song: Path, seconds: float, *extra: str) -> list[str]:
    return ["live", "--headless", "--file", str(song), "--no-playback", "--duration", str(seconds), "--size", "64",
            "--fps", "60", "--preset", "tunnel", *extra]


def bench_link(tmp: Path, song: Path, seconds: float) -> dict:
    from livegan.audio.beat import BeatClock

    ns = Netns()
    try:
        peer = ns.popen(python("tests/link_peer.py", "120"), stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        json.loads(peer.stdout.readline())

        def ask(line: str) -> dict:
            peer.stdin.write(line + "\n")
            peer.stdin.flush()
            return json.loads(peer.stdout.readline())

        rec = tmp / "link-set"
        live = ns.popen(livegan(*live_args(song, seconds, "--link", "--record", str(rec))), stdout=subprocess.DEVNULL,
                        stderr=subprocess.DEVNULL)
        while ask("state")["peers"] < 1:
            time.sleep(0.1)
        time.sleep(2.0)
        t_change = ask("tempo 137")["time"]
        samples = np.array(ask(f"log {seconds - 4.0}")["samples"])
        peer.stdin.write("quit\n")
        peer.stdin.flush()
        live.wait(timeout=120)
        peer.wait(timeout=10)
    finally:
        ns.close()
    r = load_set(rec)
    c = r.clock[r.clock["lead"] == 1]
    t = r.ticks["t"][r.clock["lead"] == 1]
    span = (c["host"] > samples[0, 0]) & (c["host"] < samples[-1, 0])
    peer_beats = np.interp(c["host"][span], samples[:, 0], samples[:, 1])
    ms = 60000.0 / c["bpm"][span]
    reading_err = np.abs(wrap4(c["beats"][span] - peer_beats)) * ms
    # The beat clock's own count after the follow rule, at the same ticks.
    bc, count = BeatClock(), []
    for tick_t, row in zip(t, c):
        bc.follow(float(tick_t), float(row["bpm"]), float(row["beats"]), bool(row["playing"]))
        count.append(bc.beats)
    clock_err = np.abs(wrap4(np.array(count)[span] - peer_beats)) * ms
    after = c["host"] >= t_change
    follow = c["host"][after & np.isclose(c["bpm"], 137.0, atol=1e-3)]
    return {"ticks": int(len(c)), "compared": int(span.sum()),
            "reading_phase_error_ms": {"p50": pct(reading_err, 50), "p99": pct(reading_err, 99)},
            "clock_phase_error_ms": {"p50": pct(clock_err, 50), "p99": pct(clock_err, 99)},
            "tempo_follow_ms": round((follow[0] - t_change) * 1000.0, 1) if len(follow) else None,
            "tempo_follow_beats": round((follow[0] - t_change) * 137.0 / 60.0, 3) if len(follow) else None,
            "note": "follow time is until the first tick after the change (ticks at the model frame rate)"}


def bench_midi(seconds: float) -> dict:
    from livegan.clock.midi_clock import MidiClockIn

    proc = None if jack_running() else start_jackd()
    try:
        drum = subprocess.Popen([sys.executable, str(ROOT / "tests" / "midi_clock_sender.py"), "benchdrum", "125",
                                 str(seconds)], stdout=subprocess.PIPE, text=True)
        json.loads(drum.stdout.readline())
        clock_in = MidiClockIn("benchdrum", api="UNIX_JACK")
        readings = []
        end = time.monotonic() + seconds + 0.5
        while time.monotonic() < end:
            r = clock_in(0.0, None)
            if r is not None:
                readings.append((r.host, r.bpm, r.beats, r.playing))
            time.sleep(1 / 60)
        start = json.loads(drum.stdout.readline())["start"]
        clock_in.close()
        drum.wait(timeout=10)
    finally:
        if proc is not None:
            stop_process(proc)
    arr = np.array([(h, b, p if p is not None else np.nan) for h, b, p, playing in readings if playing])
    settled = arr[arr[:, 0] > start + 2.0]
    bpm_err = np.abs(settled[:, 1] - 125.0)
    true_beats = (settled[:, 0] - start) * 125.0 / 60.0
    pos_err = np.abs(wrap4(settled[:, 2] - true_beats)) * 60000.0 / 125.0
    return {"readings": int(len(settled)), "bpm_std": round(float(np.std(settled[:, 1])), 3),
            "bpm_abs_error": {"p50": pct(bpm_err, 50), "p99": pct(bpm_err, 99)},
            "position_error_ms": {"p50": pct(pos_err, 50), "p99": pct(pos_err, 99)},
            "note": "through the JACK dummy server (1024-frame periods: pulses arrive in 21 ms bursts)"}


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_show(cmd_prefix, song: Path, seconds: float, window: str, extra: list[str], tmp: Path, env=None,
             receiver: list[str] | None = None, popen=subprocess.Popen) -> dict:
    """One headless show (optionally with an output and its receiver); its stats and the receiver's frames."""
    from pythonosc.udp_client import SimpleUDPClient

    stats, got, osc = tmp / f"stats-{window}-{len(extra)}.json", tmp / f"got-{window}.npz", free_port()
    rec = tmp / f"set-{window}-{len(extra)}-{time.monotonic_ns()}"  # both runs record: the same display work
    recv = popen(receiver + [str(seconds), str(got)], env=env, stdout=subprocess.PIPE, text=True) if receiver else None
    if recv is not None:
        recv.stdout.readline()
    live = popen(cmd_prefix + live_args(song, seconds, "--window", window, "--osc-port", str(osc), "--stats-json",
                                        str(stats), "--record", str(rec), *extra), env=env, stdout=subprocess.DEVNULL,
                 stderr=subprocess.DEVNULL)
    blackout = None
    if recv is not None and popen is subprocess.Popen:
        deadline = time.monotonic() + 120
        while not (rec / "set.json").is_file() and time.monotonic() < deadline:
            time.sleep(0.05)  # the show is up
        time.sleep(seconds / 2)
        blackout = time.monotonic()
        SimpleUDPClient("127.0.0.1", osc).send_message("/livegan/show/blackout", 1)
    live.wait(timeout=300)
    out = json.loads(stats.read_text())
    if recv is not None:
        recv.wait(timeout=120)
        data = np.load(got)
        out["received_frames"] = int(len(data["frames"]))
        if len(data["arrived"]) > 1:
            out["received_fps"] = round((len(data["arrived"]) - 1) / (data["arrived"][-1] - data["arrived"][0]), 2)
        if blackout is not None and len(data["frames"]):
            dark = data["arrived"][(data["frames"].reshape(len(data["frames"]), -1).max(axis=1) < 16)
                                   & (data["arrived"] > blackout)]
            out["glass_to_glass_ms"] = round((dark[0] - blackout) * 1000.0, 1) if len(dark) else None
        if "stamps" in data.files and len(data["stamps"]):
            out["ndi_submit_to_receive_ms_p50"] = pct((data["arrived"] - data["stamps"]) * 1000.0, 50)
    return out


def bench_outputs(tmp: Path, song: Path, seconds: float) -> dict:
    res: dict = {}
    base = [sys.executable, "-m", "livegan"]
    for window in ("512x512", "1920x1080"):
        plain = run_show(base, song, seconds, window, [], tmp)
        url = f"udp://127.0.0.1:{free_port()}"
        stream = run_show(base, song, seconds + 6, window, ["--stream", url], tmp,
                          receiver=[sys.executable, str(ROOT / "tests" / "stream_receiver.py"), url])
        res[f"stream_{window}"] = {
            "display_fps": stream["fps"], "draw_ms_p50": stream["draw_ms_p50"], "draw_ms_p99": stream["draw_ms_p99"],
            "draw_ms_p50_without": plain["draw_ms_p50"], "draw_ms_p99_without": plain["draw_ms_p99"],
            "added_display_ms_p50": round(stream["outputs"]["display_ms_p50"], 3),
            "added_display_ms_p99": round(stream["outputs"]["display_ms_p99"], 3),
            "sent": stream["outputs"]["stream"]["sent"], "dropped": stream["outputs"]["stream"]["dropped"],
            "received_fps": stream.get("received_fps"), "glass_to_glass_ms": stream.get("glass_to_glass_ms")}
    try:
        import cyndilib  # noqa: F401
    except ImportError:
        res["ndi"] = "not run: cyndilib is not installed"
        return res
    cfg = tmp / "ndi"
    cfg.mkdir(exist_ok=True)
    (cfg / "ndi-config.v1.json").write_text(json.dumps({"ndi": {"networks": {"ips": "127.0.0.1"}}}))
    env = {**os.environ, "NDI_CONFIG_DIR": str(cfg)}
    ns = Netns()
    try:
        for window in ("512x512", "1920x1080"):
            ndi = run_show([sys.executable, "-m", "livegan"], song, seconds + 6, window, ["--ndi", "bench"], tmp,
                           env=env, receiver=python("tests/ndi_receiver.py", "bench"),
                           popen=lambda argv, **kw: ns.popen(argv, **kw))
            res[f"ndi_{window}"] = {
                "display_fps": ndi["fps"], "draw_ms_p50": ndi["draw_ms_p50"], "draw_ms_p99": ndi["draw_ms_p99"],
                "added_display_ms_p50": round(ndi["outputs"]["display_ms_p50"], 3),
                "added_display_ms_p99": round(ndi["outputs"]["display_ms_p99"], 3),
                "sent": ndi["outputs"]["ndi"]["sent"], "dropped": ndi["outputs"]["ndi"]["dropped"],
                "received_fps": ndi.get("received_fps"),
                "submit_to_receive_ms_p50": ndi.get("ndi_submit_to_receive_ms_p50")}
    finally:
        ns.close()
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--only", choices=("link", "midi", "outputs"), default=None)
    args = ap.parse_args()
    os.environ.setdefault("JACK_DEFAULT_SERVER", "bench-rig")
    out: dict = {"machine": {**machine_info(), "load_average_at_start": os.getloadavg()}}
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        song = click_track(tmp / "song.wav", [0.25 + 0.5 * i for i in range(120)], 60.0)
        if args.only in (None, "link"):
            out["link"] = bench_link(tmp, song, max(args.seconds, 8.0) + 4.0)
            print("link", out["link"], flush=True)
        if args.only in (None, "midi"):
            out["midi_clock"] = bench_midi(args.seconds)
            print("midi", out["midi_clock"], flush=True)
        if args.only in (None, "outputs"):
            out["outputs"] = bench_outputs(tmp, song, args.seconds)
            print("outputs", out["outputs"], flush=True)
    out["machine"]["load_average_at_end"] = os.getloadavg()  # 2 cores shared with other work: read the figures so
    path = ROOT / "bench" / "results" / f"rig-{dt.date.today().isoformat()}.json"
    if args.only and path.is_file():
        out = {**json.loads(path.read_text()), **{k: v for k, v in out.items()}}
    path.write_text(json.dumps(out, indent=2) + "\n")
    print(path)


if __name__ == "__main__":
    main()
