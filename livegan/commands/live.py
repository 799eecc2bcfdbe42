"""``livegan live``: the stage instrument (window or headless)."""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
from typing import TYPE_CHECKING

from ..errors import LiveganError
from .live_options import add_options
from .rig_options import rig_config

if TYPE_CHECKING:
    from ..control.surface import ShowPorts

PREVIEW_HZ = 2.0  # thumbnails a second for the web remote's preview


def _stop_on_sigint(app):
    """Ctrl-C while the show runs stops it at the next tick; before that (loading) or a second
    Ctrl-C interrupts at once."""

    def handler(signum, frame) -> None:
        if not app.looping or app.interrupted:
            raise KeyboardInterrupt
        app.request_stop()

    return handler


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("live", help="play live: audio in, pictures out (window or headless)",
                              description="Run livegan live. Keys: F fullscreen, H HUD, Left/Right preset, "
                                          "R reseed, Space freeze, B blackout, Esc quit.")
    add_options(p)  # the one table of options (live_options.py), grouped as --help shows them


def show_ports(app) -> "ShowPorts":
    """What the control surface reads and drives, from the show's public parts."""
    from ..conductor.preset import list_presets  # noqa: PLC0415
    from ..control.surface import ShowPorts  # noqa: PLC0415

    return ShowPorts(registry=app.registry, actions=app.control_actions(), features=app.feedback, clocks=app.clocks,
                     audio_now=app.audio_now, previews=app.previews,
                     apply_preset=lambda preset: app.session.apply_preset(preset, source="preset-reload"),
                     preset=app.cfg.preset, presets=list_presets)


def live_config(args: argparse.Namespace):
    """The show's configuration (and so its session spec, ``LiveConfig.session_spec``) from the arguments."""
    from ..live.app import LiveConfig  # noqa: PLC0415

    return LiveConfig(audio_device=args.audio_device, file=args.file, play=not args.no_playback,
                      output_device=args.output_device, model=args.model, size=args.size, window=args.window,
                      preset=args.preset, monitor=args.monitor, fullscreen=args.fullscreen, headless=args.headless,
                      duration=args.duration, stats_json=args.stats_json, sample_rate=args.sample_rate,
                      device=args.device, refresh_hz=args.fps, shader_dir=args.shaders,
                      seed=args.seed, hud=not args.no_hud, record=args.record,
                      preview_hz=PREVIEW_HZ if args.oscquery_port is not None else 0.0, **rig_config(args))


def run(args: argparse.Namespace) -> int:
    from ..control.surface import ControlSurface  # noqa: PLC0415
    from ..live.app import LiveApp  # noqa: PLC0415
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
    cfg = live_config(args)
    app = LiveApp(cfg)  # builds the session: a bad preset or model fails here, before any window
    surface = ControlSurface.build(args, show_ports(app)).start()  # a port asked for and taken fails here
    app.osc_activity = surface.status  # the HUD's control lines
    prev = signal.signal(signal.SIGINT, _stop_on_sigint(app))
    try:
        result = app.run()
    finally:
        signal.signal(signal.SIGINT, prev)
        surface.stop(report=app.frames_drawn > 0)
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
