"""``livegan live``: the stage instrument (window or headless)."""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys

from ..argtypes import host_address, port_number
from ..errors import LiveganError
from ..threads import ENV, threads_arg


def _stop_on_sigint(app):
    """Ctrl-C while the show runs stops it at the next tick; before that (loading) or a second
    Ctrl-C interrupts at once."""

    def handler(signum, frame) -> None:
        if not app.looping or app.interrupted:
            raise KeyboardInterrupt
        app.request_stop()

    return handler


def _window(text: str) -> tuple[int, int]:
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"--window {text!r}: expected WIDTHxHEIGHT, e.g. 1280x720") from None
    if not (16 <= w <= 16384 and 16 <= h <= 16384):
        raise argparse.ArgumentTypeError(f"--window {text!r}: sides must be 16..16384")
    return w, h


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("live", help="play live: audio in, pictures out (window or headless)",
                              description="Run livegan live. Keys: F fullscreen, H HUD, Left/Right preset, "
                                          "R reseed, Space freeze, B blackout, Esc quit.")
    src = p.add_mutually_exclusive_group()
    src.add_argument("--audio-device", metavar="NAME|INDEX", help="audio input (see `livegan devices`)")
    src.add_argument("--file", metavar="SONG", help="play a song to the output device and follow it")
    p.add_argument("--no-playback", action="store_true", help="with --file: do not play it, run on the file's clock")
    p.add_argument("--output-device", metavar="NAME|INDEX", help="with --file: where to play it")
    p.add_argument("--model", default="builtin", help="builtin, builtin:SEED, a .pkl or .safetensors file")
    p.add_argument("--preset", default=None, help="preset name or .toml file")
    p.add_argument("--size", type=int, default=512, help="model picture size in pixels (default 512)")
    p.add_argument("--window", type=_window, default=None, metavar="WxH",
                   help="output size (default 1280x720; headless: the model size)")
    p.add_argument("--monitor", type=int, default=0, help="monitor index for the window")
    p.add_argument("--fullscreen", action="store_true")
    p.add_argument("--headless", action="store_true", help="render offscreen through EGL (no window)")
    p.add_argument("--fps", type=float, default=60.0, help="headless display rate (a window follows its monitor)")
    p.add_argument("--duration", type=float, default=None, metavar="S", help="stop after S seconds")
    p.add_argument("--stats-json", metavar="FILE", help="write fps, frame time and latency figures here")
    p.add_argument("--device", default="auto", help="torch device: auto, cpu, cuda")
    p.add_argument("--threads", type=threads_arg, default=None,
                   help=f"torch CPU threads (default: {ENV}, else every core but one, at most 4)")
    p.add_argument("--sample-rate", type=int, default=48000, help="capture rate for --audio-device")
    p.add_argument("--shaders", default=None, metavar="DIR", help="effect shader folder (default: shaders/)")
    p.add_argument("--no-hud", action="store_true", help="start with the HUD hidden")
    p.add_argument("--seed", type=int, default=0, help="conductor seed")
    p.add_argument("--osc-port", type=port_number, default=None, help="also listen for OSC on --osc-host:PORT")
    p.add_argument("--osc-host", type=host_address, default="127.0.0.1",
                   help="OSC bind address (default 127.0.0.1)")
    p.add_argument("--record", metavar="SET", default=None,
                   help="record the input audio and every parameter change into the folder SET "
                        "(re-render it with `livegan render --replay SET`)")


def run(args: argparse.Namespace) -> int:
    from ..live.app import LiveApp, LiveConfig  # noqa: PLC0415
    from ..oom import limit_malloc_arenas  # noqa: PLC0415

    limit_malloc_arenas()  # before the OSC reader or any other thread takes an arena of its own
    logging.basicConfig(level=logging.INFO, format="livegan: %(message)s", stream=sys.stderr)
    if args.size < 16 or args.size > 4096:
        raise LiveganError(f"--size {args.size}: must be 16..4096")
    if args.duration is not None and args.duration <= 0:
        raise LiveganError(f"--duration {args.duration}: must be positive")
    if args.fps <= 0 or args.fps > 1000:
        raise LiveganError(f"--fps {args.fps}: must be in (0, 1000]")
    from ..live.audio_input import check_input_device  # noqa: PLC0415

    check_input_device(args.audio_device)  # a typo is exit 2 at start, not a show on silence
    cfg = LiveConfig(audio_device=args.audio_device, file=args.file, play=not args.no_playback,
                     output_device=args.output_device, model=args.model, size=args.size, window=args.window,
                     preset=args.preset, monitor=args.monitor, fullscreen=args.fullscreen, headless=args.headless,
                     duration=args.duration, stats_json=args.stats_json, sample_rate=args.sample_rate,
                     device=args.device, threads=args.threads, refresh_hz=args.fps, shader_dir=args.shaders,
                     seed=args.seed, hud=not args.no_hud, record=args.record)
    from ..params.definitions import make_registry  # noqa: PLC0415

    registry = make_registry()
    osc = None
    app = LiveApp(cfg, registry=registry)
    if args.osc_port is not None:
        from ..control.osc_server import OscServer  # noqa: PLC0415

        osc = OscServer(registry, host=args.osc_host, port=args.osc_port, actions=app.control_actions(),
                        isolate=True).start()  # parsing off the show's GIL
        app.osc_activity = osc.stats
    prev = signal.signal(signal.SIGINT, _stop_on_sigint(app))
    try:
        result = app.run()
    finally:
        signal.signal(signal.SIGINT, prev)
        if osc is not None:
            osc.stop()
    if not app.interrupted:
        print(json.dumps({k: result[k] for k in ("frames", "fps", "frame_ms_p50", "frame_ms_p99", "latency_ms_p50",
                                                  "latency_ms_p99", "model_fps", "audio_state")}))
    left = app.unfinished_threads()
    if left:
        # Python's own exit would stop these threads inside torch's C++ code and abort the process
        # (SIGABRT, "terminate called"); everything the show writes is written by now.
        print(f"livegan: exiting past {', '.join(left)}" + ("; interrupted" if app.interrupted else ""),
              file=sys.stderr)
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(130 if app.interrupted else 0)
    if app.interrupted:
        raise KeyboardInterrupt  # "livegan: interrupted", exit code 130 (cli.py)
    return 0
