"""What ``livegan live``'s sync and video-out options (in ``live_options.py``) ask the show for."""

from __future__ import annotations

import argparse


def rig_config(args: argparse.Namespace) -> dict:
    """``LiveConfig`` fields from the options."""
    return {"link": args.link, "midi_clock_in": args.midi_clock_in, "midi_clock_out": args.midi_clock_out,
            "midi_api": args.midi_api,
            "stream": args.stream, "ndi": args.ndi, "virtual_camera": args.virtual_camera}
