"""``livegan live``'s options for the rig (issue 18): clocks to sync with, video outputs.

One block, so it moves into the option table of ``livegan live`` as it is.
"""

from __future__ import annotations

import argparse


def add_rig_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("sync and video out", "tempo from Link or MIDI clock; the picture to other software")
    g.add_argument("--link", action="store_true",
                   help="join the Ableton Link session on the network: its tempo and bar phase lead the beat clock, "
                        "a tempo set here is proposed to it (needs livegan[link]; Link is GPL-2.0+)")
    g.add_argument("--midi-clock-in", default=None, metavar="PORT",
                   help="follow MIDI clock (24 ppqn, start/stop/continue, song position) from this port (a name "
                        "substring; none matching: a virtual port of that name); Link leads when both are on")
    g.add_argument("--midi-clock-out", default=None, metavar="PORT",
                   help="send the show's beat clock as MIDI clock to this port (a name substring; none matching: "
                        "a virtual port of that name)")
    # The control surface's option table has the same --midi-api (issue 15): one of the two goes at the merge.
    g.add_argument("--midi-api", default=None, choices=("UNIX_JACK", "LINUX_ALSA", "MACOSX_CORE", "WINDOWS_MM"),
                   help="rtmidi API for the MIDI ports: UNIX_JACK, LINUX_ALSA, MACOSX_CORE, WINDOWS_MM")
    g.add_argument("--stream", default=None, metavar="URL",
                   help="send the picture as low-latency H.264: udp://HOST:PORT or tcp://HOST:PORT (MPEG-TS), "
                        "rtmp://HOST/APP/KEY, srt:// where FFmpeg has it")
    g.add_argument("--ndi", default=None, metavar="NAME", help="send the picture as the NDI source NAME "
                                                               "(needs livegan[ndi])")
    g.add_argument("--virtual-camera", nargs="?", const="", default=None, metavar="DEVICE",
                   help="send the picture to a virtual webcam (v4l2loopback on Linux; needs livegan[vcam])")


def rig_config(args: argparse.Namespace) -> dict:
    """``LiveConfig`` fields from these options."""
    return {"link": args.link, "midi_clock_in": args.midi_clock_in, "midi_clock_out": args.midi_clock_out,
            "midi_api": args.midi_api,
            "stream": args.stream, "ndi": args.ndi, "virtual_camera": args.virtual_camera}
